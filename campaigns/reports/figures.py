"""What each figure of the home page says, where it links and how it is drawn, from the numbers `kpis()`
computed (no query here beyond the user's permissions, which Django caches on the user).

Numbers are written in the active language's format (Django's number and date formatting); an empty figure
(null: nothing to divide by in the period) shows as "—" with a tooltip saying why. A figure links to the
admin list that shows the rows behind it, through filters those lists already accept: contacts by funnel
stage, lifecycle, source and sign-up time; purchases by time and channel. A figure no list can reproduce
exactly (buyers kept from the period before, consent on either channel, club members' revenue) has no link
rather than a link to something else; so does any list the user may not open.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib import admin
from django.urls import reverse
from django.utils import formats, translation
from django.utils.http import urlencode
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from contacts.models import Channel, Lifecycle, Source

from . import charts
from .kpis import STAGES, ratio
from .models import Attribution
from .period import Period
from .spend import EMAIL

NULL = "—"
USERS_GOAL = 0.25
ARROWS = {"up": "▲", "down": "▼", "flat": "="}
# (key, label, kind, why it can be empty) of the sales figures shown with their change.
SALES = (
    ("revenue", gettext_lazy("Revenue"), "money", ""),
    ("orders", gettext_lazy("Orders"), "count", ""),
    ("buyers", gettext_lazy("Buyers"), "count", ""),
    ("aov", gettext_lazy("Average order value"), "money", gettext_lazy("No orders in this period.")),
    ("frequency", gettext_lazy("Orders per buyer"), "ratio", gettext_lazy("No buyers in this period.")),
    ("repeat_rate", gettext_lazy("Repeat rate"), "rate", gettext_lazy("No buyers in this period.")),
    (
        "retention",
        gettext_lazy("Retention"),
        "rate",
        gettext_lazy("Nobody bought in the period before, so there is nobody to keep."),
    ),
)
EMPTY_SHARE = {
    "club_revenue_share": gettext_lazy("No revenue in this period."),
    "users_share": gettext_lazy("No contacts or visitors to count yet."),
}
# Sales figures whose rows are exactly the purchases of the period.
PURCHASE_FIGURES = ("revenue", "orders", "buyers", "aov", "frequency", "repeat_rate")


@dataclass(frozen=True)
class Change:
    text: str
    trend: str  # up, down, flat; empty when there is nothing to compare with
    title: str


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    text: str
    href: str = ""
    why: str = ""  # the tooltip: why the figure is empty, or what it compares with
    change: Change | None = None

    @property
    def empty(self) -> bool:
        return self.text == NULL


# ------------------------------------------------------------------ numbers as text


def count(value: int) -> str:
    return formats.number_format(value, force_grouping=True)


def amount(value: Decimal | float, places: int = 2) -> str:
    return formats.number_format(value, decimal_pos=places, force_grouping=True)


def percent(rate: float | None, places: int = 1) -> str:
    if rate is None:
        return NULL
    number = formats.number_format(rate * 100, decimal_pos=places, force_grouping=True)
    return _("%(number)s%%") % {"number": number}


def write(value: Any, kind: str) -> str:
    """A figure of `kind` (count, money, ratio, rate) as text; "—" for null."""
    if value is None:
        return NULL
    if kind == "count":
        return count(value)
    if kind == "rate":
        return percent(value)
    return amount(value)


def change(now: Any, before: Any, kind: str) -> Change:
    """The move from the period before: relative for amounts and counts, in percentage points for rates."""
    if now is None or before is None or (kind != "rate" and not before):
        return Change(NULL, "", _("Nothing to compare with: the figure is empty now or in the period before."))
    if kind == "rate":
        moved = round((float(now) - float(before)) * 100, 1)
        text = _("%(points)s pts") % {"points": formats.number_format(abs(moved), decimal_pos=1)}
    else:
        moved = round((float(now) - float(before)) / float(before) * 100, 1)
        text = percent(abs(moved) / 100)
    trend = "up" if moved > 0 else "down" if moved < 0 else "flat"
    title = _("The period before: %(value)s") % {"value": write(before, kind)}
    return Change(f"{ARROWS[trend]} {text}", trend, title)


# ------------------------------------------------------------------ links


class Links:
    """Admin list addresses filtered to the rows behind a figure; empty where the user may not open the list."""

    def __init__(self, user: Any, period: Period) -> None:
        self.user = user
        self.start, self.end = (moment.isoformat() for moment in period.bounds())

    def _list(self, perm: str, url_name: str, params: Mapping[str, Any]) -> str:
        if not self.user.has_perm(perm):
            return ""
        return f"{reverse(url_name)}?{urlencode(params)}"

    def contacts_now(self, **params: Any) -> str:
        """Contacts as they stand (erased ones are left out, as the figures leave them out)."""
        return self._list(
            "contacts.view_contact", "admin:contacts_contact_changelist", {**params, "erased_at__isnull": 1}
        )

    def signed_up(self, **params: Any) -> str:
        range_ = {"signed_up_at__gte": self.start, "signed_up_at__lt": self.end}
        return self._list("contacts.view_contact", "admin:contacts_contact_changelist", {**params, **range_})

    def purchases(self, **params: Any) -> str:
        range_ = {"purchased_at__gte": self.start, "purchased_at__lt": self.end}
        return self._list("contacts.view_purchase", "admin:contacts_purchase_changelist", {**params, **range_})

    def attributions(self) -> str:
        if not admin.site.is_registered(Attribution):
            return ""
        range_ = {"purchased_at__gte": self.start, "purchased_at__lt": self.end}
        return self._list("reports.view_attribution", "admin:reports_attribution_changelist", range_)

    def campaign(self, pk: int) -> str:
        """The campaign's report, where its revenue is broken down."""
        if not self.user.has_perm("campaigns.view_campaign"):
            return ""
        return reverse("admin:campaigns_campaign_report", args=[pk])

    def flow(self, pk: int) -> str:
        """The automation's page, whose diagram shows each step's numbers."""
        if not self.user.has_perm("flows.view_flow"):
            return ""
        return reverse("admin:flows_flow_change", args=[pk])


