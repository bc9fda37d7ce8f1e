import pytest

from contacts.models import Activity, Contact, FunnelStage
from tests.factories import ActivityFactory, ContactFactory, MemberFactory, ProductFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/events/"
BULK = "/api/v1/events/bulk/"


def test_an_event_of_a_known_contact_moves_it_up_the_funnel(api):
    contact = ContactFactory()
    ProductFactory(sku="LENS-30")

    response = api.post(
        URL,
        {
            "type": "add_to_cart",
            "contact": contact.pk,
            "product": "LENS-30",
            "url": "https://shop.example.com/p/lens-30",
            "properties": {"value": 79.9},
        },
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert body["contact"] == contact.pk and body["product"] == "LENS-30" and body["properties"] == {"value": 79.9}
    assert Contact.objects.get(pk=contact.pk).funnel_stage == FunnelStage.CART


def test_an_anonymous_event_is_stored_without_a_contact(api):
    response = api.post(URL, {"type": "page_view", "anonymous_id": "web-1"}, format="json")

    assert response.status_code == 201
    assert response.json()["contact"] is None
    assert Activity.objects.get().anonymous_id == "web-1"


def test_an_event_id_is_stored_once(api):
    body = {"type": "page_view", "anonymous_id": "web-1", "event_id": "evt-1"}

    first = api.post(URL, body, format="json")
    again = api.post(URL, body, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert Activity.objects.count() == 1


@pytest.mark.parametrize(
    "body, field",
    [
        ({"type": "dance", "anonymous_id": "a"}, "type"),
        ({"anonymous_id": "a"}, "type"),
        ({"type": "page_view"}, "contact"),
        ({"type": "page_view", "contact": 987654}, "contact"),
        ({"type": "page_view", "anonymous_id": "a", "product": "NOPE"}, "product"),
        ({"type": "page_view", "anonymous_id": "a", "url": "javascript:alert(1)"}, "url"),
        ({"type": "page_view", "anonymous_id": "a", "occurred_at": "soon"}, "occurred_at"),
        ({"type": "page_view", "anonymous_id": "a", "properties": ["x"]}, "properties"),
        ({"type": "page_view", "anonymous_id": "a", "properties": {"k": "bad\u0000"}}, "properties.k"),
    ],
)
def test_a_bad_event_is_a_400_naming_the_field(api, body, field):
    response = api.post(URL, body, format="json")

    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not Activity.objects.exists()


def test_a_bulk_batch_keeps_good_events_and_reports_bad_ones_by_index(api):
    contact = ContactFactory()
    member = MemberFactory()
    ProductFactory(sku="LENS-30")
    batch = [
        {"type": "product_view", "contact": contact.pk, "product": "LENS-30"},
        {"type": "add_to_cart", "card_number": member.card_number},
        {"type": "page_view", "anonymous_id": "web-9", "event_id": "e-1"},
        {"type": "page_view", "email": "new@example.com"},
        {"type": "nope", "anonymous_id": "x"},
        {"type": "page_view", "anonymous_id": "x", "product": "MISSING"},
        {"type": "page_view", "anonymous_id": "web-9", "event_id": "e-1"},
    ]

    body = api.post(BULK, {"events": batch}, format="json").json()

    assert (body["created"], body["duplicates"]) == (4, 1)
    assert {e["index"]: list(e["errors"]) for e in body["errors"]} == {4: ["type"], 5: ["product"]}
    assert Contact.objects.get(pk=contact.pk).funnel_stage == FunnelStage.INTERESTED
    assert Contact.objects.get(pk=member.contact_id).funnel_stage == FunnelStage.CART
    assert Contact.objects.get(email="new@example.com").funnel_stage == FunnelStage.VISITOR


def test_bulk_events_never_lower_a_funnel_stage(api):
    contact = ContactFactory(funnel_stage=FunnelStage.PURCHASER)

    api.post(BULK, {"events": [{"type": "page_view", "contact": contact.pk}]}, format="json")

    assert Contact.objects.get(pk=contact.pk).funnel_stage == FunnelStage.PURCHASER


def test_a_retried_event_batch_creates_no_duplicates(api):
    batch = {"events": [{"type": "page_view", "anonymous_id": "a", "event_id": f"e-{n}"} for n in range(5)]}

    api.post(BULK, batch, format="json")
    again = api.post(BULK, batch, format="json").json()

    assert (again["created"], again["duplicates"]) == (0, 5)
    assert Activity.objects.count() == 5


def test_an_events_batch_over_the_limit_is_refused(api):
    response = api.post(BULK, {"events": [{"type": "page_view"}] * 1001}, format="json")

    assert response.status_code == 400
    assert "events" in response.json()


def test_events_can_be_listed_and_filtered(api):
    contact = ContactFactory()
    view = ActivityFactory(contact=contact, type="product_view", occurred_at="2026-01-01T10:00:00Z")
    cart = ActivityFactory(type="add_to_cart", occurred_at="2026-02-01T10:00:00Z")

    def listed(**query):
        return [e["id"] for e in api.get(URL, query).json()["results"]]

    assert listed() == [cart.pk, view.pk]
    assert listed(type="add_to_cart") == [cart.pk]
    assert listed(contact=contact.pk) == [view.pk]
    assert listed(occurred_after="2026-01-15T00:00:00Z") == [cart.pk]
    assert listed(occurred_before="2026-01-15T00:00:00Z") == [view.pk]


def test_identify_links_a_visitor_and_rehomes_its_events(api):
    contact = ContactFactory()
    api.post(
        BULK,
        {
            "events": [
                {"type": "product_view", "anonymous_id": "web-7"},
                {"type": "add_to_cart", "anonymous_id": "web-7"},
            ]
        },
        format="json",
    )

    response = api.post("/api/v1/identify/", {"anonymous_id": "web-7", "contact": contact.pk}, format="json")

    assert response.status_code == 200
    assert response.json() == {"contact": contact.pk, "moved": 2}
    assert Activity.objects.filter(contact=contact).count() == 2
    assert Contact.objects.get(pk=contact.pk).funnel_stage == FunnelStage.CART


def test_identify_by_a_new_email_creates_the_contact(api):
    api.post(URL, {"type": "page_view", "anonymous_id": "web-8"}, format="json")

    response = api.post("/api/v1/identify/", {"anonymous_id": "web-8", "email": "Dana@Example.com"}, format="json")

    contact = Contact.objects.get(email="dana@example.com")
    assert response.json() == {"contact": contact.pk, "moved": 1}


@pytest.mark.parametrize(
    "body, field",
    [
        ({"email": "dana@example.com"}, "anonymous_id"),
        ({"anonymous_id": "web-1"}, "contact"),
        ({"anonymous_id": "web-1", "contact": 987654}, "contact"),
        ({"anonymous_id": "web-1", "card_number": "nope"}, "card_number"),
    ],
)
def test_identify_names_what_is_missing_or_unknown(api, body, field):
    response = api.post("/api/v1/identify/", body, format="json")

    assert response.status_code == 400
    assert field in response.json()


def test_events_need_the_events_scope(make_client):
    client = make_client("contacts:read", "purchases:write")

    assert client.post(URL, {"type": "page_view", "anonymous_id": "a"}, format="json").status_code == 403
    assert client.post("/api/v1/identify/", {"anonymous_id": "a"}, format="json").status_code == 403
    assert client.get(URL).status_code == 200


def test_a_null_character_fails_only_its_own_item_in_a_batch(api):
    batch = [
        {"type": "page_view", "anonymous_id": "a", "properties": {"q": "x\u0000y"}},
        {"type": "page_view", "anonymous_id": "b"},
    ]

    body = api.post(BULK, {"events": batch}, format="json").json()

    assert body["created"] == 1
    assert body["errors"] == [{"index": 0, "errors": {"properties.q": ["Null characters are not allowed."]}}]


def test_an_event_whose_identifiers_belong_to_two_contacts_is_refused(api):
    member = MemberFactory()
    other = ContactFactory()

    response = api.post(
        URL, {"type": "page_view", "contact": other.pk, "card_number": member.card_number}, format="json"
    )

    assert response.status_code == 400
    assert {"contact", "card_number"} <= set(response.json())
    assert not Activity.objects.exists()


def test_a_bulk_event_with_conflicting_identifiers_fails_alone(api):
    member = MemberFactory()
    other = ContactFactory(email="other@example.com")
    batch = [
        {"type": "page_view", "card_number": member.card_number, "email": "other@example.com"},
        {"type": "page_view", "contact": other.pk, "email": "other@example.com"},
    ]

    body = api.post(BULK, {"events": batch}, format="json").json()

    assert body["created"] == 1
    assert [e["index"] for e in body["errors"]] == [0]
    assert {"card_number", "email"} <= set(body["errors"][0]["errors"])
    assert Activity.objects.get().contact_id == other.pk
