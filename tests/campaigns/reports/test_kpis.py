"""The KPIs of CONTRACT §8: the API's period, its refusals and rights, and worked examples of the figures
(tests/campaigns/reports/test_kpis_reference.py checks every figure against the reference on random data)."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from campaigns.flows.models import Flow, FlowMail
from campaigns.models import Campaign, EmailTemplate
from campaigns.reports.kpis import kpis
from campaigns.reports.period import Period
from contacts.models import Activity, LoyaltyMember, VisitorIdentity
from contacts.services import contacts_refresh_purchase_stats
from tests.factories import ActivityFactory, ContactFactory, MemberFactory, PurchaseFactory

from .credited import attribute

pytestmark = pytest.mark.django_db

URL = "/api/v1/reports/kpis/"
ISRAEL = ZoneInfo("Asia/Jerusalem")
# Israel's clocks go forward on Friday 27 March 2026: a week around it.
SPRING = {"from": "2026-03-24", "to": "2026-03-30"}


@pytest.fixture
def api(make_client):
    return make_client("campaigns:read")


def local(day: str, time: dt.time) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), time, tzinfo=ISRAEL)


# ------------------------------------------------------------------ the period


def test_an_empty_period_answers_nulls_for_ratios_and_zeros_for_counts(api):
    body = api.get(URL, SPRING).json()

    assert body["period"] == {"from": "2026-03-24", "to": "2026-03-30"}
    assert (body["revenue"], body["orders"], body["buyers"]) == ("0.00", 0, 0)
    assert [body[key] for key in ("aov", "frequency", "repeat_rate", "retention", "club_revenue_share")] == [None] * 5
    assert body["users_share"] is None
    assert body["funnel_conversion"] == {"interested": None, "cart": None, "purchaser": None}
    assert body["by_channel"]["in_store"] == {"revenue": "0.00", "orders": 0}
    assert body["email"] == {
        "sent": 0,
        "delivered": 0,
        "unique_opens": 0,
        "unique_clicks": 0,
        "attributed_revenue": "0.00",
    }
    assert (body["top_campaigns"], body["top_flows"], body["channel_romi"]) == ([], [], {})
    assert body["previous"]["aov"] is None


def test_days_are_local_dates_with_both_ends_included_across_a_clock_change(api):
    buyer = ContactFactory()
    inside = [local("2026-03-24", dt.time(0, 0)), local("2026-03-30", dt.time(23, 59, 59, 999999))]
    outside = [local("2026-03-23", dt.time(23, 59, 59, 999999)), local("2026-03-31", dt.time(0, 0))]
    for moment in inside + outside:
        PurchaseFactory(contact=buyer, purchased_at=moment, total=Decimal("10.00"))

    body = api.get(URL, SPRING).json()

    assert (body["orders"], body["revenue"]) == (2, "20.00")
    assert body["previous"]["orders"] == 1  # 23:59 on the 23rd ends the week before
    assert body["retention"] == 1.0


def test_without_dates_the_period_is_the_last_30_days_today_included(api):
    with time_machine.travel(local("2026-04-30", dt.time(0, 30)), tick=False):  # still the 29th in UTC
        body = api.get(URL).json()
    assert body["period"] == {"from": "2026-04-01", "to": "2026-04-30"}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2026-03-31", "to": "2026-03-30"}, "to"),
        ({"from": "2026-02-30", "to": "2026-03-30"}, "from"),
        ({"from": "yesterday", "to": "2026-03-30"}, "from"),
        ({"to": ""}, "to"),
        ({"from": "2026-03-01"}, "to"),
        ({"to": "2026-03-01"}, "from"),
        ({"from": "2025-01-01", "to": "2026-01-02"}, "to"),  # 367 days
        ({"from": "0001-01-01", "to": "0001-01-02"}, "from"),
    ],
)
def test_a_bad_period_is_a_400_naming_the_field(api, query, field):
    answer = api.get(URL, query)
    assert answer.status_code == 400
    assert list(answer.json()["error_codes"]) == [field]


def test_a_period_of_366_days_is_accepted(api):
    assert api.get(URL, {"from": "2025-01-01", "to": "2026-01-01"}).status_code == 200
    assert api.get(URL, {"from": "2024-01-01", "to": "2024-12-31"}).status_code == 200  # a leap year


def test_it_needs_campaigns_read(make_client):
    assert APIClient().get(URL).status_code == 401
    assert make_client("contacts:read", "segments:read").get(URL).status_code == 403
    assert make_client("campaigns:read").get(URL).status_code == 200


# ------------------------------------------------------------------ worked examples


def test_sales_figures_and_the_previous_period(api):
    week = [local("2026-03-25", dt.time(10)), local("2026-03-26", dt.time(10))]
    regular, newcomer, lapsed = ContactFactory(), ContactFactory(), ContactFactory()
    MemberFactory(contact=regular)
    MemberFactory(contact=newcomer, status=LoyaltyMember.Status.CANCELLED)
    PurchaseFactory(contact=regular, purchased_at=local("2026-03-20", dt.time(10)), total=Decimal("50.00"))
    PurchaseFactory(contact=lapsed, purchased_at=local("2026-03-20", dt.time(11)), total=Decimal("30.00"))
    PurchaseFactory(contact=regular, purchased_at=week[0], total=Decimal("100.00"), channel="in_store")
    PurchaseFactory(contact=regular, purchased_at=week[1], total=Decimal("100.00"))
    PurchaseFactory(contact=newcomer, purchased_at=week[1], total=Decimal("100.01"), channel="in_store")

    body = api.get(URL, SPRING).json()

    assert (body["revenue"], body["orders"], body["buyers"], body["aov"]) == ("300.01", 3, 2, "100.00")
    assert (body["frequency"], body["repeat_rate"], body["retention"]) == (1.5, 0.5, 0.5)
    assert body["club_revenue_share"] == round(200 / 300.01, 4)
    assert body["by_channel"]["in_store"] == {"revenue": "200.01", "orders": 2}
    assert body["previous"] == {
        "revenue": "80.00",
        "orders": 2,
        "buyers": 2,
        "aov": "40.00",
        "frequency": 1.0,
        "repeat_rate": 0.0,
        "retention": None,
    }


def test_users_share_counts_visitors_not_known_to_be_a_contact(api):
    known, _silent = ContactFactory(email_opt_in=True), ContactFactory(email_opt_in=False, sms_opt_in=False)
    ContactFactory(email_opt_in=False, sms_opt_in=True)
    ContactFactory(email_opt_in=True, erased_at=local("2026-03-01", dt.time(9)))  # no longer counted
    VisitorIdentity.objects.create(anonymous_id="linked", contact=known)
    in_week = local("2026-03-27", dt.time(1, 30))
    for anonymous_id in ("linked", "stranger", "stranger", "other"):
        ActivityFactory(contact=None, anonymous_id=anonymous_id, occurred_at=in_week)
    ActivityFactory(contact=None, anonymous_id="last-month", occurred_at=local("2026-02-27", dt.time(9)))

    body = api.get(URL, SPRING).json()

    assert body["users_share"] == round(2 / (3 + 2), 4)


def test_funnel_lifecycle_and_promoters(api):
    viewer = ContactFactory(source="web_form", signed_up_at=local("2026-03-30", dt.time(23, 59)))
    reviewer, buyer = ContactFactory(signed_up_at=None), ContactFactory(signed_up_at=None)
    ActivityFactory(contact=viewer, occurred_at=local("2026-03-25", dt.time(9)))
    ActivityFactory(contact=reviewer, type=Activity.Type.REVIEW, occurred_at=local("2026-03-25", dt.time(9)))
    ActivityFactory(contact=buyer, type=Activity.Type.REFERRAL, occurred_at=local("2026-03-23", dt.time(9)))
    PurchaseFactory(contact=buyer, purchased_at=local("2026-03-25", dt.time(9)))
    contacts_refresh_purchase_stats(contact_ids=[viewer.pk, reviewer.pk, buyer.pk])

    with time_machine.travel(local("2026-03-31", dt.time(9)), tick=False):
        body = api.get(URL, SPRING).json()

    assert body["funnel"] == {"none": 0, "visitor": 1, "interested": 1, "cart": 0, "purchaser": 1}
    assert body["funnel_conversion"] == {"interested": round(2 / 3, 4), "cart": 0.5, "purchaser": 1.0}
    assert body["lifecycle"] == {"prospect": 2, "new": 1, "active": 0, "at_risk": 0, "lapsed": 0}
    assert body["promoters"] == 1  # the referral was the day before the period
    assert (body["new_contacts"]["total"], body["new_contacts"]["by_source"]["web_form"]) == (1, 1)


def test_email_figures_and_the_top_campaigns_and_automations(api):
    template = EmailTemplate.objects.create(name="T", subject="S", html="<p>x</p>")
    spring = Campaign.objects.create(name="Spring", template=template)
    flow = Flow.objects.create(name="Welcome", trigger={"type": "event", "event": "signup"})
    for step in ("0", "1"):
        mail = Campaign.objects.create(name=f"Welcome {step}", template=template, kind=Campaign.Kind.FLOW)
        FlowMail.objects.create(flow=flow, step=step, campaign=mail)
        attribute(PurchaseFactory(purchased_at=local("2026-03-26", dt.time(9)), total=Decimal("40.00")), mail)
    attribute(PurchaseFactory(purchased_at=local("2026-03-26", dt.time(9)), total=Decimal("70.00")), spring)
    attribute(PurchaseFactory(purchased_at=local("2026-03-31", dt.time(0)), total=Decimal("99.00")), spring)

    body = api.get(URL, SPRING).json()

    assert body["email"] == {
        "sent": 3,
        "delivered": 3,
        "unique_opens": 0,
        "unique_clicks": 0,
        "attributed_revenue": "150.00",
    }
    assert body["top_campaigns"] == [{"id": spring.pk, "name": "Spring", "revenue": "70.00", "conversions": 1}]
    assert body["top_flows"] == [{"id": flow.pk, "name": "Welcome", "revenue": "80.00", "conversions": 2}]
    assert body["channel_romi"]["email"] == {"revenue": "150.00", "spend": "0.00", "romi": None}


# ------------------------------------------------------------------ the selector


def test_the_selector_answers_the_keys_of_the_contract_and_the_home_page():
    figures = kpis(Period(dt.date(2026, 3, 24), dt.date(2026, 3, 30)))
    assert set(figures) == {
        *("period", "funnel", "funnel_conversion", "lifecycle", "new_contacts", "revenue", "orders", "buyers"),
        *("aov", "frequency", "repeat_rate", "by_channel", "club_revenue_share", "retention", "users_share"),
        *("email", "promoters", "channel_romi", "top_campaigns", "top_flows", "previous"),
    }


def test_the_number_of_queries_does_not_grow_with_the_data():
    period = Period(dt.date(2026, 3, 24), dt.date(2026, 3, 30))
    with CaptureQueriesContext(connection) as empty:
        kpis(period)
    for n in range(5):
        PurchaseFactory(purchased_at=local("2026-03-25", dt.time(n)))
        ActivityFactory(contact=None, anonymous_id=f"v{n}", occurred_at=local("2026-03-25", dt.time(n)))
    with CaptureQueriesContext(connection) as full:
        kpis(period)
    assert len(full.captured_queries) == len(empty.captured_queries) <= 20
