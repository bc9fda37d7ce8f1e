import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from contacts import ingest, services
from contacts.models import Contact, FunnelStage, Lifecycle, Purchase, PurchaseItem
from tests.factories import ContactFactory, MemberFactory, ProductFactory, PurchaseFactory, StoreFactory

pytestmark = pytest.mark.django_db


def days_ago(days: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=days)


def record(**data):
    """Raw input read as the API reads it, then recorded."""
    return ingest.purchase_ingest(data=data)


def test_purchase_is_recorded_with_its_items():
    contact = ContactFactory()
    store = StoreFactory(code="TLV1")
    lens = ProductFactory(sku="LENS-30")
    purchase, created = record(
        contact=contact.pk,
        external_id="pos-1",
        source="pos",
        channel="In_Store",
        store="TLV1",
        total="199.90",
        currency="ils",
        items=[{"sku": "LENS-30", "quantity": 2, "unit_price": "99.95"}],
    )
    assert created
    purchase.refresh_from_db()
    assert (purchase.contact_id, purchase.store_id, purchase.channel, purchase.currency) == (
        contact.pk,
        store.pk,
        "in_store",
        "ILS",
    )
    assert purchase.total == Decimal("199.90")
    item = purchase.items.get()
    assert (item.product_id, item.quantity, item.unit_price) == (lens.pk, 2, Decimal("99.95"))


def test_same_external_id_twice_is_one_purchase():
    contact = ContactFactory()
    ProductFactory(sku="A")
    data = {
        "contact": contact.pk,
        "external_id": "shop-1",
        "source": "shop",
        "total": "50",
        "items": [{"sku": "A", "quantity": 1, "unit_price": "50"}],
    }
    first, created_first = record(**data)
    second, created_second = record(**data)
    assert (created_first, created_second) == (True, False)
    assert second.pk == first.pk
    assert Purchase.objects.count() == 1
    assert PurchaseItem.objects.count() == 1
    contact.refresh_from_db()
    assert contact.purchase_count == 1
    assert contact.total_spent == Decimal("50.00")


def test_same_external_id_from_another_source_is_another_purchase():
    contact = ContactFactory()
    record(contact=contact.pk, external_id="1001", source="shop", total="10")
    _, created = record(contact=contact.pk, external_id="1001", source="pos", total="20")
    assert created
    assert Purchase.objects.count() == 2


def test_purchases_without_external_id_are_never_deduplicated():
    contact = ContactFactory()
    record(contact=contact.pk, total="10")
    record(contact=contact.pk, total="10")
    assert Purchase.objects.count() == 2


def test_purchase_by_known_email_goes_to_that_contact():
    contact = ContactFactory(email="dana@example.com")
    purchase, _ = record(email="DANA@example.com", total="10")
    assert purchase.contact_id == contact.pk
    assert Contact.objects.count() == 1


def test_purchase_by_new_email_creates_the_contact():
    purchase, _ = record(email="new@example.com", total="10")
    contact = Contact.objects.get(email="new@example.com")
    assert purchase.contact_id == contact.pk
    assert contact.funnel_stage == FunnelStage.PURCHASER


def test_purchase_by_card_number_goes_to_the_member():
    member = MemberFactory(card_number="900055555555")
    purchase, _ = record(card_number=" 900055555555 ", total="10", channel="in_store")
    assert purchase.contact_id == member.contact_id


@pytest.mark.parametrize(
    "data, field",
    [
        ({"card_number": "nope", "total": "1"}, "card_number"),
        ({"contact": 999999, "total": "1"}, "contact"),
        ({"contact": "abc", "total": "1"}, "contact"),
        ({"total": "1"}, "contact"),
        ({"email": "bad@", "total": "1"}, "email"),
    ],
)
def test_purchase_with_unknown_or_missing_buyer_names_the_field(data, field):
    with pytest.raises(ValidationError) as excinfo:
        record(**data)
    assert set(excinfo.value.message_dict) == {field}
    assert not Purchase.objects.exists()


def test_purchase_with_unknown_store_or_sku_names_the_field_and_writes_nothing():
    contact = ContactFactory()
    ProductFactory(sku="KNOWN")
    with pytest.raises(ValidationError) as excinfo:
        record(
            contact=contact.pk,
            store="NOPE",
            total="10",
            items=[
                {"sku": "KNOWN", "quantity": 1, "unit_price": "5"},
                {"sku": "GHOST", "quantity": 1, "unit_price": "5"},
            ],
        )
    assert set(excinfo.value.message_dict) == {"store", "items.1.sku"}
    assert not Purchase.objects.exists()


@pytest.mark.parametrize(
    "data, field",
    [
        ({"total": "abc"}, "total"),
        ({"total": "-5"}, "total"),
        ({}, "total"),
        ({"total": "1", "purchased_at": "someday"}, "purchased_at"),
        ({"total": "1", "channel": "fax"}, "channel"),
        ({"total": "1", "items": [{"sku": "A", "quantity": 0, "unit_price": "1"}]}, "items.0.quantity"),
        ({"total": "1", "items": [{"sku": "A", "quantity": 1, "unit_price": "x"}]}, "items.0.unit_price"),
    ],
)
def test_invalid_purchase_fields_are_named(data, field):
    contact = ContactFactory()
    ProductFactory(sku="A")
    with pytest.raises(ValidationError) as excinfo:
        record(contact=contact.pk, **data)
    assert field in excinfo.value.message_dict
    assert not Purchase.objects.exists()


