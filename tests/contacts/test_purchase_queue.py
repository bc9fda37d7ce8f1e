"""Bulk batches queue their purchases to be counted by a worker (`contacts.purchase_queue`): until then the
buyers' aggregates and the sales rollups leave them out; once counted, they equal a reading of every purchase,
each purchase counted once — whoever counts it, however often, whatever happened to its buyer meanwhile (a
first purchase in two queued batches, a merge, an erasure, a purchase stored alone). Runs on SQLite and on
PostgreSQL alike; the suite's own tasks run in-process, so these tests turn that off."""

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test import override_settings

from campaigns.reports import rollups
from campaigns.reports.models import PurchaseFact
from contacts import hooks, purchase_queue, tasks
from contacts.ingest.purchases import purchases_record_bulk
from contacts.merging import merge
from contacts.models import Contact, Purchase, UncountedPurchase
from contacts.services import contact_erase, contacts_refresh_purchase_stats, purchase_record
from crm.runtime.periodic import jobs
from tests.factories import ContactFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("queued")]

AT = dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)


@pytest.fixture
def queued():
    with override_settings(CELERY_TASK_ALWAYS_EAGER=False):
        yield


def bulk(contact: Contact, *totals: str, tag: str = "a") -> list[int]:
    items = [
        {
            "external_id": f"{contact.pk}-{tag}-{n}",
            "source": "pos",
            "contact": contact.pk,
            "purchased_at": (AT + dt.timedelta(days=n)).isoformat(),
            "total": total,
            "channel": "in_store",
        }
        for n, total in enumerate(totals)
    ]
    assert purchases_record_bulk(items=items)["created"] == len(items)
    return list(Purchase.objects.filter(external_id__in=[i["external_id"] for i in items]).values_list("pk", flat=True))


STATS = ("purchase_count", "total_spent", "first_purchase_at", "last_purchase_at", "funnel_stage")


def stats(contact: Contact) -> tuple:
    contact.refresh_from_db()
    return tuple(getattr(contact, field) for field in STATS)


def reread(contact: Contact) -> tuple:
    """What reading all the contact's purchases again gives."""
    contacts_refresh_purchase_stats(contact_ids=[contact.pk])
    return stats(contact)


def rollups_equal_a_rebuild() -> bool:
    kept = sorted(PurchaseFact.objects.values_list("pk", *rollups.FACT_FIELDS))
    rollups.rebuild()
    return kept == sorted(PurchaseFact.objects.values_list("pk", *rollups.FACT_FIELDS))


def test_a_batch_is_queued_then_counted_once(django_capture_on_commit_callbacks):
    ann = ContactFactory()
    bulk(ann, "100.00", tag="first")
    purchase_queue.purchases_count_queued()
    before = stats(ann)

    with django_capture_on_commit_callbacks() as scheduled:
        ids = bulk(ann, "40.00", "60.00")

    assert len(scheduled) == 1  # the counting task, once the batch commits
    assert set(UncountedPurchase.objects.values_list("pk", flat=True)) == set(ids)
    assert stats(ann) == before
    assert purchase_queue.purchases_queued() == 2

    assert purchase_queue.purchases_count_queued() == 2
    assert purchase_queue.purchases_count_queued() == 0
    assert stats(ann)[:2] == (3, Decimal("200.00"))
    assert stats(ann) == reread(ann)
    assert PurchaseFact.objects.filter(purchase_id__in=ids).count() == 2
    assert rollups_equal_a_rebuild()


def test_a_first_purchase_in_two_queued_batches_is_counted_once_each():
    ben = ContactFactory()
    first = bulk(ben, "10.00", tag="one")
    bulk(ben, "20.00", "30.00", tag="two")

    assert purchase_queue.purchases_count_queued(limit=len(first)) == 1
    assert stats(ben)[:2] == (1, Decimal("10.00"))
    assert reread(ben)[:2] == (1, Decimal("10.00"))  # a reading of every purchase leaves the queued ones out

    assert purchase_queue.purchases_count_queued() == 2
    assert stats(ben)[:2] == (3, Decimal("60.00"))
    assert stats(ben) == reread(ben)


