"""Putting contacts into a flow: one INSERT … SELECT for any number of them.

Every trigger ends here with a queryset of contact ids. The database applies the re-entry rule, the
holdout draw and the one-open-enrollment rule, so a trigger over a million contacts is one statement and a
trigger that fires twice (a retried task, two workers) enrolls nobody twice.
"""

import datetime as dt
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Case, Exists, F, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import Mod
from django.utils import timezone

from contacts.models import Contact

from .models import Enrollment, Flow

# Holdout draw: a multiplicative hash of the contact id, offset by the flow, so the same contact is in or out
# of one flow's holdout every time, and independently of other flows'.
HOLDOUT_MULTIPLIER = 2654435761
HOLDOUT_FLOW_OFFSET = 40503


def _column(name: str) -> str:
    column = Enrollment._meta.get_field(name).column  # type: ignore[union-attr]
    assert column is not None
    return column


def eligible_contacts(flow: Flow, contacts: QuerySet, now: dt.datetime) -> QuerySet:
    """Of `contacts` (a Contact queryset), those the flow's re-entry rule lets in now."""
    mine = Enrollment.objects.filter(flow=flow, contact=OuterRef("pk"))
    if flow.reentry == Flow.Reentry.NEVER:
        blocked = mine
    elif flow.reentry == Flow.Reentry.AFTER_DAYS:
        since = now - dt.timedelta(days=flow.reentry_days or 1)
        blocked = mine.filter(Q(state=Enrollment.State.ACTIVE) | Q(entered_at__gt=since))
    else:
        blocked = mine.filter(state=Enrollment.State.ACTIVE)
    return contacts.filter(erased_at__isnull=True).exclude(Exists(blocked))


def with_holdout(flow: Flow, contacts: QuerySet) -> QuerySet:
    """`contacts` annotated `holdout`: true for those the flow keeps back (enrolled and recorded, never
    mailed), the same contacts every time."""
    if not flow.holdout_percent:
        return contacts.annotate(holdout=Value(False))
    bucket = Mod(F("pk") * HOLDOUT_MULTIPLIER + flow.pk * HOLDOUT_FLOW_OFFSET, 100)
    return contacts.annotate(bucket=bucket).annotate(
        holdout=Case(When(bucket__lt=flow.holdout_percent, then=Value(True)), default=Value(False))
    )


def enroll(*, flow: Flow, contacts: QuerySet, trigger_key: str = "", run_at: dt.datetime | None = None) -> int:
    """Enroll those of `contacts` the flow lets in, at its first step, due at `run_at` (default now).
    Returns how many were enrolled. Does nothing unless the flow is active."""
    if flow.status != Flow.Status.ACTIVE or not flow.steps:
        return 0
    now = timezone.now()
    if not isinstance(contacts.model, type) or not issubclass(contacts.model, Contact):
        contacts = Contact.objects.filter(pk__in=contacts)
    chosen = with_holdout(flow, eligible_contacts(flow, contacts, now).order_by())
    try:
        sql, params = chosen.values("holdout", contact_id=F("pk")).query.sql_with_params()
    except EmptyResultSet:  # rules that can match nobody (e.g. no product has a replenishment cycle)
        return 0
    values = {
        "flow": "%s",
        "contact": "e.contact_id",
        "state": "%s",
        "step": "%s",
        "run_at": "%s",
        "holdout": "e.holdout",
        "trigger_key": "%s",
        "flow_version": "%s",
        "entered_at": "%s",
        "exit_reason": "''",
    }
    adapt = connection.ops.adapt_datetimefield_value
    insert = (
        f"INSERT INTO {Enrollment._meta.db_table} ({', '.join(_column(name) for name in values)}) "
        f"SELECT {', '.join(values.values())} FROM ({sql}) AS e WHERE 1 = 1 "
        "ON CONFLICT DO NOTHING"
    )
    head: list[Any] = [
        flow.pk,
        Enrollment.State.ACTIVE,
        "0",
        adapt(run_at or now),
        trigger_key,
        flow.version,
        adapt(now),
    ]
    with connection.cursor() as cursor:
        cursor.execute(insert, [*head, *params])
        return max(cursor.rowcount, 0)