# ------------------------------------------------------------------ panels


def panels(numbers: Mapping[str, Any], period: Period, *, user: Any) -> dict[str, Any]:
    """The figures, tables and charts of the KPI block."""
    links = Links(user, period)
    rtl = translation.get_language_bidi()
    return {
        "sales": _sales(numbers, links),
        "funnel_chart": _funnel(numbers, links, rtl),
        "lifecycle_chart": _lifecycle(numbers["lifecycle"], links, rtl),
        "channel_chart": _channels(numbers["by_channel"], numbers["revenue"], links, rtl),
        "sources_chart": _sources(numbers["new_contacts"]["by_source"], links, rtl),
        "users_chart": _users_gauge(numbers["users_share"], rtl),
        **_audience(numbers, links),
        "email": _email(numbers["email"], links),
        "top_campaigns": [_top_row(row, links.campaign(row["id"])) for row in numbers["top_campaigns"]],
        "top_flows": [_top_row(row, links.flow(row["id"])) for row in numbers["top_flows"]],
        "channel_romi": _romi(numbers["channel_romi"]),
    }


def _audience(numbers: Mapping[str, Any], links: Links) -> dict[str, Figure]:
    new = numbers["new_contacts"]["total"]
    return {
        "club_share": _share_figure("club_revenue_share", _("Club members' share of revenue"), numbers),
        "users_share": _share_figure("users_share", _("Users share"), numbers),
        "new_contacts": Figure("new_contacts", _("New contacts"), count(new), links.signed_up()),
        "promoters": Figure(
            "promoters",
            _("Promoters"),
            count(numbers["promoters"]),
            why=_("Contacts with a review or a referral in the period."),
        ),
    }


def _sales(numbers: Mapping[str, Any], links: Links) -> list[Figure]:
    previous = numbers["previous"]
    return [
        Figure(
            key,
            str(label),
            write(numbers[key], kind),
            links.purchases() if key in PURCHASE_FIGURES else "",
            str(why) if numbers[key] is None else "",
            change(numbers[key], previous[key], kind),
        )
        for key, label, kind, why in SALES
    ]


def _share_figure(key: str, label: str, numbers: Mapping[str, Any]) -> Figure:
    return Figure(key, label, percent(numbers[key]), why=str(EMPTY_SHARE[key]) if numbers[key] is None else "")


def _funnel(numbers: Mapping[str, Any], links: Links, rtl: bool) -> SafeString:
    funnel, steps = numbers["funnel"], numbers["funnel_conversion"]
    sizes, names = list(funnel.values()), [str(STAGES[key].label) for key in funnel]
    layers = []
    for index, key in enumerate(funnel):
        title = _layer_title(names[index], sizes[index], sum(sizes[index:]))
        if key in steps:
            title += " " + _step_title(steps[key], names[index], names[index - 1])
        layers.append(
            charts.Layer(
                label=names[index],
                count=count(sizes[index]),
                reached=sum(sizes[index:]),
                title=title,
                href=links.contacts_now(funnel_stage__exact=STAGES[key].value),
                step=percent(steps[key]) if key in steps else "",
            )
        )
    label = _("The funnel: contacts per stage and the conversion between stages")
    return charts.funnel_chart(layers, label=label, rtl=rtl)


def _layer_title(stage: str, size: int, reached: int) -> str:
    return ngettext(
        "%(stage)s: %(count)s contact at this stage, %(reached)s reached it or went further.",
        "%(stage)s: %(count)s contacts at this stage, %(reached)s reached it or went further.",
        size,
    ) % {"stage": stage, "count": count(size), "reached": count(reached)}


