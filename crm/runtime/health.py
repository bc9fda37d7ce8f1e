"""Is everything that makes the product work running? Database, broker, worker, beat, queue and mail.

Each check answers ok / warning / failing with a short detail a person can act on, and nothing personal,
so the same answer serves the staff page and the unauthenticated `GET /api/v1/health/`.
"""

from __future__ import annotations

import json
import os
import smtplib
import time
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import Heartbeat

OK, WARNING, FAILING = "ok", "warning", "failing"
PROBE_TIMEOUT_SECONDS = 3


@dataclass
class Check:
    name: str
    status: str
    detail: str
    seconds: float | None = None  # an age or a wait, where one applies


def stale_after() -> timedelta:
    return timedelta(seconds=settings.HEALTH_STALE_SECONDS)


def embedded_broker_dir() -> Path | None:
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", None) or {}
    folder = options.get("data_folder_in")
    return Path(folder) if folder and settings.CELERY_BROKER_URL.startswith("crmfs") else None


def check_database() -> Check:
    started = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        return Check("database", FAILING, _("The database does not answer: %(error)s") % {"error": type(exc).__name__})
    return Check("database", OK, _("The database answers."), round(time.monotonic() - started, 3))


def check_broker() -> Check:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return Check("broker", OK, _("Tasks run in-process (test mode)."))
    folder = embedded_broker_dir()
    if folder is not None:
        if os.access(folder, os.W_OK):
            where = (
                folder.parent.relative_to(settings.BASE_DIR)
                if folder.parent.is_relative_to(settings.BASE_DIR)
                else folder.parent
            )
            return Check("broker", OK, _("Embedded broker: message files in %(folder)s.") % {"folder": where})
        return Check("broker", FAILING, _("The embedded broker's folder cannot be written."))
    from crm.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=PROBE_TIMEOUT_SECONDS)
    except Exception as exc:  # noqa: BLE001 - any transport error means the same to the operator
        return Check("broker", FAILING, _("The broker does not answer: %(error)s") % {"error": type(exc).__name__})
    return Check("broker", OK, _("The broker answers."))


def _heartbeat_check(name: str, missing: str, stale: str, fine: str) -> Check:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return Check(name, OK, _("Tasks run in-process (test mode)."))
    seen = Heartbeat.objects.filter(name=name).values_list("seen_at", flat=True).first()
    if seen is None:
        return Check(name, FAILING, missing)
    age = (timezone.now() - seen).total_seconds()
    status = OK if age <= settings.HEALTH_STALE_SECONDS else FAILING
    return Check(name, status, fine if status == OK else stale, round(age, 1))


def check_worker() -> Check:
    return _heartbeat_check(
        Heartbeat.WORKER,
        _("No worker has been seen yet."),
        _("No worker has run a task for a while: queued work is waiting."),
        _("A worker is running tasks."),
    )


def check_beat() -> Check:
    return _heartbeat_check(
        Heartbeat.BEAT,
        _("The scheduler (beat) has not been seen yet."),
        _("The scheduler (beat) has stopped ticking: scheduled jobs will not start."),
        _("The scheduler (beat) is ticking."),
    )


def oldest_waiting_seconds() -> float | None:
    """Age of the oldest task still waiting in the default queue, where the broker lets us see it."""
    folder = embedded_broker_dir()
    if folder is not None:
        times = [entry.stat().st_mtime for entry in os.scandir(folder) if entry.name.endswith(".msg")]
        return time.time() - min(times) if times else 0.0
    if settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        import redis

        client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=PROBE_TIMEOUT_SECONDS)
        raw = client.lindex("celery", -1)
        if raw is None:
            return 0.0
        published = json.loads(raw).get("headers", {}).get("published_at")
        return time.time() - float(published) if published else None
    return None


def check_queue() -> Check:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return Check("queue", OK, _("Tasks run in-process (test mode)."))
    try:
        age = oldest_waiting_seconds()
    except Exception as exc:  # noqa: BLE001
        return Check("queue", WARNING, _("The queue could not be read: %(error)s") % {"error": type(exc).__name__})
    if age is None:
        return Check("queue", OK, _("This broker does not show waiting tasks."))
    status = OK if age <= settings.HEALTH_STALE_SECONDS else WARNING
    detail = (
        _("Nothing is waiting.")
        if age == 0
        else _("The oldest waiting task was queued %(seconds)d s ago.") % {"seconds": age}
    )
    return Check("queue", status, detail, round(age, 1))


def check_mail() -> Check:
    backend = settings.EMAIL_BACKEND
    if backend == "crm.mail.EmlFileBackend":
        outbox = Path(settings.EMAIL_FILE_PATH)
        writable = os.access(outbox if outbox.exists() else outbox.parent, os.W_OK)
        return (
            Check("mail", OK, _("Mail is written to files in the outbox folder."))
            if writable
            else Check("mail", FAILING, _("The outbox folder cannot be written."))
        )
    if backend == "django.core.mail.backends.smtp.EmailBackend":
        try:
            with smtplib.SMTP(settings.EMAIL_HOST, settings.EMAIL_PORT, timeout=PROBE_TIMEOUT_SECONDS) as smtp:
                smtp.noop()
        except (OSError, smtplib.SMTPException) as exc:
            return Check(
                "mail", FAILING, _("The SMTP server does not answer: %(error)s") % {"error": type(exc).__name__}
            )
        return Check("mail", OK, _("The SMTP server answers."))
    return Check("mail", OK, _("Mail goes through %(backend)s (not probed).") % {"backend": backend.rsplit(".", 1)[-1]})


CHECKS = (check_database, check_broker, check_worker, check_beat, check_queue, check_mail)


def health_report() -> dict:
    checks = [check() for check in CHECKS]
    worst = (
        FAILING
        if any(c.status == FAILING for c in checks)
        else (WARNING if any(c.status == WARNING for c in checks) else OK)
    )
    return {"status": worst, "checked_at": timezone.now().isoformat(), "checks": [asdict(c) for c in checks]}


def background_warning() -> str | None:
    """The admin banner's text when the worker or beat has not been seen for a while, else None."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return None
    try:
        seen = dict(Heartbeat.objects.values_list("name", "seen_at"))
    except DatabaseError:
        return None
    limit = timezone.now() - stale_after()
    down = [name for name in (Heartbeat.WORKER, Heartbeat.BEAT) if seen.get(name) is None or seen[name] < limit]
    if not down:
        return None
    if down == [Heartbeat.BEAT]:
        return _("The scheduler (beat) has not been seen for a few minutes: scheduled campaigns will not go out.")
    if down == [Heartbeat.WORKER]:
        return _("No worker has been seen for a few minutes: campaigns, segment refreshes and imports are waiting.")
    return _("No worker or scheduler has been seen for a few minutes: scheduled campaigns will not go out.")
