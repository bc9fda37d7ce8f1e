"""A campaign's report page: the CONTRACT §4 stats, the money the mail brought and the holdout comparison
(§7), opens and clicks over time as an inline SVG (no chart library, no CDN), clicks per link, and the
recipients with their state, paged by id."""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.conf import settings
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from contacts.models import Channel

from ..models import Campaign
from ..selectors import (
    RECIPIENT_STATES,
    Bucket,
    campaign_stats,
    clicks_per_link,
    delivered,
    opens_clicks_over_time,
    recipients_page,
)
from ..stats import STATS, Stat, group_stats

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

CHART_HEIGHT = 120
BAR_STEP = 12
RECIPIENTS_PER_PAGE = 50


def report_page(modeladmin, request, campaign: Campaign) -> TemplateResponse:
    stats = campaign_stats(campaign)
    state = request.GET.get("state") if request.GET.get("state") in RECIPIENT_STATES else None
    before = request.GET.get("before")
    rows, next_before = recipients_page(
        campaign,
        before=int(before) if (before or "").isdigit() else None,
        state=state,
        size=RECIPIENTS_PER_PAGE,
        stats=stats,
    )
    for row in rows:
        row.state_label = RECIPIENT_STATES[row.state]
    series = opens_clicks_over_time(campaign)
    links = number_links(request, campaign)
    click_days, open_days = settings.ATTRIBUTION_CLICK_DAYS, settings.ATTRIBUTION_OPEN_DAYS
    return TemplateResponse(
        request,
        "admin/campaigns/campaign/report.html",
        {
            **modeladmin.admin_site.each_context(request),
            "opts": modeladmin.opts,
            "original": campaign,
            "title": _("Report: %(name)s") % {"name": campaign.name},
            "stats": stats,
            "rows": stat_rows(stats),
            "money_rows": linked_rows(stats, MONEY_ROWS, links),
            "holdout_rows": linked_rows(stats, HOLDOUT_ROWS, links),
            "click_window": ngettext("%(days)d day", "%(days)d days", click_days) % {"days": click_days},
            "open_window": ngettext("%(days)d day", "%(days)d days", open_days) % {"days": open_days},
            "numbers_url": reverse("admin:campaigns_campaign_numbers", args=[campaign.pk]),
            "chart": chart(series),
            "series": series,
            "links": clicks_per_link(campaign)[:200],
            "recipients": rows,
            "next_before": next_before,
            "paged": bool(before),
            "state": state,
            "states": RECIPIENT_STATES.items(),
        },
    )


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _signed(number: float, unit: str = "") -> str:
    """+12.5, −40.0: kept left to right inside any sentence (Unicode isolates), so on a Hebrew page the sign
    stays before the number."""
    return "\u2066" + f"{number:+.1f}{unit}".replace("-", "−") + "\u2069"


def signed_percent(value: float | None) -> str:
    """A ratio that may go below 0 or above 1 (lift, ROMI): +12.5%, −40.0%."""
    return "—" if value is None else _signed(value * 100, "%")


def money(value: Decimal | None) -> str:
    return "—" if value is None else formats.number_format(value, 2, force_grouping=True)


def interval(value: list[float] | None) -> str:
    """[low, high] of a rate difference, in percentage points."""
    if value is None:
        return "—"
    low, high = (_signed(bound * 100) for bound in value)
    return _("%(low)s to %(high)s points") % {"low": low, "high": high}


SHOWN_AS: dict[str, Callable[[Any], str]] = {
    "rate": percent,
    "ratio": signed_percent,
    "money": money,
    "interval": interval,
}


# Rows only the report shows, derived from the stats.
DERIVED = (
    Stat("delivered", "count", label=gettext_lazy("Delivered"), explanation=gettext_lazy("sent − bounced")),
    Stat("raw_opens", "count", label=gettext_lazy("All opens (raw)"), explanation=gettext_lazy("human and machine")),
)
# The order a marketer reads them in; a stat added to `STATS` and not named here comes last.
READING_ORDER = (
    "recipients",
    "sent",
    "failed",
    "skipped",
    "bounced",
    "delivered",
    "opens",
    "unique_opens",
    "machine_opens",
    "raw_opens",
    "clicks",
    "unique_clicks",
    "open_rate",
    "click_rate",
    "click_to_open_rate",
    "unsubscribes",
    "complaints",
)
_BY_KEY = {row.key: row for row in (*STATS, *DERIVED)}
MAIL_STATS = group_stats("mail")
ROWS = tuple(_BY_KEY[key] for key in READING_ORDER) + tuple(
    stat for stat in MAIL_STATS if stat.key not in READING_ORDER
)
MONEY_ROWS = group_stats("money")
# The holdout block: the group sizes side by side (delivered is the mailed group), the verdict in its own line.
HOLDOUT_ROWS = (
    _BY_KEY["holdout_size"],
    Stat("treated_size", "count", label=gettext_lazy("Mailed (delivered)"), explanation=gettext_lazy("sent − bounced")),
    *(stat for stat in group_stats("holdout") if stat.key not in ("holdout_size", "verdict", "verdict_text")),
)


