"""Background jobs: declared once, editable by staff, watched by a health page and an admin banner;
and the embedded broker that gives `make run` a real worker without a server."""

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.utils import timezone
from django.utils.translation import override
from django_celery_beat.models import PeriodicTask
from kombu import Connection

from crm.broker import folders
from crm.runtime.models import Heartbeat
from crm.runtime.periodic import jobs, setup_periodic_tasks

pytestmark = pytest.mark.django_db


# ------------------------------------------------------------------ declared jobs


def test_migrate_installs_every_declared_job():
    assert set(PeriodicTask.objects.values_list("task", flat=True)) >= {job.task for job in jobs()}


def test_setup_again_creates_nothing_and_keeps_staff_changes():
    PeriodicTask.objects.filter(task="segments.tasks.refresh_dynamic_segments").update(enabled=False)
    assert setup_periodic_tasks() == []
    assert PeriodicTask.objects.get(task="segments.tasks.refresh_dynamic_segments").enabled is False


def test_a_deleted_job_comes_back():
    PeriodicTask.objects.filter(task="campaigns.tasks.campaigns_start_due").delete()
    assert setup_periodic_tasks() == ["campaigns.tasks.campaigns_start_due"]
    job = PeriodicTask.objects.get(task="campaigns.tasks.campaigns_start_due")
    assert job.interval.every == 60 and job.interval.period == "seconds"


def test_the_nightly_recompute_runs_after_local_midnight():
    job = PeriodicTask.objects.get(task="contacts.recompute_all")
    assert (job.crontab.hour, job.crontab.minute) == ("0", "5")
    assert str(job.crontab.timezone) == "Asia/Jerusalem"


