"""Spend per channel and channel ROMI (CONTRACT §7).

A purchase's channel, for ROMI, is `email` when it is attributed to a mail, else its `utm_source` (a purchase
with neither belongs to no channel). A month's spend counts towards a period in proportion to the days of that
month the period covers, so the spend of March counts in full for all of March and a third for its first ten days.

    romi = (revenue of the channel's purchases in the period − the channel's spend for the period) / that spend

None when the spend is 0.
"""

import calendar
from decimal import Decimal

from django.db.models import Case, CharField, Exists, F, OuterRef, Sum, Value, When

from contacts.models import Purchase

from .models import Attribution, Spend
from .period import Period

EMAIL = "email"
CENTS = Decimal("0.01")


def purchase_channel() -> Case:
    """The ROMI channel of a purchase (`email` when attributed, else its utm_source): one owner for every
    report that splits revenue by channel."""
    return Case(
        When(Exists(Attribution.objects.filter(purchase_id=OuterRef("pk"))), then=Value(EMAIL)),
        default=F("utm_source"),
        output_field=CharField(),
    )


def channel_revenue(period: Period) -> dict[str, Decimal]:
    start, end = period.bounds()
    rows = (
        Purchase.objects.filter(purchased_at__gte=start, purchased_at__lt=end)
        .annotate(romi_channel=purchase_channel())
        .exclude(romi_channel="")
        .values("romi_channel")
        .order_by("romi_channel")
        .annotate(revenue=Sum("total"))
    )
    return {row["romi_channel"]: row["revenue"] for row in rows}


def channel_spend(period: Period) -> dict[str, Decimal]:
    """Each channel's spend prorated to the period by days."""
    spent: dict[str, Decimal] = {}
    months = period.months()
    rows = Spend.objects.filter(month__in=[month for month, _days in months]).values_list("channel", "month", "amount")
    share = dict(months)
    for channel, month, amount in rows:
        length = calendar.monthrange(month.year, month.month)[1]
        spent[channel] = spent.get(channel, Decimal(0)) + amount * share[month] / length
    return {channel: amount.quantize(CENTS) for channel, amount in spent.items()}


def channel_romi(period: Period) -> dict[str, dict]:
    """Per channel with revenue or spend in the period: {"revenue", "spend", "romi"}."""
    revenue, spend = channel_revenue(period), channel_spend(period)
    result = {}
    for channel in sorted(set(revenue) | set(spend)):
        earned, spent = revenue.get(channel, Decimal(0)), spend.get(channel, Decimal(0))
        result[channel] = {
            "revenue": earned,
            "spend": spent,
            "romi": round(float((earned - spent) / spent), 4) if spent else None,
        }
    return result
