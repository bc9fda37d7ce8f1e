"""Profile fields compared as text (city, gender, source, …) and age from the birth date."""

import calendar
import datetime as dt

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from contacts.models import Gender, MaritalStatus, Source

from ..registry import Condition, Context
from .base import CHOICE_OPS, PROFILE, RANGE_OPS_INT, TEXT_OPS, compare_text, range_bounds


def _text_condition(key: str, label, choices=None) -> Condition:
    def compile_(cond: dict, ctx: Context) -> Q:
        return compare_text(key, cond["op"], cond["value"])

    return Condition(
        key=key, label=label, group=PROFILE, ops=CHOICE_OPS if choices else TEXT_OPS, compile=compile_, choices=choices
    )


def shift_years(day: dt.date, years: int) -> dt.date:
    """`day` moved by whole years; 29 February lands on 28 February in a non-leap year."""
    year = day.year + years
    if day.month == 2 and day.day == 29 and not calendar.isleap(year):
        return dt.date(year, 2, 28)
    if day.month == 2 and day.day == 28 and not calendar.isleap(day.year) and calendar.isleap(year):
        return dt.date(year, 2, 29)
    return dt.date(year, day.month, day.day)


def compile_age(cond: dict, ctx: Context) -> Q:
    """Age ≥ a ⇔ born on or before today − a years; age ≤ b ⇔ born after today − (b+1) years."""
    low, high = range_bounds(cond["op"], cond["value"])
    q = Q(birth_date__isnull=False)
    if low is not None:
        q &= Q(birth_date__lte=shift_years(ctx.today, -low))
    if high is not None:
        q &= Q(birth_date__gt=shift_years(ctx.today, -(high + 1)))
    return q


CONDITIONS = (
    _text_condition("city", _("City")),
    _text_condition("region", _("Region")),
    _text_condition("country", _("Country")),
    _text_condition("language", _("Language")),
    _text_condition("gender", _("Gender"), choices=lambda: Gender.choices),
    _text_condition("marital_status", _("Family status"), choices=lambda: MaritalStatus.choices),
    _text_condition("source", _("Signed up through"), choices=lambda: Source.choices),
    _text_condition("source_detail", _("Sign-up detail (form, page, store)")),
    Condition(key="age", label=_("Age"), group=PROFILE, ops=RANGE_OPS_INT, compile=compile_age),
)
