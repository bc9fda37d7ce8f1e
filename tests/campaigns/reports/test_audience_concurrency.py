"""Concurrent writers and folds on a real server: the counts still equal what the rows say."""

import datetime as dt

import pytest
from django.db import connection, transaction
from django.utils import timezone

from campaigns.reports.audience import audience_now, audience_scan, distinct_members
from campaigns.reports.counts import DistinctDay
from campaigns.reports.folding import counts_fold, counts_recount
from campaigns.reports.period import Period
from contacts import ingest
from contacts.models import Activity, Contact
from tests.contacts.test_concurrency import run_together
from tests.factories import ContactFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers (PostgreSQL)"),
]


def _days_of(anonymous_id: str) -> list:
    return list(DistinctDay.objects.filter(kind="anonymous", member=anonymous_id).order_by("day").values_list("day"))


@pytest.mark.parametrize("seen_before", [False, True])
def test_visits_of_one_visitor_written_side_by_side_are_each_counted(seen_before):
    now = timezone.now()
    if seen_before:
        Activity.objects.create(anonymous_id="v-race", type="page_view", occurred_at=now - dt.timedelta(days=30))

    def visit(n: int) -> None:
        with transaction.atomic():
            Activity.objects.create(anonymous_id="v-race", type="page_view", occurred_at=now - dt.timedelta(days=n))
            counts_fold()

    _results, errors = run_together(visit)
    assert errors == []
    recorded = _days_of("v-race")
    with transaction.atomic():
        counts_recount()
        assert _days_of("v-race") == recorded
        transaction.set_rollback(True)
    period = Period(timezone.localdate() - dt.timedelta(days=9), timezone.localdate())
    assert distinct_members("anonymous", period) == 1


def test_purchases_ingested_side_by_side_with_folds_are_counted_once():
    buyers = [ContactFactory() for _n in range(12)]

    def ingest_batch(n: int) -> None:
        items = [
            {
                "external_id": f"R-{n}-{k}",
                "source": "shop",
                "contact": buyer.pk,
                "total": "10.00",
                "purchased_at": (timezone.now() - dt.timedelta(days=k * 20 + n)).isoformat(),
            }
            for k, buyer in enumerate(buyers)
        ]
        ingest.purchases_record_bulk(items=items)
        counts_fold()

    _results, errors = run_together(ingest_batch)
    assert errors == []
    now = timezone.now()
    assert audience_now(now=now) == audience_scan(now=now)
    assert audience_now(now=now).lifecycle["prospect"] == 0
    assert Contact.objects.filter(last_purchase_at__isnull=False).count() == len(buyers)
