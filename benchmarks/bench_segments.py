"""Segment benchmark on PostgreSQL: live count, full refresh, one-contact re-evaluation, export memory.

Run against a database seeded at scale, e.g.:

    DATABASE_URL=postgres://… .venv/bin/python manage.py seed_demo --contacts 1000000
    DATABASE_URL=postgres://… .venv/bin/python benchmarks/bench_segments.py [--sections count,one,export]

Prints each figure beside the same predicate written by hand in SQL (the physical reference).
"""

import datetime as dt
import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from contacts.ingest import purchase_ingest  # noqa: E402
from contacts.models import Activity, Contact, Purchase  # noqa: E402
from segments import export  # noqa: E402
from segments.models import Segment, SegmentMembership  # noqa: E402
from segments.selectors import segment_contacts  # noqa: E402
from segments.services import segment_create, segment_refresh, segments_refresh_contacts  # noqa: E402

FIVE_CONDITIONS = {
    "all": [
        {"field": "region", "op": "in", "value": ["Tel Aviv District", "Central District", "Haifa District"]},
        {"field": "total_spent", "op": "gte", "value": 300, "days": 365},
        {
            "any": [
                {"field": "cart_abandoned", "op": "within_last_days", "value": 30},
                {"field": "club_member", "op": "is", "value": True},
            ]
        },
        {"field": "email_consent", "op": "is", "value": True},
        {"field": "lifecycle", "op": "in", "value": ["active", "at_risk"]},
    ]
}

HAND_SQL = """
SELECT count(*) FROM contacts_contact c
WHERE c.erased_at IS NULL
  AND lower(trim(c.region)) IN ('tel aviv district', 'central district', 'haifa district')
  AND (SELECT coalesce(sum(p.total), 0) FROM contacts_purchase p
       WHERE p.contact_id = c.id AND p.purchased_at >= %(year_ago)s) >= 300
  AND (
    EXISTS (SELECT 1 FROM contacts_activity a WHERE a.contact_id = c.id AND a.type = 'add_to_cart'
            AND a.occurred_at >= %(month_ago)s
            AND (c.last_purchase_at IS NULL OR a.occurred_at > c.last_purchase_at))
    OR EXISTS (SELECT 1 FROM contacts_loyaltymember m WHERE m.contact_id = c.id AND m.status = 'active'))
  AND c.email IS NOT NULL AND c.email_opt_in AND c.email_status = 'active'
  AND c.first_purchase_at < %(new_since)s AND c.last_purchase_at >= %(risk_since)s
"""


def best_of(fn, runs=3):
    times = []
    result = None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return min(times), result


def hand_count():
    now = timezone.now()
    day = dt.timedelta(days=1)
    params = {
        "year_ago": now - 365 * day,
        "month_ago": now - 30 * day,
        "new_since": now - settings.LIFECYCLE_NEW_DAYS * day,
        "risk_since": now - settings.LIFECYCLE_AT_RISK_DAYS * day,
    }
    with connection.cursor() as cursor:
        cursor.execute(HAND_SQL, params)
        return cursor.fetchone()[0]


SEGMENT_RULES = [
    {"field": "city", "op": "eq", "value": "Haifa"},
    {"field": "birthday", "op": "this_month"},
    {"field": "signed_up", "op": "anniversary_in_next_days", "value": 7},
    {"field": "source", "op": "eq", "value": "landing_page"},
    {"field": "purchase_count", "op": "gte", "value": 3},
    {"field": "last_purchase", "op": "more_than_days_ago", "value": 60},
    {"field": "marital_status", "op": "eq", "value": "married"},
    {"field": "funnel_stage", "op": "eq", "value": "cart"},
    {"field": "club_tier", "op": "in", "value": ["gold", "platinum"]},
    {"field": "total_spent", "op": "gte", "value": 1000, "days": 90},
    {"field": "event", "op": "count_gte", "value": 3, "event": "product_view", "days": 30},
    {"field": "cart_abandoned", "op": "within_last_days", "value": 7},
    {"field": "lifecycle", "op": "eq", "value": "at_risk"},
    {"field": "replenishment_due", "op": "in_next_days", "value": 7},
    {"field": "age", "op": "between", "value": [25, 40]},
]


def ensure_fifty_segments():
    existing = Segment.objects.filter(name__startswith="bench-").count()
    for i in range(existing, 50):
        rules = {"all": [SEGMENT_RULES[i % len(SEGMENT_RULES)], SEGMENT_RULES[(i * 7 + 3) % len(SEGMENT_RULES)]]}
        segment_create(name=f"bench-{i:02d}", rules=rules, refresh=False)


