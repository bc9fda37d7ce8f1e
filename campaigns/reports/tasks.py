"""Thin Celery tasks of measurement (their schedule is declared in crm/runtime/periodic.py)."""

from celery import shared_task
from django.db import OperationalError

from .folding import counts_fold

FOLD_TASK = "reports.fold_counts"


@shared_task(name=FOLD_TASK, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def fold_counts_task() -> dict[str, int]:
    """Adds up the rows the counting triggers appended; safe to run twice or side by side."""
    return counts_fold()
