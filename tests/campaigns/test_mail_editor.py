"""The mail editor: the code editor's files come from this site, the live preview renders what is typed
as a chosen contact or a random member of a segment (for staff who may see them) with warnings for empty
variables, the block builder escapes what it is given, and the ready mails render in Hebrew and English."""

import re

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.staticfiles import finders
from django.urls import reverse

from campaigns.blocks import blocks_html
from campaigns.gallery import GALLERY
from campaigns.models import EmailTemplate
from campaigns.services import campaign_preview, template_create
from segments.services import segment_create
from tests.factories import ContactFactory, MemberFactory

pytestmark = pytest.mark.django_db
LIVE = reverse("admin:campaigns_emailtemplate_live_preview")
BLOCKS = reverse("admin:campaigns_emailtemplate_blocks")


def typed(**changes) -> dict:
    return {
        "name": "",
        "language": "he",
        "direction": "",
        "layout": "default",
        "subject": "שלום {{ contact.first_name }}",
        "preheader": "",
        "html": "<p>שלום {{ contact.first_name|default:'חבר' }}, {{ contact.city }}</p>",
        "text": "",
        **changes,
    }


@pytest.fixture
def haifa():
    return segment_create(name="Haifa", rules={"field": "city", "op": "eq", "value": "Haifa"})


def test_the_editor_page_loads_the_code_editor_from_this_site_only(admin_client):
    page = admin_client.get(reverse("admin:campaigns_emailtemplate_add")).content.decode()

    assert "/static/django_ace/ace/ace.js" in page
    assert "/static/campaigns/editor.js" in page
    assert 'id="mail-preview"' in page
    other_hosts = re.findall(r"""(?:src|href)=["'](https?://[^"']+)""", page)
    assert other_hosts == []
    assert finders.find("django_ace/ace/ext-rtl.js") and finders.find("campaigns/editor.js")


def test_the_live_preview_renders_what_is_typed_without_saving_it(admin_client):
    dana = ContactFactory(first_name="דנה", city="חיפה")

    response = admin_client.post(LIVE, typed(contact=dana.pk))

    assert response.status_code == 200
    body = response.json()
    assert body["subject"] == "שלום דנה"
    assert "שלום דנה, חיפה" in body["html"]
    assert 'dir="rtl"' in body["html"]
    assert body["contact"] == {"id": dana.pk, "name": dana.full_name, "email": dana.email}
    assert body["warnings"] == []
    assert not EmailTemplate.objects.exists()


def test_the_live_preview_warns_of_variables_empty_for_that_contact(admin_client):
    nameless = ContactFactory(first_name="", city="")

    body = admin_client.post(LIVE, typed(contact=nameless.pk)).json()

    assert len(body["warnings"]) == 2
    assert body["warnings"][0].startswith("contact.first_name is empty") and "fallback" not in body["warnings"][0]
    assert body["warnings"][1].startswith("contact.city is empty")
    with_fallback = admin_client.post(LIVE, typed(contact=nameless.pk, subject="שלום")).json()
    assert "fallback" in with_fallback["warnings"][0]


def test_variables_of_a_loop_are_not_warned_about_but_an_empty_list_is(admin_client):
    contact = ContactFactory()
    html = "{% for item in last_purchase.items %}{{ item.name }}{% endfor %}{{ club.points }}"

    body = admin_client.post(LIVE, typed(contact=contact.pk, subject="Hi", html=html)).json()

    assert [w.split(" ")[0] for w in body["warnings"]] == ["last_purchase.items", "club.points"]


def test_what_an_if_tests_is_not_warned_about(admin_client):
    contact = ContactFactory(city="")
    html = "{% if club %}{{ club.points }}{% endif %}{% if contact.city %}{{ contact.city }}{% endif %}{{ club.tier }}"

    body = admin_client.post(LIVE, typed(contact=contact.pk, subject="Hi", html=html)).json()

    assert [w.split(" ")[0] for w in body["warnings"]] == ["club.tier"]


def test_a_template_error_answers_400_on_its_field(admin_client):
    ContactFactory()
    response = admin_client.post(LIVE, typed(html="<p>{{ contact.nickname }}</p>", subject="{% if %}"))

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert "nickname" in errors["html"][0] and "line 1" in errors["html"][0]
    assert "subject" in errors


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"html": "x" * 3_000_000}, "html"),
        ({"contact": "abc"}, "contact"),
        ({"segment": "999999"}, "segment"),
        ({"segment": "1' or 1=1"}, "segment"),
    ],
)
def test_hostile_input_is_a_400_naming_the_field(admin_client, settings, changes, field):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000_000
    ContactFactory()
    response = admin_client.post(LIVE, typed(**changes))

    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_preview_as_a_random_member_of_a_segment(admin_client, haifa):
    members = {ContactFactory(city="Haifa").pk for _ in range(3)}
    ContactFactory(city="Eilat")

    seen = {admin_client.post(LIVE, typed(segment=haifa.pk, another="1")).json()["contact"]["id"] for _ in range(8)}

    assert seen <= members and seen


def test_a_segment_without_members_says_so(admin_client, haifa):
    ContactFactory(city="Eilat")
    response = admin_client.post(LIVE, typed(segment=haifa.pk, another="1"))

    assert response.status_code == 400
    assert "contact" in response.json()["errors"]