def test_purchase_updates_the_buyers_aggregates():
    contact = ContactFactory()
    record(contact=contact.pk, total="100", purchased_at=days_ago(10))
    record(contact=contact.pk, total="50.50", purchased_at=days_ago(3))
    contact.refresh_from_db()
    assert contact.purchase_count == 2
    assert contact.total_spent == Decimal("150.50")
    assert abs(contact.first_purchase_at - days_ago(10)) < dt.timedelta(minutes=1)
    assert abs(contact.last_purchase_at - days_ago(3)) < dt.timedelta(minutes=1)
    assert contact.funnel_stage == FunnelStage.PURCHASER


@pytest.mark.parametrize(
    "first_days, last_days, lifecycle",
    [
        (10, 10, Lifecycle.NEW),
        (29, 29, Lifecycle.NEW),
        (200, 5, Lifecycle.ACTIVE),
        (200, 89, Lifecycle.ACTIVE),
        (200, 91, Lifecycle.AT_RISK),
        (200, 179, Lifecycle.AT_RISK),
        (400, 181, Lifecycle.LAPSED),
    ],
)
def test_lifecycle_follows_purchase_dates(first_days, last_days, lifecycle):
    contact = ContactFactory()
    record(contact=contact.pk, total="10", purchased_at=days_ago(first_days))
    record(contact=contact.pk, total="10", purchased_at=days_ago(last_days))
    contact.refresh_from_db()
    assert contact.lifecycle == lifecycle


def test_contact_without_purchases_is_a_prospect():
    contact, _ = services.contact_upsert(email="p@example.com")
    contact.refresh_from_db()
    assert contact.lifecycle == Lifecycle.PROSPECT
    assert contact.purchase_count == 0


def test_lifecycle_thresholds_come_from_settings(settings):
    settings.LIFECYCLE_NEW_DAYS = 5
    settings.LIFECYCLE_ACTIVE_DAYS = 20
    settings.LIFECYCLE_AT_RISK_DAYS = 40
    for last_days, expected in {
        2: Lifecycle.ACTIVE,
        10: Lifecycle.ACTIVE,
        30: Lifecycle.AT_RISK,
        50: Lifecycle.LAPSED,
    }.items():
        contact = ContactFactory()
        record(contact=contact.pk, total="1", purchased_at=days_ago(400))
        record(contact=contact.pk, total="1", purchased_at=days_ago(last_days))
        contact.refresh_from_db()
        assert contact.lifecycle == expected, last_days
    newcomer = ContactFactory()
    record(contact=newcomer.pk, total="1", purchased_at=days_ago(4))
    newcomer.refresh_from_db()
    assert newcomer.lifecycle == Lifecycle.NEW


def test_recompute_moves_lifecycle_as_time_passes(settings):
    contact = ContactFactory()
    record(contact=contact.pk, total="10", purchased_at=days_ago(60))
    contact.refresh_from_db()
    assert contact.lifecycle == Lifecycle.ACTIVE
    settings.LIFECYCLE_ACTIVE_DAYS = 30
    settings.LIFECYCLE_AT_RISK_DAYS = 50
    services.contacts_recompute_all()
    contact.refresh_from_db()
    assert contact.lifecycle == Lifecycle.LAPSED


def test_rfm_scores_rank_buyers_after_breakpoints_are_computed():
    buyers = []
    for n in range(10):
        contact = ContactFactory()
        for k in range(n + 1):
            PurchaseFactory(contact=contact, total=Decimal(10 * (n + 1)), purchased_at=days_ago(100 - 10 * n + k))
        buyers.append(contact)
    prospect = ContactFactory()
    services.contacts_refresh_purchase_stats(contact_ids=[c.pk for c in buyers])
    services.rfm_breakpoints_compute()
    services.rfm_apply(Contact.objects.all())
    best, worst = (Contact.objects.get(pk=buyers[-1].pk), Contact.objects.get(pk=buyers[0].pk))
    assert (best.rfm_recency, best.rfm_frequency, best.rfm_monetary) == (5, 5, 5)
    assert (worst.rfm_recency, worst.rfm_frequency, worst.rfm_monetary) == (1, 1, 1)
    scores = [Contact.objects.get(pk=c.pk).rfm_monetary for c in buyers]
    assert scores == sorted(scores)
    prospect.refresh_from_db()
    assert prospect.rfm_recency is None and prospect.rfm_monetary is None


def test_new_purchase_is_scored_against_stored_breakpoints():
    for n in range(5):
        contact = ContactFactory()
        PurchaseFactory(contact=contact, total=Decimal(10**n), purchased_at=days_ago(50 - n))
        services.contacts_refresh_purchase_stats(contact_ids=[contact.pk])
    services.rfm_breakpoints_compute()
    big_spender = ContactFactory()
    record(contact=big_spender.pk, total="50000", purchased_at=days_ago(0))
    big_spender.refresh_from_db()
    assert (big_spender.rfm_recency, big_spender.rfm_monetary) == (5, 5)