def test_scheduled_jobs_page_speaks_the_marketers_language(admin_client):
    with override("he"):
        page = admin_client.get("/admin/runtime/scheduledjob/", HTTP_ACCEPT_LANGUAGE="he").content.decode()
    assert "שליחת קמפיינים מתוזמנים" in page
    page = admin_client.get("/admin/runtime/scheduledjob/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Send scheduled campaigns" in page and "every 1 minute<" in page and "every 30 seconds" in page


def test_staff_retime_a_job_in_plain_words(admin_client):
    job = PeriodicTask.objects.get(task="segments.tasks.refresh_dynamic_segments")
    url = f"/admin/runtime/scheduledjob/{job.pk}/change/"
    response = admin_client.post(url, {"enabled": "on", "timing": "daily", "daily_at": "03:30"})
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.interval is None and (job.crontab.hour, job.crontab.minute) == ("3", "30")
    response = admin_client.post(url, {"enabled": "on", "timing": "every", "every_minutes": "5"})
    job.refresh_from_db()
    assert job.crontab is None and job.interval is not None
    assert (job.interval.every, job.interval.period) == (5, "minutes")


def test_retiming_without_a_time_names_the_field(admin_client):
    job = PeriodicTask.objects.get(task="segments.tasks.refresh_dynamic_segments")
    response = admin_client.post(
        f"/admin/runtime/scheduledjob/{job.pk}/change/", {"enabled": "on", "timing": "daily", "daily_at": ""}
    )
    assert response.status_code == 200
    assert "daily_at" in response.context["adminform"].form.errors


def test_jobs_are_not_added_or_deleted_by_hand(admin_client):
    assert admin_client.get("/admin/runtime/scheduledjob/add/").status_code == 403
    job = PeriodicTask.objects.first()
    assert admin_client.get(f"/admin/runtime/scheduledjob/{job.pk}/delete/").status_code == 403


# ------------------------------------------------------------------ health and banner


@pytest.fixture
def real_broker(settings, tmp_path):
    """As outside tests: tasks go to a broker (the embedded one), so liveness matters."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "crmfs://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = folders(tmp_path / "broker")
    settings.EMAIL_BACKEND = "crm.mail.EmlFileBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "outbox")
    return tmp_path / "broker"


def checks(client) -> dict:
    return {check["name"]: check for check in client.get("/api/v1/health/").json()["checks"]}


def test_health_answers_without_a_login_and_without_personal_data(client, real_broker):
    response = client.get("/api/v1/health/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "failing"
    assert {c["name"] for c in body["checks"]} == {"database", "broker", "worker", "beat", "queue", "mail"}
    assert "@" not in response.content.decode()


def test_health_sees_a_stopped_worker_and_a_running_beat(client, real_broker):
    Heartbeat.objects.create(name="beat", seen_at=timezone.now())
    Heartbeat.objects.create(name="worker", seen_at=timezone.now() - dt.timedelta(minutes=10))
    found = checks(client)
    assert found["beat"]["status"] == "ok"
    assert found["worker"]["status"] == "failing"
    assert found["database"]["status"] == "ok" and found["broker"]["status"] == "ok"


def test_health_reports_the_oldest_waiting_task(client, real_broker):
    with Connection("crmfs://", transport_options=folders(real_broker)) as conn:
        conn.SimpleQueue("celery").put({"task": "x"})
    old = next(real_broker.joinpath("queue").iterdir())
    os.utime(old, (old.stat().st_atime - 600, old.stat().st_mtime - 600))
    queue = checks(client)["queue"]
    assert queue["status"] == "warning" and queue["seconds"] >= 599


def test_health_probes_the_smtp_server(client, real_broker, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens on the discard port
    assert checks(client)["mail"]["status"] == "failing"


def test_admin_banner_warns_when_no_worker_or_scheduler_is_seen(admin_client, real_broker):
    page = admin_client.get("/admin/").content.decode()
    assert "scheduled campaigns will not go out" in page
    Heartbeat.record("beat")
    Heartbeat.record("worker")
    assert "background-warning" not in admin_client.get("/admin/").content.decode()


def test_staff_health_page_lists_every_part(admin_client, real_broker):
    Heartbeat.record("worker")
    page = admin_client.get("/admin/health/").content.decode()
    assert "Scheduler (beat)" in page and "Worker" in page and "Oldest waiting task" in page


def test_health_page_needs_a_staff_login(client):
    assert client.get("/admin/health/").status_code == 302


def test_the_worker_heartbeat_task_records_the_worker():
    from crm.runtime.tasks import heartbeat

    heartbeat.delay()
    assert Heartbeat.objects.filter(name="worker").exists()


# ------------------------------------------------------------------ the embedded broker


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_message_taken_by_a_dead_worker_goes_back_to_the_queue(tmp_path):
    options = folders(tmp_path)
    with Connection("crmfs://", transport_options=options) as conn:
        conn.SimpleQueue("celery").put({"n": 1})
    queued = next(Path(options["data_folder_in"]).iterdir())
    orphan = Path(options["unacked_folder"]) / f"{dead_pid()}-{queued.name}"
    queued.rename(orphan)
    with Connection("crmfs://", transport_options=options) as conn:
        message = conn.SimpleQueue("celery").get(timeout=5)  # consuming recovers orphans first
        assert message.payload == {"n": 1}
        message.ack()
    assert list(Path(options["unacked_folder"]).iterdir()) == []


def test_an_unacknowledged_message_stays_until_acked_and_a_live_workers_is_not_taken(tmp_path):
    options = folders(tmp_path)
    with Connection("crmfs://", transport_options=options) as conn:
        queue = conn.SimpleQueue("celery")
        queue.put({"n": 2})
        message = queue.get(timeout=5)
        unacked = list(Path(options["unacked_folder"]).iterdir())
        assert [p.name.split("-", 1)[0] for p in unacked] == [str(os.getpid())]
        with Connection("crmfs://", transport_options=options) as other:
            other.default_channel.recover_orphans()  # this process is alive: nothing moves
        assert list(Path(options["unacked_folder"]).iterdir()) == unacked
        message.ack()
    assert list(Path(options["unacked_folder"]).iterdir()) == []
    assert list(Path(options["data_folder_in"]).iterdir()) == []
