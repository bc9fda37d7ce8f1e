"""Thin Celery tasks of the contacts app (their schedule is declared in crm/runtime/periodic.py)."""

from collections.abc import Callable

from celery import shared_task
from django.db import OperationalError

from . import services

RECOMPUTE_TASK = "contacts.recompute_all"


@shared_task(name=RECOMPUTE_TASK, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def contacts_recompute_all_task() -> dict:
    """RFM scores drift as days pass; safe to run twice (it only recomputes)."""
    return services.contacts_recompute_all()


COUNT_PURCHASES_TASK = "contacts.count_purchases"


@shared_task(name=COUNT_PURCHASES_TASK, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def count_purchases_task() -> dict[str, int]:
    """Counts the queued purchases of bulk batches, a transaction per few thousand, until none is left
    (`contacts.purchase_queue`); safe side by side and twice."""
    from .purchase_queue import BATCH, purchases_count_queued

    return {"counted": _until_empty(purchases_count_queued, BATCH)}


STORE_EVENTS_TASK = "contacts.store_events"


@shared_task(name=STORE_EVENTS_TASK, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def store_events_task() -> dict[str, int]:
    """Stores the queued events of bulk batches, a transaction per few thousand, until none is left
    (`contacts.event_queue`); safe side by side and twice."""
    from .event_queue import BATCH, activities_store_queued

    return {"stored": _until_empty(activities_store_queued, BATCH)}


def _until_empty(take: Callable[..., int], batch: int) -> int:
    """Call `take(limit=batch)` (one transaction each) until a call takes less than a batch; how many in all."""
    done = 0
    while (taken := take(limit=batch)) > 0:
        done += taken
        if taken < batch:
            break
    return done
