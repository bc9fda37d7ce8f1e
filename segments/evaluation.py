"""Which dynamic segments a handful of contacts match: one query, compiled once a minute.

Right after a contact's data changes it is checked against every dynamic segment. Building that
query (every rule tree compiled to SQL) costs far more than running it for one contact, so the
SQL is kept for the current minute — per-contact checks read "now" to the minute, and the periodic
full refresh uses the exact time — and, on PostgreSQL, run as a prepared statement so the planner
does its work once per connection.
"""

import datetime as dt
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import BooleanField, ExpressionWrapper
from django.utils import timezone

from .models import Segment
from .registry import Context
from .rules import compile_tree
from .selectors import audience

ID_SLOTS = (1, 10, 100)
_plans: dict = {}


@dataclass
class Plan:
    segment_ids: list[int]
    sql: str
    params: list
    slots: int
    preparable: bool = True
    failed: dict[int, Exception] = field(default_factory=dict)  # segments whose rules did not compile


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


def plan_for(segments: list[Segment], slots: int) -> Plan:
    minute = current_minute()
    key = (minute, slots, tuple((s.pk, s.updated_at) for s in segments))
    plan = _plans.get(key)
    if plan is None:
        if len(_plans) > 64:
            _plans.clear()
        plan = _plans[key] = _build(segments, Context.current(minute), slots)
    return plan


def _run(plan: Plan, ids: list[int]) -> list[tuple]:
    padded = ids + [ids[-1]] * (plan.slots - len(ids))
    params = plan.params + padded
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
        plan = plan_for(segments, slots)
        failed.update(plan.failed)
        for row in _run(plan, chunk):
            hits = zip(plan.segment_ids, row[1:], strict=False)
            found.update((segment_id, row[0]) for segment_id, hit in hits if hit)
        start += slots
    return Matches(found=found, failed=failed)
