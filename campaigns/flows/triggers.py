"""Triggers: every way a contact enters a flow (CONTRACT §6), each ending in one `enrollment.enroll` per flow.

Nothing here loops over contacts: a trigger is a queryset of contacts, and `enroll` inserts them all with
one INSERT … SELECT that applies the re-entry rule, the holdout and the one-open-enrollment rule.

- segment_entered reads the membership history (SegmentMembership rows, one per join, ids only growing)
  past the flow's `trigger_cursor`, right after segments record entries and every minute;
- event and purchase enroll the contacts of each recorded batch, told by `contacts.hooks` after commit;
- lifecycle_changed enrolls the contacts a write moved (told by `contacts.hooks`) and, since the clock
  moves stages too, those that reached the stage by time since the flow's `trigger_cursor` (a time);
- date and replenishment_due run daily and ask the segment conditions about a shifted "today", so the
  anniversary and replenishment rules (29 February included) have one owner, the condition registry.

Only what happens while a flow is active enrolls anyone: `start_cursor` is called on every move to active
(and whenever an active flow's trigger changes), so the cursors start at that moment.
"""

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import Max, Q, QuerySet
from django.utils import timezone

from contacts.lifecycle import lifecycle_q
from contacts.models import Contact
from segments.models import Segment, SegmentMembership
from segments.registry import Context
from segments.selectors import current_members, rules_contacts
from segments.services import segment_refresh

from . import timing
from .enrollment import enroll
from .models import Flow
from .tasks import flows_enroll_recorded, flows_segment_entries

logger = logging.getLogger(__name__)

SEGMENT_ENTERED, EVENT, PURCHASE = "segment_entered", "event", "purchase"
DATE, REPLENISHMENT_DUE, LIFECYCLE_CHANGED = "date", "replenishment_due", "lifecycle_changed"

ENTRIES_PER_CALL = 50_000  # membership rows one flow reads per call; the rest wait for the next
RECORDED_PER_TASK = 5_000  # contact ids one enrollment task carries
LIFECYCLE_CATCH_UP = dt.timedelta(days=7)  # a lifecycle cursor older than this is not trusted
HORIZON_LOCK_TIMEOUT = "2s"
DEFAULT_TIME = "09:00"

# The trigger key that says which recorded contacts a flow wants (a purchase flow without one: all).
RECORDED_KEY = {EVENT: "event", PURCHASE: "channel", LIFECYCLE_CHANGED: "to"}

# A date trigger's field as the segment condition that holds the anniversary rule; "today" is shifted
# to the anniversary day. A sign-up or club joining is not its own anniversary (the conditions say so).
DATE_RULES: dict[str, dict[str, Any]] = {
    "birthday": {"field": "birthday", "op": "today"},
    "wedding_anniversary": {"field": "wedding_anniversary", "op": "today"},
    "signed_up": {"field": "signed_up", "op": "anniversary_in_next_days", "value": 0},
    "club_joined": {"field": "club_joined", "op": "anniversary_in_next_days", "value": 0},
}
# Due exactly on "today" (shifted to the due day): the last purchase of a product plus its cycle.
REPLENISHMENT_RULE = {"field": "replenishment_due", "op": "in_next_days", "value": 0}


def active_flows(trigger_type: str) -> QuerySet[Flow]:
    return Flow.objects.filter(status=Flow.Status.ACTIVE, trigger__type=trigger_type)


def _locked_active(flow_id: int) -> Flow | None:
    """The flow, locked until the caller's transaction ends, if it is still active."""
    return Flow.objects.select_for_update().filter(pk=flow_id, status=Flow.Status.ACTIVE).first()


def _move_cursor(flow: Flow, value: int) -> None:
    Flow.objects.filter(pk=flow.pk).update(trigger_cursor=value)
    flow.trigger_cursor = value


def _guarded(run: Callable[..., int], flow: Flow, *args: Any) -> int:
    """One flow's trigger whose definition cannot run is logged and skipped; the other flows go on."""
    try:
        with transaction.atomic():
            return run(flow, *args)
    except (KeyError, TypeError, ValueError):
        logger.exception("automation %s: its trigger %r cannot run", flow.pk, flow.trigger)
        return 0


