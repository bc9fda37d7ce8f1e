"""A campaign's report page: the CONTRACT §4 stats, opens and clicks over time as an inline SVG (no
chart library, no CDN), clicks per link, and the recipients with their state, paged by id."""

from typing import TYPE_CHECKING

from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..models import Campaign
from ..selectors import (
    RECIPIENT_STATES,
    campaign_stats,
    clicks_per_link,
    delivered,
    opens_clicks_over_time,
    recipients_page,
)
from ..stats import STATS, Stat

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
        campaign, before=int(before) if (before or "").isdigit() else None, state=state, size=RECIPIENTS_PER_PAGE
    )
    series = opens_clicks_over_time(campaign)
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
ROWS = tuple(_BY_KEY[key] for key in READING_ORDER) + tuple(stat for stat in STATS if stat.key not in READING_ORDER)


def report_numbers(stats: dict) -> dict[str, str]:
    """Every number of the report as shown, keyed for the page's live refresh."""
    numbers = {key: str(value) for key, value in stats.items()}
    numbers.update(delivered=str(delivered(stats)), raw_opens=str(stats["opens"] + stats["machine_opens"]))
    for stat in STATS:
        if stat.is_rate:
            numbers[stat.key] = percent(stats[stat.key])
    return numbers


def stat_rows(stats: dict) -> list[tuple[str, "StrOrPromise", str, "StrOrPromise"]]:
    """(key, label, value, explanation) for the numbers table, in the order a marketer reads them."""
    numbers = report_numbers(stats)
    return [(row.key, row.label, numbers[row.key], row.explanation) for row in ROWS]


def chart(series: list) -> dict:
    """Bar geometry: per bucket a human-opens bar, a machine-opens bar on top of it, and a clicks bar."""
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
                "bucket": bucket,
                "x": index * BAR_STEP,
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
