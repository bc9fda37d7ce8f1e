"""Celery tasks of automations: thin wrappers; the work is in `engine` and `triggers`."""

from celery import shared_task
from django.db import OperationalError

TRANSIENT = (OperationalError,)


@shared_task(name="campaigns.flows.tasks.flows_tick", autoretry_for=TRANSIENT, retry_backoff=True, max_retries=3)
def flows_tick() -> int:
    """Every minute: run the steps that are due (claims let several workers share the work)."""
    from . import engine

    return engine.tick()


@shared_task(
    name="campaigns.flows.tasks.flows_segment_entries", autoretry_for=TRANSIENT, retry_backoff=True, max_retries=3
)
def flows_segment_entries(segment_ids: list[int] | None = None) -> int:
    """Every minute, and right after segments record entries (then only for those segments)."""
    from . import triggers

    return triggers.enroll_segment_entries(segment_ids=segment_ids)


@shared_task(
    name="campaigns.flows.tasks.flows_enroll_recorded", autoretry_for=TRANSIENT, retry_backoff=True, max_retries=3
)
def flows_enroll_recorded(trigger_type: str, contact_ids_by_key: dict[str, list[int]]) -> int:
    """After a batch of events or purchases, or lifecycle moves, was committed: one enroll per flow."""
    from . import triggers

    return triggers.enroll_recorded(trigger_type=trigger_type, contact_ids_by_key=contact_ids_by_key)


@shared_task(
    name="campaigns.flows.tasks.flows_restart_stalled_mail", autoretry_for=TRANSIENT, retry_backoff=True, max_retries=3
)
def flows_restart_stalled_mail() -> int:
    """Every minute: restart the sender of automation mail a dead worker left behind."""
    from . import stalled

    return stalled.restart_stalled_senders()


@shared_task(name="campaigns.flows.tasks.flows_exit_check", autoretry_for=TRANSIENT, retry_backoff=True, max_retries=3)
def flows_exit_check(contact_ids: list[int]) -> int:
    """After events or purchases were committed: those contacts leave the flows whose exit rules they now match."""
    from . import exits

    return exits.exit_matching(contact_ids)


@shared_task(
    name="campaigns.flows.tasks.flows_date_triggers", autoretry_for=TRANSIENT, retry_backoff=True, max_retries=3
)
def flows_date_triggers() -> int:
    """Daily after local midnight: birthdays, wedding, sign-up and club anniversaries (safe to run twice)."""
    from . import triggers

    return triggers.enroll_date_flows()


@shared_task(
    name="campaigns.flows.tasks.flows_replenishment_due", autoretry_for=TRANSIENT, retry_backoff=True, max_retries=3
)
def flows_replenishment_due() -> int:
    """Daily: products due for replenishment (safe to run twice)."""
    from . import triggers

    return triggers.enroll_replenishment_due()


@shared_task(
    name="campaigns.flows.tasks.flows_lifecycle_by_time", autoretry_for=TRANSIENT, retry_backoff=True, max_retries=3
)
def flows_lifecycle_by_time() -> int:
    """Hourly: lifecycle stages reached by the passage of time since the last run."""
    from . import triggers

    return triggers.enroll_lifecycle_by_time()
