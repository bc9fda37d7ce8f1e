import pytest

from contacts.models import LoyaltyMember, PointsEntry, Product, Store
from tests.factories import ContactFactory, MemberFactory, ProductFactory, StoreFactory

pytestmark = pytest.mark.django_db

MEMBERS = "/api/v1/club-members/"


def test_enrolling_a_contact_opens_the_ledger_with_the_given_points(api):
    contact = ContactFactory(email="dana@example.com")
    StoreFactory(code="TLV-01")

    response = api.post(
        MEMBERS,
        {"contact": contact.pk, "card_number": "900000001234", "tier": "silver", "home_store": "TLV-01", "points": 100},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert body["contact"] == contact.pk and body["email"] == "dana@example.com"
    assert body["points"] == 100 and body["tier"] == "silver" and body["home_store"] == "TLV-01"
    assert body["joined_at"]
    assert list(PointsEntry.objects.values_list("delta", "balance_after")) == [(100, 100)]


def test_enrolling_generates_a_card_number_when_none_is_given(api):
    response = api.post(MEMBERS, {"contact": ContactFactory().pk}, format="json")

    assert response.status_code == 201
    assert len(response.json()["card_number"]) == 12


def test_a_contact_is_enrolled_only_once(api):
    member = MemberFactory()

    response = api.post(MEMBERS, {"contact": member.contact_id}, format="json")

    assert response.status_code == 400
    assert "contact" in response.json()


def test_enrolling_an_unknown_contact_or_a_taken_card_names_the_field(api):
    MemberFactory(card_number="111")

    unknown = api.post(MEMBERS, {"contact": 987654}, format="json")
    taken = api.post(MEMBERS, {"contact": ContactFactory().pk, "card_number": "111"}, format="json")

    assert unknown.status_code == 400 and "contact" in unknown.json()
    assert taken.status_code == 400 and "card_number" in taken.json()


def test_patch_changes_tier_and_sets_points_through_the_ledger(api):
    member = MemberFactory()

    response = api.patch(f"{MEMBERS}{member.pk}/", {"tier": "gold", "points": 40}, format="json")

    assert response.status_code == 200
    member.refresh_from_db()
    assert member.tier == "gold" and member.points == 40
    assert member.ledger.get().delta == 40


def test_patch_with_an_unknown_tier_is_refused(api):
    member = MemberFactory()

    response = api.patch(f"{MEMBERS}{member.pk}/", {"tier": "diamond"}, format="json")

    assert response.status_code == 400
    assert "tier" in response.json()


def test_points_entries_move_the_balance_and_are_listed(api):
    member = MemberFactory()

    earned = api.post(f"{MEMBERS}{member.pk}/points/", {"delta": 50, "reason": "Order 1"}, format="json")
    spent = api.post(f"{MEMBERS}{member.pk}/points/", {"delta": -20, "reason": "Coupon"}, format="json")
    ledger = api.get(f"{MEMBERS}{member.pk}/points/").json()

    assert earned.status_code == spent.status_code == 201
    assert spent.json()["balance_after"] == 30
    assert [e["delta"] for e in ledger["results"]] == [-20, 50]
    assert LoyaltyMember.objects.get(pk=member.pk).points == 30


def test_spending_more_points_than_the_balance_is_refused(api):
    member = MemberFactory()

    response = api.post(f"{MEMBERS}{member.pk}/points/", {"delta": -1, "reason": "Coupon"}, format="json")

    assert response.status_code == 400
    assert "delta" in response.json()
    assert not PointsEntry.objects.exists()


def test_a_points_entry_without_reason_or_delta_names_both(api):
    member = MemberFactory()

    response = api.post(f"{MEMBERS}{member.pk}/points/", {}, format="json")

    assert response.status_code == 400
    assert {"delta", "reason"} <= set(response.json())


def test_a_repeated_points_reference_is_applied_once(api):
    member = MemberFactory()
    body = {"delta": 10, "reason": "Order 9", "reference": "order-9"}

    first = api.post(f"{MEMBERS}{member.pk}/points/", body, format="json")
    again = api.post(f"{MEMBERS}{member.pk}/points/", body, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert LoyaltyMember.objects.get(pk=member.pk).points == 10


def test_club_members_can_be_filtered_by_tier(api):
    gold = MemberFactory(tier="gold")
    MemberFactory(tier="basic")

    response = api.get(MEMBERS, {"tier": "gold"})

    assert [m["id"] for m in response.json()["results"]] == [gold.pk]


def test_products_can_be_created_changed_and_filtered(api):
    created = api.post(
        "/api/v1/products/",
        {"sku": "LENS-30", "name": "Monthly lenses", "category": "lenses", "price": "79.90", "replenishment_days": 30},
        format="json",
    )
    changed = api.patch(f"/api/v1/products/{created.json()['id']}/", {"price": "74.90"}, format="json")
    listed = api.get("/api/v1/products/", {"sku": "LENS-30"}).json()["results"]

    assert created.status_code == 201
    assert changed.json()["price"] == "74.90"
    assert Product.objects.get(sku="LENS-30").replenishment_days == 30
    assert [p["sku"] for p in listed] == ["LENS-30"]


def test_a_product_sku_is_unique(api):
    ProductFactory(sku="LENS-30")

    response = api.post("/api/v1/products/", {"sku": "LENS-30", "name": "Again"}, format="json")

    assert response.status_code == 400
    assert "sku" in response.json()


def test_a_product_with_a_negative_price_is_refused(api):
    response = api.post("/api/v1/products/", {"sku": "X", "name": "X", "price": "-1"}, format="json")

    assert response.status_code == 400
    assert "price" in response.json()


def test_stores_can_be_created_and_listed(api):
    created = api.post("/api/v1/stores/", {"code": "TLV-01", "name": "Dizengoff", "city": "Tel Aviv"}, format="json")
    duplicate = api.post("/api/v1/stores/", {"code": "TLV-01", "name": "Again"}, format="json")

    assert created.status_code == 201
    assert duplicate.status_code == 400 and "code" in duplicate.json()
    assert Store.objects.get().city == "Tel Aviv"
    assert api.get("/api/v1/stores/", {"city": "tel aviv"}).json()["results"][0]["code"] == "TLV-01"


def test_a_key_that_sends_purchases_can_read_the_catalogue_but_not_contacts(make_client):
    client = make_client("purchases:write")
    ProductFactory()

    assert client.get("/api/v1/products/").status_code == 200
    assert client.get("/api/v1/stores/").status_code == 200
    assert client.get("/api/v1/club-members/").status_code == 403