def rss_mb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def bench_count_and_refresh() -> None:
    """A five-condition segment: its live count against hand-written SQL, then full refreshes."""
    Segment.objects.filter(name="bench-five").delete()
    segment = segment_create(name="bench-five", rules=FIVE_CONDITIONS, refresh=False)

    count_s, count = best_of(lambda: segment_contacts(segment).count())
    hand_s, hand = best_of(hand_count)
    assert count == hand, (count, hand)
    print(
        f"live count (5 conditions): {count:,} contacts in {count_s * 1000:.0f} ms; "
        f"hand-written SQL {hand_s * 1000:.0f} ms; ratio {count_s / hand_s:.2f}x"
    )

    SegmentMembership.objects.filter(segment=segment).delete()
    first = segment_refresh(segment=segment)
    print(f"full refresh, empty -> {first.members:,} members: {first.milliseconds} ms")
    again = segment_refresh(segment=segment)
    print(f"full refresh, no change: {again.milliseconds} ms (+{again.entered} / -{again.left})")


def bench_one_contact() -> None:
    """One contact checked against every dynamic segment after a purchase, warm and cold."""
    ensure_fifty_segments()
    ids = list(Contact.objects.filter(purchase_count__gt=0).order_by("?").values_list("pk", flat=True)[:20])
    timings = []
    for n, contact_id in enumerate(ids):
        purchase_ingest(
            data={
                "contact": contact_id,
                "external_id": f"bench-{time.time_ns()}-{n}",
                "total": "120",
                "source": "bench",
            }
        )
        started = time.perf_counter()
        segments_refresh_contacts(contact_ids=[contact_id])
        timings.append((time.perf_counter() - started) * 1000)
    from segments import evaluation

    firsts = []
    for _ in range(5):
        evaluation.forget()
        started = time.perf_counter()
        segments_refresh_contacts(contact_ids=[ids[0]])
        firsts.append((time.perf_counter() - started) * 1000)
    # A later minute of the same day: the kept plan only moves its clock-bound parameters. The next
    # minutes are stood in for by moving evaluation's clock, one minute per check.
    minute = evaluation.current_minute()
    nexts = []
    with mock.patch.object(evaluation, "current_minute") as clock:
        for step, contact_id in enumerate(ids[:10], start=1):
            clock.return_value = minute + dt.timedelta(minutes=step)
            started = time.perf_counter()
            segments_refresh_contacts(contact_ids=[contact_id])
            nexts.append((time.perf_counter() - started) * 1000)
    dynamic = Segment.objects.filter(kind="dynamic").count()
    print(
        f"first check of a day (rule trees compiled to SQL, twice): median {statistics.median(firsts):.1f} ms, "
        f"max {max(firsts):.1f} ms; first check of each later minute: median {statistics.median(nexts):.1f} ms, "
        f"max {max(nexts):.1f} ms"
    )
    print(
        f"one contact against {dynamic} dynamic segments after a purchase: median "
        f"{statistics.median(timings):.1f} ms, max {max(timings):.1f} ms"
    )


def bench_export() -> None:
    """A consent-filtered export of everyone, streamed: rows, time and peak memory."""
    everyone = Segment.objects.filter(name="bench-everyone").first() or segment_create(
        name="bench-everyone", rules={"all": []}, refresh=False
    )
    tracemalloc.start()
    rows = 0
    started = time.perf_counter()
    for chunk in export.export_rows(everyone, "meta"):
        rows += chunk.count("\n")
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"meta export of everyone with consent: {rows - 1:,} rows in {time.perf_counter() - started:.1f} s, "
        f"peak Python allocations {peak / 1e6:.1f} MB, process peak RSS {rss_mb():.0f} MB"
    )


def main() -> None:
    assert connection.vendor == "postgresql", "run this against PostgreSQL (DATABASE_URL)"
    print(
        f"contacts={Contact.objects.count():,} purchases={Purchase.objects.count():,} "
        f"events={Activity.objects.count():,}"
    )
    sections = {"count": bench_count_and_refresh, "one": bench_one_contact, "export": bench_export}
    chosen = sys.argv[sys.argv.index("--sections") + 1].split(",") if "--sections" in sys.argv else list(sections)
    for name in chosen:
        sections[name]()


if __name__ == "__main__":
    main()