def report_numbers(stats: dict) -> dict[str, str]:
    """Every number of the report as shown, keyed for the page's live refresh."""
    numbers = {key: str(value) for key, value in stats.items()}
    numbers.update(
        delivered=str(delivered(stats)),
        treated_size=str(delivered(stats)),
        raw_opens=str(stats["opens"] + stats["machine_opens"]),
    )
    for stat in STATS:
        if stat.kind in SHOWN_AS:
            numbers[stat.key] = SHOWN_AS[stat.kind](stats[stat.key])
    return numbers


def stat_rows(stats: dict) -> list[tuple[str, "StrOrPromise", str, "StrOrPromise"]]:
    """(key, label, value, explanation) for the numbers table, in the order a marketer reads them."""
    numbers = report_numbers(stats)
    return [(row.key, row.label, numbers[row.key], row.explanation) for row in ROWS]


def number_links(request, campaign: Campaign) -> dict[str, str]:
    """Where each number leads, for those an admin list shows: the attributed purchases (for a user who may
    see them) and the held-out recipients."""
    links = {
        "holdout_size": reverse("admin:campaigns_campaign_report", args=[campaign.pk]) + "?state=held_out#recipients"
    }
    if request.user.has_perm("reports.view_attribution"):
        attributed = reverse("admin:reports_attribution_changelist") + "?"
        query = {"campaign__id__exact": campaign.pk}
        for key in ("conversions", "converted_contacts", "revenue"):
            links[key] = attributed + urlencode(query)
        links["in_store_revenue"] = attributed + urlencode({**query, "channel__exact": Channel.IN_STORE})
    return links


@dataclass(frozen=True)
class Row:
    """A line of a report block: the number as shown, where it links ("" for nowhere), and whether it is a bare
    number (shown left to right) or words around numbers (shown in the page's direction)."""

    key: str
    label: "StrOrPromise"
    value: str
    explanation: "StrOrPromise"
    link: str
    is_number: bool


def linked_rows(stats: dict, rows: tuple[Stat, ...], links: dict[str, str]) -> list[Row]:
    numbers = report_numbers(stats)
    return [
        Row(row.key, row.label, numbers[row.key], row.explanation, links.get(row.key, ""), row.kind != "interval")
        for row in rows
    ]


def bar_title(bucket: Bucket) -> str:
    """What a bar's tooltip says: its local hour or day, and its counts."""
    start = timezone.localtime(bucket.start)
    when = formats.date_format(start, "SHORT_DATETIME_FORMAT" if bucket.hours == 1 else "SHORT_DATE_FORMAT")
    counts = _("%(o)s opens, %(m)s machine opens, %(c)s clicks") % {
        "o": bucket.opens,
        "m": bucket.machine_opens,
        "c": bucket.clicks,
    }
    return f"{when}: {counts}"


def chart(series: list[Bucket]) -> dict:
    """Bar geometry: per bucket a human-opens bar, a machine-opens bar on top of it, and a clicks bar, with its
    tooltip. Everything a bar shows is made here and the template only places it: a date filter and a
    translation tag per bar, up to 138 bars, were half the page's rendering."""
    peak = max([1] + [max(b.opens + b.machine_opens, b.clicks) for b in series])
    bars, boundary = [], None
    for index, bucket in enumerate(series):
        opens_h = round(bucket.opens / peak * CHART_HEIGHT)
        machine_h = round(bucket.machine_opens / peak * CHART_HEIGHT)
        clicks_h = round(bucket.clicks / peak * CHART_HEIGHT)
        if boundary is None and bucket.hours == 24 and index:
            boundary = index * BAR_STEP - 1
        bars.append(
            {
                "title": bar_title(bucket),
                "x": index * BAR_STEP,
                "clicks_x": index * BAR_STEP + 5,
                "opens_h": opens_h,
                "opens_y": CHART_HEIGHT - opens_h,
                "machine_h": machine_h,
                "machine_y": CHART_HEIGHT - opens_h - machine_h,
                "clicks_h": clicks_h,
                "clicks_y": CHART_HEIGHT - clicks_h,
            }
        )
    return {
        "bars": bars,
        "width": max(len(series) * BAR_STEP, BAR_STEP),
        "height": CHART_HEIGHT,
        "peak": peak,
        "boundary": boundary,
    }
