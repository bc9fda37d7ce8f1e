"""End to end with a real Celery worker on Redis: kill it mid-campaign, restart, resume.

Needs REDIS_URL and PostgreSQL (DATABASE_URL): the worker is a separate process that must see
the test database.
"""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from celery import Celery
from django.db import connection

from campaigns import services
from campaigns.models import Campaign, Message
from campaigns.services import editing, lifecycle
from contacts.models import Contact, EmailStatus
from segments.services import segment_create, static_add

ROOT = Path(__file__).resolve().parents[2]
CELERY = Path(sys.executable).with_name("celery")

pytestmark = [
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL"),
]


def database_url() -> str:
    db = connection.settings_dict
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def start_worker(sink, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": os.environ["REDIS_URL"],
        "EMAIL_URL": f"smtp://{sink.host}:{sink.port}",
        "CAMPAIGN_BATCH_SIZE": "10",
        "CAMPAIGN_SEND_RATE": "60",
        "CAMPAIGN_SEND_CONCURRENCY": "2",
        "LOG_LEVEL": "WARNING",
    }
    command = [
        str(CELERY),
        "-A",
        "crm",
        "worker",
        "--concurrency=2",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "--loglevel=WARNING",
        "-n",
        f"crash-{os.getpid()}-{time.time_ns()}@%h",
    ]
    return subprocess.Popen(
        command, cwd=ROOT, env=env, start_new_session=True, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )


def kill(worker: subprocess.Popen) -> None:
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)


def wait_for(condition, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def make_contacts(n: int) -> tuple[list[Contact], set[str]]:
    states = [
        {},
        {},
        {},
        {"email_opt_in": False},
        {"email_status": EmailStatus.UNSUBSCRIBED},
        {},
        {"email_status": EmailStatus.BOUNCED},
        {},
    ]
    contacts = Contact.objects.bulk_create(
        Contact(email=f"crash{i}@example.com", **{"email_opt_in": True, **states[i % len(states)]}) for i in range(n)
    )
    eligible = {c.email for c in contacts if c.email_opt_in and c.email_status == EmailStatus.ACTIVE}
    return contacts, eligible


@pytest.fixture
def broker(monkeypatch):
    """Tasks go to the real Redis broker, never run in this process."""
    client = Celery(broker=os.environ["REDIS_URL"], set_as_current=False)

    def enqueue(task, *args, **options):
        client.send_task(task.name, args=args, **options)

    for module in (editing, lifecycle):  # every place the services enqueue from
        monkeypatch.setattr(module, "enqueue", enqueue)
    yield client
    client.close()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the worker must share the test database")
def test_a_killed_worker_loses_nothing_and_sends_nothing_twice(
    smtp_settings, smtp_sink, broker, make_template, tmp_path
):
    contacts, eligible = make_contacts(320)
    segment, excluded = segment_create(name="All", kind="static"), segment_create(name="Staff", kind="static")
    static_add(segment=segment, contact_ids=[c.pk for c in contacts])
    staff = [c for c in contacts[:40] if c.email in eligible][:5]
    static_add(segment=excluded, contact_ids=[c.pk for c in staff])
    eligible -= {c.email for c in staff}
    campaign = services.campaign_create(
        name="Crash", template=make_template(), segments=[segment], exclude_segments=[excluded]
    )

    worker = start_worker(smtp_sink, tmp_path / "worker.log")
    try:
        services.campaign_start(campaign=campaign)
        wait_for(lambda: len(smtp_sink.messages) >= 40)
        kill(worker)
        received_before = len(smtp_sink.messages)
        assert received_before < len(eligible)

        worker = start_worker(smtp_sink, tmp_path / "worker.log")
        services.campaign_resume(campaign=campaign)
        wait_for(lambda: Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.SENT)
    finally:
        kill(worker)

    delivered = Counter(smtp_sink.recipients())
    assert set(delivered) == eligible
    assert max(delivered.values()) == 1
    assert Message.objects.filter(campaign=campaign, status=Message.Status.SENT).count() == len(eligible)
    assert not Message.objects.filter(campaign=campaign, status__in=["queued", "claimed", "failed"]).exists()
