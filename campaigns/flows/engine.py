"""The engine: beat wakes due enrollments every minute; each runs its steps until a wait, then sleeps.

Exactly once: a step's run record (StepRun, unique per enrollment and step), what the step does (a tag, a
ledger entry, a queued message) and the enrollment's move to its next step commit in one transaction. A
worker killed in the middle rolls all of it back, and the claim's lease lets another worker take the
enrollment again; the mail itself leaves through the campaign outbox, which sends each message once.
"""

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from contacts.models import Contact
from segments.selectors import rules_contacts

from . import paths, steps
from .models import Enrollment, Flow, StepRun

CLAIM_BATCH = 200
CLAIM_LEASE = dt.timedelta(minutes=5)
TICK_SECONDS = 50.0  # a tick stops claiming after this, before beat's next one
MAX_STEPS_PER_RUN = 200  # more than a flow can hold: a guard, not a rule


@dataclass
class Move:
    """Where an enrollment goes after a step: the next path (None = the flow is done) and when to run it
    (None = at once). `ran` is False when the step must run again later (quiet hours)."""

    path: str | None
    run_at: dt.datetime | None = None
    ran: bool = True
    exit_reason: str = ""


def claim(*, size: int = CLAIM_BATCH, now: dt.datetime | None = None) -> list[int]:
    """Take up to `size` due enrollments of active flows; rows another worker holds are skipped."""
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(
            Enrollment.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(state=Enrollment.State.ACTIVE, run_at__lte=now, flow__status=Flow.Status.ACTIVE)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .order_by("run_at")
            .values_list("id", flat=True)[:size]
        )
        if ids:
            Enrollment.objects.filter(id__in=ids).update(claimed_until=now + CLAIM_LEASE)
    return ids


def tick(*, seconds: float = TICK_SECONDS) -> int:
    """Advance every due enrollment (until `seconds` have passed); returns how many steps ran."""
    deadline = timezone.now() + dt.timedelta(seconds=seconds)
    ran = 0
    while timezone.now() < deadline:
        ids = claim()
        if not ids:
            break
        for enrollment_id in ids:
            ran += advance(enrollment_id)
    return ran


def matches(rules: dict | None, contact_id: int) -> bool:
    """Whether the contact matches a rule tree (§3) now."""
    if not rules:
        return False
    return rules_contacts(rules).filter(pk=contact_id).exists()


@transaction.atomic
def advance(enrollment_id: int) -> int:
    """Run the enrollment's steps from where it is until a wait, the end or an exit; returns steps run."""
    enrollment = (
        Enrollment.objects.select_for_update(of=("self",))
        .select_related("flow")
        .filter(pk=enrollment_id, state=Enrollment.State.ACTIVE)
        .first()
    )
    if enrollment is None or enrollment.flow.status != Flow.Status.ACTIVE:
        return 0
    flow = enrollment.flow
    contact = Contact.objects.select_related("club").get(pk=enrollment.contact_id)
    ran = 0
    path: str | None = enrollment.step
    while path is not None and ran < MAX_STEPS_PER_RUN:
        if flow.exit_rules and matches(flow.exit_rules, contact.pk):
            return ran + _finish(enrollment, Enrollment.State.EXITED, "exit_rules")
        step = paths.step_at(flow.steps, path)
        if step is None:
            break  # the flow was edited and this step is gone: the contact has finished it
        move = _run_once(enrollment, flow, contact, path, step)
        if move.exit_reason:
            return ran + 1 + _finish(enrollment, Enrollment.State.EXITED, move.exit_reason)
        ran += int(move.ran)
        if move.run_at is not None:  # a wait: sleep until then (at the end of the flow, then complete)
            Enrollment.objects.filter(pk=enrollment.pk).update(
                step=move.path or "", run_at=move.run_at, claimed_until=None
            )
            return ran
        path = move.path
    return ran + _finish(enrollment, Enrollment.State.COMPLETED, "")


def _run_once(enrollment: Enrollment, flow: Flow, contact: Contact, path: str, step: dict) -> Move:
    """Run one step unless it already ran for this enrollment (then only say where to go next)."""
    done = StepRun.objects.filter(enrollment=enrollment, step=path).first()
    if done is not None:
        return steps.replay(flow, path, step, done)
    return steps.run(enrollment=enrollment, flow=flow, contact=contact, path=path, step=step)


def _finish(enrollment: Enrollment, state: str, reason: str) -> int:
    now = timezone.now()
    stamp = {"completed_at": now} if state == Enrollment.State.COMPLETED else {"exited_at": now}
    Enrollment.objects.filter(pk=enrollment.pk).update(
        state=state, exit_reason=reason, run_at=None, claimed_until=None, **stamp
    )
    return 0
