"""What ingestion stores on the buyers (purchase count, total spent, first and last purchase, funnel stage, RFM
scores) and the lifecycle moves it reports agree with a plain-Python reading of their purchases, and with
reading every purchase again (`contacts_refresh_purchase_stats`), however the purchases come: newer than the
buyer's last one, late, at the very instant of the last one, a first purchase, repeats of stored orders or of
an order earlier in the batch; in one batch or one at a time. Runs on SQLite and on PostgreSQL alike."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.conf import settings as django_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contacts import hooks
from contacts.ingest import purchase_ingest, purchases_record_bulk
from contacts.models import Contact, FunnelStage, Purchase, RfmBreakpoints
from contacts.services import contacts_refresh_purchase_stats
from tests.examples import rolled_back

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 1, 9, 30, tzinfo=dt.UTC)
CONTACTS = 3
# Days before now: on both sides of the lifecycle thresholds (30, 90 and 180 days by default), often the same.
DAYS = st.sampled_from([0, 2, 29, 31, 89, 91, 179, 181, 400])
TOTALS = [Decimal("0.00"), Decimal("19.90"), Decimal("120.00"), Decimal("999.99")]
RECENCY_CUTS = [NOW - dt.timedelta(days=d) for d in (200, 90, 30, 7)]
FREQUENCY_CUTS = [1, 2, 3, 5]
MONETARY_CUTS = [Decimal("19.90"), Decimal("100.00"), Decimal("500.00"), Decimal("1000.00")]
STATS = (
    "purchase_count",
    "total_spent",
    "first_purchase_at",
    "last_purchase_at",
    "funnel_stage",
    "rfm_recency",
    "rfm_frequency",
    "rfm_monetary",
)

history = st.lists(
    st.fixed_dictionaries({"contact": st.integers(0, CONTACTS - 1), "days": DAYS, "total": st.sampled_from(TOTALS)}),
    max_size=6,
)
batch = st.lists(
    st.fixed_dictionaries(
        {
            "contact": st.integers(0, CONTACTS - 1),
            # Days before now, or "tie": the very instant of the buyer's last purchase.
            "when": st.one_of(DAYS, st.just("tie")),
            "micro": st.sampled_from([0, 1]),
            "total": st.sampled_from(TOTALS),
            # A new order; one already stored; one earlier in this batch; none (never deduplicated).
            "key": st.sampled_from(["new", "new", "stored", "repeat", "none"]),
        }
    ),
    min_size=1,
    max_size=8,
)
EXAMPLES = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))


def reference_stats(contact_id: int) -> tuple:
    """The stored fields as the rules say, from the contact's purchases."""
    purchases = list(Purchase.objects.filter(contact_id=contact_id).values_list("purchased_at", "total"))
    if not purchases:
        return (0, Decimal("0.00"), None, None)
    times = [at for at, _total in purchases]
    count, spent, last = len(purchases), sum((total for _at, total in purchases), Decimal("0.00")), max(times)

    def score(value, cuts) -> int:
        return 1 + sum(cut <= value for cut in cuts)

    scores = (score(last, RECENCY_CUTS), score(count, FREQUENCY_CUTS), score(spent, MONETARY_CUTS))
    return (count, spent, min(times), last, FunnelStage.PURCHASER, *scores)


def reference_lifecycle(first: dt.datetime | None, last: dt.datetime | None) -> str:
    if last is None or first is None:
        return "prospect"
    if first >= NOW - dt.timedelta(days=django_settings.LIFECYCLE_NEW_DAYS):
        return "new"
    if last >= NOW - dt.timedelta(days=django_settings.LIFECYCLE_ACTIVE_DAYS):
        return "active"
    if last >= NOW - dt.timedelta(days=django_settings.LIFECYCLE_AT_RISK_DAYS):
        return "at_risk"
    return "lapsed"


def stored(contact_id: int) -> tuple:
    values = Contact.objects.filter(pk=contact_id).values_list(*STATS).get()
    return values if values[0] else values[:4]


def lifecycles(ids: list[int]) -> dict[int, str]:
    dates = Contact.objects.filter(pk__in=ids).values_list("pk", "first_purchase_at", "last_purchase_at")
    return {pk: reference_lifecycle(first, last) for pk, first, last in dates}


