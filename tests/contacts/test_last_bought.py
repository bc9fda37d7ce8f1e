"""When each contact last bought each product (`LastBought`, what "due to restock" reads) equals a reading of
every counted purchase, however the purchases come: one at a time or in a bulk batch, later or earlier than the
buyer's last purchase of the product (a store sale imported days late), at the very same instant, the same
product twice in one purchase, queued for a worker and counted later, then merged into another contact, deleted
with its contact, or fixed by hand and read again. Runs on SQLite and on PostgreSQL alike."""

import datetime as dt
import importlib
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test import override_settings
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns.reports import rollups
from campaigns.reports.models import PurchaseFact
from contacts import purchase_queue
from contacts.ingest import purchase_ingest, purchases_record_bulk
from contacts.merging import merge
from contacts.models import Contact, LastBought, Product, Purchase, PurchaseItem, UncountedPurchase
from contacts.services import contact_delete, contacts_refresh_purchase_stats
from tests.examples import rolled_back
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 1, 9, 30, tzinfo=dt.UTC)
CONTACTS, PRODUCTS = 3, 3
EXAMPLES = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))

sale = st.fixed_dictionaries(
    {
        "contact": st.integers(0, CONTACTS - 1),
        "days": st.sampled_from([0, 1, 30, 31, 200]),  # often the same day: ties and late sales
        "products": st.lists(st.integers(0, PRODUCTS - 1), min_size=1, max_size=3),  # a product may repeat
    }
)
step = st.one_of(
    st.tuples(st.just("one"), sale),
    st.tuples(st.just("bulk"), st.lists(sale, min_size=1, max_size=4)),
    st.tuples(st.just("queued"), st.lists(sale, min_size=1, max_size=4)),
    st.tuples(st.just("count")),
    st.tuples(st.just("merge"), st.integers(0, CONTACTS - 1), st.integers(0, CONTACTS - 1)),
)


def stored() -> set[tuple]:
    return set(LastBought.objects.values_list("contact_id", "product_id", "purchased_at"))


def reference() -> set[tuple]:
    """Each contact's latest counted purchase of each product, in plain Python."""
    queued = set(UncountedPurchase.objects.values_list("pk", flat=True))
    latest: dict[tuple, dt.datetime] = {}
    for contact, product, at, purchase in PurchaseItem.objects.values_list(
        "purchase__contact_id", "product_id", "purchase__purchased_at", "purchase_id"
    ):
        if purchase not in queued and at > latest.get((contact, product), dt.datetime.min.replace(tzinfo=dt.UTC)):
            latest[(contact, product)] = at
    return {(contact, product, at) for (contact, product), at in latest.items()}


@pytest.fixture
def shop():
    contacts = [Contact.objects.create(email=f"buyer{n}@example.com").pk for n in range(CONTACTS)]
    products = [ProductFactory(sku=f"SKU-{n}", replenishment_days=30) for n in range(PRODUCTS)]
    return contacts, [product.sku for product in products]


def product_id(sku: str) -> int:
    return Product.objects.get(sku=sku).pk


class Orders:
    def __init__(self, contacts: list[int], skus: list[str]) -> None:
        self.contacts, self.skus, self.n = contacts, skus, 0

    def order(self, drawn: dict) -> dict:
        self.n += 1
        return {
            "contact": self.contacts[drawn["contact"]],
            "external_id": f"o{self.n}",
            "source": "pos",
            "purchased_at": (NOW - dt.timedelta(days=drawn["days"])).isoformat(),
            "total": "10.00",
            "items": [{"sku": self.skus[p], "quantity": 1, "unit_price": "10.00"} for p in drawn["products"]],
        }


def test_the_last_purchase_of_each_product_equals_a_reading_of_every_purchase(shop):
    contacts, skus = shop

    @EXAMPLES
    @given(steps=st.lists(step, min_size=1, max_size=6))
    def check(steps):
        with rolled_back():
            alive, orders = list(contacts), Orders(contacts, skus)
            for kind, *args in steps:
                if kind == "one":
                    orders.contacts = alive
                    purchase_ingest(data=orders.order(args[0]))
                elif kind in ("bulk", "queued"):
                    orders.contacts = alive
                    with override_settings(CELERY_TASK_ALWAYS_EAGER=kind == "bulk"):
                        assert not purchases_record_bulk(items=[orders.order(s) for s in args[0]])["errors"]
                elif kind == "count":
                    purchase_queue.purchases_count_queued()
                elif alive[args[0]] != alive[args[1]]:
                    survivor, duplicate = (Contact.objects.get(pk=alive[i]) for i in args)
                    merge(survivor=survivor, duplicate=duplicate)
                    alive = [survivor.pk if pk == duplicate.pk else pk for pk in alive]
                assert stored() == reference()  # queued purchases are left out until counted
            purchase_queue.purchases_count_queued()
            assert stored() == reference()
            contacts_refresh_purchase_stats(contact_ids=alive)
            assert stored() == reference()

    check()


