"""The marketer's home page: the KPIs of CONTRACT §8 for a chosen period, above the admin's list of apps for
whoever may see reports or campaigns, and alone at /admin/reports/dashboard/ (as CSV with `?format=csv`).

The page computes `kpis()` once per request (a fixed handful of queries, whatever the data) and then only
formats: `figures` turns the numbers into labelled, linked figures and charts. The period comes from the
query string (`period=this_month|last_30|last_90`, or `from`/`to` for a custom period, checked as the KPI API
checks them); input it cannot use (an unknown period, a malformed date, `from` after `to`, more than a year)
is named in a message and the default period (the last 30 days) shown instead, never an error page.
"""

import csv
import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, QueryDict
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from contacts.event_queue import activities_queued
from contacts.purchase_queue import purchases_queued
from crm.csv_safety import SafeWriter

from . import figures
from .forms import PeriodForm
from .kpi_api import PeriodQuerySerializer
from .kpis import kpis
from .period import Period

CUSTOM = PeriodForm.CUSTOM
PRESETS = (PeriodForm.THIS_MONTH, PeriodForm.LAST_30, PeriodForm.LAST_90)
DEFAULT = PeriodForm.LAST_30
VIEW_PERMISSIONS = ("reports.view_attribution", "campaigns.view_campaign")


def can_view(user: Any) -> bool:
    """Staff who may look at measurement or at campaigns: marketers, analysts and superusers."""
    return bool(user.is_active and user.is_staff and any(user.has_perm(perm) for perm in VIEW_PERMISSIONS))


# ------------------------------------------------------------------ the period


@dataclass
class Choice:
    """The period to show, which picker option it is, and what was wrong with the input, if anything."""

    period: Period
    preset: str
    errors: list[str] = field(default_factory=list)
    start: str = ""
    end: str = ""


def preset_period(preset: str) -> Period:
    """This month, the last 30 or the last 90 days, as the spend page's ROMI panel counts them."""
    return PeriodForm({"period": preset}).chosen()


def preset_labels() -> dict[str, str]:
    choices = dict(PeriodForm.base_fields["period"].choices)  # type: ignore[attr-defined]  # a ChoiceField
    return {preset: str(choices[preset]) for preset in PRESETS}


def pick_period(params: QueryDict) -> Choice:
    """The period the query string asks for: a preset, or `from` and `to` checked as the KPI API checks them
    (both given, real dates, in order, at most a year); anything else gets the default and says why."""
    preset = params.get("period") or (CUSTOM if "from" in params or "to" in params else DEFAULT)
    if preset in PRESETS:
        return Choice(preset_period(preset), preset)
    fallback = Choice(preset_period(DEFAULT), DEFAULT, start=params.get("from", ""), end=params.get("to", ""))
    if preset != CUSTOM:
        problem = _("There is no such period.")
    elif not (params.get("from") and params.get("to")):
        problem = _("Pick both a start and an end date.")
    else:
        query = PeriodQuerySerializer(data={"from": params["from"], "to": params["to"]})
        if query.is_valid():
            period = query.validated_data
            return Choice(period, CUSTOM, start=period.start.isoformat(), end=period.end.isoformat())
        problem = _query_problem(query.errors)
    fallback.errors = [_("%(problem)s Showing the last 30 days instead.") % {"problem": problem}]
    return fallback


def _query_problem(errors: Mapping[str, Any]) -> str:
    names = {"from": _("From"), "to": _("To")}
    return " ".join(f"{names.get(name, name)}: {' '.join(map(str, messages))}" for name, messages in errors.items())


# ------------------------------------------------------------------ the page


def dashboard_context(request: HttpRequest, *, page_url: str) -> dict[str, Any]:
    """Everything the KPI block shows, for the period the query string asks for. `page_url` is the address
    the period picker's links and form go to (the admin index, or the dashboard page)."""
    choice = pick_period(request.GET)
    numbers = kpis(choice.period)
    period_params = _period_params(choice)
    return {
        "choice": choice,
        "presets": [(key, label, f"{page_url}?period={key}") for key, label in preset_labels().items()],
        "period_text": _period_text(choice.period),
        "page_url": page_url,
        "full_page_url": reverse("reports-dashboard") + "?" + period_params.urlencode(),
        "csv_url": reverse("reports-dashboard") + "?" + _with_format(period_params).urlencode(),
        "queued_purchases": purchases_queued(),
        "queued_events": activities_queued(),
        **figures.panels(numbers, choice.period, user=request.user),
    }


def dashboard_page(request: HttpRequest) -> HttpResponse:
    """/admin/reports/dashboard/: the KPI block on a page of its own, or `?format=csv`."""
    if not can_view(request.user):
        raise PermissionDenied
    if request.GET.get("format") == "csv":
        choice = pick_period(request.GET)
        return csv_response(kpis(choice.period), choice.period)
    context = {
        **admin.site.each_context(request),
        "title": _("Marketing dashboard"),
        **dashboard_context(request, page_url=request.path),
    }
    return TemplateResponse(request, "admin/reports/dashboard.html", context)


def _period_params(choice: Choice) -> QueryDict:
    params = QueryDict(mutable=True)
    if choice.preset == CUSTOM:
        params.update({"period": CUSTOM, "from": choice.start, "to": choice.end})
    else:
        params["period"] = choice.preset
    return params


def _with_format(params: QueryDict) -> QueryDict:
    params = params.copy()
    params["format"] = "csv"
    return params


def _period_text(period: Period) -> str:
    return ngettext("%(start)s – %(end)s (%(days)s day)", "%(start)s – %(end)s (%(days)s days)", period.days) % {
        "start": formats.date_format(period.start),
        "end": formats.date_format(period.end),
        "days": formats.number_format(period.days),
    }


# ------------------------------------------------------------------ CSV


def csv_response(numbers: Mapping[str, Any], period: Period) -> HttpResponse:
    """One row per figure: section, key, value (money as decimals, rates as fractions 0..1, empty for null),
    every cell passed through the formula-injection guard (campaign and source names are typed by people)."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="kpis-{period.start}-{period.end}.csv"'
    writer = SafeWriter(csv.writer(response))
    writer.writerow(["section", "key", "value"])
    for row in csv_rows(numbers):
        writer.writerow(row)
    return response


# Top-level figures that are single numbers, by the section they belong to in the CSV.
SECTIONS = {
    "revenue": "sales",
    "orders": "sales",
    "buyers": "sales",
    "aov": "sales",
    "frequency": "sales",
    "repeat_rate": "sales",
    "retention": "sales",
    "club_revenue_share": "sales",
    "users_share": "audience",
    "promoters": "audience",
}


def csv_rows(numbers: Mapping[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """(section, key, value) for every figure: nested figures get dotted keys (`by_source.web_form`), list
    items their rank from 1 (`1.name`)."""
    for name, value in numbers.items():
        if isinstance(value, Mapping | list):
            yield from ((name, key, cell) for key, cell in _flatten(value))
        else:
            yield SECTIONS.get(name, "summary"), name, _cell(value)


def _flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    items = value.items() if isinstance(value, Mapping) else enumerate(value, start=1)
    for key, inner in items:
        path = f"{prefix}{key}"
        if isinstance(inner, Mapping | list):
            yield from _flatten(inner, f"{path}.")
        else:
            yield path, _cell(inner)


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
