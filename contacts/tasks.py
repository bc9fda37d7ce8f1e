"""Thin Celery tasks of the contacts app (their schedule is declared in crm/runtime/periodic.py)."""

from celery import shared_task
from django.db import OperationalError

from . import services

RECOMPUTE_TASK = "contacts.recompute_all"


@shared_task(name=RECOMPUTE_TASK, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def contacts_recompute_all_task() -> dict:
    """RFM scores drift as days pass; safe to run twice (it only recomputes)."""
    return services.contacts_recompute_all()