def _step_title(rate: float | None, stage: str, below: str) -> str:
    if rate is None:
        return _("Nobody reached %(below)s yet, so there is no conversion to %(stage)s.") % {
            "below": below,
            "stage": stage,
        }
    return _("%(rate)s of those who reached %(below)s went on to %(stage)s.") % {
        "rate": percent(rate),
        "below": below,
        "stage": stage,
    }


# Ticks a 190-pixel scale has room for when they are written in full (250,000 needs seven characters).
WIDE_TICKS = 3


def _count_axis(values: list[float]) -> charts.Axis:
    peak = max(values, default=0)
    end, step = charts.scale(peak, charts.TICKS if peak < 10_000 else WIDE_TICKS)
    return charts.Axis(end, charts.ticks(end, step, lambda v: amount(v, 0)))


def _lifecycle(lifecycle: Mapping[str, int], links: Links, rtl: bool) -> SafeString:
    bars = [
        charts.Bar(str(Lifecycle(key).label), size, count(size), links.contacts_now(lifecycle=key))
        for key, size in lifecycle.items()
    ]
    return charts.bar_chart(
        bars, axis=_count_axis([bar.value for bar in bars]), label=_("Contacts per lifecycle stage"), rtl=rtl
    )


def _channels(by_channel: Mapping[str, Any], revenue: Decimal, links: Links, rtl: bool) -> SafeString:
    bars = []
    for key, figures in by_channel.items():
        label = str(Channel(key).label)
        share = ratio(figures["revenue"], revenue)
        text = amount(figures["revenue"]) if share is None else f"{amount(figures['revenue'])} ({percent(share)})"
        title = ngettext(
            "%(channel)s: %(revenue)s from %(orders)s order",
            "%(channel)s: %(revenue)s from %(orders)s orders",
            figures["orders"],
        ) % {
            "channel": label,
            "revenue": amount(figures["revenue"]),
            "orders": count(figures["orders"]),
        }
        bars.append(charts.Bar(label, float(figures["revenue"]), text, links.purchases(channel__exact=key), title))
    return charts.bar_chart(
        bars, axis=_count_axis([bar.value for bar in bars]), label=_("Revenue per sales channel"), rtl=rtl
    )


def _source_label(key: str) -> str:
    return str(Source(key).label) if key in Source.values else key or _("No source")


def _sources(by_source: Mapping[str, int], links: Links, rtl: bool) -> SafeString:
    bars = [
        charts.Bar(_source_label(key), size, count(size), links.signed_up(source__exact=key))
        for key, size in by_source.items()
    ]
    return charts.bar_chart(
        bars, axis=_count_axis([bar.value for bar in bars]), label=_("New contacts per source"), rtl=rtl
    )


def _users_gauge(share: float | None, rtl: bool) -> SafeString:
    axis = charts.Axis(
        1.0,
        charts.ticks(1.0, 0.25, lambda v: percent(v, 0)),
        goal=USERS_GOAL,
        goal_text=_("goal %(goal)s") % {"goal": percent(USERS_GOAL, 0)},
    )
    title = str(EMPTY_SHARE["users_share"]) if share is None else ""
    bar = charts.Bar(_("Users share"), share or 0.0, percent(share), title=title)
    return charts.bar_chart([bar], axis=axis, label=_("Users share against the goal"), rtl=rtl, css="kpi-gauge")


def _email(email: Mapping[str, Any], links: Links) -> list[Figure]:
    delivered = email["delivered"]

    def with_rate(key: str) -> str:
        rate = ratio(email[key], delivered)
        return count(email[key]) if rate is None else f"{count(email[key])} ({percent(rate)})"

    return [
        Figure("sent", _("Sent"), count(email["sent"])),
        Figure("delivered", _("Delivered"), count(delivered), why=_("Sent, less bounced.")),
        Figure(
            "unique_opens",
            _("Opened"),
            with_rate("unique_opens"),
            why=_("Mails opened by a person, share of delivered."),
        ),
        Figure(
            "unique_clicks",
            _("Clicked"),
            with_rate("unique_clicks"),
            why=_("Mails clicked by a person, share of delivered."),
        ),
        Figure(
            "attributed_revenue", _("Attributed revenue"), amount(email["attributed_revenue"]), links.attributions()
        ),
    ]


def _top_row(row: Mapping[str, Any], href: str) -> dict[str, Any]:
    return {
        "name": row["name"],
        "href": href,
        "revenue": amount(row["revenue"]),
        "conversions": count(row["conversions"]),
    }


def _romi(channels: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "channel": _("Email") if channel == EMAIL else channel,
            "revenue": amount(row["revenue"]),
            "spend": amount(row["spend"]),
            "romi": percent(row["romi"]),
            "why": _("No spend recorded for this channel in the period.") if row["romi"] is None else "",
        }
        for channel, row in channels.items()
    ]
