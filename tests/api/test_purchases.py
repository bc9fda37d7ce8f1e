import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts import services
from contacts.models import Contact, FunnelStage, Purchase, PurchaseItem
from tests.factories import ContactFactory, MemberFactory, ProductFactory, PurchaseFactory, StoreFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/purchases/"
BULK = "/api/v1/purchases/bulk/"


@pytest.fixture
def catalogue():
    StoreFactory(code="TLV-01")
    ProductFactory(sku="LENS-30")
    ProductFactory(sku="CASE-01")


def order(external_id="POS-1", **extra):
    body = {
        "external_id": external_id,
        "source": "pos",
        "channel": "in_store",
        "store": "TLV-01",
        "purchased_at": "2026-03-01T18:05:00+02:00",
        "total": "189.70",
        "items": [
            {"sku": "LENS-30", "quantity": 2, "unit_price": "79.90"},
            {"sku": "CASE-01", "quantity": 1, "unit_price": "29.90"},
        ],
    }
    return {**body, **extra}


def test_a_purchase_by_club_card_is_recorded_and_colors_the_buyer(api, catalogue):
    member = MemberFactory(card_number="900000001234")

    response = api.post(URL, order(card_number="900000001234"), format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["contact"] == member.contact_id and body["store"] == "TLV-01" and body["total"] == "189.70"
    assert [(i["sku"], i["quantity"]) for i in body["items"]] == [("LENS-30", 2), ("CASE-01", 1)]
    contact = Contact.objects.get(pk=member.contact_id)
    assert contact.funnel_stage == FunnelStage.PURCHASER
    assert contact.purchase_count == 1 and contact.total_spent == Decimal("189.70")


def test_sending_the_same_purchase_again_returns_the_stored_one(api, catalogue):
    contact = ContactFactory()

    first = api.post(URL, order(contact=contact.pk), format="json")
    again = api.post(URL, order(contact=contact.pk), format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert Purchase.objects.count() == 1
    assert Contact.objects.get(pk=contact.pk).purchase_count == 1


def test_the_same_external_id_from_another_source_is_another_purchase(api, catalogue):
    contact = ContactFactory()

    api.post(URL, order(contact=contact.pk, source="pos"), format="json")
    response = api.post(URL, order(contact=contact.pk, source="shop"), format="json")

    assert response.status_code == 201
    assert Purchase.objects.count() == 2


def test_a_purchase_by_a_new_email_creates_the_contact(api, catalogue):
    response = api.post(URL, order(email="New@Example.com", store=None), format="json")

    assert response.status_code == 201
    assert Contact.objects.get(pk=response.json()["contact"]).email == "new@example.com"


@pytest.mark.parametrize(
    "change, field",
    [
        ({"contact": 987654}, "contact"),
        ({"card_number": "nope"}, "card_number"),
        ({"store": "NOWHERE"}, "store"),
        ({"items": [{"sku": "NOPE-1", "quantity": 1, "unit_price": "1"}]}, "items.0.sku"),
        ({"items": [{"sku": "LENS-30", "quantity": 0, "unit_price": "1"}]}, "items.0.quantity"),
        ({"items": [{"sku": "LENS-30", "quantity": 1, "unit_price": "1e11"}]}, "items.0.unit_price"),
        ({"total": "lots"}, "total"),
        ({"total": "-5"}, "total"),
        ({"channel": "fax"}, "channel"),
        ({"purchased_at": "yesterday"}, "purchased_at"),
        ({"external_id": "x" * 101}, "external_id"),
    ],
)
def test_a_bad_purchase_is_a_400_naming_the_field(api, catalogue, change, field):
    body = order() if "card_number" in change else order(contact=ContactFactory().pk)
    body.update(change)

    response = api.post(URL, body, format="json")

    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not Purchase.objects.exists()


def test_a_purchase_without_a_buyer_is_refused(api, catalogue):
    response = api.post(URL, order(), format="json")

    assert response.status_code == 400
    assert "contact" in response.json()


def test_a_bulk_batch_keeps_the_good_items_and_reports_the_bad_ones_by_index(api, catalogue):
    contact = ContactFactory()
    MemberFactory(card_number="900000001234")
    batch = [
        order("A-1", contact=contact.pk),
        order("A-2", items=[{"sku": "NOPE-1", "quantity": 1, "unit_price": "5"}], contact=contact.pk),
        order("A-3", card_number="900000001234"),
        order("A-4", email="fresh@example.com", store=None),
        order("A-5", contact=987654),
        "not an object",
        order("A-6", total="abc", contact=contact.pk),
    ]

    response = api.post(BULK, {"purchases": batch}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["created"] == 3 and body["duplicates"] == 0
    errors = {e["index"]: e["errors"] for e in body["errors"]}
    assert set(errors) == {1, 4, 5, 6}
    assert "items.0.sku" in errors[1] and "contact" in errors[4] and "total" in errors[6]
    assert set(Purchase.objects.values_list("external_id", flat=True)) == {"A-1", "A-3", "A-4"}
    assert PurchaseItem.objects.count() == 6
    assert Contact.objects.get(email="fresh@example.com").funnel_stage == FunnelStage.PURCHASER
    assert Contact.objects.get(pk=contact.pk).purchase_count == 1


def test_a_retried_bulk_batch_creates_no_duplicates(api, catalogue):
    contacts = [ContactFactory() for _ in range(3)]
    batch = {"purchases": [order(f"B-{c.pk}", contact=c.pk) for c in contacts]}

    first = api.post(BULK, batch, format="json").json()
    again = api.post(BULK, batch, format="json").json()

    assert (first["created"], first["duplicates"]) == (3, 0)
    assert (again["created"], again["duplicates"]) == (0, 3)
    assert Purchase.objects.count() == 3
    assert all(c.purchase_count == 1 for c in Contact.objects.filter(pk__in=[c.pk for c in contacts]))


def test_a_key_repeated_inside_one_batch_is_stored_once(api, catalogue):
    contact = ContactFactory()

    body = api.post(BULK, {"purchases": [order("C-1", contact=contact.pk)] * 2}, format="json").json()

    assert (body["created"], body["duplicates"]) == (1, 1)


def test_purchases_without_external_id_are_each_stored(api, catalogue):
    contact = ContactFactory()

    body = api.post(BULK, {"purchases": [order(None, contact=contact.pk)] * 2}, format="json").json()

    assert body["created"] == 2


def test_bulk_stats_are_right_for_a_contact_with_several_purchases(api, catalogue):
    contact = ContactFactory()
    batch = [
        order(f"D-{n}", contact=contact.pk, total="10.00", purchased_at=f"2026-0{n}-01T10:00:00Z") for n in (1, 2, 3)
    ]

    api.post(BULK, {"purchases": batch}, format="json")

    contact.refresh_from_db()
    assert contact.purchase_count == 3 and contact.total_spent == Decimal("30.00")
    assert contact.first_purchase_at.month == 1 and contact.last_purchase_at.month == 3


@pytest.mark.parametrize("body", [{}, {"purchases": []}, {"purchases": "x"}, [1, 2], {"purchases": [{}] * 1001}])
def test_a_bulk_body_of_the_wrong_shape_or_size_is_refused(api, body):
    response = api.post(BULK, body, format="json")

    assert response.status_code == 400
    assert "purchases" in response.json()


def test_purchases_can_be_listed_and_filtered(api, catalogue):
    online = PurchaseFactory(channel="online", purchased_at="2026-01-10T10:00:00Z")
    in_store = PurchaseFactory(channel="in_store", purchased_at="2026-02-10T10:00:00Z")

    def listed(**query):
        return [p["id"] for p in api.get(URL, query).json()["results"]]

    assert listed() == [in_store.pk, online.pk]
    assert listed(channel="online") == [online.pk]
    assert listed(contact=in_store.contact_id) == [in_store.pk]
    assert listed(purchased_after="2026-02-01T00:00:00Z") == [in_store.pk]
    assert listed(purchased_before="2026-02-01T00:00:00Z") == [online.pk]
    assert listed(ordering="purchased_at") == [online.pk, in_store.pk]
    assert api.get(f"{URL}{online.pk}/").json()["external_id"] == online.external_id


@pytest.mark.django_db(transaction=True)
def test_concurrent_posts_of_the_same_purchase_store_one_row(make_client):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's concurrent transactions")
    StoreFactory(code="TLV-01")
    ProductFactory(sku="LENS-30")
    ProductFactory(sku="CASE-01")
    contact = ContactFactory()
    clients = [make_client("purchases:write") for _ in range(4)]
    barrier = threading.Barrier(len(clients) * 2)
    answers = []

    def post(client, url, body):
        barrier.wait()
        try:
            answers.append(client.post(url, body, format="json").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(c, URL, order("RACE-1", contact=contact.pk))) for c in clients]
    threads += [
        threading.Thread(target=post, args=(c, BULK, {"purchases": [order("RACE-1", contact=contact.pk)]}))
        for c in clients
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(set(answers)) <= [200, 201]
    assert Purchase.objects.filter(external_id="RACE-1").count() == 1
    assert Contact.objects.get(pk=contact.pk).purchase_count == 1


# ---------------------------------------------------------------- identifiers of two different contacts


def test_a_purchase_whose_card_and_email_belong_to_two_contacts_is_refused_naming_both(api, catalogue):
    member = MemberFactory(card_number="900000001234")
    other = ContactFactory(email="other@example.com")

    response = api.post(URL, order(card_number="900000001234", email="Other@Example.com"), format="json")

    assert response.status_code == 400
    assert {"card_number", "email"} <= set(response.json())
    assert not Purchase.objects.exists()
    assert Contact.objects.get(pk=member.contact_id).purchase_count == 0
    assert Contact.objects.get(pk=other.pk).purchase_count == 0


def test_a_purchase_whose_contact_id_and_card_belong_to_two_contacts_is_refused(api, catalogue):
    MemberFactory(card_number="900000001234")
    contact = ContactFactory()

    response = api.post(URL, order(contact=contact.pk, card_number="900000001234"), format="json")

    assert response.status_code == 400
    assert {"contact", "card_number"} <= set(response.json())
    assert not Purchase.objects.exists()


def test_identifiers_that_agree_are_accepted_and_an_unknown_extra_email_creates_nobody(api, catalogue):
    member = MemberFactory(card_number="900000001234", contact__email="dana@example.com")

    same = api.post(
        URL,
        order("P-1", card_number="900000001234", email="dana@example.com", contact=member.contact_id),
        format="json",
    )
    unknown_email = api.post(URL, order("P-2", card_number="900000001234", email="nobody@example.com"), format="json")

    assert same.status_code == 201 and same.json()["contact"] == member.contact_id
    assert unknown_email.status_code == 201 and unknown_email.json()["contact"] == member.contact_id
    assert not Contact.objects.filter(email="nobody@example.com").exists()


def test_a_bulk_item_with_conflicting_identifiers_is_reported_by_index_and_the_others_are_stored(api, catalogue):
    member = MemberFactory(card_number="900000001234", contact__email="dana@example.com")
    ContactFactory(email="other@example.com")
    batch = [
        order("C-1", card_number="900000001234"),
        order("C-2", card_number="900000001234", email="other@example.com"),
        order("C-3", card_number="900000001234", email="dana@example.com"),
        order("C-4", card_number="900000001234", email="nobody@example.com"),
    ]

    body = api.post(BULK, {"purchases": batch}, format="json").json()

    assert body["created"] == 3
    errors = {e["index"]: e["errors"] for e in body["errors"]}
    assert set(errors) == {1} and {"card_number", "email"} <= set(errors[1])
    assert set(Purchase.objects.values_list("external_id", flat=True)) == {"C-1", "C-3", "C-4"}
    assert set(Purchase.objects.values_list("contact_id", flat=True)) == {member.contact_id}
    assert not Contact.objects.filter(email="nobody@example.com").exists()


# ---------------------------------------------------------------- references resolved for the whole batch


def test_a_bulk_batch_mixing_known_unknown_and_erased_references_keeps_every_valid_item(api, catalogue):
    live, erased = ContactFactory(), ContactFactory()
    services.contact_erase(contact=erased)
    batch = [
        order("M-1", contact=live.pk),
        order(
            "M-2", contact=live.pk, items=[{"sku": "NOPE-1", "unit_price": "1"}, {"sku": "NOPE-2", "unit_price": "1"}]
        ),
        order(
            "M-3", contact=live.pk, items=[{"sku": "CASE-01", "unit_price": "1"}, {"sku": "NOPE-3", "unit_price": "1"}]
        ),
        order("M-4", contact=erased.pk),
        order("M-5", contact=987654),
        order("M-6", contact=live.pk, store="NOWHERE"),
        order("M-7", contact=live.pk, items=[{"sku": "LENS-30", "quantity": 3, "unit_price": "2"}]),
    ]

    body = api.post(BULK, {"purchases": batch}, format="json").json()

    assert (body["created"], body["duplicates"]) == (2, 0)
    assert {e["index"]: e["errors"] for e in body["errors"]} == {
        1: {"items.0.sku": ["Unknown product NOPE-1."], "items.1.sku": ["Unknown product NOPE-2."]},
        2: {"items.1.sku": ["Unknown product NOPE-3."]},
        3: {"contact": [f"Contact {erased.pk} has been erased and can no longer be changed."]},
        4: {"contact": ["Contact 987654 does not exist."]},
        5: {"store": ["Unknown store NOWHERE."]},
    }
    assert sorted(PurchaseItem.objects.values_list("purchase__external_id", "product__sku", "quantity")) == [
        ("M-1", "CASE-01", 1),
        ("M-1", "LENS-30", 2),
        ("M-7", "LENS-30", 3),
    ]
    assert Contact.objects.get(pk=live.pk).purchase_count == 2


def test_a_bulk_batch_costs_the_same_queries_whatever_its_size(api, catalogue):
    contacts = [ContactFactory() for _ in range(30)]
    members = [MemberFactory() for _ in range(30)]

    def batch(prefix, size):
        return {
            "purchases": [
                order(f"{prefix}-{n}", contact=contacts[n].pk)
                if n % 3 == 0
                else order(f"{prefix}-{n}", card_number=members[n].card_number)
                if n % 3 == 1
                else order(f"{prefix}-{n}", email=f"buyer{n}@example.com", store="NOWHERE" if n == 2 else "TLV-01")
                for n in range(size)
            ]
        }

    with CaptureQueriesContext(connection) as small:
        assert api.post(BULK, batch("S", 6), format="json").json()["created"] == 5
    with CaptureQueriesContext(connection) as large:
        assert api.post(BULK, batch("L", 30), format="json").json()["created"] == 29

    def batch_queries(captured):  # the API key's last use is written at most once a minute
        return [q for q in captured.captured_queries if "crm_apikey" not in q["sql"]]

    assert len(batch_queries(large)) == len(batch_queries(small))
