"""Purchases and events carry the visit's UTM parameters, by the single and the bulk endpoints alike."""

import pytest

from contacts.models import Activity, Purchase
from tests.factories import ContactFactory, ProductFactory

pytestmark = pytest.mark.django_db

UTM = {"utm_source": "crm", "utm_medium": "email", "utm_campaign": "spring-sale"}


@pytest.fixture
def contact():
    ProductFactory(sku="LENS-30")
    return ContactFactory()


def order(contact, external_id="WEB-1", **extra):
    return {
        "external_id": external_id,
        "source": "shop",
        "contact": contact.pk,
        "total": "79.90",
        "items": [{"sku": "LENS-30", "quantity": 1, "unit_price": "79.90"}],
        **extra,
    }


def event(contact, event_id="ev-1", **extra):
    return {"type": "page_view", "contact": contact.pk, "event_id": event_id, **extra}


def utm_of(row) -> dict:
    return {name: getattr(row, name) for name in UTM}


def test_a_purchase_keeps_its_utm_and_returns_it(api, contact):
    response = api.post("/api/v1/purchases/", order(contact, **UTM), format="json")

    assert response.status_code == 201
    assert {name: response.json()[name] for name in UTM} == UTM
    assert utm_of(Purchase.objects.get()) == UTM
    fetched = api.get(f"/api/v1/purchases/{response.json()['id']}/").json()
    assert {name: fetched[name] for name in UTM} == UTM


def test_a_bulk_batch_stores_each_purchases_own_utm(api, contact):
    items = [
        order(contact, "WEB-1", **UTM),
        order(contact, "WEB-2", utm_source="facebook", utm_medium="cpc"),
        order(contact, "WEB-3"),
    ]

    response = api.post("/api/v1/purchases/bulk/", {"purchases": items}, format="json")

    assert response.json() == {"created": 3, "duplicates": 0, "errors": []}
    stored = {p.external_id: utm_of(p) for p in Purchase.objects.all()}
    assert stored == {
        "WEB-1": UTM,
        "WEB-2": {"utm_source": "facebook", "utm_medium": "cpc", "utm_campaign": ""},
        "WEB-3": {"utm_source": "", "utm_medium": "", "utm_campaign": ""},
    }


def test_an_event_keeps_its_utm_and_returns_it(api, contact):
    response = api.post("/api/v1/events/", event(contact, **UTM), format="json")

    assert response.status_code == 201
    assert {name: response.json()[name] for name in UTM} == UTM
    assert utm_of(Activity.objects.get()) == UTM


def test_a_bulk_batch_of_events_stores_each_events_own_utm(api, contact):
    items = [event(contact, "ev-1", **UTM), {"type": "page_view", "anonymous_id": "web-9", "utm_source": "google"}]

    response = api.post("/api/v1/events/bulk/", {"events": items}, format="json")

    assert response.json()["created"] == 2
    assert utm_of(Activity.objects.get(event_id="ev-1")) == UTM
    assert utm_of(Activity.objects.get(anonymous_id="web-9")) == {
        "utm_source": "google",
        "utm_medium": "",
        "utm_campaign": "",
    }


def test_utm_values_are_trimmed_and_null_or_blank_means_none(api, contact):
    body = order(contact, utm_source="  facebook ", utm_medium=None, utm_campaign="   ")

    assert api.post("/api/v1/purchases/", body, format="json").status_code == 201
    assert utm_of(Purchase.objects.get()) == {"utm_source": "facebook", "utm_medium": "", "utm_campaign": ""}


@pytest.mark.parametrize("value", ["crm\nemail", "tab\there", "bell\x07", "\x85next-line", "trailing\r\n"])
@pytest.mark.parametrize("field", list(UTM))
def test_a_utm_value_with_a_control_character_is_a_400_naming_the_field(api, contact, field, value):
    response = api.post("/api/v1/purchases/", order(contact, **{field: value}), format="json")

    assert response.status_code == 400
    assert response.json()[field] == [f"{field} must not contain control characters such as line breaks or tabs."]
    assert not Purchase.objects.exists()


def test_a_utm_value_longer_than_100_characters_is_refused(api, contact):
    assert api.post("/api/v1/purchases/", order(contact, utm_campaign="x" * 100), format="json").status_code == 201

    response = api.post("/api/v1/events/", event(contact, utm_campaign="x" * 101), format="json")

    assert response.status_code == 400
    assert response.json()["utm_campaign"] == ["utm_campaign must be at most 100 characters."]


def test_a_utm_value_must_be_a_string(api, contact):
    response = api.post("/api/v1/events/", event(contact, utm_source=12), format="json")

    assert response.status_code == 400
    assert "utm_source" in response.json()


def test_a_bad_utm_value_fails_only_its_item_in_a_bulk_batch(api, contact):
    purchases = [order(contact, "WEB-1", utm_medium="e\tmail"), order(contact, "WEB-2", **UTM)]
    events = [event(contact, "ev-1", **UTM), event(contact, "ev-2", utm_source="x\ny")]

    bought = api.post("/api/v1/purchases/bulk/", {"purchases": purchases}, format="json").json()
    seen = api.post("/api/v1/events/bulk/", {"events": events}, format="json").json()

    assert bought["created"] == 1 and [e["index"] for e in bought["errors"]] == [0]
    assert bought["errors"][0]["errors"] == {
        "utm_medium": ["utm_medium must not contain control characters such as line breaks or tabs."]
    }
    assert seen["created"] == 1 and [(e["index"], list(e["errors"])) for e in seen["errors"]] == [(1, ["utm_source"])]
    assert utm_of(Purchase.objects.get()) == UTM