def test_picking_a_member_needs_the_right_to_see_contacts(client, django_user_model, haifa):
    ContactFactory(city="Haifa")
    writer = Group.objects.create(name="Template writers")
    writer.permissions.set(Permission.objects.filter(content_type__app_label="campaigns"))
    user = django_user_model.objects.create_user("writer", password="pw-123-long", is_staff=True)
    user.groups.add(writer)
    client.force_login(user)

    assert client.post(LIVE, typed(segment=haifa.pk, another="1")).status_code == 403
    assert client.post(LIVE, typed(contact=1)).status_code == 403
    page = client.get(reverse("admin:campaigns_emailtemplate_add")).content.decode()
    assert "mail-preview-segment" not in page  # no segment picker offered
    assert client.post(LIVE, typed()).status_code == 200  # the newest contact, as the saved preview shows


def test_an_analyst_who_may_not_edit_templates_gets_no_live_preview(login):
    ContactFactory()
    client = login("Analyst")
    assert client.post(LIVE, typed()).status_code == 403
    assert client.post(BLOCKS, {}).status_code == 403


def test_a_marketer_previews_as_a_segment_member(login, haifa):
    member = ContactFactory(city="Haifa")
    client = login("Marketer")

    body = client.post(LIVE, typed(segment=haifa.pk)).json()

    assert body["contact"]["id"] == member.pk


def test_the_segment_picker_lists_segment_sizes(admin_client, haifa):
    haifa.member_count = 1234
    haifa.save()

    page = admin_client.get(reverse("admin:campaigns_emailtemplate_add")).content.decode()

    assert "Haifa (1,234)" in page


# ------------------------------------------------------------------ blocks


def blocks_post(**fields) -> dict:
    return {f"blocks-{name}": value for name, value in fields.items()}


def test_blocks_become_template_html_with_what_was_typed_escaped(admin_client):
    response = admin_client.post(
        BLOCKS,
        blocks_post(
            hero_title='<script>alert("x")</script> Sale',
            hero_image_url='https://img.example.com/a.png" onerror="x',
            text="Hi {{ contact.first_name }}\nline two\n\n<b>bold</b>",
            button_label="Shop & save",
            button_url="https://shop.example.com/?a=1&b=2",
            products="recommended",
        ),
    )

    assert response.status_code == 200
    html = response.json()["html"]
    assert "<script>" not in html and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; Sale" in html
    assert 'src="https://img.example.com/a.png&quot; onerror=&quot;x"' in html
    assert "<p>Hi {{ contact.first_name }}<br>line two</p>" in html
    assert "<p>&lt;b&gt;bold&lt;/b&gt;</p>" in html
    assert 'href="https://shop.example.com/?a=1&amp;b=2"' in html and "Shop &amp; save" in html
    assert "{% for product in recommended %}" in html and "{{ brand.accent_color }}" in html
    assert response.json()["layout"] == "default"
    saved = template_create(name="Blocks", subject="Hi", html=html, language="en")
    contact = ContactFactory(first_name="Dana")
    assert "Hi Dana<br>line two" in campaign_preview(template=saved, contact=contact).html


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"button_label": "Go"}, "blocks-button_url"),
        ({"button_url": "javascript:alert(1)", "button_label": "Go"}, "blocks-button_url"),
        ({"hero_image_url": "data:text/html,x"}, "blocks-hero_image_url"),
        ({"hero_title": "x" * 5000}, "blocks-hero_title"),
        ({"products": "everything"}, "blocks-products"),
    ],
)
def test_bad_blocks_are_a_400_naming_the_field(admin_client, fields, field):
    response = admin_client.post(BLOCKS, blocks_post(**fields))

    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_empty_blocks_are_left_out():
    assert blocks_html(data={"text": "Only text"}) == "<p>Only text</p>\n"


# ------------------------------------------------------------------ ready mails


@pytest.mark.parametrize("ready", GALLERY, ids=[ready.key for ready in GALLERY])
def test_every_ready_mail_saves_and_renders_in_its_language(ready):
    template = template_create(
        name=ready.name, subject=ready.subject, preheader=ready.preheader, html=ready.html, language=ready.language
    )
    contact = ContactFactory(first_name="", language=ready.language)
    MemberFactory(contact=contact)

    rendered = campaign_preview(template=template, contact=contact)

    assert f'lang="{ready.language}"' in rendered.html
    assert f'dir="{"rtl" if ready.language == "he" else "ltr"}"' in rendered.html
    assert "{{" not in rendered.html and "{%" not in rendered.subject
    hebrew = bool(re.search("[\u0590-\u05ff]", rendered.subject))
    assert hebrew == (ready.language == "he")


def test_the_new_template_page_offers_the_ready_mails_and_fills_the_form(admin_client):
    add = reverse("admin:campaigns_emailtemplate_add")
    assert "?ready=welcome-he" in admin_client.get(add).content.decode()

    page = admin_client.get(add + "?ready=welcome-en").content.decode()

    assert 'value="Welcome to the club"' in page
    assert "Welcome, {{ contact.first_name|default:&#x27;friend&#x27; }}!" in page
