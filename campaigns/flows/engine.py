"""The engine: beat wakes due enrollments every minute; each runs its steps until a wait, then sleeps.

Exactly once: a step's run record (StepRun, unique per enrollment and step), what the step does (a tag, a
ledger entry, a queued message) and the enrollment's move to its next step commit in one transaction. A
worker killed in the middle rolls all of it back and its locks go with it, so the next tick takes the
enrollments again; the mail itself leaves through the campaign outbox, which sends each message once.

A tick takes due enrollments in batches and advances each batch in the transaction that locked it: the
enrollments that stand at the same step of the same flow go through it as a group, with one exit-rule
query, one insert of run records and one write of the step's effect for the whole group, so the cost
per contact is a share of a few statements, not a dozen round trips. A full batch also asks for one
more tick, so idle workers join in while a backlog lasts.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from segments.selectors import rules_contacts

from . import paths, steps
from .models import Enrollment, Flow, StepRun

CLAIM_BATCH = 500
CLAIM_LEASE = dt.timedelta(minutes=5)  # of `claim`
TICK_SECONDS = 50.0  # a tick stops claiming after this, before beat's next one
MAX_STEPS_PER_RUN = 200  # more than a flow can hold: a guard, not a rule
LOADED = ("flow", "contact", "step", "holdout")  # what the steps read of an enrollment


@dataclass
class Move:
    """Where an enrollment goes after a step: the next path (None = the flow is done) and when to run it
    (None = at once). `ran` is False when the step must run again later (quiet hours)."""

    path: str | None
    run_at: dt.datetime | None = None
    ran: bool = True
    exit_reason: str = ""


def due_enrollments(*, now: dt.datetime) -> QuerySet[Enrollment]:
    """The claim's query: due, unclaimed enrollments of active flows, oldest first, locked as read (rows
    another worker holds are skipped). Read from `enrollment_due_idx`."""
    return (
        Enrollment.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(state=Enrollment.State.ACTIVE, run_at__lte=now, flow__status=Flow.Status.ACTIVE)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .order_by("run_at")
    )


def claim(*, size: int | None = None, now: dt.datetime | None = None) -> list[int]:
    """Lease up to `size` (default CLAIM_BATCH) due enrollments of active flows, for a caller that
    advances them later, one by one (`advance`); ticks leave them alone until the lease ends."""
    size, now = size or CLAIM_BATCH, now or timezone.now()
    with transaction.atomic():
        ids = list(due_enrollments(now=now).values_list("id", flat=True)[:size])
        if ids:
            Enrollment.objects.filter(id__in=ids).update(claimed_until=now + CLAIM_LEASE)
    return ids


def tick(*, seconds: float = TICK_SECONDS) -> int:
    """Advance every due enrollment (until `seconds` have passed); returns how many steps ran."""
    deadline = timezone.now() + dt.timedelta(seconds=seconds)
    ran, helped = 0, False
    while timezone.now() < deadline:
        taken, steps_run = _take_and_advance(call_for_help=not helped)
        if not taken:
            break
        ran, helped = ran + steps_run, helped or taken == CLAIM_BATCH
    return ran


def _take_and_advance(*, call_for_help: bool) -> tuple[int, int]:
    """Take up to CLAIM_BATCH due enrollments and advance them in the same transaction: their rows stay
    locked until it commits, so other workers skip them, and a worker that dies leaves them due for the
    next tick. If a step fails, the batch rolls back and its enrollments go one by one: those before the
    failing one move on, and the failure is raised. Returns how many were taken and the steps run."""
    ids: list[int] = []
    try:
        with transaction.atomic():
            batch = list(due_enrollments(now=timezone.now()).only(*LOADED)[:CLAIM_BATCH])
            ids = [enrollment.pk for enrollment in batch]
            if call_for_help and len(batch) == CLAIM_BATCH:
                _call_for_help()
            return len(batch), _advance_locked(batch)
    except Exception:
        if len(ids) <= 1:
            raise
    return len(ids), sum(advance(enrollment_id) for enrollment_id in ids)


def _call_for_help() -> None:
    """More is due than one batch holds: one more tick, queued after commit, lets an idle worker share the
    backlog. A tick calls for help once, and a helper in turn only if it also finds a full batch, so the
    queue holds at most one waiting tick per running one, and none once the backlog is gone."""
    from .tasks import flows_tick

    transaction.on_commit(flows_tick.delay)


@transaction.atomic
def advance(enrollment_id: int) -> int:
    """Run one enrollment's steps from where it is until a wait, the end or an exit; returns steps run.

    Only if it is still due: a worker whose claim's lease ran out while it was busy may come back to an
    enrollment another worker has already moved on to a wait, and must leave it asleep."""
    locked = (
        Enrollment.objects.select_for_update(of=("self",))
        .filter(pk=enrollment_id, state=Enrollment.State.ACTIVE, run_at__lte=timezone.now())
        .only(*LOADED)
    )
    return _advance_locked(list(locked))


def matching(rules: dict | None, contact_ids: Iterable[int]) -> set[int]:
    """Those of the contacts that match a rule tree (§3) now, in one query."""
    ids = list(contact_ids)
    if not rules or not ids:
        return set()
    return set(rules_contacts(rules, among=ids).values_list("pk", flat=True))


def _advance_locked(locked: list[Enrollment]) -> int:
    """Run the steps of enrollments the caller's transaction has locked, from where each is until a wait,
    the end or an exit; returns steps run. Each round takes every enrollment still moving one step
    further, a group per (flow, step)."""
    flows = Flow.objects.in_bulk({enrollment.flow_id for enrollment in locked})
    moving = [enrollment for enrollment in locked if flows[enrollment.flow_id].status == Flow.Status.ACTIVE]
    result = BatchResult(done=_step_runs(moving))
    for _round in range(MAX_STEPS_PER_RUN):
        if not moving:
            break
        groups: dict[tuple[int, str], list[Enrollment]] = defaultdict(list)
        for enrollment in moving:
            groups[enrollment.flow_id, enrollment.step].append(enrollment)
        moving = []
        for (flow_id, path), group in groups.items():
            moving += _step(flows[flow_id], path, group, result)
    result.finish(moving, Enrollment.State.COMPLETED, "")  # past the guard
    result.write()
    return result.ran


@dataclass
class BatchResult:
    """What a batch's run decided, written at its end with one statement per kind of ending or wait."""

    done: dict[tuple[int, str], StepRun]  # the StepRuns the enrollments had when the batch began
    ran: int = 0
    ended: dict[tuple[str, str], list[int]] = field(default_factory=lambda: defaultdict(list))
    sleeping: dict[tuple[str, dt.datetime], list[int]] = field(default_factory=lambda: defaultdict(list))

    def finish(self, enrollments: list[Enrollment], state: str, reason: str) -> None:
        self.ended[state, reason] += [enrollment.pk for enrollment in enrollments]

    def write(self) -> None:
        now = timezone.now()
        for (state, reason), ids in self.ended.items():
            stamp = {"completed_at": now} if state == Enrollment.State.COMPLETED else {"exited_at": now}
            Enrollment.objects.filter(pk__in=ids).update(
                state=state, exit_reason=reason, run_at=None, claimed_until=None, **stamp
            )
        for (path, run_at), ids in self.sleeping.items():
            Enrollment.objects.filter(pk__in=ids).update(step=path, run_at=run_at, claimed_until=None)


