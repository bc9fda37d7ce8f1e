"""The whole condition catalogue at scale, each condition beside a hand-written reference tuned for it.

Run against a PostgreSQL database seeded at scale, e.g.:

    DATABASE_URL=postgres://… .venv/bin/python manage.py seed_demo --contacts 1000000
    DATABASE_URL=postgres://… .venv/bin/python benchmarks/bench_catalogue.py \
        --restart "pg_ctl -D /path/to/data -w restart"

For every condition (each key with its typical operators and windows) it prints:

- the app's live count (`rules_contacts(…).count()`), warm: the median of `--runs` runs after one run to load
  the cache;
- the reference: the same count written by hand for that condition alone (index-first where that is the
  fastest plan), run with JIT on and with JIT off; the reference is the best of the two;
- with `--restart`, both again cold: the command restarts PostgreSQL before each single run, so its shared
  buffers are empty (with `--drop-os-cache` the operating system's page cache is dropped too, which needs
  root: colder than a database server ever is once it has run for a while).

Counts must agree; a disagreement is printed and makes the run exit with status 1. `--only` runs the
conditions whose names contain any of the given words; `--vacuum` runs VACUUM ANALYZE first (what
autovacuum does on a live database some minutes after a bulk load).
"""

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import OperationalError, connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from contacts.models import Contact, LoyaltyMember, Product, Tag  # noqa: E402
from contacts.spend_months import month_after, quarter_after  # noqa: E402
from segments.registry import Context  # noqa: E402
from segments.selectors import rules_contacts  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_segments import FIVE_CONDITIONS, HAND_SQL  # noqa: E402

BASE = "SELECT count(*) FROM contacts_contact c WHERE c.erased_at IS NULL"
MARKETABLE = "c.email IS NOT NULL AND c.email <> '' AND c.email_status = 'active' AND c.email_opt_in"


@dataclass
class Case:
    name: str
    rules: dict
    sql: str | tuple[str, ...]  # the reference (or several, the fastest counts): a count, %(name)s parameters


def or_array(sql: str) -> tuple[str, str]:
    """A reference `… AND c.id IN (SELECT …)` and the same with the subquery run once as an array,
    `c.id IN (SELECT unnest(ARRAY(SELECT …)))`, which PostgreSQL plans as an init plan and primary key
    probes."""
    head, _, tail = sql.partition("c.id IN (SELECT")
    return sql, f"{head}c.id IN (SELECT unnest(ARRAY(SELECT{tail}))"


def window(field: str, op: str, value, **extra) -> dict:
    return {"field": field, "op": op, "value": value, **extra}


