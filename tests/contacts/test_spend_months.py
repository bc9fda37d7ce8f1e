"""Each contact's orders and spending per calendar month and quarter (`SpendMonth`, `SpendQuarter`, what "spent
X / bought N times in the last D days" reads over the whole audience) equals a reading of every purchase stored,
however purchases come and go: one at a time, in a bulk batch, written directly (a fixture), late (a store sale
imported weeks later), merged into another contact, moved to another month or total by hand, deleted one by
one, in bulk or with their contact. The rows are kept by database triggers; this runs on SQLite and on
PostgreSQL alike."""

import datetime as dt
import importlib
import threading
from decimal import Decimal
from types import SimpleNamespace

import pytest
import time_machine
from django.db import connection, connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contacts import hooks, spend_months
from contacts.ingest import purchase_ingest, purchases_record_bulk
from contacts.merging import merge
from contacts.models import Contact, Purchase, SpendMonth, SpendQuarter
from contacts.services import contact_delete, contact_erase, purchases_delete
from contacts.spend_months import month_after, quarter_after
from segments.selectors import rules_contacts
from tests.concurrency import write_held_until_waited_on
from tests.examples import rolled_back
from tests.factories import PurchaseFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 1, 0, 30, tzinfo=dt.UTC)  # half an hour into a month: purchases on both sides
CONTACTS = 3
EXAMPLES = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))

purchase = st.fixed_dictionaries(
    {
        "who": st.integers(0, CONTACTS - 1),
        "minutes": st.sampled_from([0, 31, 60 * 24 * 3, 60 * 24 * 40, 60 * 24 * 400]),  # the month edge, late sales
        "total": st.sampled_from(["49.90", "350.50", "0.10", "1000.00"]),
    }
)
step = st.one_of(
    st.tuples(st.just("one"), purchase),
    st.tuples(st.just("bulk"), st.lists(purchase, min_size=1, max_size=5)),
    st.tuples(st.just("fixture"), purchase),
    st.tuples(st.just("merge"), st.integers(0, CONTACTS - 1), st.integers(0, CONTACTS - 1)),
    st.tuples(st.just("move"), st.integers(0, 50), st.sampled_from([0, 31, 60 * 24 * 35])),
    st.tuples(st.just("retotal"), st.integers(0, 50), st.sampled_from(["12.34", "0.00", "99.99"])),
    st.tuples(st.just("delete"), st.integers(0, 50)),
    st.tuples(st.just("delete_all"), st.booleans()),
    st.tuples(st.just("erase"), st.integers(0, CONTACTS - 1)),
    st.tuples(st.just("delete_contact"), st.integers(0, CONTACTS - 1)),
)


def stored() -> set[tuple]:
    """Month rows as (contact, start, orders, total, 1), quarter rows with 3."""
    return {
        (*row, months)
        for model, months in ((SpendMonth, 1), (SpendQuarter, 3))
        for row in model.objects.values_list("contact_id", "starts_at", "orders", "total")
    }


def month_of(moment: dt.datetime, months: int = 1) -> dt.datetime:
    utc = moment.astimezone(dt.UTC)
    return utc.replace(month=utc.month - (utc.month - 1) % months, day=1, hour=0, minute=0, second=0, microsecond=0)


def reference() -> set[tuple]:
    """Each contact's orders and total per UTC calendar month and quarter, in plain Python."""
    periods: dict[tuple, list] = {}
    for contact, at, total in Purchase.objects.values_list("contact_id", "purchased_at", "total"):
        for months in (1, 3):
            row = periods.setdefault((contact, month_of(at, months), months), [0, Decimal(0)])
            row[0] += 1
            row[1] += total
    return {(contact, start, orders, total, months) for (contact, start, months), (orders, total) in periods.items()}


def item(spec: dict, contacts: list[int], n: int) -> dict:
    return {
        "contact": contacts[spec["who"]],
        "external_id": f"ingested-{n}",  # the factory numbers its own orders "order-N"
        "purchased_at": (NOW - dt.timedelta(minutes=spec["minutes"])).isoformat(),
        "total": spec["total"],
    }


