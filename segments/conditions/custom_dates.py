"""Custom fields of type date used as dates (a pet's birthday, a wedding day from a landing page), and
children's ages from such a field.

A date custom field is stored in `Contact.attributes` as ISO text (`contacts.normalize`). The SQL reads
it as that text and compares it as text: zero-padded YYYY-MM-DD sorts like the date, and its month and
day are fixed substrings, so the same fragments run on SQLite and PostgreSQL without a cast that could
fail on a value stored before the field was declared a date. A value that is not shaped like a date
counts as missing.
"""

import datetime as dt
from typing import Any

from django.db.models import Q, TextField
from django.db.models.functions import Substr
from django.db.models.lookups import Exact, GreaterThan, GreaterThanOrEqual, IsNull, LessThan, LessThanOrEqual
from django.utils.translation import gettext_lazy as _

from ..registry import Condition, Context, Extra, Op
from .attributes import _AttributeKey
from .base import DATES, PROFILE, RANGE_OPS_INT, range_bounds
from .dates import ANNIVERSARY_NEXT_OP, TIME_OPS, anniversary_spans, window_days
from .profile import shift_years

DATE_SHAPE_SQLITE = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]"
DATE_SHAPE_POSTGRES = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"

# Children's age bands in whole years, both ends included; the order the builder offers them.
CHILD_AGE_BANDS = {
    "baby": ((0, 1), _("Baby (0–1)")),
    "toddler": ((2, 3), _("Toddler (2–3)")),
    "preschool": ((4, 5), _("Preschool (4–5)")),
    "school_age": ((6, 12), _("School age (6–12)")),
    "teen": ((13, 17), _("Teenager (13–17)")),
}


class JsonDate(_AttributeKey):
    """One key of `attributes` as YYYY-MM-DD text; NULL when absent or not shaped like a date."""

    output_field = TextField()

    def as_postgresql(self, compiler, connection, **extra_context):
        sql, params = self._attributes(compiler)
        return (
            f"(CASE WHEN ({sql} ->> %s) ~ %s THEN ({sql} ->> %s) END)",
            [*params, self.key, DATE_SHAPE_POSTGRES, *params, self.key],
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        sql, params = self._attributes(compiler)
        path = self._sqlite_path
        return (
            f"(CASE WHEN json_type({sql}, %s) = 'text' AND json_extract({sql}, %s) GLOB %s "
            f"THEN json_extract({sql}, %s) END)",
            [*params, path, *params, path, DATE_SHAPE_SQLITE, *params, path],
        )


def _iso(day: dt.date) -> str:
    return day.isoformat()


def _between(value: JsonDate, first: dt.date, last: dt.date) -> Q:
    return Q(GreaterThanOrEqual(value, _iso(first))) & Q(LessThanOrEqual(value, _iso(last)))


def _anniversary(value: JsonDate, days: list[dt.date]) -> Q:
    """Month/day on one of `days`, in a later year than the date itself (the day is not its own anniversary)."""
    q = Q(pk__in=[])
    for year, month, first, last in anniversary_spans(days):
        day = Substr(value, 9, 2)
        q |= (
            Q(Exact(Substr(value, 6, 2), f"{month:02d}"))
            & Q(GreaterThanOrEqual(day, f"{first:02d}"))
            & Q(LessThanOrEqual(day, f"{last:02d}"))
            & Q(LessThan(Substr(value, 1, 4), f"{year:04d}"))
        )
    return q


def compile_attribute_date(cond: dict, ctx: Context) -> Q:
    """Days are TIME_ZONE days; a missing or malformed value is FALSE here (never NULL), so it matches `not`."""
    value = JsonDate(cond["key"])
    op = cond["op"]
    arg: Any = cond.get("value")  # a date or a number of days, as the operator says (checked by `rules.validate`)
    today = ctx.today
    if op == "before":
        test = Q(LessThan(value, _iso(arg)))
    elif op == "after":
        test = Q(GreaterThan(value, _iso(arg)))
    elif op == "within_last_days":
        test = _between(value, today - dt.timedelta(days=arg), today)
    elif op == "more_than_days_ago":
        test = Q(LessThan(value, _iso(today - dt.timedelta(days=arg))))
    elif op == "in_next_days":
        test = _between(value, today, today + dt.timedelta(days=arg))
    else:
        test = _anniversary(value, window_days(ctx, arg))
    return Q(IsNull(value, False)) & test


def _age_range(value: JsonDate, today: dt.date, low: int | None, high: int | None) -> Q:
    """Age ≥ low ⇔ born on or before today − low years; age ≤ high ⇔ born after today − (high+1) years
    (the `age` condition's arithmetic, on the text date)."""
    q = Q(IsNull(value, False))
    if low is not None:
        q &= Q(LessThanOrEqual(value, _iso(shift_years(today, -low))))
    if high is not None:
        q &= Q(GreaterThan(value, _iso(shift_years(today, -(high + 1)))))
    return q


def compile_child_age(cond: dict, ctx: Context) -> Q:
    value = JsonDate(cond["key"])
    if cond["op"] != "in":
        return _age_range(value, ctx.today, *range_bounds(cond["op"], cond["value"]))
    q = Q(pk__in=[])
    for band in dict.fromkeys(cond["value"]):  # a band named twice is one term
        (low, high), _label = CHILD_AGE_BANDS[band]
        q |= _age_range(value, ctx.today, low, high)
    return q


def _band_choices() -> list:
    return [(band, label) for band, (_years, label) in CHILD_AGE_BANDS.items()]


CONDITIONS = (
    Condition(
        key="attribute_date",
        label=_("Custom date field"),
        group=DATES,
        ops={
            "before": Op("date", _("before")),
            "after": Op("date", _("after")),
            **TIME_OPS,
            "in_next_days": Op("int", _("is in the next N days")),
            "anniversary_in_next_days": ANNIVERSARY_NEXT_OP,
        },
        extras={"key": Extra("date_attribute_key", _("field"), required=True)},
        compile=compile_attribute_date,
        help=_("A custom field of type date, e.g. a pet's birthday or a wedding day from a landing page."),
    ),
    Condition(
        key="child_age",
        label=_("Child's age"),
        group=PROFILE,
        ops={"in": Op("choice_list", _("is in the age band")), **RANGE_OPS_INT},
        extras={"key": Extra("date_attribute_key", _("child's birth date field"), required=True)},
        compile=compile_child_age,
        choices=_band_choices,
        help=_("Whole years from a custom date field holding a child's birth date; bands move as children grow."),
    ),
)