def cases(p: dict) -> list[Case]:
    """The catalogue, each condition with its reference; `p` holds the dates and the picked values."""
    in_ids = "c.id IN (SELECT {col} FROM {table} WHERE {where})"
    return [
        # Profile: text and choices on the contact row (normalized-text indexes for city and region).
        Case("city eq", window("city", "eq", "Haifa"), f"{BASE} AND c.city <> '' AND lower(trim(c.city)) = 'haifa'"),
        Case(
            "region in (3)",
            window("region", "in", ["Tel Aviv District", "Central District", "Haifa District"]),
            f"{BASE} AND c.region <> '' AND lower(trim(c.region)) IN "
            "('tel aviv district', 'central district', 'haifa district')",
        ),
        Case(
            "city neq",
            window("city", "neq", "Haifa"),
            f"{BASE} AND c.city <> '' AND lower(trim(c.city)) <> 'haifa'",
        ),
        Case("gender eq", window("gender", "eq", "female"), f"{BASE} AND c.gender = 'female'"),
        Case(
            "source in (2)",
            window("source", "in", ["landing_page", "store"]),
            f"{BASE} AND c.source IN ('landing_page', 'store')",
        ),
        Case("language eq", window("language", "eq", "en"), f"{BASE} AND lower(trim(c.language)) = 'en'"),
        Case(
            "age between 25 and 40",
            window("age", "between", [25, 40]),
            f"{BASE} AND c.birth_date <= %(age25)s AND c.birth_date > %(age41)s",
        ),
        # Dates.
        Case(
            "birthday this month",
            {"field": "birthday", "op": "this_month"},
            f"{BASE} AND c.birth_date IS NOT NULL AND extract(month FROM c.birth_date) = %(month)s",
        ),
        Case(
            "birthday in next 7 days",
            window("birthday", "in_next_days", 7),
            f"{BASE} AND c.birth_date IS NOT NULL AND to_char(c.birth_date, 'MM-DD') = ANY(%(next8)s)",
        ),
        Case(
            "signed up within 30 days",
            window("signed_up", "within_last_days", 30),
            f"{BASE} AND c.signed_up_at >= %(d30)s",
        ),
        Case(
            "signed up anniversary in 7 days",
            window("signed_up", "anniversary_in_next_days", 7),
            f"{BASE} AND c.signed_up_at < %(year_start)s "
            "AND to_char(c.signed_up_at AT TIME ZONE %(tz)s, 'MM-DD') = ANY(%(next8)s)",
        ),
        Case(
            "custom date (wedding_day) in next 30 days",
            window("attribute_date", "in_next_days", 30, key="wedding_day"),
            f"{BASE} AND c.attributes ->> 'wedding_day' BETWEEN %(today_iso)s AND %(in30_iso)s "
            "AND c.attributes ->> 'wedding_day' ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'",
        ),
        # Tags and custom attributes.
        Case(
            "tag has",
            {"field": "tag", "op": "has", "value": p["tag_name"]},
            f"{BASE} AND " + in_ids.format(col="contact_id", table="contacts_contact_tags", where="tag_id = %(tag)s"),
        ),
        Case(
            "attribute eq (pet_type)",
            window("attribute", "eq", "dog", key="pet_type"),
            f"{BASE} AND lower(trim(c.attributes ->> 'pet_type')) = 'dog'",
        ),
        # Consent and club.
        Case("email consent", window("email_consent", "is", True), f"{BASE} AND {MARKETABLE}"),
        Case(
            "club member",
            window("club_member", "is", True),
            f"{BASE} AND " + in_ids.format(col="contact_id", table="contacts_loyaltymember", where="status = 'active'"),
        ),
        Case(
            "not a club member",
            window("club_member", "is", False),
            f"{BASE} AND NOT EXISTS (SELECT 1 FROM contacts_loyaltymember m "
            "WHERE m.contact_id = c.id AND m.status = 'active')",
        ),
        Case(
            "club tier gold/platinum",
            window("club_tier", "in", ["gold", "platinum"]),
            f"{BASE} AND "
            + in_ids.format(
                col="contact_id",
                table="contacts_loyaltymember",
                where="status = 'active' AND tier IN ('gold', 'platinum')",
            ),
        ),
        Case(
            "club points >= 500",
            window("club_points", "gte", 500),
            f"{BASE} AND "
            + in_ids.format(
                col="contact_id", table="contacts_loyaltymember", where="status = 'active' AND points >= 500"
            ),
        ),
        Case(
            "joined the club within 30 days",
            window("club_joined", "within_last_days", 30),
            f"{BASE} AND "
            + in_ids.format(
                col="contact_id", table="contacts_loyaltymember", where="status = 'active' AND joined_at >= %(d30)s"
            ),
        ),
        # Purchases: stored totals.
        Case("purchase count >= 3", window("purchase_count", "gte", 3), f"{BASE} AND c.purchase_count >= 3"),
        Case("total spent >= 1000", window("total_spent", "gte", 1000), f"{BASE} AND c.total_spent >= 1000"),
        Case(
            "average order value >= 200",
            window("average_order_value", "gte", 200),
            f"{BASE} AND c.purchase_count > 0 AND c.total_spent >= c.purchase_count * 200",
        ),
        Case(
            "last purchase more than 60 days ago",
            window("last_purchase", "more_than_days_ago", 60),
            f"{BASE} AND c.last_purchase_at < %(d60)s",
        ),
        Case("never bought", {"field": "last_purchase", "op": "never"}, f"{BASE} AND c.last_purchase_at IS NULL"),
        Case(
            "first purchase within 30 days",
            window("first_purchase", "within_last_days", 30),
            f"{BASE} AND c.first_purchase_at >= %(d30)s",
        ),
        Case(
            "lifecycle at risk",
            window("lifecycle", "eq", "at_risk"),
            f"{BASE} AND c.first_purchase_at < %(new_since)s AND c.last_purchase_at < %(active_since)s "
            "AND c.last_purchase_at >= %(risk_since)s",
        ),
        Case(
            "lifecycle active or at risk",
            window("lifecycle", "in", ["active", "at_risk"]),
            f"{BASE} AND c.first_purchase_at < %(new_since)s AND c.last_purchase_at >= %(risk_since)s",
        ),
        Case("RFM recency >= 4", window("rfm_recency", "gte", 4), f"{BASE} AND c.rfm_recency >= 4"),
        Case(
            "RFM segment champions",
            window("rfm_segment", "eq", "champions"),
            f"{BASE} AND c.rfm_recency = 5 AND c.rfm_frequency BETWEEN 4 AND 5",
        ),
        # Purchases in a window: the purchases and items of the window, aggregated once.
        Case(
            "purchase count >= 2 in 90 days",
            window("purchase_count", "gte", 2, days=90),
            or_array(
                f"{BASE} AND c.id IN (SELECT contact_id FROM contacts_purchase WHERE purchased_at >= %(d90)s "
                "GROUP BY contact_id HAVING count(*) >= 2)"
            )
            + or_array(
                f"{BASE} AND c.id IN (SELECT r.contact_id FROM ("
                "SELECT contact_id, orders AS v FROM contacts_spendquarter WHERE starts_at >= %(q90)s UNION ALL "
                "SELECT contact_id, orders FROM contacts_spendmonth WHERE starts_at >= %(m90)s "
                "AND starts_at < %(q90)s UNION ALL "
                "SELECT contact_id, 1 FROM contacts_purchase WHERE purchased_at >= %(d90)s "
                "AND purchased_at < %(m90)s) r GROUP BY r.contact_id HAVING sum(r.v) >= 2)"
            ),
        ),
        Case(
            "purchase count >= 1 in store in 30 days",
            window("purchase_count", "gte", 1, days=30, channel="in_store"),
            or_array(
                f"{BASE} AND c.id IN (SELECT contact_id FROM contacts_purchase WHERE purchased_at >= %(d30)s "
                "AND channel = 'in_store')"
            ),
        ),
        Case(
            "total spent >= 300 in 90 days",
            window("total_spent", "gte", 300, days=90),
            or_array(
                f"{BASE} AND c.id IN (SELECT contact_id FROM contacts_purchase WHERE purchased_at >= %(d90)s "
                "GROUP BY contact_id HAVING sum(total) >= 300)"
            )
            + or_array(
                f"{BASE} AND c.id IN (SELECT r.contact_id FROM ("
                "SELECT contact_id, total AS v FROM contacts_spendquarter WHERE starts_at >= %(q90)s UNION ALL "
                "SELECT contact_id, total FROM contacts_spendmonth WHERE starts_at >= %(m90)s "
                "AND starts_at < %(q90)s UNION ALL "
                "SELECT contact_id, total FROM contacts_purchase WHERE purchased_at >= %(d90)s "
                "AND purchased_at < %(m90)s) r GROUP BY r.contact_id HAVING sum(r.v) >= 300)"
            ),
        ),
        Case(
            "total spent >= 300 in 365 days",
            window("total_spent", "gte", 300, days=365),
            or_array(
                f"{BASE} AND c.id IN (SELECT contact_id FROM contacts_purchase WHERE purchased_at >= %(d365)s "
                "GROUP BY contact_id HAVING sum(total) >= 300)"
            )
            + or_array(
                f"{BASE} AND c.id IN (SELECT r.contact_id FROM ("
                "SELECT contact_id, total AS v FROM contacts_spendquarter WHERE starts_at >= %(q365)s UNION ALL "
                "SELECT contact_id, total FROM contacts_spendmonth WHERE starts_at >= %(m365)s "
                "AND starts_at < %(q365)s UNION ALL "
                "SELECT contact_id, total FROM contacts_purchase WHERE purchased_at >= %(d365)s "
                "AND purchased_at < %(m365)s) r GROUP BY r.contact_id HAVING sum(r.v) >= 300)"
            ),
        ),
        Case(
            "bought product in 90 days",
            window("purchased_product", "in", [p["sku"]], days=90),
            or_array(
                f"{BASE} AND c.id IN (SELECT p.contact_id FROM contacts_purchaseitem i "
                "JOIN contacts_purchase p ON p.id = i.purchase_id "
                "WHERE i.product_id = %(product)s AND p.purchased_at >= %(d90)s)"
            ),
        ),
        Case(
            "bought from category in 90 days",
            window("purchased_category", "in", [p["category"]], days=90),
            or_array(
                f"{BASE} AND c.id IN (SELECT p.contact_id FROM contacts_purchaseitem i "
                "JOIN contacts_purchase p ON p.id = i.purchase_id "
                "WHERE i.product_id = ANY(%(category_products)s) AND p.purchased_at >= %(d90)s)"
            ),
        ),
        Case(
            "replenishment due in 7 days",
            window("replenishment_due", "in_next_days", 7),
            (
                # from the raw purchases (checks the stored last purchases against them)
                REPLENISHMENT_ANTI_JOIN,
                # the stored last purchase of each product, read by hand (both forms)
                *or_array(REPLENISHMENT_LAST_BOUGHT),
            ),
        ),
        # Site behaviour: the events of the window, from the (type, time) index, aggregated once.
        Case(
            "event product_view in 30 days",
            window("event", "count_gte", 1, event="product_view", days=30),
            (
                # from the raw events (checks the stored last events against them)
                *or_array(
                    f"{BASE} AND c.id IN (SELECT contact_id FROM contacts_activity "
                    "WHERE type = 'product_view' AND occurred_at >= %(d30)s)"
                ),
                # the stored last event of each type, read by hand
                f"{BASE} AND c.id IN (SELECT contact_id FROM contacts_lastevent "
                "WHERE type = 'product_view' AND occurred_at >= %(d30)s)",
            ),
        ),
        Case(
            "event product_view >= 3 in 30 days",
            window("event", "count_gte", 3, event="product_view", days=30),
            or_array(
                f"{BASE} AND c.id IN (SELECT contact_id FROM contacts_activity "
                "WHERE type = 'product_view' AND occurred_at >= %(d30)s GROUP BY contact_id HAVING count(*) >= 3)"
            ),
        ),
        Case(
            "event add_to_cart >= 2 in 7 days",
            window("event", "count_gte", 2, event="add_to_cart", days=7),
            or_array(
                f"{BASE} AND c.id IN (SELECT contact_id FROM contacts_activity "
                "WHERE type = 'add_to_cart' AND occurred_at >= %(d7)s GROUP BY contact_id HAVING count(*) >= 2)"
            ),
        ),
        Case(
            "cart abandoned in 7 days",
            window("cart_abandoned", "within_last_days", 7),
            f"{BASE} AND c.id IN (SELECT a.contact_id FROM contacts_activity a JOIN contacts_contact b "
            "ON b.id = a.contact_id WHERE a.type = 'add_to_cart' AND a.occurred_at >= %(d7)s "
            "AND (b.last_purchase_at IS NULL OR a.occurred_at > b.last_purchase_at))",
        ),
        Case(
            "cart abandoned in 30 days",
            window("cart_abandoned", "within_last_days", 30),
            f"{BASE} AND c.id IN (SELECT a.contact_id FROM contacts_activity a JOIN contacts_contact b "
            "ON b.id = a.contact_id WHERE a.type = 'add_to_cart' AND a.occurred_at >= %(d30)s "
            "AND (b.last_purchase_at IS NULL OR a.occurred_at > b.last_purchase_at))",
        ),
        Case("funnel stage >= cart", window("funnel_stage", "gte", "cart"), f"{BASE} AND c.funnel_stage >= 3"),
        # Email engagement.
        Case(
            "opened an email in 30 days",
            window("email_opened", "within_last_days", 30),
            f"{BASE} AND c.id IN (SELECT contact_id FROM campaigns_trackingevent "
            "WHERE kind = 'open' AND NOT is_machine AND occurred_at >= %(d30)s)",
        ),
        Case(
            "clicked an email in 30 days",
            window("email_clicked", "within_last_days", 30),
            f"{BASE} AND c.id IN (SELECT contact_id FROM campaigns_trackingevent "
            "WHERE kind = 'click' AND NOT is_machine AND occurred_at >= %(d30)s)",
        ),
        # The five-condition segment of bench_segments.py, its reference written both ways.
        Case(
            "five conditions (bench_segments)",
            FIVE_CONDITIONS,
            (HAND_SQL, FIVE_INDEX_FIRST),
        ),
        # Lists: another segment's rules inlined.
        Case(
            "not in segment (3+ purchases), club member",
            {
                "all": [
                    {"field": "in_segment", "op": "is", "value": False, "segment": p["segment"]},
                    {"field": "club_member", "op": "is", "value": True},
                ]
            },
            f"{BASE} AND c.purchase_count < 3 AND "
            + in_ids.format(col="contact_id", table="contacts_loyaltymember", where="status = 'active'"),
        ),
    ]


