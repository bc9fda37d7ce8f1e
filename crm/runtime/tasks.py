"""The worker's heartbeat: beat sends it every 30 s, and running it proves a worker takes tasks."""

from celery import shared_task

from .models import Heartbeat


@shared_task(name="runtime.heartbeat", ignore_result=True, expires=120)
def heartbeat() -> None:
    Heartbeat.record(Heartbeat.WORKER)
