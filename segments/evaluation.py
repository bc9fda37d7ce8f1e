"""Which dynamic segments a handful of contacts match: one query, compiled once a day.

Right after a contact's data changes it is checked against every dynamic segment. Building that
query (every rule tree compiled to SQL) costs far more than running it for one contact, so the SQL
is kept. Per-contact checks read "now" to the minute (the periodic full refresh uses the exact
time), and within a day one minute's SQL differs from another's only in parameters that are "now"
moved by a fixed amount (the start of "in the last 30 days"); those bound to the day (birthdays,
"today", restock windows) stay. So at the first check of a day the rule trees are compiled twice,
at that minute and at the far end of the day: parameters equal in both are kept, those apart by
exactly the time between the two move with the clock, and anything else (a condition reading the
clock some other way) makes that plan compile again every minute instead.

A plan is compiled anew when a segment changes (its `updated_at`), when a segment it includes
changes, and when data that a condition writes into its SQL changes (`Condition.compiled_from`,
e.g. products' replenishment cycles): that is checked once a minute. On PostgreSQL the SQL runs as
a prepared statement, so the planner does its work once per connection.
"""

import datetime as dt
import json
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import BooleanField, ExpressionWrapper
from django.utils import timezone

from . import registry
from .models import Segment
from .registry import Context
from .rules import compile_tree, condition_nodes, referenced_segments
from .selectors import audience

ID_SLOTS = (1, 10, 100)
_plans: dict = {}
_fingerprints: dict = {}


def forget() -> None:
    """Drop every kept plan (tests whose ids and clock repeat; benchmarks of the first check)."""
    _plans.clear()
    _fingerprints.clear()


@dataclass
class Plan:
    segment_ids: list[int]
    sql: str
    params: list
    slots: int
    preparable: bool = True
    failed: dict[int, Exception] = field(default_factory=dict)  # segments whose rules did not compile
    base: dt.datetime | None = None  # the minute `params` were compiled for
    daily: bool = False  # whether another minute of the same day only moves the `moving` parameters
    moving: tuple[int, ...] = ()

    def params_at(self, minute: dt.datetime) -> list:
        if minute == self.base or not self.moving:
            return self.params
        assert self.base is not None
        shift = minute - self.base
        params = list(self.params)
        for index in self.moving:
            params[index] = _moved(params[index], shift)
        return params


@dataclass
class Matches:
    found: set[tuple[int, int]]
    failed: dict[int, Exception]


def current_minute() -> dt.datetime:
    return timezone.now().replace(second=0, microsecond=0)


def _build(segments: list[Segment], ctx: Context, slots: int) -> Plan:
    columns, failed = {}, {}
    for segment in segments:
        try:
            columns[f"s{segment.pk}"] = ExpressionWrapper(
                compile_tree(segment.rules or {"any": []}, ctx), output_field=BooleanField()
            )
        except Exception as exc:  # noqa: BLE001 - one broken segment must not keep the others from being evaluated
            failed[segment.pk] = exc
    sentinels = list(range(-slots, 0))  # never a real id: stands for the contact ids to check
    qs = audience().filter(pk__in=sentinels).annotate(**columns).values_list("pk", *columns)
    sql, params = qs.query.sql_with_params()
    params = list(params)
    if params[-slots:] != sentinels:
        raise AssertionError("contact ids are expected to be the last parameters")
    return Plan(
        segment_ids=[int(name[1:]) for name in columns], sql=sql, params=params[:-slots], slots=slots, failed=failed
    )


def _as_datetime(value) -> dt.datetime | None:
    """A datetime parameter as the backend holds it: a datetime, or on SQLite its ISO text."""
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and len(value) >= 16 and value[10:11] in (" ", "T"):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def _moved(value, shift: dt.timedelta):
    if isinstance(value, dt.datetime):
        return value + shift
    moved = _as_datetime(value)
    assert moved is not None
    return str(moved + shift)


def _moving(plan: Plan, probe: Plan, distance: dt.timedelta) -> tuple[int, ...] | None:
    """The parameters that moved by exactly `distance` between two compilations of the same trees, or
    None when the two differ in any other way."""
    if (plan.sql, plan.segment_ids, set(plan.failed)) != (probe.sql, probe.segment_ids, set(probe.failed)):
        return None
    if len(plan.params) != len(probe.params):
        return None
    moving = []
    for index, (here, there) in enumerate(zip(plan.params, probe.params, strict=True)):
        if type(here) is type(there) and here == there:
            continue
        start, end = _as_datetime(here), _as_datetime(there)
        if start is None or end is None or type(here) is not type(there) or end - start != distance:
            return None
        moving.append(index)
    return tuple(moving)


def _far_minute(minute: dt.datetime) -> dt.datetime:
    """The last minute of `minute`'s day in TIME_ZONE — or its first, when `minute` is the last."""
    tz = timezone.get_default_timezone()
    day = timezone.localtime(minute, tz).date()
    last = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=tz) - dt.timedelta(minutes=1)
    last = last.astimezone(dt.UTC)
    if last != minute:
        return last
    return dt.datetime.combine(day, dt.time(), tzinfo=tz).astimezone(dt.UTC)