REPLENISHMENT_ANTI_JOIN = (
    f"{BASE} AND c.id IN (SELECT p.contact_id FROM contacts_purchaseitem i "
    "JOIN contacts_purchase p ON p.id = i.purchase_id "
    "JOIN contacts_product pr ON pr.id = i.product_id "
    "JOIN unnest(%(cycle_days)s::int[], %(cycle_start)s::timestamptz[], %(cycle_end)s::timestamptz[]) "
    "AS w(days, since, until) ON pr.replenishment_days = w.days "
    "WHERE p.purchased_at >= w.since AND p.purchased_at < w.until "
    "AND NOT EXISTS (SELECT 1 FROM contacts_purchase later JOIN contacts_purchaseitem li "
    "ON li.purchase_id = later.id WHERE later.contact_id = p.contact_id "
    "AND later.purchased_at > p.purchased_at AND li.product_id = i.product_id))"
)

REPLENISHMENT_LAST_BOUGHT = (
    f"{BASE} AND c.id IN (SELECT lb.contact_id FROM contacts_lastbought lb "
    "JOIN contacts_product pr ON pr.id = lb.product_id "
    "JOIN unnest(%(cycle_days)s::int[], %(cycle_start)s::timestamptz[], %(cycle_end)s::timestamptz[]) "
    "AS w(days, since, until) ON pr.replenishment_days = w.days "
    "WHERE lb.purchased_at >= w.since AND lb.purchased_at < w.until)"
)

