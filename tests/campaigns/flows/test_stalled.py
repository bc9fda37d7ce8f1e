"""Automation mail a dead worker left queued is sent again within a minute; a sender still at work is
never doubled."""

import datetime as dt

import pytest
from django.utils import timezone

from campaigns.flows import stalled
from campaigns.flows.mailing import step_campaign
from campaigns.flows.models import Flow
from campaigns.models import Message
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def step(make_template):
    flow = Flow.objects.create(name="Welcome", trigger={"type": "event", "event": "signup"}, status="active")
    step = {"type": "send_email", "template": make_template().pk}
    return step_campaign(flow=flow, path="0", step=step)


@pytest.fixture
def started(monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr(stalled, "send_soon", calls.append)
    return calls


def ago(minutes: int) -> dt.datetime:
    return timezone.now() - dt.timedelta(minutes=minutes)


def test_mail_waiting_past_the_lease_with_nothing_sent_restarts_its_sender(step, started):
    Message.objects.create(campaign=step, contact=ContactFactory(), queued_at=ago(30))
    lapsed = Message.objects.create(
        campaign=step, contact=ContactFactory(), status=Message.Status.CLAIMED, claimed_at=ago(30), queued_at=ago(30)
    )
    assert stalled.restart_stalled_senders() == 1
    assert started == [step.pk]
    lapsed.refresh_from_db()
    assert lapsed.status == Message.Status.QUEUED  # its claim was released for the new sender


@pytest.mark.parametrize(
    "recent",
    [
        {"status": Message.Status.SENT, "sent_at": "now"},  # a slow sender is still sending
        {"status": Message.Status.CLAIMED, "claimed_at": "now"},  # a batch is being sent right now
    ],
)
def test_a_sender_at_work_is_left_alone(step, started, recent):
    Message.objects.create(campaign=step, contact=ContactFactory(), queued_at=ago(30))
    values = {key: timezone.now() if value == "now" else value for key, value in recent.items()}
    Message.objects.create(campaign=step, contact=ContactFactory(), **values)
    assert stalled.restart_stalled_senders() == 0
    assert started == []


def test_mail_queued_a_moment_ago_is_not_stalled(step, started):
    Message.objects.create(campaign=step, contact=ContactFactory())  # queued a moment ago
    assert stalled.restart_stalled_senders() == 0
    assert started == []
