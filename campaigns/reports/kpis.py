"""The KPIs of CONTRACT §8 for a period: one dict, every figure an aggregate computed by the database.

`kpis(period)` answers with these keys (money as `Decimal` with two places, rates as floats 0..1 rounded to
four digits, None wherever a divisor is 0; category keys are the choices' values):

- `period`: {"from", "to"} — the dates asked for, both included (TIME_ZONE days).
- `funnel`: contacts per funnel stage now, {"none", "visitor", "interested", "cart", "purchaser"}.
- `funnel_conversion`: {"interested", "cart", "purchaser"}: contacts at that stage or above / at the stage
  below or above.
- `lifecycle`: contacts per lifecycle stage now, {"prospect", "new", "active", "at_risk", "lapsed"}.
- `new_contacts`: {"total", "by_source": {source: n}} — contacts whose signed_up_at falls in the period; every
  source is a key, "" for a contact without one.
- `revenue`, `orders`, `buyers` (distinct contacts with a purchase in the period), `aov` = revenue / orders,
  `frequency` = orders / buyers, `repeat_rate` = buyers with ≥ 2 orders / buyers.
- `by_channel`: {channel: {"revenue", "orders"}} for online, in_store and app.
- `club_revenue_share`: revenue of contacts whose club membership is active (now) / revenue.
- `retention`: buyers of the previous period of equal length who bought again in this one / those buyers.
- `users_share`: contacts with email or SMS consent / (contacts + anonymous ids with events in the period not
  linked to a contact).
- `email`: {"sent", "delivered", "unique_opens", "unique_clicks", "attributed_revenue"} — campaign and
  automation mails sent in the period; delivered = sent − bounced; unique opens and clicks are those mails
  with a human open or click (whenever it happened); attributed revenue is that of the attributions (§7)
  whose purchase falls in the period, whenever the mail was sent.
- `promoters`: contacts with a review or referral event in the period.
- `channel_romi`: `spend.channel_romi(period)`, {channel: {"revenue", "spend", "romi"}}.
- `top_campaigns`, `top_flows`: up to five each by attributed revenue in the period, best first:
  [{"id", "name", "revenue", "conversions"}] (a flow's figures add up its mail steps).
- `previous`: {"revenue", "orders", "buyers", "aov", "frequency", "repeat_rate", "retention"} for the previous
  period of equal length, to show the change.

"Now" figures (funnel, lifecycle, users share) count the audience as it stands: erased contacts are left out.
Figures of what happened in the period (money, buyers, sign-ups, mail, promoters) keep them, so totals add up
the same before and after an erasure.

A fixed number of aggregate queries (under twenty), whatever the data's size; every time filter is a range on
a time column. At scale (1M contacts,
3M purchases, 10M events, a year):
- revenue, orders, channels, club share, buyers, repeat buyers and retention, for the period and the previous
  one, are two aggregates over the daily rollups (`sales.py`, kept by `rollups.py`): a year costs what a
  week does. Attributions are read through their time index (attribution_time_idx), so they cost what the
  period holds.
- `Message.sent_at` has no index of its own (only (contact, sent_at)): the mail counts read every message
  until one is added, or a daily rollup per campaign.
- funnel, lifecycle, users share, new contacts and promoters read the counts the database keeps by triggers
  and a job folds every minute (`counts.py`, `audience.py`): contacts not erased by funnel stage, consent and
  the UTC days of their first and last purchase (a few thousand rows: the days too old to matter to the
  lifecycle rule are coarsened), the contacts of the two or three purchase days a lifecycle threshold falls
  inside read from the contacts (contact_first_purchase_idx, contact_last_purchase_idx); sign-ups by day and
  source; anonymous visitors and promoters by the days they were seen, each counted once, on its first day of
  the period. Those days are TIME_ZONE days on PostgreSQL, so a period is whole days of the counts; on SQLite
  they are UTC days, and the hours left at either end are read from the rows (contact_signed_up_idx,
  activity_contact_recent_idx, activity_type_time_contact_idx). A year costs what a day does.
- channel ROMI (`spend.py`) reads the purchases and revenue the database keeps by day and channel (a few rows a
  day, same triggers and fold), the hours outside whole days of the counts from the attributions and tagged
  purchases themselves (attribution_time_idx, purchase_utm_source_idx), and the spend rows of the months the
  period touches.
"""