FIVE_INDEX_FIRST = """
SELECT count(*) FROM contacts_contact c
WHERE c.erased_at IS NULL
  AND lower(trim(c.region)) IN ('tel aviv district', 'central district', 'haifa district')
  AND c.id IN (SELECT contact_id FROM contacts_purchase WHERE purchased_at >= %(year_ago)s
               GROUP BY contact_id HAVING sum(total) >= 300)
  AND (c.id IN (SELECT a.contact_id FROM contacts_activity a JOIN contacts_contact b ON b.id = a.contact_id
                WHERE a.type = 'add_to_cart' AND a.occurred_at >= %(month_ago)s
                  AND (b.last_purchase_at IS NULL OR a.occurred_at > b.last_purchase_at))
       OR c.id IN (SELECT contact_id FROM contacts_loyaltymember WHERE status = 'active'))
  AND c.email IS NOT NULL AND c.email_opt_in AND c.email_status = 'active'
  AND c.first_purchase_at < %(new_since)s AND c.last_purchase_at >= %(risk_since)s
"""


def params(now: dt.datetime) -> dict:
    ctx = Context.current(now)
    today = ctx.today
    day = dt.timedelta(days=1)

    def md(days: int) -> list[str]:
        return [(today + i * day).strftime("%m-%d") for i in range(days + 1)]

    cycles = sorted(
        set(Product.objects.filter(replenishment_days__isnull=False).values_list("replenishment_days", flat=True))
    )
    tag = Tag.objects.order_by("-pk").values_list("pk", "name").first() or (0, "")
    product = Product.objects.filter(items__isnull=False).values_list("pk", "sku", "category").order_by("pk").first()
    assert product, "no purchases: seed the database first"
    from segments.conditions.profile import shift_years

    return {
        "now": now,
        **{f"d{n}": now - n * day for n in (7, 30, 60, 90, 365)},
        **{f"m{n}": month_after(now - n * day) for n in (90, 365)},  # the window's first whole month
        **{f"q{n}": quarter_after(month_after(now - n * day)) for n in (90, 365)},  # and first whole quarter
        "month": today.month,
        "next8": md(7),
        "tz": settings.TIME_ZONE,
        "year_start": ctx.midnight(dt.date(today.year, 1, 1)),
        "today_iso": today.isoformat(),
        "in30_iso": (today + 30 * day).isoformat(),
        "age25": shift_years(today, -25),
        "age41": shift_years(today, -41),
        "new_since": now - settings.LIFECYCLE_NEW_DAYS * day,
        "active_since": now - settings.LIFECYCLE_ACTIVE_DAYS * day,
        "risk_since": now - settings.LIFECYCLE_AT_RISK_DAYS * day,
        "year_ago": now - 365 * day,
        "month_ago": now - 30 * day,
        "tag": tag[0],
        "tag_name": tag[1],
        "product": product[0],
        "sku": product[1],
        "category": product[2],
        "category_products": list(
            Product.objects.filter(category__iexact=product[2].strip()).values_list("pk", flat=True)
        ),
        "cycle_days": cycles,
        "cycle_start": [ctx.midnight(today - n * day) for n in cycles],
        "cycle_end": [ctx.midnight(today + (7 - n + 1) * day) for n in cycles],
    }


