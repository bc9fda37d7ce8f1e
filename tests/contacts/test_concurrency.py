"""Races that only a real server shows: the database constraints and row locks must decide."""

import threading
from collections.abc import Callable

import pytest
from django.db import connection, connections
from django.db.models import F, Sum, Value
from django.db.models.functions import Coalesce

from contacts import ingest, services
from contacts.models import Contact, FunnelStage, LoyaltyMember, PointsEntry, Purchase
from contacts.serializers import ContactUpsertSerializer, read_input
from tests.factories import ContactFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers (PostgreSQL)"),
]

THREADS = 6


def run_together(task: Callable[[int], object], threads: int = THREADS) -> tuple[list, list]:
    """Start `threads` calls of task(n) at the same instant; return their results and errors."""
    barrier = threading.Barrier(threads)
    results, errors = [], []

    def worker(n: int) -> None:
        try:
            barrier.wait()
            results.append(task(n))
        except Exception as exc:  # noqa: BLE001 - reported to the test
            errors.append(exc)
        finally:
            connections.close_all()

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return results, errors


def test_concurrent_upserts_with_the_same_email_make_one_contact():
    results, errors = run_together(
        lambda n: services.contact_upsert(
            **read_input(ContactUpsertSerializer, {"email": "Race@Example.com", "city": f"City {n}", "tags": ["race"]})
        )
    )
    assert errors == []
    assert Contact.objects.filter(email="race@example.com").count() == 1
    assert len({contact.pk for contact, _ in results}) == 1
    assert sum(created for _, created in results) == 1


def test_concurrent_purchases_with_the_same_external_id_make_one_purchase():
    contact = ContactFactory()
    results, errors = run_together(
        lambda n: ingest.purchase_ingest(
            data={"contact": contact.pk, "source": "shop", "external_id": "order-1", "total": "100"}
        )
    )
    assert errors == []
    assert Purchase.objects.count() == 1
    assert sum(created for _, created in results) == 1
    contact.refresh_from_db()
    assert contact.purchase_count == 1


def test_concurrent_purchases_by_a_new_email_make_one_contact_and_one_purchase():
    _results, errors = run_together(
        lambda n: ingest.purchase_ingest(
            data={"email": "buyer@example.com", "source": "shop", "external_id": "order-2", "total": "100"}
        )
    )
    assert errors == []
    assert Contact.objects.count() == 1
    assert Purchase.objects.count() == 1
    assert Contact.objects.get().purchase_count == 1


def test_concurrent_points_adjustments_keep_balance_equal_to_the_ledger():
    member = services.member_create(contact=ContactFactory())
    services.points_adjust(member=member, delta=50, reason="Start")
    deltas = [30, -20, 15, -40, 25, -10, 5, -35]
    _, errors = run_together(
        lambda n: services.points_adjust(
            member=LoyaltyMember.objects.get(pk=member.pk), delta=deltas[n], reason="Race"
        ),
        threads=len(deltas),
    )
    member.refresh_from_db()
    ledger = PointsEntry.objects.filter(member=member).aggregate(s=Coalesce(Sum("delta"), Value(0)))["s"]
    assert member.points == ledger >= 0
    applied = PointsEntry.objects.filter(member=member).count() - 1
    assert applied + len(errors) == len(deltas)
    balances = list(PointsEntry.objects.filter(member=member).order_by("id").values_list("delta", "balance_after"))
    running = 0
    for delta, balance_after in balances:
        running += delta
        assert balance_after == running


def test_concurrent_points_with_the_same_reference_are_applied_once():
    member = services.member_create(contact=ContactFactory())
    results, errors = run_together(
        lambda n: services.points_adjust(
            member=LoyaltyMember.objects.get(pk=member.pk), delta=10, reason="Order", reference="order-9"
        )
    )
    assert errors == []
    assert len({entry.pk for entry in results}) == 1
    member.refresh_from_db()
    assert member.points == 10


def test_concurrent_events_with_the_same_event_id_are_stored_once():
    contact = ContactFactory()
    results, errors = run_together(
        lambda n: ingest.activity_ingest(data={"contact": contact.pk, "type": "add_to_cart", "event_id": "evt-race"})
    )
    assert errors == []
    assert len({activity.pk for activity, _ in results}) == 1


def test_concurrent_member_creates_with_the_same_card_make_one_member():
    contacts = ContactFactory.create_batch(THREADS)
    results, errors = run_together(lambda n: services.member_create(contact=contacts[n], card_number="900000000123"))
    assert len(results) == 1
    assert LoyaltyMember.objects.filter(card_number="900000000123").count() == 1
    assert all(set(getattr(e, "message_dict", {})) == {"card_number"} for e in errors), errors


