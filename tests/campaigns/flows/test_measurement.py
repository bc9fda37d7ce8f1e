"""What a flow's mails sold and whether they made a difference: each mail step's attributed purchases and
revenue (in-store included) in the stats API, on the flow's page and in its diagram; the whole flow's money;
the holdout comparison over its enrollments; and a diagram whose queries do not grow with the purchases."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaigns import links, tracking
from campaigns.flows import engine
from campaigns.flows.diagram import flow_diagram
from campaigns.flows.enrollment import enroll
from campaigns.flows.models import Enrollment, Flow
from campaigns.flows.selectors import holdout_groups
from campaigns.models import Link, Message
from campaigns.reports.lift import Groups
from campaigns.tokens import message_token
from contacts.models import Channel, Contact
from contacts.services import purchase_record
from tests.factories import ContactFactory, PurchaseFactory, StoreFactory

pytestmark = pytest.mark.django_db

NOON = dt.datetime(2026, 3, 10, 12, 0, tzinfo=ZoneInfo("Asia/Jerusalem"))
HUMAN = tracking.Visitor(user_agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/128.0", ip="198.51.100.7")
FLOWS = "/api/v1/flows/"


def make_flow(steps, **fields) -> Flow:
    values = {"name": "Welcome", "trigger": {"type": "event", "event": "signup"}, **fields}
    return Flow.objects.create(steps=steps, status=Flow.Status.ACTIVE, **values)


def buy(contact: Contact, *, at: dt.datetime, total: str, channel: str, external_id: str) -> None:
    """A purchase through the service, so it is attributed as at ingestion."""
    purchase_record(
        contact=contact,
        source="shop",
        external_id=external_id,
        channel=channel,
        purchased_at=at,
        total=Decimal(total),
        currency="ILS",
        store=StoreFactory() if channel == Channel.IN_STORE else None,
        items=[],
    )


@pytest.fixture
def mail_flow(make_template, django_capture_on_commit_callbacks):
    """A flow that mails its contacts at once, then waits a day; run for the given contacts at noon."""
    # Link ids are remembered per process by campaign id and creation time: with the clock stopped at the
    # same noon in every test, a rolled-back campaign of an earlier test would lend this one its link id.
    links._link_id.cache_clear()

    def run(*contacts: Contact) -> Flow:
        flow = make_flow(
            [{"type": "send_email", "template": make_template(name="Welcome").pk}, {"type": "wait", "days": 1}]
        )
        with time_machine.travel(NOON, tick=False):
            enroll(flow=flow, contacts=Contact.objects.filter(pk__in=[contact.pk for contact in contacts]))
            with django_capture_on_commit_callbacks(execute=True):
                engine.tick(seconds=5)
        return flow

    return run


@pytest.fixture
def mailed(mail_flow):
    """The flow's mail reached two contacts: the first clicks it the next morning and buys in the store that
    afternoon (credited to the mail), the second buys online without touching it (not)."""
    clicker, other = ContactFactory(), ContactFactory()
    flow = mail_flow(clicker, other)
    message = Message.objects.get(contact=clicker, status=Message.Status.SENT)
    link = Link.objects.get(campaign=message.campaign)
    next_morning = NOON + dt.timedelta(hours=21)
    with time_machine.travel(next_morning, tick=False):
        assert tracking.record_click(token=message_token(message.pk), link_id=link.pk, visitor=HUMAN) is not None
    with time_machine.travel(next_morning + dt.timedelta(hours=5), tick=False):
        buy(clicker, at=next_morning + dt.timedelta(hours=4), total="120.50", channel=Channel.IN_STORE, external_id="a")
        buy(other, at=next_morning + dt.timedelta(hours=4), total="80.00", channel=Channel.ONLINE, external_id="b")
    return flow


def test_a_mail_step_shows_the_purchase_its_click_brought_in_the_api(make_client, mailed):
    stats = make_client("campaigns:read").get(f"{FLOWS}{mailed.pk}/stats/").json()

    mail, wait = stats["steps"]
    assert (mail["sent"], mail["unique_clicks"]) == (2, 1)
    assert (mail["conversions"], mail["converted_contacts"]) == (1, 1)
    assert (mail["revenue"], mail["in_store_revenue"]) == ("120.50", "120.50")
    assert mail["revenue_per_recipient"] == "60.25"  # over the two delivered mails
    assert mail["conversion_rate"] == 0.5
    assert "revenue" not in wait and "conversions" not in wait
    assert (stats["conversions"], stats["converted_contacts"]) == (1, 1)
    assert (stats["revenue"], stats["in_store_revenue"]) == ("120.50", "120.50")


def test_the_flow_page_shows_the_steps_purchases_and_revenue(login, mailed):
    response = login("Marketer").get(reverse("admin:flows_flow_change", args=[mailed.pk]))

    row = next(row for row in response.context["step_rows"] if row["step"] == "0")
    assert (row["conversions"], row["revenue"], row["in_store_revenue"]) == (1, Decimal("120.50"), Decimal("120.50"))
    page = response.content.decode()
    assert '<td class="flow-number flow-step-revenue">120.50</td>' in page
    assert '<td class="flow-number flow-step-in-store-revenue">120.50</td>' in page
    assert '<strong class="flow-revenue">120.50</strong>' in page
    assert "converted 1 · purchases 1" in page and "revenue 120.50 · in store 120.50" in page  # the diagram


def test_a_mail_step_that_mailed_nobody_shows_no_money(make_template, make_client):
    flow = make_flow([{"type": "send_email", "template": make_template().pk}])

    svg = str(flow_diagram(flow))
    step = make_client("campaigns:read").get(f"{FLOWS}{flow.pk}/stats/").json()["steps"][0]

    assert "converted" not in svg and "revenue" not in svg
    assert (step["conversions"], step["revenue"], step["revenue_per_recipient"]) == (None, None, None)


def test_the_diagram_costs_the_same_queries_with_purchases_or_without(mailed, mail_flow):
    quiet = mail_flow(ContactFactory())
    with CaptureQueriesContext(connection) as without:
        flow_diagram(quiet)
    with CaptureQueriesContext(connection) as with_money:
        svg = str(flow_diagram(mailed))

    assert len(with_money.captured_queries) == len(without.captured_queries) == 9
    assert "converted 1 · purchases 1" in svg


# ------------------------------------------------------------------ holdout


@pytest.fixture
def split():
    """Four enrollments mailed and two held out, entered at noon, with purchases inside the five-day window,
    at its edges and outside it."""
    flow = make_flow([{"type": "wait", "days": 1}], holdout_percent=30)
    edge = NOON + dt.timedelta(days=5)

    def enrolled(holdout: bool, *purchases: tuple[dt.datetime, str], contact=None, entered=NOON) -> Contact:
        contact = contact or ContactFactory()
        Enrollment.objects.create(
            flow=flow, contact=contact, holdout=holdout, entered_at=entered, state=Enrollment.State.COMPLETED
        )
        for at, total in purchases:
            PurchaseFactory(contact=contact, purchased_at=at, total=Decimal(total))
        return contact

    # Both ends of the window count: 100 + 30 + 50 for the first entry; entering again a day later, its
    # window holds the 30 and the 50 (at its start and inside it) and is counted again, as an enrollment.
    twice = enrolled(False, (NOON, "100.00"), (NOON + dt.timedelta(days=1), "30.00"), (edge, "50.00"))
    enrolled(False, contact=twice, entered=NOON + dt.timedelta(days=1))
    enrolled(False, (NOON - dt.timedelta(seconds=1), "999.00"), (edge + dt.timedelta(seconds=1), "999.00"))
    enrolled(False)
    enrolled(True, (NOON + dt.timedelta(days=2), "40.00"))
    enrolled(True)
    PurchaseFactory(contact=ContactFactory(), purchased_at=NOON, total=Decimal("500.00"))  # never enrolled
    return flow


def test_holdout_groups_count_who_bought_within_the_window_after_entering(split):
    groups = holdout_groups(split)

    assert groups == Groups(
        treated=4,
        treated_converted=2,
        treated_revenue=Decimal("260.00"),
        holdout=2,
        holdout_converted=1,
        holdout_revenue=Decimal("40.00"),
    )


def test_the_holdout_comparison_is_in_the_api_and_on_the_page(split, make_client, login):
    stats = make_client("campaigns:read").get(f"{FLOWS}{split.pk}/stats/").json()

    assert (stats["treated_size"], stats["holdout_size"]) == (4, 2)
    assert (stats["treated_conversion_rate"], stats["holdout_conversion_rate"], stats["lift"]) == (0.5, 0.5, 0.0)
    assert stats["incremental_revenue"] == "180.00"  # (260 / 4 − 40 / 2) × 4
    low, high = stats["lift_ci95"]
    assert low < 0 < high
    assert stats["verdict"] == "no_effect"
    page = login("Analyst").get(reverse("admin:flows_flow_change", args=[split.pk])).content.decode()
    assert 'id="flow-holdout"' in page and "No measurable effect yet" in page
    assert '<strong class="flow-incremental-revenue">180.00</strong>' in page


def test_a_flow_without_holdout_says_there_is_nothing_to_compare(make_client):
    flow = make_flow([{"type": "wait", "days": 1}])
    Enrollment.objects.create(flow=flow, contact=ContactFactory())

    stats = make_client("campaigns:read").get(f"{FLOWS}{flow.pk}/stats/").json()

    assert (stats["verdict"], stats["lift"], stats["lift_ci95"], stats["incremental_revenue"]) == (
        "no_holdout",
        None,
        None,
        None,
    )
    assert (stats["revenue"], stats["conversions"]) == ("0.00", 0)


def test_the_schema_publishes_money_as_decimal_strings():
    from rest_framework.test import APIClient

    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()["components"]["schemas"]

    step = schema["StepNumbers"]["properties"]
    assert (step["revenue"]["type"], step["revenue"]["format"], step["revenue"].get("nullable")) == (
        "string",
        "decimal",
        True,
    )
    flow = schema["FlowStats"]["properties"]
    assert (flow["revenue"]["type"], flow["revenue"]["format"]) == ("string", "decimal")
    assert flow["incremental_revenue"]["nullable"] and flow["lift_ci95"]["nullable"]