def app_count(case: Case, ctx: Context) -> int:
    return rules_contacts(case.rules, ctx).count()


def ref_count(sql: str, p: dict, jit: bool) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SET jit = {'on' if jit else 'off'}")
        try:
            cursor.execute(sql, p)
            return cursor.fetchone()[0]
        finally:
            cursor.execute("RESET jit")


def timed(fn, runs: int) -> tuple[float, int]:
    fn()  # load the cache
    times, result = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def restart(command: str, drop_os_cache: bool) -> None:
    connection.close()
    if drop_os_cache:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as caches:
            caches.write("3\n")
    subprocess.run(command, shell=True, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(60):
        try:
            connection.ensure_connection()
            return
        except OperationalError:
            connection.close()
            time.sleep(0.5)
    connection.ensure_connection()


def cold(fn, command: str, drop_os_cache: bool) -> float:
    restart(command, drop_os_cache)
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def ensure_list_segment() -> int:
    from segments.models import Segment
    from segments.services import segment_create

    found = Segment.objects.filter(name="bench-catalogue-buyers").first()
    if found:
        return found.pk
    return segment_create(
        name="bench-catalogue-buyers", rules={"field": "purchase_count", "op": "gte", "value": 3}, refresh=False
    ).pk


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="warm runs per measure (the median is printed)")
    parser.add_argument("--restart", help="shell command that restarts PostgreSQL, for the cold figures")
    parser.add_argument("--drop-os-cache", action="store_true", help="with --restart, drop the OS page cache too")
    parser.add_argument("--only", nargs="*", help="run only the conditions whose names contain one of these")
    parser.add_argument("--vacuum", action="store_true", help="VACUUM ANALYZE first")
    args = parser.parse_args()
    assert connection.vendor == "postgresql", "run this against PostgreSQL (DATABASE_URL)"
    if args.vacuum:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        print(f"VACUUM ANALYZE: {time.perf_counter() - started:.0f} s")
    print(
        f"contacts={Contact.objects.count():,} club members={LoyaltyMember.objects.count():,} "
        f"(PostgreSQL {connection.pg_version // 10000})"
    )
    now = timezone.now()
    ctx = Context.current(now)
    p = params(now)
    p["segment"] = ensure_list_segment()
    selected = [case for case in cases(p) if not args.only or any(word in case.name for word in args.only)]
    header = f"{'condition':44} {'contacts':>9} {'app':>8} {'ref on':>8} {'ref off':>8} {'ratio':>6}"
    if args.restart:
        header += f" {'app cold':>9} {'ref cold':>9}"
    print(header)
    failed = False
    for case in selected:
        app_s, app_n = timed(lambda case=case: app_count(case, ctx), args.runs)
        tried = []
        for sql in (case.sql,) if isinstance(case.sql, str) else case.sql:
            on_s, on_n = timed(lambda sql=sql: ref_count(sql, p, True), args.runs)
            off_s, off_n = timed(lambda sql=sql: ref_count(sql, p, False), args.runs)
            tried.append((min(on_s, off_s), sql, on_s, on_n, off_s, off_n))
        ref_s, best_sql, on_s, on_n, off_s, off_n = min(tried, key=lambda t: t[0])
        best_jit = off_s <= on_s
        line = (
            f"{case.name:44} {app_n:>9,} {app_s * 1000:>6.0f}ms {on_s * 1000:>6.0f}ms {off_s * 1000:>6.0f}ms "
            f"{app_s / ref_s if ref_s else 0:>5.2f}x"
        )
        if args.restart:
            how = (args.restart, args.drop_os_cache)
            app_cold = cold(lambda case=case: app_count(case, ctx), *how)
            ref_cold = cold(lambda sql=best_sql, jit=not best_jit: ref_count(sql, p, jit), *how)
            line += f" {app_cold * 1000:>7.0f}ms {ref_cold * 1000:>7.0f}ms"
        if any(not app_n == t[3] == t[5] for t in tried):
            line += f"  MISMATCH: reference counted {on_n:,}"
            failed = True
        print(line, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
