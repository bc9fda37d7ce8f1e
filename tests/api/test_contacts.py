import datetime as dt

import pytest
from django.utils import timezone

from contacts.models import ConsentEvent, Contact, EmailStatus, FunnelStage, Tag
from tests.factories import ContactFactory, MemberFactory, PurchaseFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/contacts/"


def ids(response):
    return [row["id"] for row in response.json()["results"]]


def test_create_returns_the_normalized_contact_with_its_id(api):
    response = api.post(
        URL,
        {
            "email": " Dana@Example.COM ",
            "phone": "050-123-4567",
            "first_name": "Dana",
            "tags": ["vip", "VIP", "newsletter"],
            "attributes": {"pet": "dog"},
            "email_opt_in": True,
        },
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    contact = Contact.objects.get(pk=body["id"])
    assert body["email"] == contact.email == "dana@example.com"
    assert body["phone"] == "+972501234567"
    assert sorted(body["tags"]) == ["newsletter", "vip"]
    assert body["attributes"] == {"pet": "dog"}
    assert body["funnel_stage"] == "none" and body["lifecycle"] == "prospect" and body["club"] is None
    assert ConsentEvent.objects.filter(contact=contact, channel="email", granted=True).exists()


def test_create_names_every_invalid_field(api):
    response = api.post(
        URL, {"email": "not-an-email", "phone": "12", "birth_date": "31/31/1990", "gender": "robot"}, format="json"
    )

    assert response.status_code == 400
    assert {"email", "phone", "birth_date", "gender"} <= set(response.json())
    body = response.json()
    codes = body.pop("error_codes")
    assert all(isinstance(m, list) for m in body.values())
    assert set(codes) == set(body) and codes["gender"] == ["invalid_choice"]


def test_create_refuses_an_email_in_use(api):
    ContactFactory(email="dana@example.com")

    response = api.post(URL, {"email": "DANA@example.com"}, format="json")

    assert response.status_code == 400
    assert "email" in response.json()
    assert Contact.objects.count() == 1


def test_a_body_that_is_not_json_gets_a_400_in_the_error_shape(api):
    response = api.generic("POST", URL, "{not json", content_type="application/json")

    assert response.status_code == 400
    assert "non_field_errors" in response.json()


def test_retrieve_shows_club_and_purchase_stats(api):
    member = MemberFactory(points=30)

    body = api.get(f"{URL}{member.contact_id}/").json()

    assert body["club"]["card_number"] == member.card_number
    assert body["club"]["points"] == 30
    assert body["purchase_count"] == 0


def test_an_unknown_contact_is_a_json_404(api):
    response = api.get(f"{URL}999999/")

    assert response.status_code == 404
    assert response.json()["detail"]


def test_an_unknown_api_url_is_a_json_404(api):
    response = api.get("/api/v1/nothing-here/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")


def test_patch_changes_only_the_given_fields_and_replaces_tags(api):
    contact = ContactFactory(city="Haifa", first_name="Dana")
    contact.tags.add(Tag.objects.create(name="old"))

    response = api.patch(f"{URL}{contact.pk}/", {"city": "Eilat", "tags": ["new"]}, format="json")

    assert response.status_code == 200
    contact.refresh_from_db()
    assert contact.city == "Eilat" and contact.first_name == "Dana"
    assert response.json()["tags"] == ["new"]


def test_patch_to_an_email_of_another_contact_is_refused(api):
    ContactFactory(email="taken@example.com")
    contact = ContactFactory()

    response = api.patch(f"{URL}{contact.pk}/", {"email": "taken@example.com"}, format="json")

    assert response.status_code == 400
    assert "email" in response.json()


def test_put_is_not_offered(api):
    contact = ContactFactory()

    assert api.put(f"{URL}{contact.pk}/", {"city": "x"}, format="json").status_code == 405


def test_delete_removes_the_contact(api):
    contact = ContactFactory()

    assert api.delete(f"{URL}{contact.pk}/").status_code == 204
    assert not Contact.objects.filter(pk=contact.pk).exists()


def test_upsert_creates_then_updates_the_same_contact(api):
    first = api.post(f"{URL}upsert/", {"email": "dana@example.com", "city": "Haifa"}, format="json")
    second = api.post(
        f"{URL}upsert/",
        {"email": "DANA@example.com", "first_name": "Dana", "city": "", "tags": ["wedding"]},
        format="json",
    )

    assert first.status_code == 201
    assert second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    assert second.json()["city"] == "Haifa"
    assert second.json()["first_name"] == "Dana"
    assert Contact.objects.count() == 1


def test_upsert_matches_on_phone_when_the_email_is_new(api):
    contact = ContactFactory(email=None, phone="+972501234567")

    response = api.post(f"{URL}upsert/", {"phone": "0501234567", "external_id": "crm-7"}, format="json")

    assert response.status_code == 200
    assert response.json()["id"] == contact.pk
    assert response.json()["external_id"] == "crm-7"


def test_upsert_matches_on_club_card(api):
    member = MemberFactory(card_number="900000000777")

    response = api.post(f"{URL}upsert/", {"card_number": "900000000777", "city": "Acre"}, format="json")

    assert response.status_code == 200
    assert response.json()["id"] == member.contact_id


def test_erase_removes_personal_data_and_keeps_purchases(api):
    purchase = PurchaseFactory()
    contact = purchase.contact

    response = api.post(f"{URL}{contact.pk}/erase/")

    assert response.status_code == 200
    body = response.json()
    assert body["email"] is None and body["first_name"] == "" and body["erased_at"]
    assert contact.purchases.count() == 1


@pytest.mark.parametrize(
    "query, expected",
    [
        ("email=DANA@example.com", "dana"),
        ("phone=050-123-4567", "dana"),
        ("city=haifa", "dana"),
        ("region=North", "dana"),
        ("source=in_store", "dana"),
        ("funnel_stage=purchaser", "dana"),
        ("lifecycle=active", "dana"),
        ("tag=VIP", "dana"),
        ("consent=email", "dana"),
        ("consent=sms", "noa"),
        ("email_opt_in=false", "noa"),
        ("club_member=true", "dana"),
    ],
)
def test_contacts_can_be_filtered(api, query, expected):
    dana = ContactFactory(
        email="dana@example.com",
        phone="+972501234567",
        city="Haifa",
        region="North",
        source="in_store",
        funnel_stage=FunnelStage.PURCHASER,
        email_opt_in=True,
        first_purchase_at=timezone.now() - dt.timedelta(days=200),
        last_purchase_at=timezone.now() - dt.timedelta(days=20),
    )
    dana.tags.add(Tag.objects.create(name="vip"))
    MemberFactory(contact=dana)
    noa = ContactFactory(
        email="noa@example.com",
        city="Eilat",
        region="South",
        source="web_form",
        email_opt_in=False,
        sms_opt_in=True,
        email_status=EmailStatus.ACTIVE,
    )
    people = {"dana": dana.pk, "noa": noa.pk}

    response = api.get(f"{URL}?{query}")

    assert response.status_code == 200
    assert ids(response) == [people[expected]]


def test_updated_after_lists_recent_changes_only(api):
    old = ContactFactory()
    Contact.objects.filter(pk=old.pk).update(updated_at=timezone.now() - dt.timedelta(days=3))
    recent = ContactFactory()
    since = (timezone.now() - dt.timedelta(days=1)).isoformat()

    response = api.get(URL, {"updated_after": since})

    assert ids(response) == [recent.pk]


def test_a_bad_filter_value_is_a_400_naming_the_filter(api):
    response = api.get(URL, {"funnel_stage": "famous"})

    assert response.status_code == 400
    assert "funnel_stage" in response.json()


def test_lists_are_cursor_paginated_newest_first(api):
    contacts = [ContactFactory() for _ in range(5)]

    first = api.get(URL, {"page_size": 2}).json()
    second = api.get(first["next"]).json()
    third = api.get(second["next"]).json()

    assert set(first) == {"next", "previous", "results"}
    seen = [r["id"] for page in (first, second, third) for r in page["results"]]
    assert seen == sorted((c.pk for c in contacts), reverse=True)
    assert third["next"] is None
    assert api.get(second["previous"]).json()["results"] == first["results"]


def test_lists_can_be_ordered(api):
    a, b = ContactFactory(), ContactFactory()
    Contact.objects.filter(pk=a.pk).update(updated_at=timezone.now() + dt.timedelta(hours=1))

    assert ids(api.get(URL, {"ordering": "-updated_at"})) == [a.pk, b.pk]
    assert ids(api.get(URL, {"ordering": "id"})) == [a.pk, b.pk]
    assert ids(api.get(URL, {"ordering": "-id"})) == [b.pk, a.pk]


# ---------------------------------------------------------------- custom fields: every bad value reported


@pytest.fixture
def custom_fields(db):
    from contacts.models import CustomField

    CustomField.objects.create(key="size", label="Size", type=CustomField.Type.NUMBER)
    CustomField.objects.create(key="vip", label="VIP", type=CustomField.Type.BOOLEAN)


BAD_ATTRIBUTES = {"size": "huge", "vip": "perhaps", "pet": "dog"}


def test_a_patch_with_two_bad_custom_fields_reports_both(api, custom_fields):
    contact = ContactFactory(attributes={"pet": "cat"})

    response = api.patch(f"{URL}{contact.pk}/", {"attributes": BAD_ATTRIBUTES}, format="json")

    assert response.status_code == 400
    assert {"attributes.size", "attributes.vip"} <= set(response.json())
    contact.refresh_from_db()
    assert contact.attributes == {"pet": "cat"}


def test_create_and_upsert_with_two_bad_custom_fields_report_both(api, custom_fields):
    created = api.post(URL, {"email": "two@example.com", "attributes": BAD_ATTRIBUTES}, format="json")
    upserted = api.post(f"{URL}upsert/", {"email": "two@example.com", "attributes": BAD_ATTRIBUTES}, format="json")

    for response in (created, upserted):
        assert response.status_code == 400
        assert {"attributes.size", "attributes.vip"} <= set(response.json())
    assert not Contact.objects.filter(email="two@example.com").exists()
