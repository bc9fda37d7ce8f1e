"""RFM has one rule (contacts.rfm) and two ways to apply it: the purchase ingestion's single
UPDATE … FROM over fresh aggregates, and the nightly ORM update over the stored ones. On the same
cut points both must give every buyer the same scores, including right at a cut point."""

import datetime as dt
from decimal import Decimal

import pytest

from contacts import services
from contacts.models import Contact, RfmBreakpoints
from tests.factories import ContactFactory, PurchaseFactory

pytestmark = pytest.mark.django_db

BASE = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.UTC)
RECENCY_CUTS = [BASE - dt.timedelta(days=days) for days in (40, 30, 20, 10)]
FREQUENCY_CUTS = [2, 3, 4, 5]
MONETARY_CUTS = ["100.00", "150.50", "300.00", "400.00"]

# (purchases, total of each, days between the last purchase and BASE) → (recency, frequency, monetary)
CASES = [
    ((1, "99.99", 41), (1, 1, 1)),  # below every first cut
    ((1, "100.00", 40), (2, 1, 2)),  # right at the first recency and monetary cuts
    ((2, "75.25", 31), (2, 2, 3)),  # spent exactly 150.50, at the first frequency cut
    ((3, "50.16", 30), (3, 3, 2)),  # 150.48: a cent under a fractional cut
    ((4, "100.00", 15), (4, 4, 5)),  # at the last monetary cut
    ((5, "60.00", 10), (5, 5, 4)),  # at the last recency and frequency cuts
    ((7, "1000.00", 0), (5, 5, 5)),  # above every last cut
]


@pytest.fixture
def cut_points():
    return RfmBreakpoints.objects.create(
        recency_days=[cut.isoformat() for cut in RECENCY_CUTS], frequency=FREQUENCY_CUTS, monetary=MONETARY_CUTS
    )


def buyer(count: int, each: str, last_days: int) -> Contact:
    contact = ContactFactory()
    for k in range(count):
        PurchaseFactory(contact=contact, total=Decimal(each), purchased_at=BASE - dt.timedelta(days=last_days + k))
    return contact


def scores(contacts: list[Contact]) -> list[tuple]:
    stored = Contact.objects.in_bulk([c.pk for c in contacts])
    return [(stored[c.pk].rfm_recency, stored[c.pk].rfm_frequency, stored[c.pk].rfm_monetary) for c in contacts]


def test_ingestion_and_the_nightly_recompute_score_every_case_alike(cut_points):
    buyers = [buyer(*purchases) for purchases, _expected in CASES]
    prospect = ContactFactory()
    everyone = [*buyers, prospect]
    expected = [scored for _purchases, scored in CASES] + [(None, None, None)]

    services.contacts_refresh_purchase_stats(contact_ids=[c.pk for c in everyone])
    assert scores(everyone) == expected

    Contact.objects.update(rfm_recency=None, rfm_frequency=None, rfm_monetary=None)
    services.rfm_apply(Contact.objects.all())
    assert scores(everyone) == expected


def test_a_buyer_keeps_their_scores_while_no_cut_points_exist():
    contact = buyer(1, "100.00", 5)
    Contact.objects.filter(pk=contact.pk).update(rfm_recency=3, rfm_frequency=2, rfm_monetary=1)

    services.contacts_refresh_purchase_stats(contact_ids=[contact.pk])
    assert scores([contact]) == [(3, 2, 1)]
    services.rfm_apply(Contact.objects.all())
    assert scores([contact]) == [(3, 2, 1)]


def test_cut_points_are_the_buyers_quintiles(cut_points):
    for count in range(1, 11):
        buyer(count, "10.00", 11 - count)
    services.contacts_refresh_purchase_stats(contact_ids=Contact.objects.values_list("pk", flat=True))

    stored = services.rfm_breakpoints_compute()

    assert stored.pk == cut_points.pk
    assert stored.frequency == [3, 5, 7, 9]
    assert stored.monetary == ["30.00", "50.00", "70.00", "90.00"]
    assert stored.recency_days == [(BASE - dt.timedelta(days=days)).isoformat() for days in (8, 6, 4, 2)]
