"""Spend per channel and channel ROMI (CONTRACT §7).

A purchase's channel, for ROMI, is `email` when it is attributed to a mail, else its `utm_source` read in lower
case, as spend channels are stored (a purchase with neither belongs to no channel). A month's spend counts
towards a period in proportion to the days of that month the period covers, so the spend of March counts in
full for all of March and a third for its first ten days.

    romi = (revenue of the channel's purchases in the period − the channel's spend for the period) / that spend

None when the spend is 0.
"""

import calendar
from decimal import Decimal
from typing import TypedDict

from django.db.models import Exists, OuterRef, Q, Sum
from django.db.models.functions import Lower

from contacts.models import Purchase

from .models import Attribution, Spend
from .period import Period

EMAIL = "email"
CENTS = Decimal("0.01")


class ChannelRomi(TypedDict):
    revenue: Decimal
    spend: Decimal
    romi: float | None


def _attributed() -> Exists:
    return Exists(Attribution.objects.filter(purchase_id=OuterRef("pk")))


def _tagged() -> Q:
    return ~Q(utm_source="")


def channel_revenue(period: Period) -> dict[str, Decimal]:
    """Revenue per channel of the purchases made in the period.

    The `email` part is summed from the attribution rows (they carry the purchase's time and total); the
    rest from the purchases with a utm_source that no mail took the credit of, found through the partial
    index on tagged purchases rather than by reading every purchase of the period."""
    start, end = period.bounds()
    revenue: dict[str, Decimal] = {}
    emailed = Attribution.objects.filter(purchased_at__gte=start, purchased_at__lt=end).aggregate(revenue=Sum("total"))
    if emailed["revenue"] is not None:
        revenue[EMAIL] = emailed["revenue"]
    rows = (
        Purchase.objects.filter(_tagged(), purchased_at__gte=start, purchased_at__lt=end)
        .exclude(_attributed())
        .annotate(romi_channel=Lower("utm_source"))
        .values("romi_channel")
        .order_by("romi_channel")
        .annotate(revenue=Sum("total"))
    )
    for row in rows:
        channel = row["romi_channel"]
        revenue[channel] = revenue.get(channel, Decimal(0)) + row["revenue"]
    return {channel: Decimal(amount).quantize(CENTS) for channel, amount in revenue.items()}


def channel_spend(period: Period) -> dict[str, Decimal]:
    """Each channel's spend prorated to the period by days (a month's amount × its days in the period / its
    length), rounded to cents per channel once summed."""
    months = dict(period.months())
    if not months:
        return {}
    rows = Spend.objects.filter(month__gte=min(months), month__lte=max(months)).values_list(
        "channel", "month", "amount"
    )
    spent: dict[str, Decimal] = {}
    for channel, month, amount in rows:
        length = calendar.monthrange(month.year, month.month)[1]
        days = months.get(month.replace(day=1), 0)
        spent[channel] = spent.get(channel, Decimal(0)) + amount * days / length
    return {channel: amount.quantize(CENTS) for channel, amount in spent.items()}


def romi(revenue: Decimal, spend: Decimal) -> float | None:
    """(revenue − spend) / spend to four decimals; None when nothing was spent."""
    return round(float((revenue - spend) / spend), 4) if spend else None


def channel_romi(period: Period) -> dict[str, ChannelRomi]:
    """Per channel with revenue or spend in the period, in name order: {"revenue", "spend", "romi"}."""
    revenue, spend = channel_revenue(period), channel_spend(period)
    result: dict[str, ChannelRomi] = {}
    for channel in sorted(set(revenue) | set(spend)):
        earned, spent = revenue.get(channel, Decimal("0.00")), spend.get(channel, Decimal("0.00"))
        result[channel] = {"revenue": earned, "spend": spent, "romi": romi(earned, spent)}
    return result
