"""Leaving a flow as soon as its exit rules match, not only when the next step comes due.

The engine checks a flow's exit rules before every step (CONTRACT §6). A contact waiting two weeks would
then stay "in the flow" for two weeks after buying; so a recorded purchase or event also checks, right
after it commits, the open enrollments of those contacts in active flows that have exit rules, and ends
those that match. The engine's own check stays: this one only makes leaving happen sooner. Enrollments a
worker holds at that moment are skipped (that worker checks the rules before its step).
"""

from django.db import transaction
from django.db.models import QuerySet

from .engine import BatchResult, matching
from .models import Enrollment, Flow

CONTACTS_PER_TASK = 1000


def _flows_with_exits() -> QuerySet[Flow]:
    return Flow.objects.filter(status=Flow.Status.ACTIVE, exit_rules__isnull=False).exclude(exit_rules=None)


def exit_matching(contact_ids: list[int]) -> int:
    """End the open enrollments of these contacts whose flow's exit rules they match now; returns how many.
    One rule query per flow concerned, one update per flow."""
    exited = 0
    open_here = Enrollment.objects.filter(state=Enrollment.State.ACTIVE, contact_id__in=contact_ids)
    for flow in _flows_with_exits().filter(pk__in=open_here.values("flow_id")).order_by("pk"):
        inside = Enrollment.objects.filter(flow=flow, state=Enrollment.State.ACTIVE, contact_id__in=contact_ids)
        leaving = matching(flow.exit_rules, inside.values_list("contact_id", flat=True))
        if not leaving:
            continue
        with transaction.atomic():
            free = list(inside.filter(contact_id__in=leaving).select_for_update(skip_locked=True).order_by("pk"))
            outcome = BatchResult(done={})
            outcome.finish(free, Enrollment.State.EXITED, "exit_rules")
            outcome.write()
        exited += len(free)
    return exited


def contacts_changed(contact_ids_by_key: dict[str, list[int]]) -> None:
    """contacts.hooks (after commit): events or purchases were recorded, or lifecycles moved."""
    from .tasks import flows_exit_check

    ids = sorted({i for ids in contact_ids_by_key.values() for i in ids})
    if not ids or not _flows_with_exits().exists():
        return
    for start in range(0, len(ids), CONTACTS_PER_TASK):
        flows_exit_check.delay(ids[start : start + CONTACTS_PER_TASK])