def test_a_purchase_stored_alone_is_counted_at_once_beside_queued_ones():
    cat = ContactFactory()
    bulk(cat, "5.00")
    purchase_record(
        contact=cat,
        source="shop",
        external_id="alone",
        channel="online",
        purchased_at=AT,
        total=Decimal("7.00"),
        currency="ILS",
        store=None,
        items=[],
    )

    assert stats(cat)[:2] == (1, Decimal("7.00"))
    purchase_queue.purchases_count_queued()
    assert stats(cat)[:2] == (2, Decimal("12.00"))
    assert stats(cat) == reread(cat)


def test_queued_purchases_follow_a_merge_to_the_survivor(django_capture_on_commit_callbacks):
    ann, twin = ContactFactory(), ContactFactory()
    bulk(ann, "100.00")
    purchase_queue.purchases_count_queued()
    bulk(twin, "50.00", "25.00")

    with django_capture_on_commit_callbacks(execute=True):
        merge(survivor=ann, duplicate=twin)
    assert stats(ann)[:2] == (1, Decimal("100.00"))

    purchase_queue.purchases_count_queued()
    assert stats(ann)[:2] == (3, Decimal("175.00"))
    assert stats(ann) == reread(ann)
    assert rollups_equal_a_rebuild()


def test_an_erasure_before_the_counting_keeps_the_money_and_counts_it_once():
    dan = ContactFactory()
    bulk(dan, "80.00")
    contact_erase(contact=dan)

    purchase_queue.purchases_count_queued()
    assert purchase_queue.purchases_queued() == 0
    assert stats(dan) == reread(dan)
    assert rollups_equal_a_rebuild()


def test_automations_hear_of_the_purchases_once_they_are_counted(django_capture_on_commit_callbacks):
    heard: list[dict] = []
    hooks.on_purchases_recorded(heard.append)
    try:
        eve = ContactFactory()
        with django_capture_on_commit_callbacks(execute=False):
            bulk(eve, "12.00")
        assert heard == []
        with django_capture_on_commit_callbacks(execute=True):
            purchase_queue.purchases_count_queued()
        assert heard == [{"in_store": [eve.pk]}]
    finally:
        hooks._purchases.remove(heard.append)


def test_the_task_counts_until_the_queue_is_empty_and_the_beat_runs_it(monkeypatch):
    monkeypatch.setattr(purchase_queue, "BATCH", 2)
    fay = ContactFactory()
    bulk(fay, "1.00", "2.00", "3.00", "4.00", "5.00")

    assert tasks.count_purchases_task() == {"counted": 5}
    assert stats(fay)[:2] == (5, Decimal("15.00"))
    assert tasks.COUNT_PURCHASES_TASK in {job.task for job in jobs()}


def test_without_a_worker_a_batch_is_counted_in_its_own_transaction():
    gil = ContactFactory()
    with override_settings(CELERY_TASK_ALWAYS_EAGER=True):
        bulk(gil, "9.00")
    assert purchase_queue.purchases_queued() == 0
    assert stats(gil)[:2] == (1, Decimal("9.00"))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent counters (PostgreSQL)")
def test_counters_side_by_side_take_different_buyers_and_never_wait():
    """While another counter holds a buyer, a take leaves that buyer's purchases queued and counts the others
    at once; the next take counts them."""
    ann, bob = ContactFactory(), ContactFactory()
    bulk(ann, "10.00", "20.00")
    bulk(bob, "5.00")
    holding, release = threading.Event(), threading.Event()

    def other_counter() -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"SELECT id FROM {Contact._meta.db_table} WHERE id = %s FOR NO KEY UPDATE", [ann.pk])
                holding.set()
                release.wait(10)
        finally:
            holding.set()
            connection.close()

    other = threading.Thread(target=other_counter)
    other.start()
    assert holding.wait(10)
    try:
        assert purchase_queue.purchases_count_queued() == 1  # bob's, without waiting for ann's holder
        assert purchase_queue.purchases_queued() == 2
    finally:
        release.set()
        other.join()
    assert purchase_queue.purchases_count_queued() == 2
    assert stats(ann)[:2] == (2, Decimal("30.00")) and stats(bob)[:2] == (1, Decimal("5.00"))
    assert rollups_equal_a_rebuild()
