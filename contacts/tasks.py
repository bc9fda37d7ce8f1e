"""Thin Celery tasks of the contacts app, and their periodic schedule."""
from celery import shared_task
from django.db import OperationalError, transaction
from django.utils.translation import gettext_lazy as _

from . import services

RECOMPUTE_TASK = "contacts.recompute_all"
RECOMPUTE_SCHEDULE_NAME = "Recompute contact lifecycle and RFM"


@shared_task(name=RECOMPUTE_TASK, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def contacts_recompute_all_task() -> dict:
    """Lifecycle and RFM drift as days pass; safe to run twice (it only recomputes)."""
    return services.contacts_recompute_all()


@transaction.atomic
def ensure_periodic_tasks() -> bool:
    """Register the nightly recompute in Celery beat once; returns True if it was created.

    An existing entry is left as staff configured it (interval, enabled) in the admin.
    """
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    if PeriodicTask.objects.filter(task=RECOMPUTE_TASK).exists():
        return False
    every_day, _created = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.DAYS)
    PeriodicTask.objects.get_or_create(
        name=str(RECOMPUTE_SCHEDULE_NAME),
        defaults={"task": RECOMPUTE_TASK, "interval": every_day,
                  "description": str(_("Moves contacts between lifecycle stages and RFM scores as time passes."))},
    )
    return True
