"""Measurement benchmark on PostgreSQL: a campaign report over a million messages, the KPIs of the home page
for periods up to a year, recomputing attribution over a period, and bulk purchase ingestion with attribution.

Run against a database seeded at scale (1,000,000 contacts give ~3.2 M purchases and ~10.7 M events):

    DATABASE_URL=postgres://… .venv/bin/python manage.py seed_demo --contacts 1000000
    DATABASE_URL=postgres://… .venv/bin/python benchmarks/bench_reports.py
    # options: --sections campaign,kpis,recompute,ingest --messages 1000000 --repeat 5

Set-up, not timed, made once and kept ("bench reports"): a sent campaign with one message per contact (up to
--messages), human opens for ~35 % of them and clicks for ~5 %, machine opens for ~10 %, all in the 30 days
before the newest demo purchase, with a cost; its purchases are then attributed (the recompute section times
that). Figures are printed, not judged.
"""

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

BENCH = "bench reports"


def sql(statement: str, params: list | tuple = ()) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount


def newest_purchase() -> dt.datetime:
    from django.db.models import Max

    from contacts.models import Purchase

    return Purchase.objects.aggregate(newest=Max("purchased_at"))["newest"]


def ensure_campaign(size: int):
    """A sent campaign of `size` messages with human and machine opens and human clicks (set-up, kept)."""
    from campaigns.models import Campaign, EmailTemplate

    campaign = Campaign.objects.filter(name=BENCH).first()
    if campaign is not None:
        return campaign
    template = EmailTemplate.objects.create(name=BENCH, subject="bench", html="<p>bench</p>")
    sent_at = newest_purchase() - dt.timedelta(days=30)
    campaign = Campaign.objects.create(
        name=BENCH, template=template, status=Campaign.Status.SENT, started_at=sent_at, cost=25000
    )
    started = time.perf_counter()
    sql(
        "INSERT INTO campaigns_message (campaign_id, contact_id, status, skip_reason, error, attempts, message_id, "
        "queued_at, sent_at, open_count, machine_open_count, click_count, bounce_type, occurrence) "
        "SELECT %s, id, 'sent', '', '', 1, '', %s, %s + (id %% 3600) * interval '1 second', 0, 0, 0, '', 0 "
        "FROM contacts_contact ORDER BY id LIMIT %s",
        [campaign.pk, sent_at, sent_at, size],
    )
    # Opens and clicks spread over the 30 days after sending (hash of the message id picks who and when).
    touches = (
        ("open", False, "m.id %% 100 < 35", "(m.id %% 43200) * interval '1 minute'"),
        ("open", True, "m.id %% 100 >= 90", "interval '1 second'"),
        ("click", False, "m.id %% 100 < 5", "(m.id %% 43200) * interval '1 minute' + interval '2 minutes'"),
    )
    for kind, machine, who, when in touches:
        sql(
            "INSERT INTO campaigns_trackingevent (message_id, campaign_id, contact_id, kind, occurred_at, "
            "is_machine, machine_reason, user_agent, detail) "
            f"SELECT m.id, m.campaign_id, m.contact_id, %s, m.sent_at + {when}, %s, %s, '', '{{}}' "
            f"FROM campaigns_message m WHERE m.campaign_id = %s AND {who}",
            [kind, machine, "privacy_proxy" if machine else "", campaign.pk],
        )
    sql(
        "UPDATE campaigns_message m SET open_count = e.opens, machine_open_count = e.machine, "
        "click_count = e.clicks, first_opened_at = e.first_open, first_clicked_at = e.first_click "
        "FROM (SELECT message_id, count(*) FILTER (WHERE kind = 'open') AS opens, "
        "count(*) FILTER (WHERE kind = 'open' AND is_machine) AS machine, "
        "count(*) FILTER (WHERE kind = 'click') AS clicks, "
        "min(occurred_at) FILTER (WHERE kind = 'open' AND NOT is_machine) AS first_open, "
        "min(occurred_at) FILTER (WHERE kind = 'click' AND NOT is_machine) AS first_click "
        "FROM campaigns_trackingevent WHERE campaign_id = %s GROUP BY message_id) e WHERE m.id = e.message_id",
        [campaign.pk],
    )
    for table in ("campaigns_message", "campaigns_trackingevent"):
        sql(f"VACUUM ANALYZE {table}")
    print(f"set-up: {size:,} messages with opens and clicks in {time.perf_counter() - started:.1f} s")
    return campaign


