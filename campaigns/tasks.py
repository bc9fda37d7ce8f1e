"""Thin Celery tasks for campaigns: ids in, one service call, retried on transient errors.

The services enqueue these tasks, so they import this module; a task imports the services only
when it runs, which keeps the two modules from importing each other."""

from celery import shared_task
from django.db import InterfaceError, OperationalError, transaction

from . import sending
from .outbox import TransientSendError

TRANSIENT = (OperationalError, InterfaceError)


@shared_task(autoretry_for=TRANSIENT, retry_backoff=True, max_retries=10)
def campaign_dispatch(campaign_id: int) -> int:
    from . import services

    return services.campaign_dispatch(campaign_id=campaign_id)


@shared_task(autoretry_for=TRANSIENT, retry_backoff=True, max_retries=10)
def campaigns_start_due() -> int:
    from . import services

    return services.campaigns_start_due()


@shared_task(bind=True, autoretry_for=TRANSIENT, retry_backoff=True, retry_backoff_max=600, max_retries=50)
def campaign_send(self, campaign_id: int, after: int = 0) -> None:
    """One stretch of batches; the chain continues itself until the campaign is done."""
    try:
        outcome = sending.send_batches(campaign_id=campaign_id, after=after)
    except TransientSendError as exc:
        if self.request.is_eager:
            return
        raise self.retry(exc=exc, countdown=min(600, 10 * 2**self.request.retries)) from exc
    if outcome.more:
        transaction.on_commit(lambda: campaign_send.apply_async((campaign_id, outcome.after)))
    elif outcome.wait and not self.request.is_eager:
        transaction.on_commit(lambda: campaign_send.apply_async((campaign_id, 0), countdown=outcome.wait))
