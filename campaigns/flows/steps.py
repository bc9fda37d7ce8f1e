"""What each step type does for a group of enrollments at the same step, and where each goes next
(CONTRACT §6).

`run` acts for the whole group and records its StepRuns in the caller's transaction, with a statement or
two per group rather than per contact; `replay` only reads a StepRun a previous run left (a retried task)
to send the enrollment the same way again without acting twice.
"""

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from contacts.models import Contact, LoyaltyMember
from contacts.services import contact_changed, points_adjust, tags_get_or_create

from ..models import Message
from . import mailing, paths, timing
from .models import Enrollment, Flow, StepRun

if TYPE_CHECKING:
    from .engine import Move

Moves = dict[int, "Move"]  # by enrollment id


def _move(*args, **kwargs) -> "Move":
    from .engine import Move

    return Move(*args, **kwargs)


def _column(name: str) -> str:
    column = StepRun._meta.get_field(name).column  # type: ignore[union-attr]
    assert column is not None
    return column


def _record(
    enrollments: list[Enrollment], path: str, outcome: str, detail: str = "", messages: QuerySet[Message] | None = None
) -> None:
    """The group's StepRuns (a group is one flow's) in one INSERT … SELECT, so no object is built per
    contact: over the enrollment rows, or after a mail step over the `messages` just queued for them (a
    message's occurrence is its enrollment)."""
    if not enrollments:
        return
    if messages is None:
        rows = Enrollment.objects.filter(pk__in=[enrollment.pk for enrollment in enrollments]).order_by()
        sql, params = rows.values(run_enrollment=F("pk")).query.sql_with_params()
    else:
        mail = messages.order_by().values(run_enrollment=F("occurrence"), run_message=F("pk"))
        sql, params = mail.query.sql_with_params()
    message = "NULL" if messages is None else "r.run_message"
    table = connection.ops.quote_name(StepRun._meta.db_table)
    columns = ", ".join(
        _column(name) for name in ("enrollment", "message", "flow", "step", "outcome", "detail", "ran_at")
    )
    insert = f"INSERT INTO {table} ({columns}) SELECT r.run_enrollment, {message}, %s, %s, %s, %s, %s FROM ({sql}) AS r"
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(insert, [enrollments[0].flow_id, path, outcome, detail, now, *params])


def _all(enrollments: list[Enrollment], move: "Move") -> Moves:
    return {enrollment.pk: move for enrollment in enrollments}


def wait_end(start: dt.datetime, step: dict) -> dt.datetime:
    """When a wait that starts at `start` ends. Days are days of the local calendar: a wait of 3 days from
    10:00 ends at 10:00, also across a DST change (when 24-hour periods would end at 09:00 or 11:00);
    hours and minutes are elapsed time."""
    days = int(step.get("days") or 0)
    minutes = int(step.get("minutes") or 0) + 60 * int(step.get("hours") or 0)
    end = start.astimezone(dt.UTC)  # elapsed time is counted in UTC, not on a local wall clock
    if days:
        local = start.astimezone(timing.local_zone())
        end = timing.at_local(local.date() + dt.timedelta(days=days), local.time())
    return end + dt.timedelta(minutes=minutes)


def run(*, enrollments: list[Enrollment], flow: Flow, path: str, step: dict) -> Moves:
    handler = HANDLERS[step["type"]]
    return handler(enrollments, flow, path, step)


def replay(flow: Flow, path: str, step: dict, done: StepRun) -> "Move":
    """Where a step that already ran sends the enrollment (the wait it started counts from when it ran)."""
    kind = step["type"]
    if kind == "branch":
        return _move(paths.into(flow.steps, path, "yes" if done.outcome == StepRun.Outcome.YES else "no"))
    if kind == "exit":
        return _move(None, exit_reason="exit_step", ran=False)
    if kind == "wait":
        return _move(paths.after(flow.steps, path), run_at=wait_end(done.ran_at, step), ran=False)
    if kind == "wait_until":
        moment = timing.next_local_time(done.ran_at, timing.parse_time(step["time"]))
        return _move(paths.after(flow.steps, path), run_at=moment, ran=False)
    return _move(paths.after(flow.steps, path), ran=False)


def _wait(enrollments: list[Enrollment], flow: Flow, path: str, step: dict) -> Moves:
    now = timezone.now()
    _record(enrollments, path, StepRun.Outcome.DONE)
    return _all(enrollments, _move(paths.after(flow.steps, path), run_at=wait_end(now, step)))


