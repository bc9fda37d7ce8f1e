"""The KPIs' email figures (CONTRACT §8) at the edges of a period's days, as the mail's state changes after it
was sent, and in a zone whose days do not begin on a whole UTC hour (where the hourly tallies cannot answer and
the messages are counted instead)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from campaigns.models import Campaign, EmailTemplate, Message, TrackingEvent
from tests.campaigns.tracked import tracked
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/reports/kpis/"
MARCH = {"from": "2026-03-01", "to": "2026-03-31"}


@pytest.fixture
def api(make_client):
    return make_client("campaigns:read")


@pytest.fixture
def mail():
    """Sends a message of one campaign at a given moment; the message, to open, click or bounce later."""
    template = EmailTemplate.objects.create(name="T", subject="S", html="<p>x</p>")
    campaign = Campaign.objects.create(name="March", template=template)

    def send(at: dt.datetime, status: str = Message.Status.SENT) -> Message:
        return Message.objects.create(campaign=campaign, contact=ContactFactory(), status=status, sent_at=at)

    return send


def email(api, period: dict) -> dict:
    response = api.get(URL, period)
    assert response.status_code == 200, response.content
    return response.json()["email"]


def test_mail_sent_on_the_periods_days_counts_and_its_later_opens_clicks_and_bounces_follow(api, mail):
    israel = ZoneInfo("Asia/Jerusalem")
    first = mail(dt.datetime(2026, 3, 1, 0, 0, tzinfo=israel))
    last = mail(dt.datetime(2026, 3, 31, 23, 59, 59, 999999, tzinfo=israel))
    mail(dt.datetime(2026, 2, 28, 23, 59, 59, 999999, tzinfo=israel))  # the day before
    mail(dt.datetime(2026, 4, 1, 0, 0, tzinfo=israel))  # the day after
    mail(dt.datetime(2026, 3, 15, 12, 0, tzinfo=israel), status=Message.Status.FAILED)  # not sent
    assert email(api, MARCH) == {
        "sent": 2,
        "delivered": 2,
        "unique_opens": 0,
        "unique_clicks": 0,
        "attributed_revenue": "0.00",
    }

    tracked(first, TrackingEvent.Kind.OPEN, at=dt.datetime(2026, 4, 9, 10, 0, tzinfo=israel))  # opened in April
    tracked(first, TrackingEvent.Kind.OPEN, machine=True)
    tracked(last, TrackingEvent.Kind.CLICK, machine=True)  # a scanner: no click
    Message.objects.filter(pk=last.pk).update(bounced_at=last.sent_at)

    assert email(api, MARCH) == {
        "sent": 2,
        "delivered": 1,
        "unique_opens": 1,
        "unique_clicks": 0,
        "attributed_revenue": "0.00",
    }


def test_in_a_zone_half_an_hour_off_the_hour_the_days_edges_are_still_exact(api, mail, settings):
    settings.TIME_ZONE = "Asia/Kolkata"  # UTC+5:30: its midnights fall at half past a UTC hour
    india = ZoneInfo("Asia/Kolkata")
    inside = mail(dt.datetime(2026, 3, 1, 0, 0, tzinfo=india))
    mail(dt.datetime(2026, 3, 31, 23, 59, tzinfo=india))
    mail(dt.datetime(2026, 2, 28, 23, 59, tzinfo=india))  # same UTC hour as `inside`, the day before
    mail(dt.datetime(2026, 4, 1, 0, 0, tzinfo=india))
    tracked(inside, TrackingEvent.Kind.CLICK)
    tracked(inside, TrackingEvent.Kind.OPEN)

    assert email(api, MARCH) == {
        "sent": 2,
        "delivered": 2,
        "unique_opens": 1,
        "unique_clicks": 1,
        "attributed_revenue": "0.00",
    }