def test_a_late_store_sale_keeps_the_later_online_purchase(shop):
    contacts, skus = shop
    orders = Orders(contacts, skus)
    purchase_ingest(data=orders.order({"contact": 0, "days": 2, "products": [0]}))
    purchases_record_bulk(items=[orders.order({"contact": 0, "days": 20, "products": [0, 1]})])

    assert stored() == {
        (contacts[0], LastBought.objects.get(product__sku=skus[0]).product_id, NOW - dt.timedelta(days=2)),
        (contacts[0], LastBought.objects.get(product__sku=skus[1]).product_id, NOW - dt.timedelta(days=20)),
    }


def test_deleting_a_contact_or_a_purchase_by_hand_leaves_no_stale_row(shop):
    contacts, skus = shop
    orders = Orders(contacts, skus)
    for contact in (0, 1):
        purchases_record_bulk(items=[orders.order({"contact": contact, "days": d, "products": [0]}) for d in (1, 9)])

    contact_delete(contact=Contact.objects.get(pk=contacts[1]))
    Purchase.objects.filter(contact_id=contacts[0], purchased_at=NOW - dt.timedelta(days=1)).delete()
    contacts_refresh_purchase_stats(contact_ids=[contacts[0]])

    assert set(LastBought.objects.values_list("contact_id", "purchased_at")) == {
        (contacts[0], NOW - dt.timedelta(days=9))
    }


def test_the_migration_fills_the_table_from_the_counted_purchases(shop):
    contacts, skus = shop
    orders = Orders(contacts, skus)
    purchases_record_bulk(items=[orders.order({"contact": c, "days": c, "products": [c, 0]}) for c in range(3)])
    with override_settings(CELERY_TASK_ALWAYS_EAGER=False):
        purchases_record_bulk(items=[orders.order({"contact": 0, "days": 0, "products": [2]})])  # still queued
    expected = stored()
    LastBought.objects.all().delete()

    migration = importlib.import_module("contacts.migrations.0017_last_bought")
    with connection.cursor() as cursor:
        migration.backfill(None, SimpleNamespace(execute=cursor.execute))

    assert stored() == expected == reference()


def test_a_first_purchase_beside_a_queued_batch_leaves_the_batch_for_its_counting(shop):
    contacts, skus = shop
    orders = Orders(contacts, skus)
    with override_settings(CELERY_TASK_ALWAYS_EAGER=False):
        purchases_record_bulk(items=[orders.order({"contact": 0, "days": 0, "products": [1]})])
    purchase_ingest(data=orders.order({"contact": 0, "days": 5, "products": [0]}))  # read from all but the queued

    assert stored() == reference() and len(stored()) == 1
    purchase_queue.purchases_count_queued()
    assert stored() == reference() and len(stored()) == 2


def test_purchases_deleted_in_the_admin_leave_their_buyers_as_their_remaining_purchases_say(shop, admin_client):
    contacts, skus = shop
    orders = Orders(contacts, skus)
    purchases_record_bulk(items=[orders.order({"contact": 0, "days": d, "products": [0]}) for d in (1, 9, 40)])
    purchases_record_bulk(items=[orders.order({"contact": 1, "days": 3, "products": [1]})])
    newest = Purchase.objects.get(contact_id=contacts[0], purchased_at=NOW - dt.timedelta(days=1))
    other = Purchase.objects.get(contact_id=contacts[1])

    admin_client.post(reverse("admin:contacts_purchase_delete", args=[newest.pk]), {"post": "yes"})
    admin_client.post(
        reverse("admin:contacts_purchase_changelist"),
        {"action": "delete_selected", "_selected_action": [other.pk], "post": "yes"},
    )

    assert Purchase.objects.filter(pk__in=[newest.pk, other.pk]).count() == 0
    assert stored() == reference() == {(contacts[0], product_id(skus[0]), NOW - dt.timedelta(days=9))}
    ann, ben = Contact.objects.get(pk=contacts[0]), Contact.objects.get(pk=contacts[1])
    assert (ann.purchase_count, ann.last_purchase_at) == (2, NOW - dt.timedelta(days=9))
    assert (ben.purchase_count, ben.last_purchase_at, ben.total_spent) == (0, None, 0)
    kept = sorted(PurchaseFact.objects.values_list("pk", *rollups.FACT_FIELDS))
    rollups.rebuild()
    assert kept == sorted(PurchaseFact.objects.values_list("pk", *rollups.FACT_FIELDS))
