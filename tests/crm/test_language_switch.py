"""The language switch in the admin header: Django's set_language behind a button per other language."""

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db


def test_the_header_offers_the_other_language_and_keeps_the_page(admin_client):
    page = admin_client.get("/admin/contacts/contact/?q=a%22%3Cb%3E", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'action="/i18n/setlang/"' in page
    assert 'name="language" value="he" lang="he"' in page and ">עברית</button>" in page
    assert 'value="en" lang="en"' not in page  # not the language already shown
    assert 'name="next" value="/admin/contacts/contact/?q=a%22%3Cb%3E"' in page  # escaped as typed


def test_switching_keeps_the_choice_and_returns_to_the_page(admin_client):
    answer = admin_client.post("/i18n/setlang/", {"language": "he", "next": "/admin/"})
    assert answer.status_code == 302 and answer["Location"] == "/admin/"
    assert answer.cookies[settings.LANGUAGE_COOKIE_NAME].value == "he"
    page = admin_client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="he" dir="rtl"' in page
    assert ">English</button>" in page


@pytest.mark.parametrize("target", ["https://elsewhere.example/", "//elsewhere.example/", "javascript:alert(1)"])
def test_switching_never_sends_the_user_elsewhere(admin_client, target):
    answer = admin_client.post("/i18n/setlang/", {"language": "he", "next": target})
    assert answer.status_code == 302 and answer["Location"] == "/"


def test_an_unknown_language_changes_nothing(admin_client):
    answer = admin_client.post("/i18n/setlang/", {"language": "xx", "next": "/admin/"})
    assert settings.LANGUAGE_COOKIE_NAME not in answer.cookies
