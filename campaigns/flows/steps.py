"""What each step type does for one enrollment, and where the enrollment goes next (CONTRACT §6).

`run` acts and records the step's StepRun in the caller's transaction; `replay` only reads a StepRun a
previous run left (a retried task) to send the enrollment the same way again without acting twice.
"""

import datetime as dt
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from contacts.models import Contact, LoyaltyMember
from contacts.services import contact_changed, points_adjust, tags_get_or_create

from . import mailing, paths, timing
from .models import Enrollment, Flow, StepRun

if TYPE_CHECKING:
    from .engine import Move

WAIT_UNITS = {"minutes": 1, "hours": 60, "days": 24 * 60}


def _move(*args, **kwargs) -> "Move":
    from .engine import Move

    return Move(*args, **kwargs)


def _record(enrollment: Enrollment, path: str, outcome: str, detail: str = "", message=None) -> StepRun:
    return StepRun.objects.create(
        enrollment=enrollment, flow_id=enrollment.flow_id, step=path, outcome=outcome, detail=detail, message=message
    )


def wait_delta(step: dict) -> dt.timedelta:
    minutes = sum(int(step.get(unit) or 0) * factor for unit, factor in WAIT_UNITS.items())
    return dt.timedelta(minutes=minutes)


def run(*, enrollment: Enrollment, flow: Flow, contact: Contact, path: str, step: dict) -> "Move":
    handler = HANDLERS[step["type"]]
    return handler(enrollment, flow, contact, path, step)


def replay(flow: Flow, path: str, step: dict, done: StepRun) -> "Move":
    """Where a step that already ran sends the enrollment (the wait it started counts from when it ran)."""
    kind = step["type"]
    if kind == "branch":
        return _move(paths.into(flow.steps, path, "yes" if done.outcome == StepRun.Outcome.YES else "no"))
    if kind == "exit":
        return _move(None, exit_reason="exit_step", ran=False)
    if kind == "wait":
        return _move(paths.after(flow.steps, path), run_at=done.ran_at + wait_delta(step), ran=False)
    if kind == "wait_until":
        moment = timing.next_local_time(done.ran_at, timing.parse_time(step["time"]))
        return _move(paths.after(flow.steps, path), run_at=moment, ran=False)
    return _move(paths.after(flow.steps, path), ran=False)


def _wait(enrollment, flow, contact, path, step) -> "Move":
    now = timezone.now()
    _record(enrollment, path, StepRun.Outcome.DONE)
    return _move(paths.after(flow.steps, path), run_at=now + wait_delta(step))


def _wait_until(enrollment, flow, contact, path, step) -> "Move":
    now = timezone.now()
    _record(enrollment, path, StepRun.Outcome.DONE)
    return _move(paths.after(flow.steps, path), run_at=timing.next_local_time(now, timing.parse_time(step["time"])))


def _send_email(enrollment, flow, contact, path, step) -> "Move":
    if enrollment.holdout:
        _record(enrollment, path, StepRun.Outcome.HOLDOUT)
        return _move(paths.after(flow.steps, path))
    quiet_end = timing.quiet_until(timezone.now())
    if quiet_end is not None:  # run this step again when the quiet hours end
        return _move(path, run_at=quiet_end, ran=False)
    message = mailing.queue(flow=flow, path=path, step=step, contact=contact, occurrence=enrollment.pk)
    _record(enrollment, path, StepRun.Outcome.SENT, message=message)
    transaction.on_commit(lambda: mailing.send_soon(message.campaign_id))
    return _move(paths.after(flow.steps, path))


def _branch(enrollment, flow, contact, path, step) -> "Move":
    from .engine import matches

    yes = matches(step.get("rules"), contact.pk)
    _record(enrollment, path, StepRun.Outcome.YES if yes else StepRun.Outcome.NO)
    return _move(paths.into(flow.steps, path, "yes" if yes else "no"))


def _tag(enrollment, flow, contact, path, step) -> "Move":
    tags = tags_get_or_create([step["tag"]])
    if step["type"] == "add_tag":
        contact.tags.add(*tags)
    else:
        contact.tags.remove(*tags)
    contact_changed([contact.pk])
    _record(enrollment, path, StepRun.Outcome.DONE, detail=step["tag"][:100])
    return _move(paths.after(flow.steps, path))


def _award_points(enrollment, flow, contact, path, step) -> "Move":
    member = LoyaltyMember.objects.filter(contact_id=contact.pk).first()
    if member is None:
        _record(enrollment, path, StepRun.Outcome.SKIPPED, detail="not_a_member")
    else:
        reference = f"flow-{flow.pk}-{enrollment.pk}-{path}"[:64]
        points_adjust(member=member, delta=int(step["points"]), reason=step["reason"], reference=reference)
        _record(enrollment, path, StepRun.Outcome.DONE, detail=str(step["points"]))
    return _move(paths.after(flow.steps, path))


def _exit(enrollment, flow, contact, path, step) -> "Move":
    _record(enrollment, path, StepRun.Outcome.DONE)
    return _move(None, exit_reason="exit_step")


HANDLERS = {
    "wait": _wait,
    "wait_until": _wait_until,
    "send_email": _send_email,
    "branch": _branch,
    "add_tag": _tag,
    "remove_tag": _tag,
    "award_points": _award_points,
    "exit": _exit,
}
