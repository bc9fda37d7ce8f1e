"""POST /contacts/{id}/merge/, the upsert that finds two owners, and writes to erased contacts."""

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from contacts import ingest, services
from contacts.models import Contact, Purchase
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/contacts/"


def merge(client, survivor_id, body):
    return client.post(f"{URL}{survivor_id}/merge/", body, format="json")


def test_merge_folds_the_duplicate_into_the_contact_and_answers_with_it(api):
    survivor = ContactFactory(city="")
    duplicate = ContactFactory(city="Akko")
    ingest.purchase_ingest(data={"contact": duplicate.pk, "total": "40"})
    response = merge(api, survivor.pk, {"duplicate": duplicate.pk})
    assert response.status_code == 200
    assert response.json()["id"] == survivor.pk and response.json()["city"] == "Akko"
    assert response.json()["purchase_count"] == 1
    assert not Contact.objects.filter(pk=duplicate.pk).exists()
    assert Purchase.objects.get().contact_id == survivor.pk


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "duplicate"),
        ({"duplicate": "x"}, "duplicate"),
        ({"duplicate": 99999999}, "duplicate"),
        ({"duplicate": -1}, "duplicate"),
        ({"duplicate": 10**30}, "duplicate"),
        (["nope"], "non_field_errors"),
    ],
)
def test_a_bad_duplicate_is_a_400_naming_the_field(api, body, field):
    survivor = ContactFactory()
    response = merge(api, survivor.pk, body)
    assert response.status_code == 400
    assert field in response.json()


def test_merging_a_contact_into_itself_is_a_400(api):
    contact = ContactFactory()
    response = merge(api, contact.pk, {"duplicate": contact.pk})
    assert response.status_code == 400 and "duplicate" in response.json()
    assert response.json()["error_codes"] == {"duplicate": ["same_contact"]}


def test_merge_needs_the_contacts_write_scope(make_client):
    survivor, duplicate = ContactFactory(), ContactFactory()
    response = merge(make_client("contacts:read"), survivor.pk, {"duplicate": duplicate.pk})
    assert response.status_code == 403
    assert Contact.objects.filter(pk=duplicate.pk).exists()


def test_staff_need_the_merge_permission(django_user_model):
    survivor, duplicate = ContactFactory(), ContactFactory()
    user = django_user_model.objects.create_user("clerk", password="pw-123-long", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["change_contact", "view_contact"]))
    client = APIClient()
    client.force_login(user)
    assert merge(client, survivor.pk, {"duplicate": duplicate.pk}).status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="merge_contact"))
    user = django_user_model.objects.get(pk=user.pk)
    client.force_login(user)
    assert merge(client, survivor.pk, {"duplicate": duplicate.pk}).status_code == 200
    assert not Contact.objects.filter(pk=duplicate.pk).exists()


def test_upsert_with_the_email_of_one_contact_and_the_phone_of_another_names_both_and_the_merge(api):
    by_email = ContactFactory(email="dana@example.com", phone=None)
    by_phone = ContactFactory(email=None, phone="+972501234567")
    response = api.post(f"{URL}upsert/", {"email": "dana@example.com", "phone": "050-123-4567"}, format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["contacts"] == [by_email.pk, by_phone.pk]
    assert f"#{by_phone.pk}" in body["phone"][0]
    call = body["merge"][0]
    assert call["method"] == "POST" and call["url"].endswith(f"{URL}{by_email.pk}/merge/")
    assert call["body"] == {"duplicate": by_phone.pk}
    assert merge(api, by_email.pk, call["body"]).status_code == 200


# ---------------------------------------------------------------- erased contacts refuse writes


@pytest.fixture
def erased():
    contact = ContactFactory()
    services.member_create(contact=contact, card_number="555000111")
    return services.contact_erase(contact=contact)


def test_patching_an_erased_contact_is_a_400(api, erased):
    response = api.patch(f"{URL}{erased.pk}/", {"first_name": "Back"}, format="json")
    assert response.status_code == 400
    assert "erased" in response.json()["contact"][0]
    assert Contact.objects.get(pk=erased.pk).first_name == ""


def test_purchases_and_events_for_an_erased_contact_are_refused(api, erased):
    assert api.post("/api/v1/purchases/", {"contact": erased.pk, "total": "5"}, format="json").status_code == 400
    assert api.post("/api/v1/events/", {"contact": erased.pk, "type": "page_view"}, format="json").status_code == 400
    bulk = api.post("/api/v1/purchases/bulk/", {"purchases": [{"contact": erased.pk, "total": "5"}]}, format="json")
    assert bulk.status_code == 200
    assert bulk.json()["created"] == 0 and "erased" in bulk.json()["errors"][0]["errors"]["contact"][0]
    events = api.post("/api/v1/events/bulk/", {"events": [{"contact": erased.pk, "type": "page_view"}]}, format="json")
    assert events.json()["created"] == 0
    assert not erased.purchases.exists() and not erased.activities.exists()


def test_points_for_an_erased_member_are_refused(api, erased):
    member = erased.club
    response = api.post(f"/api/v1/club-members/{member.pk}/points/", {"delta": 5, "reason": "x"}, format="json")
    assert response.status_code == 400
    response = api.patch(f"/api/v1/club-members/{member.pk}/", {"tier": "gold"}, format="json")
    assert response.status_code == 400


def test_upsert_matching_an_erased_contact_by_its_card_is_refused(api, erased):
    response = api.post(f"{URL}upsert/", {"card_number": f"erased-{erased.pk}", "first_name": "Back"}, format="json")
    assert response.status_code == 400
    assert Contact.objects.get(pk=erased.pk).first_name == ""


def test_merging_into_or_from_an_erased_contact_is_a_400(api, erased):
    live = ContactFactory()
    assert merge(api, live.pk, {"duplicate": erased.pk}).status_code == 400
    assert merge(api, erased.pk, {"duplicate": live.pk}).status_code == 400
    assert Contact.objects.filter(pk=live.pk).exists()