@pytest.fixture
def buyers(monkeypatch):
    """Contacts, scoring cut points, and a record of the lifecycle moves reported (someone listens)."""
    RfmBreakpoints.objects.create(
        recency_days=[at.isoformat() for at in RECENCY_CUTS],
        frequency=FREQUENCY_CUTS,
        monetary=[str(v) for v in MONETARY_CUTS],
    )
    moves: list[dict[str, list[int]]] = []
    monkeypatch.setattr(hooks, "lifecycle_watched", lambda: True)
    monkeypatch.setattr(hooks, "lifecycle_changed", moves.append)
    with time_machine.travel(NOW, tick=False):
        yield [Contact.objects.create(email=f"buyer{n}@example.com").pk for n in range(CONTACTS)], moves


def order(contact_id: int, external_id: str | None, at: dt.datetime, total: Decimal) -> dict:
    return {
        "contact": contact_id,
        "external_id": external_id,
        "source": "pos",
        "purchased_at": at.isoformat(),
        "total": str(total),
    }


def new_orders(drawn: list[dict], ids: list[int]) -> list[dict]:
    last = dict(Contact.objects.filter(pk__in=ids).values_list("pk", "last_purchase_at"))
    stored_keys = list(Purchase.objects.values_list("external_id", flat=True))
    items: list[dict] = []
    for n, sale in enumerate(drawn):
        contact_id = ids[sale["contact"]]
        at = NOW - dt.timedelta(days=0 if sale["when"] == "tie" else sale["when"])
        if sale["when"] == "tie":
            at = last[contact_id] or at
        at += dt.timedelta(microseconds=sale["micro"])
        key = {"new": f"new-{n}", "none": None}.get(sale["key"])
        if sale["key"] == "stored" and stored_keys:
            key = stored_keys[n % len(stored_keys)]
        elif sale["key"] == "repeat" and items:
            key = items[-1]["external_id"]
        items.append(order(contact_id, key, at, sale["total"]))
    return items


def test_ingested_purchases_leave_the_buyers_as_the_reference_says(buyers):
    ids, moves = buyers

    @EXAMPLES
    @given(drawn_history=history, drawn_batch=batch, one_by_one=st.booleans())
    def check(drawn_history, drawn_batch, one_by_one):
        with rolled_back():
            past = [
                order(ids[s["contact"]], f"old-{n}", NOW - dt.timedelta(days=s["days"]), s["total"])
                for n, s in enumerate(drawn_history)
            ]
            if past:
                purchases_record_bulk(items=past)
            before, items = lifecycles(ids), new_orders(drawn_batch, ids)
            moves.clear()
            if one_by_one:
                for item in items:
                    purchase_ingest(data=item)
            else:
                assert not purchases_record_bulk(items=items)["errors"]

            assert {pk: stored(pk) for pk in ids} == {pk: reference_stats(pk) for pk in ids}
            after = lifecycles(ids)
            moved = {pk: stage for pk, stage in after.items() if stage != before[pk]}
            # Each purchase recorded alone reports its own moves: the last one reported is where a contact is.
            reported = {pk: stage for report in moves for stage, pks in report.items() for pk in pks}
            if one_by_one:
                assert moved.items() <= reported.items() and reported == {pk: after[pk] for pk in reported}
            else:
                assert reported == moved
            ingested = {pk: stored(pk) for pk in ids}
            contacts_refresh_purchase_stats(contact_ids=ids)
            assert {pk: stored(pk) for pk in ids} == ingested

    check()


def test_a_late_purchase_moves_the_first_purchase_back_and_keeps_the_last(buyers):
    ids, _moves = buyers
    purchases_record_bulk(items=[order(ids[0], "a", NOW - dt.timedelta(days=10), Decimal("10.00"))])

    purchases_record_bulk(items=[order(ids[0], "b", NOW - dt.timedelta(days=100), Decimal("5.00"))])

    contact = Contact.objects.get(pk=ids[0])
    assert (contact.purchase_count, contact.total_spent) == (2, Decimal("15.00"))
    assert contact.first_purchase_at == NOW - dt.timedelta(days=100)
    assert contact.last_purchase_at == NOW - dt.timedelta(days=10)
    assert contact.lifecycle == "active"


def test_purchases_written_before_their_buyers_aggregates_are_counted_at_the_next_one(buyers):
    ids, _moves = buyers
    Purchase.objects.bulk_create(
        [Purchase(contact_id=ids[0], purchased_at=NOW - dt.timedelta(days=d), total=Decimal("7.00")) for d in (40, 5)]
    )

    purchases_record_bulk(items=[order(ids[0], "c", NOW - dt.timedelta(days=20), Decimal("1.00"))])

    assert stored(ids[0]) == reference_stats(ids[0])
    assert stored(ids[0])[:4] == (3, Decimal("15.00"), NOW - dt.timedelta(days=40), NOW - dt.timedelta(days=5))