# ------------------------------------------------------------------ activation


def start_cursor(flow: Flow, *, include_existing: bool | None = None) -> int:
    """Start the flow's trigger now; call it, in the same transaction, whenever the flow becomes active
    (resuming a paused one too: what happened while it was paused enrolls nobody) or an active flow's
    trigger changes. A segment trigger counts entries from now on and, with `include_existing` (by
    default as its trigger says), enrolls the segment's current members at once; a lifecycle trigger
    counts moves by time from now. Returns how many were enrolled."""
    trigger = flow.trigger if isinstance(flow.trigger, dict) else {}
    if trigger.get("type") == SEGMENT_ENTERED:
        backfill = bool(trigger.get("include_existing")) if include_existing is None else include_existing
        return _start_segment(flow, include_existing=backfill)
    if trigger.get("type") == LIFECYCLE_CHANGED:
        _move_cursor(flow, _micros(timezone.now()))
    return 0


@transaction.atomic
def _start_segment(flow: Flow, *, include_existing: bool) -> int:
    segment = Segment.objects.filter(pk=flow.trigger.get("segment")).first()
    if segment is not None and segment.is_dynamic and segment.last_refreshed_at is None:
        # A segment made a moment ago (a preset's) has not recorded its members yet: record them now, or
        # its first refresh, landing after the cursor, would enroll everyone who matches already.
        segment_refresh(segment=segment)
    _move_cursor(flow, SegmentMembership.objects.aggregate(last=Max("pk"))["last"] or 0)
    if not include_existing or segment is None:
        return 0
    members = current_members(segment).values("contact_id")
    return enroll(flow=flow, contacts=Contact.objects.filter(pk__in=members))


# ------------------------------------------------------------------ segment_entered


def enroll_segment_entries(flow: Flow | None = None, *, segment_ids: Iterable[int] | None = None) -> int:
    """Enroll the contacts that entered each active segment flow's segment since its cursor (only `flow`,
    or only flows of `segment_ids`, when given); returns how many were enrolled."""
    flows = active_flows(SEGMENT_ENTERED)
    if flow is not None:
        flows = flows.filter(pk=flow.pk)
    if segment_ids is not None:
        flows = flows.filter(trigger__segment__in=list(segment_ids))
    flow_ids = list(flows.order_by("pk").values_list("pk", flat=True))
    if not flow_ids:
        return 0
    horizon = _entries_horizon()
    return sum(_enroll_entries(flow_id, horizon) for flow_id in flow_ids)