def test_no_member_ever_disagrees_with_its_ledger():
    members = [services.member_create(contact=ContactFactory()) for _ in range(3)]

    def task(n: int) -> None:
        for delta in (20, -5, 7):
            services.points_adjust(member=members[n % 3], delta=delta, reason="Race")

    _, errors = run_together(task)
    assert errors == []
    bad = LoyaltyMember.objects.annotate(s=Coalesce(Sum("ledger__delta"), Value(0))).exclude(points=F("s"))
    assert not bad.exists()


def test_batches_and_counters_side_by_side_count_every_purchase_once(settings):
    """Six batches for the same buyers are stored while six counters take from the queue (SKIP LOCKED): every
    buyer's aggregates then equal a reading of all its purchases."""
    from contacts.purchase_queue import purchases_count_queued, purchases_queued

    settings.CELERY_TASK_ALWAYS_EAGER = False  # queue the batches, as with a worker
    buyers = [ContactFactory() for _ in range(5)]

    def batch_or_count(n: int) -> int:
        if n % 2:
            return purchases_count_queued(limit=7)
        items = [
            {"contact": c.pk, "source": "pos", "external_id": f"{n}-{i}-{c.pk}", "total": "10.00"}
            for i in range(4)
            for c in buyers
        ]
        return ingest.purchases_record_bulk(items=items)["created"]

    _results, errors = run_together(batch_or_count, threads=12)
    assert errors == []
    while purchases_count_queued():
        pass
    assert purchases_queued() == 0
    for buyer in buyers:
        buyer.refresh_from_db()
        stored = Purchase.objects.filter(contact=buyer).aggregate(n=Coalesce(Sum(Value(1)), 0), s=Sum("total"))
        assert (buyer.purchase_count, buyer.total_spent) == (stored["n"], stored["s"]) == (24, 240)


def test_event_batches_and_workers_side_by_side_store_every_event_once(settings):
    """Six batches over the same contacts (each sending some event ids of the others too) are queued while six
    workers store from the queue (SKIP LOCKED): every event id is then stored once and every contact reached
    the stage of its events, without a deadlock."""
    from contacts.event_queue import activities_store_queued
    from contacts.models import Activity, QueuedActivity

    settings.CELERY_TASK_ALWAYS_EAGER = False  # queue the batches, as with a worker
    contacts = ContactFactory.create_batch(20)
    types = ["page_view", "product_view", "add_to_cart"]

    def items(n: int) -> list[dict]:
        ordered = contacts if n % 4 else list(reversed(contacts))
        return [
            {"contact": c.pk, "type": types[(i + n) % 3], "event_id": f"side-{(n + i % 2) % 12}-{c.pk}"}
            for i, c in enumerate(ordered)
        ]

    def batch_or_store(n: int) -> int:
        if n % 2:
            return activities_store_queued(limit=15)
        return ingest.activities_track_bulk(items=items(n))["created"]

    _results, errors = run_together(batch_or_store, threads=12)
    assert errors == []
    while activities_store_queued():
        pass
    assert not QueuedActivity.objects.exists()
    ids = list(Activity.objects.values_list("event_id", flat=True))
    assert len(ids) == len(set(ids))
    expected = {item["event_id"] for n in range(0, 12, 2) for item in items(n)}
    assert set(ids) == expected
    assert set(Contact.objects.values_list("funnel_stage", flat=True)) == {FunnelStage.CART}


def test_concurrent_event_batches_over_the_same_contacts_raise_every_stage_without_deadlock():
    """Batches naming the same contacts in opposite orders, with different stages for each: the contacts
    still below their stage are locked in id order, so the batches wait for each other and all land."""
    contacts = ContactFactory.create_batch(40)
    types = ["page_view", "product_view", "add_to_cart"]

    def batch(n: int) -> dict:
        ordered = contacts if n % 2 else list(reversed(contacts))
        items = [
            {"contact": c.pk, "type": types[(i + n) % 3], "event_id": f"stage-{n}-{c.pk}"}
            for i, c in enumerate(ordered)
        ]
        return ingest.activities_track_bulk(items=items)

    results, errors = run_together(batch)
    assert errors == []
    assert sum(r["created"] for r in results) == THREADS * len(contacts)
    # every contact had an add_to_cart in some batch: all reached the cart stage
    stages = Contact.objects.filter(pk__in=[c.pk for c in contacts]).values_list("funnel_stage", flat=True)
    assert set(stages) == {FunnelStage.CART}
