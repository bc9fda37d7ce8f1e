"""End to end with a real Celery worker on Redis: kill it in the middle of an automation (while the first
mails go out, and again once contacts come out of the flow's wait), restart it each time, and every step has
still run exactly once for every contact, every mail arrived once, and points were awarded once.

Needs REDIS_URL and PostgreSQL (DATABASE_URL): the worker is a separate process that must see the test
database. The test plays beat, queueing the engine's `flows_tick` and the stalled-mail check every two
seconds instead of every minute.
"""

import contextlib
import os
import subprocess
import threading
from collections import Counter
from typing import Any

import pytest
from celery import Celery
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from campaigns.flows.enrollment import enroll
from campaigns.flows.models import Enrollment, StepRun
from campaigns.flows.services import flow_activate, flow_create
from campaigns.flows.tasks import flows_tick
from campaigns.models import Message
from contacts.models import Contact, EmailStatus, PointsEntry
from tests.campaigns.test_worker_crash import kill, start_worker, wait_for
from tests.factories import MemberFactory

pytestmark = [
    pytest.mark.redis,
    pytest.mark.slow,  # the flow waits a real minute
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL"),
]

TICK = "campaigns.flows.tasks.flows_tick"
RESTART_STALLED = "campaigns.flows.tasks.flows_restart_stalled_mail"
STATES: list[dict[str, Any]] = [
    {},
    {},
    {"email_opt_in": False},
    {},
    {"email_status": EmailStatus.UNSUBSCRIBED},
    {},
    {},
    {},
]
STEPS = ("0", "1", "2", "3", "4")


class Beat:
    """Queues the engine's tick and the stalled-mail check on the real broker every `every` seconds, as beat
    does every minute."""

    def __init__(self, client: Celery, every: float = 2.0):
        self.client = client
        self.every = every
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stopped.is_set():
            self.client.send_task(TICK)
            self.client.send_task(RESTART_STALLED)
            self.stopped.wait(self.every)

    def __enter__(self) -> "Beat":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join(timeout=10)


def make_contacts(n: int) -> list[Contact]:
    """Some without consent, some unsubscribed; every third one a club member."""
    contacts = Contact.objects.bulk_create(
        Contact(email=f"flow{i}@example.com", **{"email_opt_in": True, **STATES[i % len(STATES)]}) for i in range(n)
    )
    for contact in contacts[::3]:
        MemberFactory(contact=contact)
    return contacts


def restart(smtp_sink, log) -> subprocess.Popen:
    """A new worker after one was killed. The dead worker's claims on enrollments lapse first: after
    CLAIM_LEASE (five minutes) in production, at once here."""
    now = timezone.now()
    Enrollment.objects.filter(claimed_until__gt=now).update(claimed_until=now)
    return start_worker(smtp_sink, log)


def settles(condition, timeout: float) -> bool:
    """Whether `condition` comes true within `timeout` seconds (the caller says what it means if not)."""
    try:
        wait_for(condition, timeout)
    except AssertionError:
        return False
    return True


def mailed(enrollments) -> set[str]:
    """The addresses a flow mail should reach: enrolled, not held out, and free to receive marketing mail."""
    return set(
        enrollments.filter(
            holdout=False, contact__email_opt_in=True, contact__email_status=EmailStatus.ACTIVE
        ).values_list("contact__email", flat=True)
    )


@pytest.fixture
def broker(monkeypatch, settings):
    """The engine's ticks go to the real broker, never run in this process (enrolling asks for one). The
    worker runs with no quiet hours (the test runs at any hour), and a dead worker's claims on messages
    lapse after five seconds; the SMTP sink and the sending pace are set by `start_worker`."""
    client = Celery(broker=os.environ["REDIS_URL"], set_as_current=False)
    monkeypatch.setattr(flows_tick, "apply_async", lambda *args, **options: client.send_task(TICK))
    monkeypatch.setenv("QUIET_HOURS", "")
    monkeypatch.setenv("CAMPAIGN_CLAIM_LEASE_SECONDS", "5")
    settings.QUIET_HOURS = ""
    yield client
    client.close()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the worker must share the test database")
def test_a_worker_killed_mid_flow_runs_every_step_once_after_restart(broker, smtp_sink, make_template, tmp_path):
    first, second = make_template(subject="First"), make_template(subject="Second")
    flow = flow_create(
        name="Crash",
        trigger={"type": "event", "event": "signup"},
        steps=[
            {"type": "add_tag", "tag": "crash"},
            {"type": "send_email", "template": first.pk},
            {"type": "wait", "minutes": 1},
            {"type": "send_email", "template": second.pk},
            {"type": "award_points", "points": 10, "reason": "Thanks"},
        ],
        holdout_percent=10,
    )
    flow = flow_activate(flow=flow)
    make_contacts(300)
    enroll(flow=flow, contacts=Contact.objects.all())
    expected = mailed(Enrollment.objects.filter(flow=flow))
    unsent = Message.objects.filter(status__in=[Message.Status.QUEUED, Message.Status.CLAIMED])
    log = tmp_path / "worker.log"

    worker = start_worker(smtp_sink, log)
    try:
        with Beat(broker):
            # The first mails are arriving (the sender is paced: most of them are still to go).
            wait_for(lambda: len(smtp_sink.messages) >= 20)
            kill(worker)
            assert len(smtp_sink.messages) < len(expected)
            assert not StepRun.objects.filter(step="3").exists()  # nobody is past the wait yet
            worker = restart(smtp_sink, log)

            # The first contacts are past the wait: the engine is at work on the rest, the second mails going out.
            wait_for(lambda: StepRun.objects.filter(step="3").exists(), timeout=180)
            kill(worker)
            worker = restart(smtp_sink, log)

            wait_for(lambda: not Enrollment.objects.filter(flow=flow, state="active").exists(), timeout=300)
            settles(lambda: not unsent.exists(), timeout=120)
    finally:
        with contextlib.suppress(ProcessLookupError):  # already killed, if starting its successor failed
            kill(worker)

    left = unsent.values_list("campaign__flow_mail__step", "status").annotate(n=Count("pk"))
    assert not left, f"mails never sent, as (step, status, count): {list(left)}"
    enrollments = Enrollment.objects.filter(flow=flow)
    assert enrollments.count() == 300
    assert set(enrollments.values_list("state", flat=True)) == {Enrollment.State.COMPLETED}
    runs = Counter(StepRun.objects.filter(flow=flow).values_list("enrollment_id", "step"))
    assert set(runs) == {(pk, step) for pk in enrollments.values_list("pk", flat=True) for step in STEPS}
    assert set(runs.values()) == {1}

    delivered = Counter(
        (recipient, message["Subject"])
        for message, (_sender, recipients) in zip(smtp_sink.messages, smtp_sink.envelopes, strict=True)
        for recipient in recipients
    )
    assert set(delivered) == {(email, subject) for email in expected for subject in ("First", "Second")}
    assert set(delivered.values()) == {1}
    assert not Message.objects.filter(status=Message.Status.FAILED).exists()

    assert Contact.objects.filter(tags__name="crash").count() == 300
    members = Contact.objects.filter(club__isnull=False)
    points = PointsEntry.objects.values("member__contact").annotate(n=Count("pk")).values_list("n", flat=True)
    assert list(points) == [1] * members.count()
    assert set(PointsEntry.objects.values_list("delta", flat=True)) == {10}
