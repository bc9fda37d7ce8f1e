"""Campaign report numbers (CONTRACT §4) on hand-built messages and tracking events."""

import datetime as dt

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns.models import Campaign, EmailTemplate, Link, Message, TrackingEvent
from campaigns.selectors import (
    MAIL_FIELDS,
    RECIPIENT_STATES,
    STATS_FIELDS,
    campaign_progress,
    campaign_recipients,
    campaign_stats,
    campaigns_stats,
    clicks_per_link,
    opens_clicks_over_time,
    recipients_page,
)
from tests.campaigns.tracked import tracked
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db
START = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def campaign():
    template = EmailTemplate.objects.create(name="Spring", subject="Hi", html="<p>Hi</p>")
    return Campaign.objects.create(name="Spring sale", template=template, status=Campaign.Status.SENT, started_at=START)


def message(campaign, status=Message.Status.SENT, **fields):
    return Message.objects.create(campaign=campaign, contact=ContactFactory(), status=status, **fields)


def event(msg, kind, *, machine=False, at=None, link=None):
    return tracked(msg, kind, machine=machine, at=at or START, link=link)


def opened(msg, times=1, machine=False, at=None):
    for _n in range(times):
        event(msg, TrackingEvent.Kind.OPEN, machine=machine, at=at)


def clicked(msg, times=1, machine=False, link=None, at=None):
    for _n in range(times):
        event(msg, TrackingEvent.Kind.CLICK, machine=machine, link=link, at=at)


def test_a_campaign_with_no_messages_has_zero_counts_and_null_rates(campaign):
    stats = campaign_stats(campaign)

    assert tuple(stats) == STATS_FIELDS
    assert stats["recipients"] == stats["sent"] == stats["opens"] == 0
    assert stats["open_rate"] is None
    assert stats["click_rate"] is None
    assert stats["click_to_open_rate"] is None


def test_it_counts_delivery_states_and_reactions(campaign):
    a, b, c = message(campaign), message(campaign), message(campaign)
    message(campaign, Message.Status.FAILED, error="550 no such user")
    message(campaign, Message.Status.SKIPPED, skip_reason=Message.SkipReason.NO_CONSENT)
    message(campaign, Message.Status.QUEUED)
    a.unsubscribed_at = b.complained_at = timezone.now()
    a.save()
    b.save()
    c.bounced_at = timezone.now()
    c.save()

    stats = campaign_stats(campaign)

    assert (stats["recipients"], stats["sent"], stats["failed"], stats["skipped"]) == (6, 3, 1, 1)
    assert (stats["bounced"], stats["complaints"], stats["unsubscribes"]) == (1, 1, 1)


def test_rates_follow_the_contract_formulas(campaign):
    messages = [message(campaign) for _n in range(5)]
    opened(messages[0], times=3)
    opened(messages[1])
    opened(messages[2])
    clicked(messages[0], times=2)
    clicked(messages[1])

    stats = campaign_stats(campaign)

    assert stats["opens"] == 5
    assert stats["unique_opens"] == 3
    assert stats["clicks"] == 3
    assert stats["unique_clicks"] == 2
    assert stats["open_rate"] == 0.6
    assert stats["click_rate"] == 0.4
    assert stats["click_to_open_rate"] == 0.6667


def test_machine_opens_are_counted_apart_and_not_as_unique_opens(campaign):
    proxy_only, human = message(campaign), message(campaign)
    opened(proxy_only, times=2, machine=True)
    opened(human, machine=True)
    opened(human)

    stats = campaign_stats(campaign)

    assert stats["machine_opens"] == 3
    assert stats["opens"] == 1
    assert stats["unique_opens"] == 1
    assert stats["open_rate"] == 0.5


def test_scanner_clicks_are_not_clicks(campaign):
    msg = message(campaign)
    clicked(msg, times=3, machine=True)

    stats = campaign_stats(campaign)

    assert stats["clicks"] == stats["unique_clicks"] == 0
    assert stats["click_rate"] == 0.0
    assert stats["click_to_open_rate"] is None


def test_bounces_reduce_the_delivered_base_of_the_rates(campaign):
    reader = message(campaign)
    message(campaign, bounced_at=timezone.now(), bounce_type="hard")
    message(campaign, bounced_at=timezone.now(), bounce_type="soft")
    message(campaign)
    opened(reader)

    stats = campaign_stats(campaign)

    assert stats["open_rate"] == 0.5  # 1 unique open / (4 sent − 2 bounced)