def timed(fn, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return times


def show(label: str, times: list[float]) -> None:
    print(f"{label}: median {statistics.median(times):.0f} ms, min {min(times):.0f}, max {max(times):.0f} ms")


def section_recompute(campaign) -> None:
    from campaigns.reports.attribution import recompute
    from campaigns.reports.models import Attribution

    end = newest_purchase() + dt.timedelta(seconds=1)
    start = end - dt.timedelta(days=30)
    started = time.perf_counter()
    seen, credited = recompute(start=start, end=end)
    seconds = time.perf_counter() - started
    sql("VACUUM ANALYZE reports_attribution")
    print(
        f"recompute attribution over 30 days: {seen:,} purchases, {credited:,} credited, {seconds:.1f} s "
        f"({seen / seconds:,.0f} purchases/s); campaign's attributed purchases: "
        f"{Attribution.objects.filter(campaign=campaign).count():,}"
    )


def section_campaign(campaign, repeat: int) -> None:
    from django.test import Client
    from django.urls import reverse

    from campaigns.selectors import campaign_stats

    show(f"campaign_stats over {campaign.messages.count():,} messages", timed(lambda: campaign_stats(campaign), repeat))
    client = _admin_client(Client())
    url = reverse("admin:campaigns_campaign_report", args=[campaign.pk])
    show("campaign report page", timed(lambda: _ok(client.get(url, secure=True)), repeat))
    api = reverse("v1:campaign-stats", args=[campaign.pk])
    show("GET /campaigns/{id}/stats/", timed(lambda: _ok(client.get(api, secure=True)), repeat))


def section_kpis(repeat: int) -> None:
    from django.test import Client
    from django.utils import timezone

    client = _admin_client(Client())
    end = timezone.localdate(newest_purchase())
    for days in (30, 90, 365):
        start = end - dt.timedelta(days=days - 1)
        url = f"/api/v1/reports/kpis/?from={start}&to={end}"
        show(f"GET /reports/kpis/ over {days} days", timed(lambda url=url: _ok(client.get(url, secure=True)), repeat))
        home = f"/admin/?from={start}&to={end}"
        show(f"home page over {days} days", timed(lambda home=home: _ok(client.get(home, secure=True)), repeat))


def section_ingest(batches: int) -> None:
    """Bulk purchases (1,000 per call, 2 items each) by contacts who clicked: each batch attributed at once."""
    from django.db import transaction

    from contacts.ingest.purchases import purchases_record_bulk
    from contacts.models import Product

    skus = list(Product.objects.values_list("sku", flat=True)[:20])
    clicked = [
        row[0]
        for row in _rows(
            "SELECT DISTINCT contact_id FROM campaigns_trackingevent WHERE kind = 'click' LIMIT %s", [batches * 1000]
        )
    ]
    when = newest_purchase()
    stamp = int(time.time())
    total = 0
    started = time.perf_counter()
    for n in range(batches):
        items = [
            {
                "external_id": f"bench-{stamp}-{n}-{i}",
                "source": "bench",
                "contact": clicked[(n * 1000 + i) % len(clicked)],
                "purchased_at": when.isoformat(),
                "total": "120.00",
                "items": [{"sku": skus[i % len(skus)], "quantity": 1, "unit_price": "60.00"}] * 2,
            }
            for i in range(1000)
        ]
        with transaction.atomic():
            total += purchases_record_bulk(items=items)["created"]
    seconds = time.perf_counter() - started
    print(f"bulk purchases with attribution: {total:,} in {seconds:.1f} s ({total / seconds:,.0f} /s, one process)")
    remove_bench_purchases()


def remove_bench_purchases() -> None:
    """The data set as it was: the benchmark's purchases go with their items and attribution, and their
    buyers' stored aggregates and sales rollups are read again from the purchases left (ingestion adds a
    batch to what is stored, so aggregates left counting deleted purchases would be off at the next run)."""
    from django.db import transaction

    from campaigns.reports import rollups
    from contacts.services import contacts_refresh_purchase_stats

    buyers = [row[0] for row in _rows("SELECT DISTINCT contact_id FROM contacts_purchase WHERE source = 'bench'", [])]
    bench = "SELECT id FROM contacts_purchase WHERE source = 'bench'"
    sql(f"DELETE FROM reports_attribution WHERE purchase_id IN ({bench})")
    sql(f"DELETE FROM contacts_purchaseitem WHERE purchase_id IN ({bench})")
    sql("DELETE FROM contacts_purchase WHERE source = 'bench'")
    for start in range(0, len(buyers), 5000):
        with transaction.atomic():
            contacts_refresh_purchase_stats(contact_ids=buyers[start : start + 5000])
            rollups.sync(buyers[start : start + 5000])


def _rows(statement: str, params: list) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall()


def _admin_client(client):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(is_superuser=True).first()
    if user is None:
        user = get_user_model().objects.create_superuser("bench-reports", "bench@example.com", "x" * 20)
    client.force_login(user)
    return client


def _ok(response) -> None:
    assert response.status_code == 200, response.status_code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", default="campaign,kpis,recompute,ingest")
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--batches", type=int, default=20)
    args = parser.parse_args()
    import django

    django.setup()
    from django.conf import settings

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    sections = set(args.sections.split(","))
    campaign = ensure_campaign(args.messages)
    if "recompute" in sections:
        section_recompute(campaign)
    if "campaign" in sections:
        section_campaign(campaign, args.repeat)
    if "kpis" in sections:
        section_kpis(args.repeat)
    if "ingest" in sections:
        section_ingest(args.batches)


if __name__ == "__main__":
    main()