def _step(flow: Flow, path: str, group: list[Enrollment], result: BatchResult) -> list[Enrollment]:
    """Check the exit rules, then run the step at `path` for the group; returns those that go on at once."""
    leaving = matching(flow.exit_rules, [enrollment.contact_id for enrollment in group])
    result.finish([e for e in group if e.contact_id in leaving], Enrollment.State.EXITED, "exit_rules")
    group = [enrollment for enrollment in group if enrollment.contact_id not in leaving]
    step = paths.step_at(flow.steps, path)
    if step is None or not group:  # the flow was edited and this step is gone: the contacts have finished it
        result.finish(group, Enrollment.State.COMPLETED, "")
        return []
    moves = _run_once(flow, path, step, group, result.done)
    going_on = []
    for enrollment in group:
        move = moves[enrollment.pk]
        result.ran += 1 if move.exit_reason else int(move.ran)
        if move.exit_reason:
            result.finish([enrollment], Enrollment.State.EXITED, move.exit_reason)
        elif move.run_at is not None:  # a wait: sleep until then (at the end of the flow, then complete)
            result.sleeping[move.path or "", move.run_at].append(enrollment.pk)
        elif move.path is None:
            result.finish([enrollment], Enrollment.State.COMPLETED, "")
        else:
            enrollment.step = move.path
            going_on.append(enrollment)
    return going_on


def _step_runs(enrollments: list[Enrollment]) -> dict[tuple[int, str], StepRun]:
    """The steps that already ran for these enrollments, by (enrollment, path), in one query. Read once per
    batch: a batch only moves its enrollments forward, so none meets a step it ran in the same batch."""
    if not enrollments:
        return {}
    runs = StepRun.objects.filter(enrollment__in=enrollments).only("enrollment_id", "step", "outcome", "ran_at")
    return {(run.enrollment_id, run.step): run for run in runs}


def _run_once(
    flow: Flow, path: str, step: dict, group: list[Enrollment], done: dict[tuple[int, str], StepRun]
) -> dict[int, Move]:
    """Run one step for those of the group it has not run for yet; the others only learn where to go."""
    moves = {e.pk: steps.replay(flow, path, step, done[e.pk, path]) for e in group if (e.pk, path) in done}
    fresh = [enrollment for enrollment in group if enrollment.pk not in moves]
    if fresh:
        moves.update(steps.run(enrollments=fresh, flow=flow, path=path, step=step))
    return moves