def test_every_message_bounced_makes_the_rates_null(campaign):
    message(campaign, bounced_at=timezone.now())

    stats = campaign_stats(campaign)

    assert stats["open_rate"] is None and stats["click_rate"] is None


def test_other_campaigns_do_not_leak_into_the_stats(campaign):
    other = Campaign.objects.create(name="Other", template=campaign.template)
    opened(message(other))
    message(campaign)

    stats = campaign_stats(campaign)

    assert stats["recipients"] == 1 and stats["opens"] == 0


def test_stats_take_four_queries_whatever_the_number_of_messages(campaign):
    for _n in range(30):
        opened(message(campaign))
    message(campaign, Message.Status.HOLDOUT)

    with CaptureQueriesContext(connection) as queries:
        campaign_stats(campaign)

    # the tallies of messages and of events, attributed money, the purchases of the holdout window
    assert len(queries) == 4


def test_many_campaigns_stats_are_the_mail_numbers_of_each(campaign):
    other = Campaign.objects.create(name="Other", template=campaign.template)
    opened(message(campaign))
    message(other)

    stats = campaigns_stats([campaign.pk, other.pk])

    assert tuple(stats[campaign.pk]) == MAIL_FIELDS
    assert (stats[campaign.pk]["unique_opens"], stats[other.pk]["sent"]) == (1, 1)
    assert stats[other.pk]["open_rate"] == 0.0


def test_held_out_recipients_are_counted_apart_and_done_for_the_progress(campaign):
    message(campaign)
    message(campaign, Message.Status.HOLDOUT)
    message(campaign, Message.Status.HOLDOUT)

    stats = campaign_stats(campaign)
    progress = campaign_progress(campaign)

    assert (stats["recipients"], stats["sent"], stats["holdout_size"]) == (3, 1, 2)
    assert stats["open_rate"] == 0.0  # the base is the one delivered mail, not the held-out ones
    assert (progress["held_out"], progress["done"], progress["percent"]) == (2, 3, 100.0)


def test_over_time_is_hourly_for_two_days_then_daily(campaign):
    reader = message(campaign)
    opened(reader, at=START + dt.timedelta(minutes=10))
    opened(reader, at=START + dt.timedelta(minutes=20), machine=True)
    clicked(reader, at=START + dt.timedelta(hours=3, minutes=5))
    opened(reader, at=START + dt.timedelta(days=4, hours=2))

    series = opens_clicks_over_time(campaign, now=START + dt.timedelta(days=5))

    hourly = [b for b in series if b.hours == 1]
    daily = [b for b in series if b.hours == 24]
    assert len(hourly) == 48
    assert (hourly[0].opens, hourly[0].machine_opens, hourly[0].clicks) == (1, 1, 0)
    assert hourly[3].clicks == 1
    assert sum(b.opens for b in daily) == 1
    assert sum(b.opens for b in series) == 2
    assert all(b.start.tzinfo for b in series)


def test_over_time_can_be_asked_in_days_only(campaign):
    reader = message(campaign)
    opened(reader, at=START + dt.timedelta(hours=1))
    opened(reader, at=START + dt.timedelta(days=1, hours=1))

    series = opens_clicks_over_time(campaign, "day", now=START + dt.timedelta(days=2))

    assert {b.hours for b in series} == {24}
    assert sum(b.opens for b in series) == 2


def test_over_time_in_a_zone_half_an_hour_off_utc_counts_by_that_zones_own_hours(campaign, settings):
    settings.TIME_ZONE = "Asia/Kolkata"  # UTC+5:30: START, 9:00 UTC, is 14:30 there
    reader = message(campaign)
    opened(reader, at=START + dt.timedelta(minutes=10))  # 14:40
    opened(reader, at=START + dt.timedelta(minutes=40))  # 15:10

    series = opens_clicks_over_time(campaign, "hour", now=START + dt.timedelta(hours=2))

    assert [(timezone.localtime(b.start).hour, b.opens) for b in series[:3]] == [(14, 1), (15, 1), (16, 0)]


def test_a_campaign_not_started_has_no_series(campaign):
    campaign.started_at = None
    campaign.save()

    assert opens_clicks_over_time(campaign) == []


