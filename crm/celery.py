"""Celery application.

Outside tests, tasks always go through a broker to a real worker: Redis (or RabbitMQ) when
CELERY_BROKER_URL is set, else the embedded file broker of `make run` (crm/broker.py). The test
suite alone runs them in-process (crm/settings.py).
"""

import os
import time

from celery import Celery
from celery.signals import beat_init, before_task_publish, worker_init

import crm.broker  # noqa: F401 - registers the embedded broker's transport alias

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

app = Celery("crm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@before_task_publish.connect
def stamp_publish_time(headers=None, **kwargs) -> None:
    """When a task was queued, so the health page can say how long the oldest one has waited."""
    if headers is not None:
        headers.setdefault("published_at", time.time())


@worker_init.connect
@beat_init.connect
def refuse_unsafe_start(**kwargs) -> None:
    """With DEBUG off, the worker and beat do not start without a real SECRET_KEY (signals swallow
    ordinary exceptions, so this exits)."""
    from django.core.exceptions import ImproperlyConfigured

    from crm.security import refuse_unsafe_start as refuse

    try:
        refuse()
    except ImproperlyConfigured as exc:
        raise SystemExit(f"ImproperlyConfigured: {exc}") from exc
