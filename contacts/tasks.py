"""Thin Celery tasks of the contacts app (their schedule is declared in crm/runtime/periodic.py)."""

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

    counted = 0
    while (taken := purchases_count_queued(limit=BATCH)) > 0:
        counted += taken
        if taken < BATCH:
            break
    return {"counted": counted}


STORE_EVENTS_TASK = "contacts.store_events"


@shared_task(name=STORE_EVENTS_TASK, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def store_events_task() -> dict[str, int]:
    """Stores the queued events of bulk batches, a transaction per few thousand, until none is left
    (`contacts.event_queue`); safe side by side and twice."""
    from .event_queue import BATCH, activities_store_queued

    stored = 0
    while (taken := activities_store_queued(limit=BATCH)) > 0:
        stored += taken
        if taken < BATCH:
            break
    return {"stored": stored}