def alive(contacts: list[int], n: int) -> Contact | None:
    return Contact.objects.filter(pk=contacts[n], erased_at__isnull=True).first()


def apply(action: tuple, contacts: list[int], n: int) -> None:
    kind, *args = action
    purchases = list(Purchase.objects.order_by("pk").values_list("pk", flat=True))
    if kind == "one" and alive(contacts, args[0]["who"]):
        purchase_ingest(data=item(args[0], contacts, n))
    elif kind == "bulk":
        purchases_record_bulk(items=[item(spec, contacts, f"{n}-{i}") for i, spec in enumerate(args[0])])
    elif kind == "fixture" and (contact := alive(contacts, args[0]["who"])):
        at = NOW - dt.timedelta(minutes=args[0]["minutes"])
        PurchaseFactory(contact=contact, purchased_at=at, total=Decimal(args[0]["total"]))
    elif kind == "merge" and args[0] != args[1]:
        survivor, duplicate = alive(contacts, args[0]), alive(contacts, args[1])
        if survivor and duplicate:
            merge(survivor=survivor, duplicate=duplicate)
    elif kind == "move" and purchases:
        Purchase.objects.filter(pk=purchases[args[0] % len(purchases)]).update(
            purchased_at=NOW - dt.timedelta(minutes=args[1])
        )
    elif kind == "retotal" and purchases:
        Purchase.objects.filter(pk=purchases[args[0] % len(purchases)]).update(total=Decimal(args[1]))
    elif kind == "delete" and purchases:
        purchases_delete(purchases=Purchase.objects.filter(pk=purchases[args[0] % len(purchases)]))
    elif kind == "delete_all":
        Purchase.objects.filter(purchased_at__lt=NOW - dt.timedelta(days=30) if args[0] else NOW).delete()
    elif kind == "erase" and (contact := alive(contacts, args[0])):
        contact_erase(contact=contact)
    elif kind == "delete_contact" and (contact := Contact.objects.filter(pk=contacts[args[0]]).first()):
        contact_delete(contact=contact)


@EXAMPLES
@given(steps=st.lists(step, min_size=1, max_size=8))
def test_the_months_equal_a_reading_of_every_purchase(steps):
    with rolled_back():
        contacts = [Contact.objects.create(email=f"buyer{n}@example.com").pk for n in range(CONTACTS)]
        for n, action in enumerate(steps):
            apply(action, contacts, n)
            assert stored() == reference(), action


def test_a_month_falls_back_to_the_purchases_left_and_goes_with_the_last():
    ann = Contact.objects.create(email="ann@example.com")
    first = PurchaseFactory(contact=ann, purchased_at=NOW, total=Decimal("49.90"))
    PurchaseFactory(contact=ann, purchased_at=NOW + dt.timedelta(days=2), total=Decimal("350.50"))
    assert stored() == {
        (ann.pk, month_of(NOW), 2, Decimal("400.40"), 1),
        (ann.pk, month_of(NOW, 3), 2, Decimal("400.40"), 3),
    }

    Purchase.objects.filter(pk=first.pk).update(total=Decimal("0.60"))
    assert stored() == {
        (ann.pk, month_of(NOW), 2, Decimal("351.10"), 1),
        (ann.pk, month_of(NOW, 3), 2, Decimal("351.10"), 3),
    }
    Purchase.objects.filter(pk=first.pk).update(purchased_at=NOW - dt.timedelta(hours=1))  # the month before
    assert stored() == reference()
    assert len(stored()) == 3  # May and June apart, one quarter
    Purchase.objects.all().delete()
    assert stored() == set()


def test_an_erasure_keeps_the_months_and_a_deleted_contact_leaves_none():
    ann, ben = (Contact.objects.create(email=f"{name}@example.com") for name in ("ann", "ben"))
    purchases_record_bulk(
        items=[
            {"contact": who.pk, "external_id": f"{who.pk}-{days}", "total": "10.00",
             "purchased_at": (NOW - dt.timedelta(days=days)).isoformat()}
            for who in (ann, ben)
            for days in (0, 45)
        ]
    )  # fmt: skip
    contact_erase(contact=ann)  # blanks the order ids: the contact, time and total of each purchase stay
    contact_delete(contact=ben)
    assert stored() == reference()
    assert {row[0] for row in stored()} == {ann.pk}
    assert len(stored()) == 3  # April and June, both in the second quarter


