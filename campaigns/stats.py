"""The campaign statistics of CONTRACT §4, each declared once.

`selectors.campaign_stats` answers with these keys in this order, `serializers.CampaignStatsSerializer`
builds its fields from them (type, nullability, help text in the schema) and the admin report labels
its rows with them. A new number is declared here and computed in the selector; the API, its schema
and the report follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


@dataclass(frozen=True)
class Stat:
    """One number of a campaign's stats.

    A count is a whole number; a rate is a fraction 0..1, or null when its divisor is 0. `label` and
    `explanation` are the report's words for a marketer, `help_text` the schema's for a developer
    (it names the other keys); either may be empty where the name says it all."""

    key: str
    kind: Literal["count", "rate"]
    label: StrOrPromise
    explanation: StrOrPromise = ""
    help_text: StrOrPromise | None = None

    @property
    def is_rate(self) -> bool:
        return self.kind == "rate"


STATS: tuple[Stat, ...] = (
    Stat(
        "recipients",
        "count",
        label=_("Recipients"),
        explanation=_("messages created for the campaign"),
        help_text=_("Messages created for the campaign (every recipient)."),
    ),
    Stat("sent", "count", label=_("Sent")),
    Stat("failed", "count", label=_("Failed"), explanation=_("refused by the mail server")),
    Stat(
        "skipped",
        "count",
        label=_("Skipped"),
        explanation=_("no consent, unsubscribed, bounced or over the frequency cap"),
        help_text=_("Not sent: no consent, unsubscribed, bounced, frequency cap…"),
    ),
    Stat("bounced", "count", label=_("Bounced")),
    Stat("complaints", "count", label=_("Complaints"), explanation=_("marked as spam")),
    Stat("unsubscribes", "count", label=_("Unsubscribes")),
    Stat(
        "opens",
        "count",
        label=_("Opens (human)"),
        explanation=_("open events, machines excluded"),
        help_text=_("Human open events."),
    ),
    Stat(
        "unique_opens",
        "count",
        label=_("Unique opens"),
        explanation=_("recipients who opened"),
        help_text=_("Messages with at least one human open."),
    ),
    Stat(
        "machine_opens",
        "count",
        label=_("Machine opens"),
        explanation=_("privacy proxies, scanners, prefetch"),
        help_text=_("Opens by privacy proxies, scanners and prefetch."),
    ),
    Stat(
        "clicks",
        "count",
        label=_("Clicks"),
        explanation=_("click events, scanners excluded"),
        help_text=_("Human click events."),
    ),
    Stat(
        "unique_clicks",
        "count",
        label=_("Unique clicks"),
        explanation=_("recipients who clicked"),
        help_text=_("Messages with at least one human click."),
    ),
    Stat(
        "open_rate",
        "rate",
        label=_("Open rate"),
        explanation=_("unique opens / delivered"),
        help_text=_("unique_opens / delivered (delivered = sent − bounced); null when nothing was delivered."),
    ),
    Stat(
        "click_rate",
        "rate",
        label=_("Click rate"),
        explanation=_("unique clicks / delivered"),
        help_text=_("unique_clicks / delivered."),
    ),
    Stat(
        "click_to_open_rate",
        "rate",
        label=_("Click-to-open rate"),
        explanation=_("unique clicks / unique opens"),
        help_text=_("unique_clicks / unique_opens."),
    ),
)
