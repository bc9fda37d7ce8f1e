"""The audience KPIs on PostgreSQL at scale: each figure read from the counts the database keeps
(campaigns.reports.counts) against the same figure read from the rows, as the KPIs did before.

    DATABASE_URL=postgres://… .venv/bin/python benchmarks/bench_audience.py --end 2026-12-01 --repeat 5

The counts are folded first, as the periodic job does every minute. For periods of 30 and 365 days ending on
--end, warm (one untimed run first), the median of --repeat runs of: funnel, lifecycle and consent now;
anonymous visitors; new contacts by source; promoters; channel ROMI (against its revenue read from the
purchases and attributions). Each pair of answers is then compared
within one REPEATABLE READ transaction (one snapshot, while other sessions may be writing), and the counts' table
sizes printed. Figures are printed, not judged.
"""

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")


def counted_tables() -> list[str]:
    from campaigns.reports.triggers import TABLES

    return TABLES


def timed(fn, repeat: int) -> tuple[float, object]:
    """(median milliseconds of `repeat` runs after a first one, the first one's answer)"""
    answer = fn()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), answer


def rows_signups(period) -> Counter:
    from django.db.models import Count

    from contacts.models import Contact

    start, end = period.bounds()
    rows = Contact.objects.filter(signed_up_at__gte=start, signed_up_at__lt=end).values("source").order_by()
    return +Counter({row["source"]: row["n"] for row in rows.annotate(n=Count("pk"))})


def rows_members(kind: str, period) -> int:
    from django.db.models import Count, Exists, OuterRef

    from campaigns.reports.counts import PROMOTER_EVENTS
    from contacts.models import Activity, VisitorIdentity

    start, end = period.bounds()
    events = Activity.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
    if kind == "anonymous":
        linked = VisitorIdentity.objects.filter(anonymous_id=OuterRef("anonymous_id"))
        events = events.filter(contact__isnull=True, anonymous_id__isnull=False).exclude(Exists(linked))
        return events.aggregate(n=Count("anonymous_id", distinct=True))["n"]
    events = events.filter(type__in=PROMOTER_EVENTS, contact__isnull=False)
    return events.aggregate(n=Count("contact", distinct=True))["n"]


def rows_channel_revenue(period) -> dict:
    from campaigns.reports.spend import CENTS, channel_revenue_between

    start, end = period.bounds()
    return {channel: amount.quantize(CENTS) for channel, (_n, amount) in channel_revenue_between(start, end).items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--end", default="2026-12-01")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection, transaction
    from django.utils import timezone

    from campaigns.reports import audience
    from campaigns.reports.folding import counts_fold
    from campaigns.reports.period import Period
    from campaigns.reports.spend import channel_revenue, channel_romi

    started = time.perf_counter()
    sizes = counts_fold()
    print(f"fold: {(time.perf_counter() - started) * 1000:.0f} ms, rows after: {sizes}")
    now, end = timezone.now(), dt.date.fromisoformat(args.end)
    for days in (30, 365):
        period = Period(end - dt.timedelta(days=days - 1), end)
        figures = {
            "funnel, lifecycle, consent": (
                lambda: audience.audience_scan(now=now),
                lambda: audience.audience_now(now=now),
            ),
            "anonymous visitors": (
                lambda p=period: rows_members("anonymous", p),
                lambda p=period: audience.distinct_members("anonymous", p),
            ),
            "new contacts": (lambda p=period: rows_signups(p), lambda p=period: audience.signups(p)),
            "promoters": (
                lambda p=period: rows_members("promoter", p),
                lambda p=period: audience.distinct_members("promoter", p),
            ),
        }
        total = 0.0
        for label, (rows, counts) in figures.items():
            before, after = timed(rows, args.repeat)[0], timed(counts, args.repeat)[0]
            total += after
            print(f"{days} days, {label}: rows {before:.0f} ms, counts {after:.1f} ms")
        rows_romi = timed(lambda p=period: rows_channel_revenue(p), args.repeat)[0]
        romi = timed(lambda p=period: channel_romi(p), args.repeat)[0]
        print(f"{days} days, channel ROMI: rows {rows_romi:.0f} ms, counts {romi:.1f} ms")
        print(f"{days} days, all of the above from the counts: {total + romi:.0f} ms")
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            figures["channel revenue"] = (
                lambda p=period: rows_channel_revenue(p),
                lambda p=period: channel_revenue(p),
            )
            for label, (rows, counts) in figures.items():
                answer, expected = counts(), rows()
                print(f"  {label}: {'same answer' if answer == expected else f'DIFFERENT: {answer} != {expected}'}")
    with connection.cursor() as cursor:
        for table in counted_tables():
            cursor.execute(f"SELECT COUNT(*) FROM {table}")
            print(f"{table}: {cursor.fetchone()[0]:,} rows")


if __name__ == "__main__":
    main()