def _wait_until(enrollments: list[Enrollment], flow: Flow, path: str, step: dict) -> Moves:
    moment = timing.next_local_time(timezone.now(), timing.parse_time(step["time"]))
    _record(enrollments, path, StepRun.Outcome.DONE)
    return _all(enrollments, _move(paths.after(flow.steps, path), run_at=moment))


def _send_email(enrollments: list[Enrollment], flow: Flow, path: str, step: dict) -> Moves:
    held = [enrollment for enrollment in enrollments if enrollment.holdout]
    mailed = [enrollment for enrollment in enrollments if not enrollment.holdout]
    _record(held, path, StepRun.Outcome.HOLDOUT)
    moves = _all(held, _move(paths.after(flow.steps, path)))
    quiet_end = timing.quiet_until(timezone.now())
    if quiet_end is not None:  # run this step again when the quiet hours end
        return moves | _all(mailed, _move(path, run_at=quiet_end, ran=False))
    if mailed:
        campaign_id, messages = mailing.queue(
            flow=flow, path=path, step=step, enrollment_ids=[enrollment.pk for enrollment in mailed]
        )
        _record(mailed, path, StepRun.Outcome.SENT, messages=messages)
        transaction.on_commit(lambda: mailing.send_soon(campaign_id))
    return moves | _all(mailed, _move(paths.after(flow.steps, path)))


def _branch(enrollments: list[Enrollment], flow: Flow, path: str, step: dict) -> Moves:
    from .engine import matching

    yes = matching(step.get("rules"), [enrollment.contact_id for enrollment in enrollments])
    sides = {
        "yes": [e for e in enrollments if e.contact_id in yes],
        "no": [e for e in enrollments if e.contact_id not in yes],
    }
    _record(sides["yes"], path, StepRun.Outcome.YES)
    _record(sides["no"], path, StepRun.Outcome.NO)
    return {
        enrollment.pk: _move(paths.into(flow.steps, path, side))
        for side, group in sides.items()
        for enrollment in group
    }


def _tag(enrollments: list[Enrollment], flow: Flow, path: str, step: dict) -> Moves:
    """One insert (or delete) of tag links for the group; their segments hear of it once, after commit."""
    tags = tags_get_or_create([step["tag"]])
    contact_ids = sorted({enrollment.contact_id for enrollment in enrollments})
    through = Contact.tags.through
    if step["type"] == "add_tag":
        links = [through(contact_id=contact_id, tag_id=tag.pk) for contact_id in contact_ids for tag in tags]
        through.objects.bulk_create(links, ignore_conflicts=True)
    else:
        through.objects.filter(contact_id__in=contact_ids, tag__in=tags).delete()
    contact_changed(contact_ids)
    _record(enrollments, path, StepRun.Outcome.DONE, detail=step["tag"][:100])
    return _all(enrollments, _move(paths.after(flow.steps, path)))


def _award_points(enrollments: list[Enrollment], flow: Flow, path: str, step: dict) -> Moves:
    """A ledger entry per member, through the club's service (it locks the member and keeps the balance)."""
    members = LoyaltyMember.objects.in_bulk([e.contact_id for e in enrollments], field_name="contact_id")
    outsiders = [enrollment for enrollment in enrollments if enrollment.contact_id not in members]
    awarded = [enrollment for enrollment in enrollments if enrollment.contact_id in members]
    for enrollment in awarded:
        reference = f"flow-{flow.pk}-{enrollment.pk}-{path}"[:64]
        member = members[enrollment.contact_id]
        points_adjust(member=member, delta=int(step["points"]), reason=step["reason"], reference=reference)
    _record(outsiders, path, StepRun.Outcome.SKIPPED, detail="not_a_member")
    _record(awarded, path, StepRun.Outcome.DONE, detail=str(step["points"]))
    return _all(enrollments, _move(paths.after(flow.steps, path)))


def _exit(enrollments: list[Enrollment], flow: Flow, path: str, step: dict) -> Moves:
    _record(enrollments, path, StepRun.Outcome.DONE)
    return _all(enrollments, _move(None, exit_reason="exit_step"))


HANDLERS: dict[str, Callable[[list[Enrollment], Flow, str, dict], Moves]] = {
    "wait": _wait,
    "wait_until": _wait_until,
    "send_email": _send_email,
    "branch": _branch,
    "add_tag": _tag,
    "remove_tag": _tag,
    "award_points": _award_points,
    "exit": _exit,
}
