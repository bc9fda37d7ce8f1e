"""Scopes don't leak: a key that may write but not read contacts gets back only the id of what it wrote."""

import pytest

from contacts.models import Contact
from tests.factories import ContactFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def writer(make_client):
    return make_client("contacts:write")


def test_creating_a_contact_with_a_write_only_key_answers_only_the_id(writer):
    response = writer.post("/api/v1/contacts/", {"email": "dana@example.com", "first_name": "Dana"}, format="json")
    assert response.status_code == 201
    assert response.json() == {"id": Contact.objects.get(email="dana@example.com").pk}


def test_upserting_an_existing_email_reveals_nothing_stored_about_that_person(writer):
    known = ContactFactory(email="dana@example.com", first_name="Dana", city="Haifa", phone="+972501234567")
    response = writer.post("/api/v1/contacts/upsert/", {"email": "dana@example.com"}, format="json")
    assert response.status_code == 200
    assert response.json() == {"id": known.pk}


def test_changing_and_erasing_with_a_write_only_key_answer_only_the_id(writer):
    contact = ContactFactory(first_name="Dana", city="Haifa")
    changed = writer.patch(f"/api/v1/contacts/{contact.pk}/", {"city": "Eilat"}, format="json")
    erased = writer.post(f"/api/v1/contacts/{contact.pk}/erase/", format="json")
    assert (changed.status_code, changed.json()) == (200, {"id": contact.pk})
    assert (erased.status_code, erased.json()) == (200, {"id": contact.pk})


def test_enrolling_and_changing_a_club_member_with_a_write_only_key_answer_only_the_id(writer):
    contact = ContactFactory()
    created = writer.post(
        "/api/v1/club-members/", {"contact": contact.pk, "card_number": "900000001234"}, format="json"
    )
    assert created.status_code == 201
    member_id = created.json()["id"]
    assert created.json() == {"id": member_id}
    changed = writer.patch(f"/api/v1/club-members/{member_id}/", {"tier": "gold"}, format="json")
    assert changed.json() == {"id": member_id}


def test_a_key_that_also_reads_contacts_gets_the_whole_contact(make_client):
    response = make_client("contacts:write", "contacts:read").post(
        "/api/v1/contacts/", {"email": "dana@example.com", "first_name": "Dana"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["email"] == "dana@example.com" and response.json()["first_name"] == "Dana"


def test_recording_a_purchase_with_a_purchases_key_answers_only_the_id(make_client):
    ContactFactory(email="dana@example.com", first_name="Dana")
    ProductFactory(sku="LENS-30")
    order = {
        "external_id": "WEB-1",
        "source": "shop",
        "channel": "online",
        "email": "dana@example.com",
        "purchased_at": "2026-03-01T18:05:00+02:00",
        "total": "79.90",
        "items": [{"sku": "LENS-30", "quantity": 1, "unit_price": "79.90"}],
    }
    client = make_client("purchases:write")
    first = client.post("/api/v1/purchases/", order, format="json")
    again = client.post("/api/v1/purchases/", order, format="json")
    assert first.status_code == 201 and set(first.json()) == {"id"}
    assert (again.status_code, again.json()) == (200, first.json())


def test_bulk_purchases_answer_counts_and_errors_only(make_client):
    ProductFactory(sku="LENS-30")
    item = {
        "external_id": "WEB-2",
        "source": "shop",
        "channel": "online",
        "email": "noa@example.com",
        "purchased_at": "2026-03-01T18:05:00+02:00",
        "total": "79.90",
        "items": [{"sku": "LENS-30", "quantity": 1, "unit_price": "79.90"}],
    }
    response = make_client("purchases:write").post("/api/v1/purchases/bulk/", {"purchases": [item]}, format="json")
    assert response.status_code == 200
    assert set(response.json()) == {"created", "duplicates", "errors"}
    assert "noa@example.com" not in response.content.decode()


def test_tracking_an_event_with_an_events_key_answers_only_the_id(make_client):
    ContactFactory(email="dana@example.com")
    response = make_client("events:write").post(
        "/api/v1/events/",
        {"type": "page_view", "email": "dana@example.com", "url": "https://shop.example.com/"},
        format="json",
    )
    assert response.status_code == 201
    assert set(response.json()) == {"id"}


def test_a_staff_session_that_may_view_contacts_gets_the_whole_contact(admin_client):
    response = admin_client.post("/api/v1/contacts/", {"email": "dana@example.com"}, content_type="application/json")
    assert response.status_code == 201 and response.json()["email"] == "dana@example.com"


def test_the_schema_documents_the_id_only_answer(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    answer = schema["paths"]["/api/v1/contacts/upsert/"]["post"]["responses"]["200"]["content"]["application/json"]
    shapes = answer["schema"]["anyOf"]
    assert {"$ref": "#/components/schemas/Contact"} in shapes
    assert any(shape.get("required") == ["id"] for shape in shapes)
