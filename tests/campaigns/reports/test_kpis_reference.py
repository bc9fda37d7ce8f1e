"""`GET /reports/kpis/` agrees with the plain-Python reading of CONTRACT §8 on random small data sets.

Every moment sits on or near a period's edge (the first and last day, the day before and after, the edges of
the previous periods) at local times around midnight, on periods that cross Israel's daylight-saving changes,
so a figure that took UTC days, or filtered one instant too wide, disagrees. The data sets mix in-store, app
and online purchases, club members active or not, erased contacts, anonymous visitors linked to a contact or
not, machine opens and clicks, bounced, failed and held-out mail, and empty periods (nulls, not zeros). Runs
on SQLite and on PostgreSQL alike.
"""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings as django_settings
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns.flows.models import Flow, FlowMail
from campaigns.models import Campaign, EmailTemplate, Message
from campaigns.reports.models import Spend
from contacts.models import Activity, Contact, LoyaltyMember, Purchase, VisitorIdentity
from contacts.services import contacts_refresh_purchase_stats
from tests.campaigns.tracked import tracked

from .credited import credit
from .kpi_reference import SOURCES, Reference, load

pytestmark = pytest.mark.django_db

# Israel's clocks go forward on 27 March 2026 and back on 25 October 2026; a new year and a month's end.
ANCHORS = [dt.date(2026, 3, 27), dt.date(2026, 10, 25), dt.date(2026, 1, 1), dt.date(2026, 2, 28)]
LENGTHS = [1, 2, 3, 7, 31]
# Around midnight, and inside the hour that does not exist (spring) or happens twice (autumn).
TIMES = [
    dt.time(0, 0),
    dt.time(0, 0, 0, 1),
    dt.time(0, 30),
    dt.time(1, 30),
    dt.time(2, 30),
    dt.time(12, 0),
    dt.time(23, 59),
    dt.time(23, 59, 59, 999999),
]
TOTALS = [Decimal(v) for v in ("0.00", "0.01", "49.90", "120.00", "350.50", "999.99")]
ANONYMOUS = ["visitor-1", "visitor-2", "visitor-3"]
UTM = ["", "", "facebook", "Facebook", "google", "email"]
MEMBERSHIP = [None, None, "active", "suspended", "cancelled"]
MESSAGE_STATES = ["sent", "sent", "sent", "failed", "holdout", "skipped"]


@pytest.fixture
def campaigns():
    """Two campaigns and an automation with two mail steps, for messages and attributions to point at."""
    template = EmailTemplate.objects.create(name="T", subject="S", html="<p>x</p>")
    flow = Flow.objects.create(name="Welcome", trigger={"type": "event", "event": "signup"})
    made = [
        Campaign.objects.create(name="Spring", template=template),
        Campaign.objects.create(name="Summer", template=template),
    ]
    for step in ("0", "1"):
        mail = Campaign.objects.create(name=f"Welcome {step}", template=template, kind=Campaign.Kind.FLOW)
        FlowMail.objects.create(flow=flow, step=step, campaign=mail)
        made.append(mail)
    return made


def _zone() -> ZoneInfo:
    return ZoneInfo(django_settings.TIME_ZONE)


@st.composite
def periods(draw) -> tuple[dt.date, dt.date]:
    start = draw(st.sampled_from(ANCHORS)) + dt.timedelta(days=draw(st.integers(-2, 2)))
    return start, start + dt.timedelta(days=draw(st.sampled_from(LENGTHS)) - 1)