def _build_for_day(segments: list[Segment], minute: dt.datetime, slots: int) -> Plan:
    plan = _build(segments, Context.current(minute), slots)
    far = _far_minute(minute)
    moving = _moving(plan, _build(segments, Context.current(far), slots), far - minute)
    plan.base, plan.daily, plan.moving = minute, moving is not None, moving or ()
    return plan


def _fingerprint(segments: list[Segment], minute: dt.datetime) -> tuple:
    """The segments' versions and what else their SQL depends on, read at most once a minute."""
    own = tuple((s.pk, s.updated_at) for s in segments)
    key = (minute, own)
    found = _fingerprints.get(key)
    if found is None:
        if len(_fingerprints) > 64:
            _fingerprints.clear()
        found = _fingerprints[key] = own + _compiled_from(segments)
    return found


def _compiled_from(segments: list[Segment]) -> tuple:
    """Segments included from outside `segments` (each with its version) and the `compiled_from` of every
    condition that has one, over all of them."""
    trees = [s.rules for s in segments]
    known = {s.pk for s in segments}
    included: list[tuple] = []
    wanted = set().union(*(referenced_segments(t) for t in trees)) - known
    while wanted:
        rows = list(Segment.objects.filter(pk__in=wanted).values_list("pk", "kind", "updated_at", "rules"))
        included += [(pk, kind, updated_at) for pk, kind, updated_at, _rules in rows]
        included += [(pk, None, None) for pk in wanted - {row[0] for row in rows}]
        known |= wanted
        trees += [rules for *_version, rules in rows]
        wanted = set().union(*(referenced_segments(rules) for *_version, rules in rows)) - known
    catalogue = registry.conditions()
    data = {}
    for tree in trees:
        for node in condition_nodes(tree):
            condition = catalogue.get(str(node.get("field")))
            if condition is not None and condition.compiled_from is not None:
                name = (condition.key, json.dumps(node, sort_keys=True, default=str))
                if name not in data:
                    data[name] = condition.compiled_from(node)
    return (tuple(sorted(included)), tuple(sorted(data.items())))


def plan_for(segments: list[Segment], slots: int) -> tuple[Plan, list]:
    """The plan for these segments and its parameters for the current minute."""
    minute = current_minute()
    key = (timezone.localdate(minute), slots, _fingerprint(segments, minute))
    plan = _plans.get(key)
    if plan is not None and not plan.daily and plan.base != minute:
        plan = _plans[key] = _build(segments, Context.current(minute), slots)  # reads the clock its own way
        plan.base = minute
    if plan is None:
        if len(_plans) > 64:
            _plans.clear()
        plan = _plans[key] = _build_for_day(segments, minute, slots)
    return plan, plan.params_at(minute)


def _run(plan: Plan, params: list, ids: list[int]) -> list[tuple]:
    padded = ids + [ids[-1]] * (plan.slots - len(ids))
    params = params + padded
    if connection.vendor == "postgresql" and plan.preparable:
        import psycopg

        connection.ensure_connection()
        try:
            with transaction.atomic(), psycopg.Cursor(connection.connection) as cursor:
                cursor.execute(plan.sql, params, prepare=True)
                return cursor.fetchall()
        except (
            psycopg.errors.IndeterminateDatatype,
            psycopg.errors.DatatypeMismatch,
            psycopg.errors.UndefinedFunction,
        ):
            plan.preparable = False
    with connection.cursor() as cursor:
        cursor.execute(plan.sql, params)
        return cursor.fetchall()


def matching_segments(segments: list[Segment], ids: list[int]) -> Matches:
    """(segment id, contact id) for every dynamic segment each of `ids` matches now, and the segments
    that could not be evaluated. When the one query fails, each segment is tried on its own (in a
    savepoint, so PostgreSQL goes on after an error) to find the ones at fault."""
    try:
        with transaction.atomic():
            return _matching(segments, ids)
    except Exception as exc:  # noqa: BLE001 - the segments at fault are found one by one below
        if len(segments) == 1:
            return Matches(found=set(), failed={segments[0].pk: exc})
    found: set[tuple[int, int]] = set()
    failed: dict[int, Exception] = {}
    for segment in segments:
        alone = matching_segments([segment], ids)
        found |= alone.found
        failed.update(alone.failed)
    return Matches(found=found, failed=failed)


def _matching(segments: list[Segment], ids: list[int]) -> Matches:
    found: set[tuple[int, int]] = set()
    failed: dict[int, Exception] = {}
    start = 0
    while start < len(ids):
        remaining = len(ids) - start
        slots = next((s for s in ID_SLOTS if s >= remaining), ID_SLOTS[-1])
        chunk = ids[start : start + slots]
        plan, params = plan_for(segments, slots)
        failed.update(plan.failed)
        for row in _run(plan, params, chunk):
            hits = zip(plan.segment_ids, row[1:], strict=False)
            found.update((segment_id, row[0]) for segment_id, hit in hits if hit)
        start += slots
    return Matches(found=found, failed=failed)
