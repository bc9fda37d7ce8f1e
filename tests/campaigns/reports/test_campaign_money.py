"""What a campaign earned and whether its mail made a difference (CONTRACT §7): attributed purchases online and
in store, ROMI from the campaign's cost, the holdout drawn at send time and the comparison with it, through the
sending service, the tracking code, the purchase service and the stats API."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail as django_mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns import links, tracking
from campaigns.models import Campaign, EmailTemplate, Link, Message
from campaigns.reports import campaigns as campaigns_report
from campaigns.reports.campaigns import campaigns_money, holdout_groups
from campaigns.selectors import campaign_stats
from campaigns.tokens import message_token
from contacts.models import Channel, Contact
from contacts.services import purchase_record
from tests.factories import ContactFactory, StoreFactory

pytestmark = pytest.mark.django_db

NOON = dt.datetime(2026, 3, 10, 12, 0, tzinfo=ZoneInfo("Asia/Jerusalem"))
HUMAN = tracking.Visitor(user_agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/128.0", ip="198.51.100.7")
STATS = "/api/v1/campaigns/{}/stats/"


def buy(contact: Contact, *, at: dt.datetime, total: str, channel: str = Channel.ONLINE) -> None:
    """A purchase through the service, so it is attributed as at ingestion."""
    purchase_record(
        contact=contact,
        source="shop",
        external_id=None,
        channel=channel,
        purchased_at=at,
        total=Decimal(total),
        currency="ILS",
        store=StoreFactory() if channel == Channel.IN_STORE else None,
        items=[],
    )


def click(message: Message, *, at: dt.datetime) -> None:
    link = Link.objects.get(campaign=message.campaign)
    with time_machine.travel(at, tick=False):
        assert tracking.record_click(token=message_token(message.pk), link_id=link.pk, visitor=HUMAN) is not None


@pytest.fixture
def send(make_campaign, run_campaign):
    """Send a campaign to `contacts` at noon (links registered, messages sent, the holdout drawn)."""
    # Link ids are remembered per process by campaign id and creation time: with the clock stopped at the same
    # noon in every test, a rolled-back campaign of an earlier test would lend this one its link id.
    links._link_id.cache_clear()

    def run(contacts, **fields) -> Campaign:
        with time_machine.travel(NOON, tick=False):
            return run_campaign(make_campaign(contacts, **fields))

    return run


@pytest.fixture
def earned(send):
    """Three recipients: one clicks and buys online and in the store, one buys without touching the mail, one
    does nothing. The campaign cost 100."""
    clicker, other, idle = ContactFactory.create_batch(3)
    campaign = send([clicker, other, idle], cost=Decimal("100"))
    click(campaign.messages.get(contact=clicker), at=NOON + dt.timedelta(hours=2))
    buy(clicker, at=NOON + dt.timedelta(hours=3), total="150.00")
    buy(clicker, at=NOON + dt.timedelta(days=1), total="90.50", channel=Channel.IN_STORE)
    buy(other, at=NOON + dt.timedelta(hours=3), total="500.00")
    return campaign


def test_attributed_online_and_in_store_purchases_make_the_revenue(earned):
    stats = campaign_stats(earned)

    assert (stats["conversions"], stats["converted_contacts"]) == (2, 1)
    assert stats["revenue"] == Decimal("240.50")
    assert stats["in_store_revenue"] == Decimal("90.50")
    assert stats["conversion_rate"] == 0.3333  # one converted contact of three delivered
    assert stats["revenue_per_recipient"] == Decimal("80.17")
    assert stats["cost"] == Decimal("100.00")
    assert stats["romi"] == 1.405  # (240.50 − 100) / 100


def test_the_stats_api_answers_money_as_decimal_strings(make_client, earned):
    stats = make_client("campaigns:read").get(STATS.format(earned.pk)).json()

    assert (stats["revenue"], stats["in_store_revenue"], stats["cost"]) == ("240.50", "90.50", "100.00")
    assert stats["revenue_per_recipient"] == "80.17"
    assert stats["romi"] == 1.405 and stats["conversion_rate"] == 0.3333
    assert stats["holdout_size"] == 0 and stats["verdict"] == "no_holdout"
    assert stats["lift"] is None and stats["lift_ci95"] is None and stats["incremental_revenue"] is None
    assert stats["treated_conversion_rate"] == 0.6667  # clicker and other bought within five days


def test_romi_is_null_when_the_campaign_cost_nothing(send):
    buyer = ContactFactory()
    campaign = send([buyer])
    click(campaign.messages.get(), at=NOON + dt.timedelta(hours=1))
    buy(buyer, at=NOON + dt.timedelta(hours=2), total="70.00")

    stats = campaign_stats(campaign)

    assert stats["cost"] == Decimal("0.00") and stats["revenue"] == Decimal("70.00")
    assert stats["romi"] is None


def test_a_campaign_nothing_was_delivered_of_has_zeros_and_nulls(make_client, make_campaign):
    campaign = make_campaign([ContactFactory()], cost=Decimal("50"))

    stats = make_client("campaigns:read").get(STATS.format(campaign.pk)).json()

    assert (stats["conversions"], stats["revenue"], stats["in_store_revenue"]) == (0, "0.00", "0.00")
    assert stats["conversion_rate"] is None and stats["revenue_per_recipient"] is None
    assert stats["romi"] == -1.0  # all of the cost, nothing back
    assert stats["treated_conversion_rate"] is None and stats["verdict"] == "no_holdout"


def test_campaigns_money_answers_for_many_campaigns_in_one_query(earned, send):
    quiet = send([ContactFactory()])

    with CaptureQueriesContext(connection) as queries:
        money = campaigns_money([earned.pk, quiet.pk])

    assert len(queries) == 1
    assert money[earned.pk]["revenue"] == Decimal("240.50") and money[earned.pk]["conversions"] == 2
    assert money[quiet.pk] == {
        "conversions": 0,
        "converted_contacts": 0,
        "revenue": Decimal("0.00"),
        "in_store_revenue": Decimal("0.00"),
        "cost": Decimal("0.00"),
        "romi": None,
    }
    assert campaigns_money([]) == {}


# ------------------------------------------------------------------ holdout at send time


def test_held_out_contacts_are_recorded_and_never_mailed(send):
    contacts = ContactFactory.create_batch(200)

    campaign = send(contacts, holdout_percent=20)

    held = set(campaign.messages.filter(status=Message.Status.HOLDOUT).values_list("contact__email", flat=True))
    mailed = {address for message in django_mail.outbox for address in message.to}
    assert 20 <= len(held) <= 60  # about 20 % of 200
    assert held.isdisjoint(mailed)
    assert len(held) + len(mailed) == 200
    assert campaign.status == Campaign.Status.SENT


def test_the_holdout_draw_is_the_same_every_time_for_a_campaign(send):
    contacts = ContactFactory.create_batch(100)

    campaign = send(contacts, holdout_percent=30)

    held = set(campaign.messages.filter(status=Message.Status.HOLDOUT).values_list("contact_id", flat=True))
    drawn = {c.pk for c in contacts if (c.pk * 2654435761 + campaign.pk * 40503) % 100 < 30}
    assert held == drawn


@pytest.mark.parametrize(
    "percent, error",
    [
        (60, "The holdout may be at most 50 percent of the recipients."),
        (-1, "The holdout cannot be negative."),
    ],
)
def test_the_api_refuses_a_holdout_outside_0_to_50_naming_the_field(
    make_client, make_template, static_segment, percent, error
):
    body = {
        "name": "Sale",
        "template": make_template().pk,
        "segments": [static_segment([ContactFactory()]).pk],
        "holdout_percent": percent,
    }

    response = make_client("campaigns:write").post("/api/v1/campaigns/", body, format="json")

    assert response.status_code == 400
    assert response.json()["holdout_percent"] == [error]


def test_the_api_keeps_a_holdout_percent(make_client, make_template, static_segment):
    body = {"name": "Sale", "template": make_template().pk, "segments": [static_segment([ContactFactory()]).pk]}

    created = make_client("campaigns:write").post("/api/v1/campaigns/", {**body, "holdout_percent": 50}, format="json")

    assert created.status_code == 201 and created.json()["holdout_percent"] == 50


def test_no_holdout_percent_mails_everyone(send):
    campaign = send(ContactFactory.create_batch(20))

    assert not campaign.messages.filter(status=Message.Status.HOLDOUT).exists()
    assert len(django_mail.outbox) == 20


# ------------------------------------------------------------------ the comparison


@pytest.fixture
def compared():
    """100 delivered recipients of whom 20 bought (100 each), 100 held out of whom 10 bought (100 each), all
    within the five days after the start; and purchases outside the window or by others, which do not count."""
    template = EmailTemplate.objects.create(name="Sale", subject="Hi", html="<p>Hi</p>")
    campaign = Campaign.objects.create(
        name="Sale", template=template, status=Campaign.Status.SENT, started_at=NOON, holdout_percent=50
    )
    for n, status in enumerate([Message.Status.SENT] * 100 + [Message.Status.HOLDOUT] * 100):
        contact = ContactFactory()
        Message.objects.create(campaign=campaign, contact=contact, status=status)
        if n < 20 or 100 <= n < 110:
            buy(contact, at=NOON + dt.timedelta(days=n % 5), total="100.00")
        if n == 30:
            buy(contact, at=NOON - dt.timedelta(minutes=1), total="999.00")  # before the start
        if n == 31:
            buy(contact, at=NOON + dt.timedelta(days=5, seconds=1), total="999.00")  # after the window
    buy(ContactFactory(), at=NOON + dt.timedelta(hours=1), total="999.00")  # not a recipient
    bounced = Message.objects.create(
        campaign=campaign, contact=ContactFactory(), status=Message.Status.SENT, bounced_at=NOON
    )
    buy(bounced.contact, at=NOON + dt.timedelta(hours=1), total="999.00")  # not delivered
    return campaign


def test_lift_interval_and_incremental_revenue_follow_the_contract(compared):
    stats = campaign_stats(compared)

    assert stats["holdout_size"] == 100
    assert (stats["treated_conversion_rate"], stats["holdout_conversion_rate"]) == (0.2, 0.1)
    assert stats["lift"] == 1.0
    # d = 0.1 ± 1.96 · √(0.2 · 0.8 / 100 + 0.1 · 0.9 / 100) = 0.1 ± 1.96 · 0.05
    assert stats["lift_ci95"] == [0.002, 0.198]
    assert stats["incremental_revenue"] == Decimal("1000.00")  # (20 − 10 per contact) × 100 delivered
    assert stats["verdict"] == "positive"
    assert "made a difference" in stats["verdict_text"]


def test_a_purchase_at_the_very_end_of_the_window_counts(compared):
    late = Message.objects.filter(campaign=compared, status=Message.Status.HOLDOUT)[50]
    buy(late.contact, at=NOON + dt.timedelta(days=5), total="10.00")

    groups = holdout_groups(compared, delivered=100, held_out=100)

    assert (groups.holdout_converted, groups.holdout_revenue) == (11, Decimal("1010.00"))
    assert (groups.treated_converted, groups.treated_revenue) == (20, Decimal("2000.00"))


def test_the_holdout_numbers_in_the_api_are_typed(make_client, compared):
    stats = make_client("campaigns:read").get(STATS.format(compared.pk)).json()

    assert stats["lift_ci95"] == [0.002, 0.198]
    assert stats["incremental_revenue"] == "1000.00"
    assert stats["verdict"] == "positive" and stats["verdict_text"]


def test_a_small_holdout_says_there_is_no_measurable_effect_yet(send):
    campaign = send(ContactFactory.create_batch(40), holdout_percent=25)
    held = campaign.messages.filter(status=Message.Status.HOLDOUT)
    mailed = campaign.messages.filter(status=Message.Status.SENT)
    for message in [*mailed[:2], held[0]]:
        buy(message.contact, at=NOON + dt.timedelta(hours=5), total="20.00")

    stats = campaign_stats(campaign)

    assert stats["verdict"] == "no_effect"
    low, high = stats["lift_ci95"]
    assert low < 0 < high
    assert "interval" in stats["verdict_text"] and "includes 0" in stats["verdict_text"]


def test_the_comparison_costs_one_query_over_the_purchases_whatever_their_number(compared):
    with CaptureQueriesContext(connection) as queries:
        campaign_stats(compared)

    assert len(queries) == 4  # the tallies of messages and of events, attributed money, purchases of the window


def test_a_big_campaigns_buyers_find_their_messages_by_index_with_the_same_counts(compared, monkeypatch):
    counted_in_one_pass = holdout_groups(compared, delivered=100, held_out=100)
    monkeypatch.setattr(campaigns_report, "PROBE_FROM", 1)

    with CaptureQueriesContext(connection) as queries:
        looked_up = holdout_groups(compared, delivered=100, held_out=100)

    assert looked_up == counted_in_one_pass
    assert (looked_up.treated_converted, looked_up.holdout_converted) == (20, 10)
    assert ("= ANY(ARRAY(" in queries[0]["sql"]) is (connection.vendor == "postgresql")


def test_the_index_lookup_sums_each_buyers_purchases_and_counts_each_message_as_the_one_pass_does(
    compared, monkeypatch
):
    first, second = compared.messages.filter(status=Message.Status.SENT).order_by("pk")[:2]
    buy(first.contact, at=NOON + dt.timedelta(hours=6), total="50.00")  # 150 in the window
    Message.objects.create(campaign=compared, contact=second.contact, status=Message.Status.SENT, occurrence=1)
    counted_in_one_pass = holdout_groups(compared, delivered=101, held_out=100)
    monkeypatch.setattr(campaigns_report, "PROBE_FROM", 1)

    looked_up = holdout_groups(compared, delivered=101, held_out=100)

    assert looked_up == counted_in_one_pass
    assert (looked_up.treated_converted, looked_up.treated_revenue) == (21, Decimal("2150.00"))
    assert (looked_up.holdout_converted, looked_up.holdout_revenue) == (10, Decimal("1000.00"))


def test_the_schema_publishes_money_as_decimal_strings_and_the_interval_as_a_pair(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    fields = schema["components"]["schemas"]["CampaignStats"]["properties"]
    assert fields["revenue"]["type"] == "string" and fields["revenue"]["format"] == "decimal"
    assert fields["revenue_per_recipient"].get("nullable") is True
    assert fields["romi"]["type"] == "number" and fields["romi"].get("nullable") is True
    assert fields["lift_ci95"]["type"] == "array" and fields["lift_ci95"]["maxItems"] == 2
    assert fields["lift_ci95"].get("nullable") is True
    verdict = schema["components"]["schemas"][fields["verdict"]["allOf"][0]["$ref"].rpartition("/")[2]]
    assert set(verdict["enum"]) == {"no_holdout", "waiting", "no_effect", "positive", "negative"}