def _entries_horizon() -> int:
    """The highest membership id at or below which no insert can still commit.

    Ids come from a sequence, so on PostgreSQL a transaction may commit entry 101 while entry 100 is still
    in flight; a cursor moved to 101 would skip 100 for ever. A SHARE lock on the table waits for writers
    in flight (for at most HORIZON_LOCK_TIMEOUT; past it the job fails and is retried) and is released
    at once. SQLite runs one writer at a time, so ids commit in order there."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            table = connection.ops.quote_name(SegmentMembership._meta.db_table)
            with connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL lock_timeout = '{HORIZON_LOCK_TIMEOUT}'")
                cursor.execute(f"LOCK TABLE {table} IN SHARE MODE")
        return SegmentMembership.objects.aggregate(last=Max("pk"))["last"] or 0


@transaction.atomic
def _enroll_entries(flow_id: int, horizon: int) -> int:
    """At most ENTRIES_PER_CALL entries past the cursor, enrolled and the cursor moved in one transaction:
    a worker that dies in between leaves both as they were."""
    flow = _locked_active(flow_id)
    if flow is None or flow.trigger_cursor >= horizon:
        return 0
    entries = SegmentMembership.objects.filter(
        segment_id=flow.trigger.get("segment"), pk__gt=flow.trigger_cursor, pk__lte=horizon
    )
    last = list(entries.order_by("pk").values_list("pk", flat=True)[ENTRIES_PER_CALL - 1 : ENTRIES_PER_CALL])
    until = last[0] if last else horizon
    joined = entries.filter(pk__lte=until).values("contact_id")
    enrolled = enroll(flow=flow, contacts=Contact.objects.filter(pk__in=joined))
    _move_cursor(flow, until)
    if until < horizon:  # a burst: the rest in a task of its own right after, not at beat's next minute
        transaction.on_commit(partial(flows_segment_entries.delay, [flow.trigger.get("segment")]))
    return enrolled


def entries_recorded(segment_ids: list[int]) -> None:
    """segments.hooks: entries were committed; flows waiting on those segments read them now."""
    if active_flows(SEGMENT_ENTERED).filter(trigger__segment__in=segment_ids).exists():
        flows_segment_entries.delay(segment_ids)


# ------------------------------------------------------------------ event, purchase, lifecycle (by a write)


def flows_listening(trigger_type: str, keys: Iterable[str]) -> QuerySet[Flow]:
    """Active flows of `trigger_type` that want contacts recorded under one of `keys` (event types,
    channels or stages); a purchase flow without a channel wants every channel."""
    field = f"trigger__{RECORDED_KEY[trigger_type]}"
    wanted = Q(**{f"{field}__in": list(keys)})
    if trigger_type == PURCHASE:
        wanted |= Q(**{f"{field}__isnull": True}) | Q(**{field: None})
    return active_flows(trigger_type).filter(wanted)


def enroll_recorded(*, trigger_type: str, contact_ids_by_key: dict[str, list[int]]) -> int:
    """One enroll per flow for a whole recorded batch: each flow takes the contacts under its key."""
    enrolled = 0
    for flow in flows_listening(trigger_type, contact_ids_by_key).order_by("pk"):
        key = flow.trigger.get(RECORDED_KEY[trigger_type])
        ids = contact_ids_by_key.get(key, []) if key else [i for ids in contact_ids_by_key.values() for i in ids]
        if ids:
            enrolled += enroll(flow=flow, contacts=Contact.objects.filter(pk__in=ids))
    return enrolled


def _enqueue_recorded(trigger_type: str, contact_ids_by_key: dict[str, list[int]]) -> None:
    """Called after commit: a task per RECORDED_PER_TASK ids, only when some active flow wants them."""
    if flows_listening(trigger_type, contact_ids_by_key).exists():
        for part in _parts(contact_ids_by_key, RECORDED_PER_TASK):
            flows_enroll_recorded.delay(trigger_type, part)


def _parts(contact_ids_by_key: dict[str, list[int]], size: int) -> Iterator[dict[str, list[int]]]:
    """The same ids, grouped the same way, in pieces of at most `size` ids (a batch is one piece)."""
    part: dict[str, list[int]] = {}
    count = 0
    for key, ids in contact_ids_by_key.items():
        for start in range(0, len(ids), size):
            chunk = ids[start : start + size]
            if part and count + len(chunk) > size:
                yield part
                part, count = {}, 0
            part.setdefault(key, []).extend(chunk)
            count += len(chunk)
    if part:
        yield part


def activities_recorded(contact_ids_by_type: dict[str, list[int]]) -> None:
    """contacts.hooks: site/app events were stored."""
    _enqueue_recorded(EVENT, contact_ids_by_type)


def purchases_recorded(contact_ids_by_channel: dict[str, list[int]]) -> None:
    """contacts.hooks: purchases were stored."""
    _enqueue_recorded(PURCHASE, contact_ids_by_channel)


def lifecycle_changed(contact_ids_by_stage: dict[str, list[int]]) -> None:
    """contacts.hooks: a write moved these contacts' lifecycle."""
    _enqueue_recorded(LIFECYCLE_CHANGED, contact_ids_by_stage)


# ------------------------------------------------------------------ lifecycle_changed (by the clock)


def _micros(moment: dt.datetime) -> int:
    return (moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)