def test_the_first_whole_period_of_a_window():
    assert month_after(dt.datetime(2026, 6, 1, tzinfo=dt.UTC)) == dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    assert month_after(dt.datetime(2026, 5, 31, 21, tzinfo=dt.UTC)) == dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    assert month_after(dt.datetime(2026, 12, 1, 0, 0, 1, tzinfo=dt.UTC)) == dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    israel = dt.timezone(dt.timedelta(hours=3))
    assert month_after(dt.datetime(2026, 6, 1, 2, tzinfo=israel)) == dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    assert quarter_after(dt.datetime(2026, 4, 1, tzinfo=dt.UTC)) == dt.datetime(2026, 4, 1, tzinfo=dt.UTC)
    assert quarter_after(dt.datetime(2026, 5, 1, tzinfo=dt.UTC)) == dt.datetime(2026, 7, 1, tzinfo=dt.UTC)
    assert quarter_after(dt.datetime(2026, 11, 30, tzinfo=dt.UTC)) == dt.datetime(2027, 1, 1, tzinfo=dt.UTC)


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize("scan", [False, True])
def test_the_condition_counts_whole_months_and_the_edge_before_them(scan):
    """A window of 40 days from June 1, 00:30 UTC starts on April 22: April's purchases before that instant
    are out, those after it in, May whole, June so far."""
    import dataclasses

    from segments.registry import Context
    from segments.rules import compile_tree
    from segments.selectors import audience

    ann, ben, cat = (Contact.objects.create(email=f"{name}@example.com") for name in ("ann", "ben", "cat"))
    start = NOW - dt.timedelta(days=40)
    for who, at, total in (
        (ann, start, "200.00"),  # the window's first instant: in
        (ann, NOW - dt.timedelta(days=10), "100.00"),  # May
        (ben, start - dt.timedelta(seconds=1), "500.00"),  # just before: out
        (ben, NOW, "299.99"),  # June
        (cat, start + dt.timedelta(days=1), "150.00"),
        (cat, start + dt.timedelta(days=2), "150.00"),
    ):
        PurchaseFactory(contact=who, purchased_at=at, total=Decimal(total))
    ctx = dataclasses.replace(Context.current(NOW), scan=scan)

    def matching(rules: dict) -> set[int]:
        return set(audience().filter(compile_tree(rules, ctx)).values_list("pk", flat=True))

    spent = {"field": "total_spent", "op": "gte", "value": 300, "days": 40}
    assert matching(spent) == {ann.pk, cat.pk}
    assert matching({**spent, "op": "lte", "value": 299.99}) == {ben.pk}  # a contact with no purchase too
    assert matching({**spent, "op": "between", "value": [299.99, 300]}) == {ann.pk, ben.pk, cat.pk}
    count = {"field": "purchase_count", "op": "gte", "value": 2, "days": 40}
    assert matching(count) == {ann.pk, cat.pk}
    assert matching({**count, "op": "eq", "value": 1}) == {ben.pk}
    assert matching({**count, "op": "lte", "value": 0}) == set()
    assert set(rules_contacts(spent, Context.current(NOW)).values_list("pk", flat=True)) == {ann.pk, cat.pk}