import datetime as dt
import itertools
from collections.abc import Mapping
from decimal import Decimal

from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.utils import timezone

from contacts.lifecycle import ORDER as LIFECYCLES
from contacts.models import FunnelStage, Source

from ..models import Campaign, Message, TrackingEvent
from ..selectors import HUMAN_CLICK, HUMAN_OPEN, RATE_DIGITS
from .audience import audience_now, distinct_members, signups
from .models import Attribution
from .period import Period
from .sales import buyer_counts, sales_totals
from .spend import channel_romi

CENTS = Decimal("0.01")
TOP = 5
# The funnel's layers by key ("none", "visitor", …), lowest first.
STAGES = {stage.name.lower(): stage for stage in FunnelStage}
PREVIOUS_KEYS = ("revenue", "orders", "buyers", "aov", "frequency", "repeat_rate", "retention")


def kpis(period: Period, *, now: dt.datetime | None = None) -> dict:
    """Every figure of CONTRACT §8 for `period` (see the module docstring for the keys), and the main ones of
    the period before it under `previous`. `now` is when the "now" figures (funnel, lifecycle) are taken."""
    now = now or timezone.now()
    sales, earlier = _sales(period)
    return {
        "period": {"from": period.start, "to": period.end},
        **_audience(period, now),
        "new_contacts": _new_contacts(period),
        **sales,
        "email": _email(period),
        "promoters": _promoters(period),
        "channel_romi": channel_romi(period),
        **_top(period),
        "previous": {key: earlier[key] for key in PREVIOUS_KEYS},
    }


# ------------------------------------------------------------------ arithmetic


def ratio(part: float | Decimal | int, whole: float | Decimal | int) -> float | None:
    """part / whole rounded to four digits; None when there is nothing to divide by."""
    if not whole:
        return None
    return round(float(part) / float(whole), RATE_DIGITS)


def money(amount: Decimal | None) -> Decimal:
    return (amount or Decimal(0)).quantize(CENTS)


def _between(field: str, period: Period) -> Q:
    start, end = period.bounds()
    return Q(**{f"{field}__gte": start, f"{field}__lt": end})


# ------------------------------------------------------------------ the audience now


def _audience(period: Period, now: dt.datetime) -> dict:
    """Funnel, lifecycle and users share, from the counts the database keeps (`audience.py`)."""
    audience = audience_now(now=now)
    funnel = {key: audience.funnel[stage] for key, stage in STAGES.items()}
    at_least = {key: sum(list(funnel.values())[index:]) for index, key in enumerate(funnel)}
    return {
        "funnel": funnel,
        "funnel_conversion": {
            key: ratio(at_least[key], at_least[below]) for below, key in itertools.pairwise(list(STAGES)[1:])
        },
        "lifecycle": {str(stage): audience.lifecycle[stage] for stage in LIFECYCLES},
        "users_share": ratio(audience.consenting, audience.contacts + _anonymous_visitors(period)),
    }


def _anonymous_visitors(period: Period) -> int:
    """Anonymous ids with events in the period that no contact is known to have used."""
    return distinct_members("anonymous", period)


# ------------------------------------------------------------------ what happened in the period


def _new_contacts(period: Period) -> dict:
    by_source = dict.fromkeys([str(source) for source in Source], 0) | dict(sorted(signups(period).items()))
    return {"total": sum(by_source.values()), "by_source": by_source}


