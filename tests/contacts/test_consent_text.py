"""The consent text: the wording a person saw when consenting, captured by every door (API, CSV import,
admin) with the consent change it documents, and shown in the consent log (admin and API)."""

import pytest
from django.urls import reverse

from contacts.models import CONSENT_TEXT_MAX_LENGTH, ConsentEvent, Contact
from contacts.resources import ContactResource
from tests.contacts.test_admin import change_url, contact_form_data
from tests.contacts.test_import_export import import_file, invalid_lines, upload
from tests.factories import ConsentEventFactory, ContactFactory

pytestmark = pytest.mark.django_db

WORDING = "Yes, send me offers by email.\nYou can unsubscribe at any time."


@pytest.fixture
def api(make_client):
    return make_client()


def event_for(contact: Contact, channel: str = "email") -> ConsentEvent:
    return ConsentEvent.objects.get(contact=contact, channel=channel)


# ---------------------------------------------------------------- API


def test_api_create_logs_the_consent_text_with_each_consent_given(api):
    response = api.post(
        "/api/v1/contacts/",
        {"email": "dana@example.com", "email_opt_in": True, "sms_opt_in": True, "consent_text": WORDING},
        format="json",
    )
    assert response.status_code == 201, response.json()
    contact = Contact.objects.get(email="dana@example.com")
    assert event_for(contact, "email").text_shown == WORDING
    assert event_for(contact, "sms").text_shown == WORDING
    assert "consent_text" not in response.json()


def test_api_patch_and_upsert_log_the_consent_text(api):
    contact = ContactFactory(email="noa@example.com", email_opt_in=False, sms_opt_in=False)
    response = api.patch(
        f"/api/v1/contacts/{contact.pk}/", {"email_opt_in": True, "consent_text": "Landing page box"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert event_for(contact).text_shown == "Landing page box"
    response = api.post(
        "/api/v1/contacts/upsert/",
        {"email": "noa@example.com", "sms_opt_in": True, "consent_text": "Shop sign-up sheet"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert event_for(contact, "sms").text_shown == "Shop sign-up sheet"


def test_a_consent_text_without_a_consent_change_logs_nothing(api):
    contact = ContactFactory(email_opt_in=True)
    response = api.patch(f"/api/v1/contacts/{contact.pk}/", {"consent_text": "Nothing changes"}, format="json")
    assert response.status_code == 200
    assert not ConsentEvent.objects.filter(contact=contact).exists()


@pytest.mark.parametrize(
    "value",
    ["x" * (CONSENT_TEXT_MAX_LENGTH + 1), 12, ["a"], {"deep": {"deeper": ["x"]}}, True, "bad\x00text"],
    ids=["too-long", "number", "list", "object", "boolean", "nul"],
)
def test_a_bad_consent_text_is_a_400_naming_the_field(api, value):
    response = api.post(
        "/api/v1/contacts/", {"email": "x@example.com", "email_opt_in": True, "consent_text": value}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()) == ["consent_text", "error_codes"]
    assert not Contact.objects.exists()


def test_a_consent_text_at_the_limit_is_kept_whole(api):
    text = "א" * CONSENT_TEXT_MAX_LENGTH
    response = api.post(
        "/api/v1/contacts/", {"email": "x@example.com", "email_opt_in": True, "consent_text": text}, format="json"
    )
    assert response.status_code == 201
    assert ConsentEvent.objects.get().text_shown == text


def test_the_api_lists_a_contacts_consent_log_with_the_text(api):
    contact = ContactFactory()
    other = ContactFactory()
    ConsentEventFactory(contact=contact, granted=True, source="landing_page", text_shown="<b>Offers</b>")
    ConsentEventFactory(contact=other, text_shown="Someone else's")
    response = api.get(f"/api/v1/contacts/{contact.pk}/consent/")
    assert response.status_code == 200
    (entry,) = response.json()["results"]
    assert entry["consent_text"] == "<b>Offers</b>"
    assert (entry["channel"], entry["granted"], entry["source"]) == ("email", True, "landing_page")
    assert set(entry) == {"id", "channel", "granted", "source", "consent_text", "mail_frequency", "occurred_at"}


def test_the_consent_log_needs_the_contacts_read_scope(make_client):
    contact = ContactFactory()
    assert make_client("contacts:write").get(f"/api/v1/contacts/{contact.pk}/consent/").status_code == 403
    assert make_client("contacts:read").get(f"/api/v1/contacts/{contact.pk}/consent/").status_code == 200
    assert make_client("contacts:read").get("/api/v1/contacts/999999/consent/").status_code == 404


def test_the_schema_publishes_the_consent_text_and_the_log(api):
    schema = api.get("/api/schema/", {"format": "json"}).json()
    request = schema["components"]["schemas"]["ContactRequest"]["properties"]["consent_text"]
    assert request["maxLength"] == CONSENT_TEXT_MAX_LENGTH
    assert "/api/v1/contacts/{id}/consent/" in schema["paths"]


# ---------------------------------------------------------------- CSV import


def test_the_csv_import_logs_the_consent_text_column(admin_client):
    csv = 'email,email_opt_in,consent_text\ndana@example.com,yes,"Ticked the box: ""Send me offers"""\n'
    import_file(admin_client, "contact", csv)
    assert event_for(Contact.objects.get(email="dana@example.com")).text_shown == 'Ticked the box: "Send me offers"'


def test_the_csv_import_reports_a_consent_text_too_long_on_its_column(admin_client):
    csv = f"email,email_opt_in,consent_text\ndana@example.com,yes,{'x' * (CONSENT_TEXT_MAX_LENGTH + 1)}\n"
    errors = invalid_lines(upload(admin_client, "contact", csv))
    assert "consent_text" in errors[2]


def test_the_csv_export_has_no_consent_text_column():
    assert "consent_text" not in ContactResource().get_export_headers()


# ---------------------------------------------------------------- admin


def test_the_admin_form_logs_the_consent_text_with_the_change(admin_client):
    contact = ContactFactory(email_opt_in=False)
    data = contact_form_data(contact, email_opt_in="on", consent_text="Told by phone: yes to offers")
    response = admin_client.post(change_url(contact), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert event_for(contact).text_shown == "Told by phone: yes to offers"


def test_the_admin_form_refuses_a_consent_text_too_long_on_its_field(admin_client):
    contact = ContactFactory(email_opt_in=False)
    data = contact_form_data(contact, email_opt_in="on", consent_text="x" * (CONSENT_TEXT_MAX_LENGTH + 1))
    response = admin_client.post(change_url(contact), data)
    assert response.status_code == 200
    assert "consent_text" in response.context["adminform"].form.errors
    assert not ConsentEvent.objects.exists()


def test_the_admin_consent_log_shows_the_text_escaped(admin_client):
    event = ConsentEventFactory(text_shown="<script>alert(1)</script> I agree")
    listing = admin_client.get(reverse("admin:contacts_consentevent_changelist")).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; I agree" in listing and "<script>alert(1)" not in listing
    entry = admin_client.get(reverse("admin:contacts_consentevent_change", args=[event.pk])).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; I agree" in entry
