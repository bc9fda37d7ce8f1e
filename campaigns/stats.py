"""The campaign statistics of CONTRACT §4 and §7, each declared once.

`selectors.campaign_stats` answers with these keys in this order, `serializers.CampaignStatsSerializer`
builds its fields from them (type, nullability, help text in the schema) and the admin report labels
its rows with them. A new number is declared here and computed in the selector (money and holdout ones
in `campaigns.reports.campaigns`); the API, its schema and the report follow.

Each number belongs to a group: "mail" (what happened to the messages), "money" (the purchases attributed
to them) and "holdout" (mailed contacts against held-out ones); the report shows one block per group.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .models import Message, TrackingEvent

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


# A delivered message: sent and not bounced. The message-level form of "delivered = sent − bounced" (a bounce
# only ever happens to sent mail), for the queries that need the delivered messages themselves.
DELIVERED = Q(status=Message.Status.SENT, bounced_at__isnull=True)
# Tracking events by who made them: people, or machines (privacy proxies, scanners, prefetch), which never
# count towards rates, segments or attribution.
HUMAN_OPEN = Q(kind=TrackingEvent.Kind.OPEN, is_machine=False)
HUMAN_CLICK = Q(kind=TrackingEvent.Kind.CLICK, is_machine=False)
MACHINE_OPEN = Q(kind=TrackingEvent.Kind.OPEN, is_machine=True)

Kind = Literal["count", "rate", "money", "ratio", "interval", "text"]
Group = Literal["mail", "money", "holdout"]
# Kinds whose value is null when their divisor is 0.
NULLABLE_KINDS = ("rate", "ratio", "interval")


@dataclass(frozen=True)
class Stat:
    """One number of a campaign's stats.

    A count is a whole number; a rate is a fraction 0..1, or null when its divisor is 0; money is a decimal
    amount (a string in the API); a ratio is a fraction that may be negative or above 1 (lift, ROMI), null
    when its divisor is 0; an interval is [low, high] or null; text is words (`choices` lists the values a
    code may take). `null` marks money that may be missing too. `label` and `explanation` are the report's
    words for a marketer, `help_text` the schema's for a developer (it names the other keys); either may be
    empty where the name says it all."""

    key: str
    kind: Kind
    label: StrOrPromise
    explanation: StrOrPromise = ""
    help_text: StrOrPromise | None = None
    group: Group = "mail"
    null: bool = False
    choices: tuple[str, ...] = ()

    @property
    def is_rate(self) -> bool:
        return self.kind == "rate"

    @property
    def nullable(self) -> bool:
        return self.null or self.kind in NULLABLE_KINDS


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
    Stat(
        "conversions",
        "count",
        label=_("Conversions"),
        explanation=_("purchases attributed to this campaign"),
        help_text=_(
            "Purchases attributed to the campaign's messages: the latest human click within ATTRIBUTION_CLICK_DAYS "
            "before the purchase, else the latest human open within ATTRIBUTION_OPEN_DAYS."
        ),
        group="money",
    ),
    Stat(
        "converted_contacts",
        "count",
        label=_("Converted contacts"),
        explanation=_("recipients with at least one attributed purchase"),
        help_text=_("Distinct contacts with at least one attributed purchase."),
        group="money",
    ),
    Stat(
        "revenue",
        "money",
        label=_("Revenue"),
        explanation=_("total of the attributed purchases, online and in store"),
        help_text=_("Sum of the totals of the attributed purchases, every channel."),
        group="money",
    ),
    Stat(
        "in_store_revenue",
        "money",
        label=_("Of which in store"),
        explanation=_("attributed purchases made in a store"),
        help_text=_("The part of revenue from purchases with channel in_store."),
        group="money",
    ),
    Stat(
        "conversion_rate",
        "rate",
        label=_("Conversion rate"),
        explanation=_("converted contacts / delivered"),
        help_text=_("converted_contacts / delivered."),
        group="money",
    ),
    Stat(
        "revenue_per_recipient",
        "money",
        label=_("Revenue per recipient"),
        explanation=_("revenue / delivered"),
        help_text=_("revenue / delivered; null when nothing was delivered."),
        group="money",
        null=True,
    ),
    Stat(
        "cost",
        "money",
        label=_("Cost"),
        explanation=_("what the campaign cost, as entered on it"),
        help_text=_("The campaign's cost."),
        group="money",
    ),
    Stat(
        "romi",
        "ratio",
        label=_("ROMI"),
        explanation=_("(revenue − cost) / cost"),
        help_text=_("Return on marketing investment, (revenue − cost) / cost; null when the cost is 0."),
        group="money",
    ),
    Stat(
        "holdout_size",
        "count",
        label=_("Held out"),
        explanation=_("recipients picked at random and not mailed"),
        help_text=_("Messages with status holdout: recipients recorded but never mailed."),
        group="holdout",
    ),
    Stat(
        "treated_conversion_rate",
        "rate",
        label=_("Mailed contacts who bought"),
        explanation=_("share of the delivered contacts with a purchase in the window"),
        help_text=_(
            "Share of the delivered messages' contacts with at least one purchase (any channel, attributed or "
            "not) within ATTRIBUTION_CLICK_DAYS after the campaign started."
        ),
        group="holdout",
    ),
    Stat(
        "holdout_conversion_rate",
        "rate",
        label=_("Held-out contacts who bought"),
        explanation=_("share of the held-out contacts with a purchase in the window"),
        help_text=_("The same share among the held-out contacts; null without a holdout."),
        group="holdout",
    ),
    Stat(
        "lift",
        "ratio",
        label=_("Lift"),
        explanation=_("mailed rate / held-out rate − 1"),
        help_text=_("treated_conversion_rate / holdout_conversion_rate − 1."),
        group="holdout",
    ),
    Stat(
        "lift_ci95",
        "interval",
        label=_("95 percent interval of the difference"),
        explanation=_("mailed rate − held-out rate, in percentage points"),
        help_text=_(
            "[low, high]: the 95 percent confidence interval of treated_conversion_rate − holdout_conversion_rate "
            "(normal approximation), as fractions."
        ),
        group="holdout",
    ),
    Stat(
        "incremental_revenue",
        "money",
        label=_("Incremental revenue"),
        explanation=_("(mailed − held-out revenue per contact in the window) × delivered"),
        help_text=_(
            "(treated revenue per contact − holdout revenue per contact, in the window) × delivered; null "
            "without a holdout or delivered mail."
        ),
        group="holdout",
        null=True,
    ),
    Stat(
        "verdict",
        "text",
        label=_("Verdict"),
        help_text=_("What the interval says, as a code."),
        group="holdout",
        choices=("no_holdout", "waiting", "no_effect", "positive", "negative"),
    ),
    Stat(
        "verdict_text",
        "text",
        label=_("In words"),
        help_text=_("The verdict as a sentence in the request's language."),
        group="holdout",
    ),
)


def group_stats(group: Group) -> tuple[Stat, ...]:
    return tuple(stat for stat in STATS if stat.group == group)
