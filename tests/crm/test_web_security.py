"""Browser-facing safeguards: a Content Security Policy, throttled admin sign-in, messages kept server-side."""

import re

import pytest
from django.contrib.auth import SESSION_KEY

from crm.models import ApiKey

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"


def test_admin_pages_carry_a_policy_that_allows_only_own_scripts(admin_client):
    response = admin_client.get("/admin/")

    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self';" in policy
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]


def test_the_api_docs_page_has_no_inline_script_and_loads_its_setup_from_a_url(client):
    response = client.get("/api/docs/")

    html = response.content.decode()
    assert response.status_code == 200 and "Content-Security-Policy" in response
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    setup = re.findall(r'<script src="([^"]+)"', html)[-1]
    script = client.get(setup.replace("&amp;", "&"))
    assert script.status_code == 200 and b"SwaggerUIBundle" in script.content


def test_json_answers_carry_no_page_policy(make_client):
    response = make_client().get("/api/v1/contacts/")

    assert "Content-Security-Policy" not in response


def test_admin_sign_in_is_refused_after_too_many_failures_even_with_the_right_password(client, staff_user, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    for _ in range(3):
        response = client.post(LOGIN, {"username": "boss", "password": "wrong"})
        assert response.status_code == 200

    response = client.post(LOGIN, {"username": "boss", "password": "pw-boss-123"})

    assert response.status_code == 200
    assert "Too many failed sign-in attempts" in response.content.decode()
    assert SESSION_KEY not in client.session


def test_failures_from_one_address_lock_it_out_across_user_names(client, staff_user, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    for name in ("a", "b", "c"):
        client.post(LOGIN, {"username": name, "password": "wrong"})

    response = client.post(LOGIN, {"username": "boss", "password": "pw-boss-123"})

    assert SESSION_KEY not in client.session
    assert "Too many failed sign-in attempts" in response.content.decode()


def test_a_successful_sign_in_below_the_limit_works(client, staff_user, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    client.post(LOGIN, {"username": "boss", "password": "wrong"})

    response = client.post(LOGIN, {"username": "boss", "password": "pw-boss-123"})

    assert response.status_code == 302
    assert SESSION_KEY in client.session


def test_a_new_api_key_is_shown_from_the_session_never_put_in_a_cookie(admin_client):
    response = admin_client.post("/admin/crm/apikey/add/", {"name": "shop", "scopes": ["contacts:read"]})

    assert response.status_code == 302
    assert "messages" not in response.cookies
    page = admin_client.get(response["Location"]).content.decode()
    prefix = ApiKey.objects.get(name="shop").prefix
    assert prefix in page
