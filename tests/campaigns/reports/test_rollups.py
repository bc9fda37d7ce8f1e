"""The daily sales rollups stay equal to what the purchases say, whichever write changed them: each test
compares the rollups as the writes left them with a rebuild from the raw purchases, and the KPI figures read
from them with figures counted by hand."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.reports import rollups
from campaigns.reports.kpis import kpis
from campaigns.reports.models import BuyerDay, PurchaseFact, SalesDay
from campaigns.reports.period import Period
from contacts import services
from contacts.ingest.purchases import purchases_record_bulk
from contacts.merging import merge
from contacts.models import Purchase
from tests.factories import ContactFactory, MemberFactory, PurchaseFactory

pytestmark = pytest.mark.django_db

ZONE = dt.timezone(dt.timedelta(hours=2))  # Asia/Jerusalem in winter, the test settings' TIME_ZONE


def at(day: int, hour: int = 12, month: int = 1) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=ZONE)


def state() -> tuple[list, list, list]:
    """The rollups' rows that count (a row brought back to zero counts nothing) and the stored facts."""
    sales = sorted(
        (r.day, r.channel, r.club, r.orders, r.revenue) for r in SalesDay.objects.all() if r.orders or r.revenue
    )
    buyers = sorted((r.day, r.lag, r.earlier_day, r.purchases) for r in BuyerDay.objects.all() if r.purchases)
    facts = sorted(PurchaseFact.objects.values_list("pk", *rollups.FACT_FIELDS))
    return sales, buyers, facts


def assert_equal_to_a_rebuild() -> None:
    kept = state()
    rollups.rebuild()
    assert kept == state()


def bulk(contact, *times: dt.datetime, channel: str = "online", total: str = "100") -> None:
    items = [
        {
            "external_id": f"{contact.pk}-{t.isoformat()}",
            "source": "shop",
            "contact": contact.pk,
            "purchased_at": t.isoformat(),
            "total": total,
            "channel": channel,
        }
        for t in times
    ]
    assert purchases_record_bulk(items=items)["created"] == len(items)


def test_bulk_ingestion_single_purchases_and_late_ones_match_a_rebuild():
    ann, ben = ContactFactory(), ContactFactory()
    bulk(ann, at(10), at(12), at(12, hour=15))
    bulk(ben, at(11), channel="in_store", total="40")
    bulk(ann, at(5))  # late: older than her last purchase, it changes the earlier days of the later ones
    PurchaseFactory(contact=ben, purchased_at=at(3), total=Decimal("7.50"))

    assert_equal_to_a_rebuild()
    assert Purchase.objects.count() == PurchaseFact.objects.count() == 6


def test_a_purchase_recorded_one_by_one_is_counted_once():
    """The service path saves the purchase (post-save sync) and then reports it stored (a second sync)."""
    ann = ContactFactory()
    services.purchase_record(
        contact=ann,
        source="pos",
        external_id="A-1",
        channel="in_store",
        purchased_at=at(10),
        total=Decimal("55.00"),
        currency="ILS",
        store=None,
        items=[],
    )

    assert list(SalesDay.objects.values_list("orders", "revenue")) == [(1, Decimal("55.00"))]
    assert_equal_to_a_rebuild()


def test_a_sync_is_idempotent_and_reads_only_the_contacts_it_is_given():
    ann = ContactFactory()
    bulk(ann, at(10), at(12))
    before = state()

    with CaptureQueriesContext(connection) as queries:
        rollups.sync([ann.pk])

    assert state() == before
    assert not [q for q in queries.captured_queries if q["sql"].startswith(("INSERT", "UPDATE", "DELETE"))]


def test_a_day_is_the_time_zone_day_not_the_utc_one():
    ann = ContactFactory()
    bulk(ann, dt.datetime(2026, 1, 9, 22, 30, tzinfo=dt.UTC))  # 00:30 on the 10th in Israel

    assert list(SalesDay.objects.values_list("day", flat=True)) == [dt.date(2026, 1, 10)]


