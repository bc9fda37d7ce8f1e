"""Anniversaries (birthday, wedding) and time windows, shared with the club and purchase groups."""

import calendar
import datetime as dt
from typing import Any

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ..registry import Condition, Context, Op
from .base import DATES

ANNIVERSARY_OPS = {
    "today": Op("none", _("is today")),
    "this_month": Op("none", _("is this month")),
    "in_next_days": Op("int", _("is in the next N days")),
}


def window_days(ctx: Context, days: int) -> list[dt.date]:
    return [ctx.today + dt.timedelta(days=i) for i in range(days + 1)]


def anniversary_spans(days: list[dt.date]) -> list[tuple[int, int, int, int]]:
    """`days` as (year, month, first day, last day) runs of month/day to match; 29 Feb counts as 28 Feb in
    non-leap years, so a 28 February of such a year also matches the 29th. The one owner of that rule for
    stored dates and for dates kept in custom fields."""
    spans: dict[tuple[int, int], list[int]] = {}
    for day in days:
        spans.setdefault((day.year, day.month), []).append(day.day)
        if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
            spans[(day.year, 2)].append(29)
    return [(year, month, min(found), max(found)) for (year, month), found in spans.items()]


def anniversary_q(field: str, days: list[dt.date], exclude_origin_year: bool = False) -> Q:
    """Month/day of `field` falls on one of `days` (see `anniversary_spans`).

    Days are grouped by (year, month) into day ranges, so the SQL stays a handful of terms.
    With `exclude_origin_year`, the occurrence must be in a later year than the date itself
    (a sign-up's anniversary is not the sign-up day).
    """
    q = Q(pk__in=[])
    for year, month, first, last in anniversary_spans(days):
        term = Q(**{f"{field}__month": month, f"{field}__day__gte": first, f"{field}__day__lte": last})
        if exclude_origin_year:
            term &= Q(**{f"{field}__year__lt": year})
        q |= term
    return Q(**{f"{field}__isnull": False}) & q


def anniversary_compile(field: str, cond: dict, ctx: Context, exclude_origin_year: bool = False) -> Q:
    op = cond["op"]
    if op == "this_month":
        q = Q(**{f"{field}__month": ctx.today.month})
        if exclude_origin_year:
            q &= Q(**{f"{field}__year__lt": ctx.today.year})
        return Q(**{f"{field}__isnull": False}) & q
    days = [ctx.today] if op == "today" else window_days(ctx, cond["value"])
    return anniversary_q(field, days, exclude_origin_year)


ANNIVERSARY_NEXT_OP = Op("int", _("anniversary in the next N days"))
TIME_OPS = {
    "within_last_days": Op("int", _("within the last N days")),
    "more_than_days_ago": Op("int", _("more than N days ago")),
}


def time_compile(field: str, cond: dict, ctx: Context) -> Q:
    op = cond["op"]
    value: Any = cond.get("value")  # an int or a date, as the operator says (checked by `rules.validate`)
    if op == "within_last_days":
        return Q(**{f"{field}__gte": ctx.days_ago(value)})
    if op == "more_than_days_ago":
        return Q(**{f"{field}__lt": ctx.days_ago(value)})
    if op == "before":
        return Q(**{f"{field}__lt": ctx.midnight(value)})
    if op == "after":
        return Q(**{f"{field}__gte": ctx.midnight(value + dt.timedelta(days=1))})
    if op == "anniversary_in_next_days":
        return anniversary_q(field, window_days(ctx, value), exclude_origin_year=True)
    raise ValueError(op)


def _anniversary_condition(key: str, field: str, label) -> Condition:
    def compile_(cond: dict, ctx: Context) -> Q:
        return anniversary_compile(field, cond, ctx)

    return Condition(key=key, label=label, group=DATES, ops=ANNIVERSARY_OPS, compile=compile_)


CONDITIONS = (
    _anniversary_condition("birthday", "birth_date", _("Birthday")),
    _anniversary_condition("wedding_anniversary", "wedding_date", _("Wedding anniversary")),
    Condition(
        key="signed_up",
        label=_("Signed up"),
        group=DATES,
        ops={
            "before": Op("date", _("before")),
            "after": Op("date", _("after")),
            **TIME_OPS,
            "anniversary_in_next_days": ANNIVERSARY_NEXT_OP,
        },
        compile=lambda cond, ctx: time_compile("signed_up_at", cond, ctx),
    ),
)
