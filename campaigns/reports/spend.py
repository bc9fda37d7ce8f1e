"""Spend per channel and channel ROMI (CONTRACT §7).

A purchase's channel, for ROMI, is `email` when it is attributed to a mail, else its `utm_source` read in lower
case, as spend channels are stored (a purchase with neither belongs to no channel). A month's spend counts
towards a period in proportion to the days of that month the period covers, so the spend of March counts in
full for all of March and a third for its first ten days.

    romi = (revenue of the channel's purchases in the period − the channel's spend for the period) / that spend

None when the spend is 0.

The database keeps the revenue per day and channel by the same rule (its triggers, `counts.ChannelCount`), so a
year of purchases costs what a few days of counts do; tests compare the two readings after every kind of write.
"""

import calendar
import datetime as dt
from collections import Counter
from decimal import Decimal
from typing import TypedDict

from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.db.models.functions import Lower

from contacts.models import Purchase

from .audience import day_split
from .counts import ChannelCount
from .models import Attribution, Spend
from .period import Period
from .triggers import counts_zone

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
    """Revenue per channel of the purchases made in the period, for every channel with a purchase in it.

    The whole days of the period are summed from the counts the database keeps by day and channel
    (`counts.ChannelCount`, a few rows a day); the hours at either end that are no whole day of the counts
    (none on PostgreSQL, whose counts are by TIME_ZONE day) are read from the rows (`channel_revenue_between`)."""
    start, end = period.bounds()
    split = day_split(start, end, counts_zone(connection))
    orders: Counter[str] = Counter()
    revenue: dict[str, Decimal] = {}
    if split.days:
        first, stop = split.days
        counted = ChannelCount.objects.filter(day__gte=first, day__lt=stop).values("channel").order_by()
        for row in counted.annotate(orders=Sum("n"), revenue=Sum("revenue")):
            orders[row["channel"]] += row["orders"]
            revenue[row["channel"]] = revenue.get(row["channel"], Decimal(0)) + row["revenue"]
    for lo, hi in split.edges:
        for channel, (count, amount) in channel_revenue_between(lo, hi).items():
            orders[channel] += count
            revenue[channel] = revenue.get(channel, Decimal(0)) + amount
    return {channel: Decimal(revenue[channel]).quantize(CENTS) for channel in orders if orders[channel] > 0}


def channel_revenue_between(start: dt.datetime, end: dt.datetime) -> dict[str, tuple[int, Decimal]]:
    """(purchases, revenue) per channel of the purchases made in [start, end), from the rows: the `email` part
    from the attribution rows (they carry the purchase's time and total), the rest from the purchases with a
    utm_source that no mail took the credit of, through the partial index on tagged purchases."""
    found: dict[str, tuple[int, Decimal]] = {}
    emailed = Attribution.objects.filter(purchased_at__gte=start, purchased_at__lt=end).aggregate(
        n=Count("pk"), revenue=Sum("total")
    )
    if emailed["n"]:
        found[EMAIL] = (emailed["n"], emailed["revenue"])
    rows = (
        Purchase.objects.filter(_tagged(), purchased_at__gte=start, purchased_at__lt=end)
        .exclude(_attributed())
        .annotate(romi_channel=Lower("utm_source"))
        .values("romi_channel")
        .order_by("romi_channel")
        .annotate(n=Count("pk"), revenue=Sum("total"))
    )
    for row in rows:
        count, amount = found.get(row["romi_channel"], (0, Decimal(0)))
        found[row["romi_channel"]] = (count + row["n"], amount + row["revenue"])
    return found


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