def _sales(period: Period) -> tuple[dict, dict]:
    """Revenue, orders, buyers and what derives from them, for the period and the one before it (two queries
    over the daily rollups, see `sales.py`); the period's own figures add the split by channel and the club's
    share."""
    totals, buyers = sales_totals(period), buyer_counts(period)
    current, previous = ({**totals[key], **buyers[key]} for key in ("current", "previous"))
    figures = _sales_figures(current), _sales_figures(previous)
    figures[0]["by_channel"] = current["by_channel"]
    figures[0]["club_revenue_share"] = ratio(current["club_revenue"], current["revenue"])
    return figures


def _sales_figures(counts: dict) -> dict:
    revenue, orders, buyers = money(counts["revenue"]), counts["orders"], counts["buyers"]
    return {
        "revenue": revenue,
        "orders": orders,
        "buyers": buyers,
        "aov": (revenue / orders).quantize(CENTS) if orders else None,
        "frequency": ratio(orders, buyers),
        "repeat_rate": ratio(counts["repeat"], buyers),
        "retention": ratio(counts["kept"], counts["earlier_buyers"]),
    }


def _email(period: Period) -> dict:
    """The campaign and automation mails sent in the period, and the revenue attributed in it.

    The mail counts add up the period's hours of `SentHour`, which the database keeps as mail is sent, bounces,
    and is opened or clicked by a person (`campaigns.tallies`): a few rows an hour, whatever the volume. Only
    where TIME_ZONE's days do not begin on a whole UTC hour are the messages counted one by one."""
    from .. import tallies

    start, end = period.bounds()
    if tallies.whole_hours(start, end):
        hours = tallies.sent_between(start, end)
        counts = {"sent": hours["sent"], "bounced": hours["bounced"]}
        counts.update(unique_opens=hours["opened"], unique_clicks=hours["clicked"])
    else:
        events = TrackingEvent.objects.filter(message_id=OuterRef("pk"))
        counts = (
            Message.objects.filter(_between("sent_at", period), status=Message.Status.SENT)
            .annotate(opened=Exists(events.filter(HUMAN_OPEN)), clicked=Exists(events.filter(HUMAN_CLICK)))
            .aggregate(
                sent=Count("pk"),
                bounced=Count("pk", filter=Q(bounced_at__isnull=False)),
                unique_opens=Count("pk", filter=Q(opened=True)),
                unique_clicks=Count("pk", filter=Q(clicked=True)),
            )
        )
    revenue = Attribution.objects.filter(_between("purchased_at", period)).aggregate(revenue=Sum("total"))["revenue"]
    return {
        "sent": counts["sent"],
        "delivered": max(counts["sent"] - counts["bounced"], 0),
        "unique_opens": counts["unique_opens"],
        "unique_clicks": counts["unique_clicks"],
        "attributed_revenue": money(revenue),
    }


def _promoters(period: Period) -> int:
    return distinct_members("promoter", period)


def _top(period: Period) -> dict:
    """The five campaigns and five automations that earned most in the period (ties: lowest id first)."""
    credited = Attribution.objects.filter(_between("purchased_at", period))
    campaigns = (
        credited.filter(campaign__kind=Campaign.Kind.BROADCAST)
        .values("campaign_id", "campaign__name")
        .annotate(revenue=Sum("total"), conversions=Count("pk"))
        .order_by("-revenue", "campaign_id")[:TOP]
    )
    flows = (
        credited.filter(campaign__kind=Campaign.Kind.FLOW, campaign__flow_mail__isnull=False)
        .values("campaign__flow_mail__flow_id", "campaign__flow_mail__flow__name")
        .annotate(revenue=Sum("total"), conversions=Count("pk"))
        .order_by("-revenue", "campaign__flow_mail__flow_id")[:TOP]
    )
    return {
        "top_campaigns": [_top_row(row, "campaign_id", "campaign__name") for row in campaigns],
        "top_flows": [
            _top_row(row, "campaign__flow_mail__flow_id", "campaign__flow_mail__flow__name") for row in flows
        ],
    }


def _top_row(row: Mapping, id_key: str, name_key: str) -> dict:
    return {
        "id": row[id_key],
        "name": row[name_key],
        "revenue": money(row["revenue"]),
        "conversions": row["conversions"],
    }