def test_clicks_per_link_counts_humans_and_scanners_apart(campaign):
    shop = Link.objects.create(campaign=campaign, url="https://shop.example.com/", url_hash="a")
    blog = Link.objects.create(campaign=campaign, url="https://blog.example.com/", url_hash="b")
    first, second = message(campaign), message(campaign)
    clicked(first, times=2, link=shop)
    clicked(second, link=shop)
    clicked(second, link=blog, machine=True)

    rows = {link.url: link for link in clicks_per_link(campaign)}

    assert (rows[shop.url].clicks, rows[shop.url].unique_clicks, rows[shop.url].machine_clicks) == (3, 2, 0)
    assert (rows[blog.url].clicks, rows[blog.url].machine_clicks) == (0, 1)
    assert next(iter(clicks_per_link(campaign))) == shop


def test_each_recipient_has_the_most_telling_state(campaign):
    now = timezone.now()
    states = {
        "clicked": message(campaign, first_opened_at=now, first_clicked_at=now),
        "opened": message(campaign, first_opened_at=now),
        "bounced": message(campaign, bounced_at=now),
        "unsubscribed": message(campaign, first_opened_at=now, unsubscribed_at=now),
        "delivered": message(campaign),
        "skipped": message(campaign, Message.Status.SKIPPED, skip_reason=Message.SkipReason.UNSUBSCRIBED),
        "held_out": message(campaign, Message.Status.HOLDOUT),
        "pending": message(campaign, Message.Status.QUEUED),
    }

    found = {m.pk: m.state for m in campaign_recipients(campaign)}

    assert found == {m.pk: state for state, m in states.items()}
    assert [m.pk for m in campaign_recipients(campaign, state="opened")] == [states["opened"].pk]
    assert [m.pk for m in campaign_recipients(campaign, state="held_out")] == [states["held_out"].pk]


def test_each_state_filter_finds_exactly_the_messages_shown_in_that_state(campaign):
    now = timezone.now()
    # Messages meeting several rules, so each filter has to leave out what an earlier rule claims.
    for fields in (
        {"first_opened_at": now, "first_clicked_at": now, "complained_at": now, "unsubscribed_at": now},
        {"first_opened_at": now, "bounced_at": now, "unsubscribed_at": now},
        {"first_opened_at": now, "first_clicked_at": now, "unsubscribed_at": now},
        {"first_opened_at": now, "first_clicked_at": now},
        {"first_opened_at": now},
        {},
    ):
        message(campaign, **fields)
    message(campaign, Message.Status.SKIPPED, bounced_at=now)
    message(campaign, Message.Status.HOLDOUT, first_opened_at=now)
    message(campaign, Message.Status.FAILED, complained_at=now)
    message(campaign, Message.Status.CLAIMED, first_clicked_at=now)
    shown = {m.pk: m.state for m in campaign_recipients(campaign)}

    found = {state: {m.pk for m in campaign_recipients(campaign, state=state)} for state in RECIPIENT_STATES}

    assert set(shown.values()) == set(RECIPIENT_STATES)
    assert found == {state: {pk for pk, s in shown.items() if s == state} for state in RECIPIENT_STATES}


def test_a_state_the_stats_show_empty_is_answered_without_a_query(campaign):
    message(campaign, first_opened_at=timezone.now())
    stats = campaign_stats(campaign)

    with CaptureQueriesContext(connection) as queries:
        complained, more = recipients_page(campaign, state="complained", stats=stats)
        opened_rows, _more = recipients_page(campaign, state="opened", stats=stats)

    assert (complained, more) == ([], None)
    assert len(opened_rows) == 1
    assert len(queries) == 1  # the opened page only


def test_recipient_pages_continue_by_id_without_counting(campaign):
    ids = sorted((message(campaign).pk for _n in range(5)), reverse=True)

    first, after = recipients_page(campaign, size=2)
    second, after2 = recipients_page(campaign, size=2, before=after)
    third, end = recipients_page(campaign, size=2, before=after2)

    assert [m.pk for m in first + second + third] == ids
    assert end is None


def test_marketers_manage_campaigns_and_analysts_only_view_them():
    marketer = set(
        Group.objects.get(name="Marketer")
        .permissions.filter(content_type__app_label="campaigns")
        .values_list("codename", flat=True)
    )
    analyst = set(
        Group.objects.get(name="Analyst")
        .permissions.filter(content_type__app_label="campaigns")
        .values_list("codename", flat=True)
    )

    assert {"add_campaign", "change_campaign", "view_campaign", "add_emailtemplate"} <= marketer
    assert analyst and all(code.startswith("view_") for code in analyst)
    assert "view_campaign" in analyst