def test_the_migration_fills_the_table_from_the_purchases_stored():
    ann = Contact.objects.create(email="ann@example.com")
    for days, total in ((1, "10.00"), (2, "5.50"), (70, "1.00")):
        PurchaseFactory(contact=ann, purchased_at=NOW - dt.timedelta(days=days), total=Decimal(total))
    SpendMonth.objects.all().delete()
    SpendQuarter.objects.all().delete()
    migration = importlib.import_module("contacts.migrations.0019_spend_periods")
    with connection.cursor() as cursor:
        editor = SimpleNamespace(execute=lambda sql, params=(): cursor.execute(sql, params), connection=connection)
        migration.install(None, editor)
    assert stored() == reference()
    assert len(stored()) == 4  # March and May, each in its quarter


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers (PostgreSQL)")
def test_a_purchase_stored_while_another_is_deleted_is_not_lost():
    """The deleting transaction reads the month's purchases only once it holds the row, so a purchase that a
    concurrent batch stored meanwhile counts."""
    ann = Contact.objects.create(email="ann@example.com")
    gone = PurchaseFactory(contact=ann, purchased_at=NOW, total=Decimal("10.00"))
    PurchaseFactory(contact=ann, purchased_at=NOW + dt.timedelta(days=1), total=Decimal("20.00"))
    batch, stored_one, errors = write_held_until_waited_on(
        lambda: PurchaseFactory(contact=ann, purchased_at=NOW + dt.timedelta(days=2), total=Decimal("40.00"))
    )
    assert stored_one.wait(10)
    Purchase.objects.filter(pk=gone.pk).delete()
    batch.join()

    assert errors == []
    assert stored() == reference()
    assert (ann.pk, month_of(NOW), 2, Decimal("60.00"), 1) in stored()


def _bulk_paused_after_insert(
    monkeypatch, items: list[dict]
) -> tuple[threading.Thread, threading.Event, threading.Event, list]:
    """A bulk batch on another thread and connection, paused after it has inserted its purchases (once they
    are attributed) until the returned `resume` is set, or 10 s have passed."""
    inserted, resume, outcome = threading.Event(), threading.Event(), []
    attribute = hooks.purchases_stored

    def paused(purchase_ids: list[int]) -> None:
        attribute(purchase_ids)
        if threading.current_thread() is batch:
            inserted.set()
            outcome.append(resume.wait(10))

    def run() -> None:
        try:
            outcome.append(purchases_record_bulk(items=items))
        except Exception as exc:  # noqa: BLE001 - reported to the test
            outcome.append(exc)
        finally:
            inserted.set()
            connections.close_all()

    monkeypatch.setattr(hooks, "purchases_stored", paused)
    batch = threading.Thread(target=run)
    batch.start()
    return batch, inserted, resume, outcome


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers (PostgreSQL)")
def test_a_bulk_batch_holds_the_buyers_months_only_at_its_end(monkeypatch):
    """A batch adds its purchases to their periods last: until then a concurrent batch of the same buyer and a
    deletion of the buyer's purchase go through without waiting for it, and every purchase counts once."""
    ann = Contact.objects.create(email="ann@example.com")
    gone = PurchaseFactory(contact=ann, purchased_at=NOW, total=Decimal("10.00"))
    PurchaseFactory(contact=ann, purchased_at=NOW + dt.timedelta(days=1), total=Decimal("20.00"))
    day = (NOW + dt.timedelta(days=2)).isoformat()
    batch, inserted, resume, outcome = _bulk_paused_after_insert(
        monkeypatch, [{"contact": ann.pk, "external_id": "A-1", "purchased_at": day, "total": "40.00"}]
    )
    assert inserted.wait(10)
    other = purchases_record_bulk(
        items=[{"contact": ann.pk, "external_id": "B-1", "purchased_at": day, "total": "80.00"}]
    )
    Purchase.objects.filter(pk=gone.pk).delete()
    resume.set()
    batch.join()

    assert outcome[0] is True  # it was still paused when the other writes were done
    assert outcome[1]["created"] == 1 and other["created"] == 1
    assert stored() == reference()
    assert (ann.pk, month_of(NOW), 3, Decimal("140.00"), 1) in stored()


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="a setting of PostgreSQL's")
def test_purchases_left_out_by_the_trigger_are_added_by_their_batch():
    ann = Contact.objects.create(email="ann@example.com")
    assert spend_months.defer_adding()
    left_out = PurchaseFactory(contact=ann, purchased_at=NOW, total=Decimal("10.00"))
    assert not SpendMonth.objects.exists()
    spend_months.add_deferred([left_out.pk])
    PurchaseFactory(contact=ann, purchased_at=NOW, total=Decimal("5.00"))  # the trigger adds again
    assert stored() == reference()
    assert (ann.pk, month_of(NOW), 2, Decimal("15.00"), 1) in stored()