def test_a_merge_moves_the_duplicate_purchases_into_the_survivor_history(django_capture_on_commit_callbacks):
    ann, twin = ContactFactory(), ContactFactory()
    bulk(ann, at(10), at(20))
    bulk(twin, at(15))

    with django_capture_on_commit_callbacks(execute=True):
        merge(survivor=ann, duplicate=twin)

    assert_equal_to_a_rebuild()
    survivor_days = sorted(PurchaseFact.objects.filter(contact_id=ann.pk).values_list("day", "previous_day"))
    assert survivor_days == [
        (dt.date(2026, 1, 10), None),
        (dt.date(2026, 1, 15), dt.date(2026, 1, 10)),
        (dt.date(2026, 1, 20), dt.date(2026, 1, 15)),
    ]


def test_club_revenue_follows_the_membership_as_it_is_now(django_capture_on_commit_callbacks):
    ann = ContactFactory()
    bulk(ann, at(10), total="80")
    period = Period(dt.date(2026, 1, 1), dt.date(2026, 1, 31))
    assert kpis(period)["club_revenue_share"] == 0

    with django_capture_on_commit_callbacks(execute=True):
        member = services.member_create(contact=ann)
    assert kpis(period)["club_revenue_share"] == 1
    assert_equal_to_a_rebuild()

    with django_capture_on_commit_callbacks(execute=True):
        services.member_update(member=member, status="cancelled")
    assert kpis(period)["club_revenue_share"] == 0
    assert_equal_to_a_rebuild()


def test_erasure_keeps_the_money_and_ends_the_club_share(django_capture_on_commit_callbacks):
    member = MemberFactory()
    bulk(member.contact, at(10))

    with django_capture_on_commit_callbacks(execute=True):
        services.contact_erase(contact=member.contact)

    figures = kpis(Period(dt.date(2026, 1, 1), dt.date(2026, 1, 31)))
    assert (figures["revenue"], figures["orders"], figures["club_revenue_share"]) == (Decimal("100.00"), 1, 0)
    assert_equal_to_a_rebuild()


def test_buyers_repeat_buyers_and_retention_by_hand():
    """December: ann, ben. January: ann twice on one day, ben once, cat once (her first ever), dan in
    January after a purchase in November."""
    ann, ben, cat, dan = (ContactFactory() for _n in range(4))
    bulk(ann, at(5, month=12).replace(year=2025), at(8), at(8, hour=18))
    bulk(ben, at(20, month=12).replace(year=2025), at(30))
    bulk(cat, at(31, hour=23))
    bulk(dan, at(15, month=11).replace(year=2025), at(2))

    figures = kpis(Period(dt.date(2026, 1, 1), dt.date(2026, 1, 31)))

    assert (figures["orders"], figures["buyers"]) == (5, 4)
    assert figures["repeat_rate"] == 0.25  # ann
    assert figures["retention"] == 1.0  # December's buyers, ann and ben, came back
    previous = figures["previous"]
    assert (previous["orders"], previous["buyers"], previous["repeat_rate"]) == (2, 2, 0)
    assert previous["retention"] == 0  # dan, November's buyer, skipped December


def test_the_kpis_read_the_rollups_with_a_fixed_number_of_queries():
    ann = ContactFactory()
    bulk(ann, at(10), at(11))
    period = Period(dt.date(2026, 1, 1), dt.date(2026, 1, 31))
    with CaptureQueriesContext(connection) as few:
        kpis(period)
    for n in range(20):
        bulk(ContactFactory(), at(1 + n), at(2 + n, month=2))
    with CaptureQueriesContext(connection) as many:
        kpis(period)

    assert len(many) == len(few)
    # Only channel ROMI reads purchases (those with a utm_source, through their own index).
    raw = [q for q in many.captured_queries if "contacts_purchase" in q["sql"] and "romi_channel" not in q["sql"]]
    assert not raw


def test_the_rebuild_command_restores_rollups_written_by_hand():
    ann = ContactFactory()
    bulk(ann, at(10))
    expected = state()
    SalesDay.objects.update(orders=99)
    BuyerDay.objects.all().delete()

    call_command("rebuild_rollups", verbosity=0)

    assert state() == expected