def moments(start: dt.date, end: dt.date):
    """Local times on the days around the period's edges and those of the two periods before it."""
    days = (end - start).days + 1
    edges = {start - dt.timedelta(days=n) for n in (2 * days + 1, 2 * days, days + 1, days, 1, 0)}
    edges |= {end, end + dt.timedelta(days=1), start + dt.timedelta(days=days // 2)}
    return st.builds(
        lambda day, time: dt.datetime.combine(day, time, tzinfo=_zone()),
        st.sampled_from(sorted(edges)),
        st.sampled_from(TIMES),
    )


def build(data, start: dt.date, end: dt.date, campaigns: list[Campaign]) -> None:
    """A random small data set written straight to the tables (derived contact columns refreshed after)."""
    when = moments(start, end)
    contacts = [
        Contact.objects.create(
            email=f"c{i}@example.com",
            email_opt_in=data.draw(st.booleans()),
            sms_opt_in=data.draw(st.booleans()),
            source=data.draw(st.sampled_from([*SOURCES, ""])),
            signed_up_at=data.draw(st.none() | when),
            erased_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC) if data.draw(st.integers(0, 5)) == 0 else None,
        )
        for i in range(data.draw(st.integers(0, 6)))
    ]
    for i, contact in enumerate(contacts):
        status = data.draw(st.sampled_from(MEMBERSHIP))
        if status:
            LoyaltyMember.objects.create(contact=contact, card_number=f"card-{i}", status=status)
    if not contacts:
        _anonymous_events(data, when, [])
        return
    pick = st.sampled_from(contacts)
    purchases = [
        Purchase.objects.create(
            contact=data.draw(pick),
            channel=data.draw(st.sampled_from(["online", "in_store", "app"])),
            purchased_at=data.draw(when),
            total=data.draw(st.sampled_from(TOTALS)),
            utm_source=data.draw(st.sampled_from(UTM)),
        )
        for _n in range(data.draw(st.integers(0, 10)))
    ]
    for _n in range(data.draw(st.integers(0, 6))):
        Activity.objects.create(
            contact=data.draw(pick), type=data.draw(st.sampled_from(Activity.Type.values)), occurred_at=data.draw(when)
        )
    _anonymous_events(data, when, contacts)
    messages = _mail(data, when, pick, campaigns)
    _attributions(data, purchases, messages)
    _spend(data, start, end)
    contacts_refresh_purchase_stats(contact_ids=[c.pk for c in contacts])


def _anonymous_events(data, when, contacts: list[Contact]) -> None:
    for _n in range(data.draw(st.integers(0, 5))):
        anonymous_id = data.draw(st.none() | st.sampled_from(ANONYMOUS))
        Activity.objects.create(
            contact=None,
            anonymous_id=anonymous_id,
            type=data.draw(st.sampled_from(Activity.Type.values)),
            occurred_at=data.draw(when),
        )
    if contacts:
        for anonymous_id in data.draw(st.lists(st.sampled_from(ANONYMOUS), unique=True, max_size=2)):
            VisitorIdentity.objects.create(anonymous_id=anonymous_id, contact=data.draw(st.sampled_from(contacts)))


def _mail(data, when, pick, campaigns: list[Campaign]) -> list[Message]:
    messages = []
    for occurrence in range(data.draw(st.integers(0, 8))):
        status = data.draw(st.sampled_from(MESSAGE_STATES))
        sent_at = data.draw(when) if status == "sent" else None
        message = Message.objects.create(
            campaign=data.draw(st.sampled_from(campaigns)),
            contact=data.draw(pick),
            occurrence=occurrence,
            status=status,
            sent_at=sent_at,
            bounced_at=sent_at if sent_at and data.draw(st.booleans()) else None,
        )
        for kind, machine in data.draw(
            st.lists(st.tuples(st.sampled_from(["open", "click"]), st.booleans()), max_size=3)
        ):
            tracked(message, kind, machine=machine, at=sent_at or data.draw(when))
        messages.append(message)
    return messages


def _attributions(data, purchases: list[Purchase], messages: list[Message]) -> None:
    if not (purchases and messages):
        return
    for purchase in data.draw(st.lists(st.sampled_from(purchases), unique_by=lambda p: p.pk, max_size=6)):
        credit(purchase, data.draw(st.sampled_from(messages)))


def _spend(data, start: dt.date, end: dt.date) -> None:
    months = sorted({(start - dt.timedelta(days=1)).replace(day=1), start.replace(day=1), end.replace(day=1)})
    rows = st.tuples(st.sampled_from(["email", "facebook", "google"]), st.sampled_from(months))
    for channel, month in data.draw(st.lists(rows, unique=True, min_size=1, max_size=3)):
        amount = data.draw(st.sampled_from([Decimal("0"), Decimal("100"), Decimal("310.00"), Decimal("99.99")]))
        Spend.objects.create(channel=channel, month=month, amount=amount)


@given(data=st.data(), period=periods(), later=st.sampled_from([0, 1, 40, 100, 200]))
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_answers_what_the_reference_computes(make_client, campaigns, data, period, later):
    start, end = period
    now = dt.datetime.combine(end + dt.timedelta(days=later), dt.time(12, 0), tzinfo=_zone())
    client = make_client("campaigns:read")
    with transaction.atomic(), time_machine.travel(now, tick=False):
        # Each example writes inside a savepoint rolled back afterwards, so it sees its own rows only.
        try:
            build(data, start, end, campaigns)
            answer = client.get("/api/v1/reports/kpis/", {"from": start.isoformat(), "to": end.isoformat()})
            assert answer.status_code == 200, answer.content
            assert answer.json() == Reference(load(), now).kpis(start, end)
        finally:
            transaction.set_rollback(True)