def _moment(micros: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=micros)


def enroll_lifecycle_by_time(now: dt.datetime | None = None) -> int:
    """Enroll, per active lifecycle flow, the contacts whose stage became its `to` by the passage of time
    between the flow's cursor (a time) and `now`; the cursor then moves to `now`."""
    now = now or timezone.now()
    flows = active_flows(LIFECYCLE_CHANGED).order_by("pk")
    return sum(_guarded(_enroll_lifecycle_window, flow, now) for flow in flows)


def _enroll_lifecycle_window(flow: Flow, now: dt.datetime) -> int:
    """Stage at `now` is `to`, stage at the cursor (same purchase data) was not. A purchase in between does
    not show here (it moves both ends alike): the write that recorded it reported it. Windows meet
    exactly, so no move counts twice; a cursor not started, or older than LIFECYCLE_CATCH_UP (it was not
    a time), starts now and enrolls nobody."""
    locked = _locked_active(flow.pk)
    if locked is None or locked.trigger_cursor >= _micros(now):
        return 0
    since = _moment(locked.trigger_cursor)
    enrolled = 0
    if since >= now - LIFECYCLE_CATCH_UP:
        stage = locked.trigger["to"]
        moved = Contact.objects.filter(lifecycle_q(stage, now=now)).exclude(lifecycle_q(stage, now=since))
        enrolled = enroll(flow=locked, contacts=moved)
    elif locked.trigger_cursor:
        logger.warning("automation %s: lifecycle moves before %s are not enrolled (too old)", flow.pk, now)
    _move_cursor(locked, _micros(now))
    return enrolled


# ------------------------------------------------------------------ date and replenishment_due, daily


def _clock(today: dt.date) -> Context:
    """The segment conditions' clock with "today" moved to `today`."""
    return dataclasses.replace(Context.current(), today=today)


def enroll_date_flows(today: dt.date | None = None) -> int:
    """Run shortly after local midnight, and safe to run again any time that day: the trigger key is the
    anniversary's year, so a contact enters once per flow and year. Returns how many were enrolled."""
    today = today or timezone.localdate()
    return sum(_guarded(_enroll_on_date, flow, today) for flow in active_flows(DATE).order_by("pk"))


def _enroll_matching(flow: Flow, rule: dict[str, Any], today: dt.date, **options: Any) -> int:
    """Enroll the contacts a segment condition matches on `today`. A condition that can match no one
    (no product has a replenishment cycle) compiles to an empty IN (), which has no SQL: nobody."""
    try:
        return enroll(flow=flow, contacts=rules_contacts(rule, _clock(today)), **options)
    except EmptyResultSet:
        return 0


def _enroll_on_date(flow: Flow, today: dt.date) -> int:
    """offset_days −3 means three days before: today's contacts are those whose anniversary is today + 3."""
    trigger = flow.trigger
    anniversary = today - dt.timedelta(days=int(trigger.get("offset_days") or 0))
    run_at = timing.at_local(today, timing.parse_time(trigger.get("time") or DEFAULT_TIME))
    rule = DATE_RULES[trigger["field"]]
    return _enroll_matching(flow, rule, anniversary, trigger_key=str(anniversary.year), run_at=run_at)


def enroll_replenishment_due(today: dt.date | None = None) -> int:
    """Daily: contacts with a product whose replenishment date (last purchase + replenishment_days) is
    days_before ahead. Keyed by that date, so running twice a day enrolls nobody twice, and a product's
    last purchase (which has one replenishment date) enrolls a contact once."""
    today = today or timezone.localdate()
    flows = active_flows(REPLENISHMENT_DUE).order_by("pk")
    return sum(_guarded(_enroll_replenishment, flow, today) for flow in flows)


def _enroll_replenishment(flow: Flow, today: dt.date) -> int:
    due = today + dt.timedelta(days=int(flow.trigger.get("days_before") or 0))
    return _enroll_matching(flow, REPLENISHMENT_RULE, due, trigger_key=f"due-{due.isoformat()}")
