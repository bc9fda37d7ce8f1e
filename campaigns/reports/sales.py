"""Revenue, orders, buyers, repeat buyers and retention of a period (CONTRACT §8), read from the daily rollups
(`rollups.py`) in two aggregate queries whatever the period's length — the period and the one before it.

The distinct counts come from `BuyerDay`, where each purchase p of day d is counted under the day of its
buyer's previous purchase (lag 1) and of the one before that (lag 2). For a period of days [s, e]:
- buyers = purchases in [s, e] whose previous purchase is before s (or none): each buyer's first of the period;
- repeat buyers (≥ 2 orders in the period) = purchases in [s, e] whose previous purchase is in the period and
  the one before that is not: each such buyer's second of the period. As sums: purchases in [s, e] with a
  previous purchase and a lag-2 day before s (or none), minus those whose previous purchase itself is before s;
- retained buyers = purchases in [s, e] whose previous purchase falls in the period before (each returning
  buyer's first of this period), over that period's buyers.
"""

from decimal import Decimal

from django.db.models import Q, Sum

from contacts.models import Channel

from .models import NO_PURCHASE, BuyerDay, SalesDay
from .period import Period

CENTS = Decimal("0.01")


def _money(amount: Decimal | None) -> Decimal:
    return (amount or Decimal(0)).quantize(CENTS)


def _in(period: Period) -> Q:
    return Q(day__gte=period.start, day__lte=period.end)


def sales_totals(period: Period) -> dict[str, dict]:
    """{"current": …, "previous": …}, each {"revenue", "orders", "by_channel": {channel: {revenue, orders}},
    "club_revenue"} — the period's and the previous one's, from one query."""
    figures = {}
    aggregates: dict[str, Sum] = {}
    for key, part in (("current", period), ("previous", period.previous())):
        aggregates |= {
            f"{key}_club": Sum("revenue", filter=_in(part) & Q(club=True)),
            **{f"{key}_revenue_{c}": Sum("revenue", filter=_in(part) & Q(channel=c)) for c in Channel},
            **{f"{key}_orders_{c}": Sum("orders", filter=_in(part) & Q(channel=c)) for c in Channel},
        }
    row = SalesDay.objects.filter(day__gte=period.previous().start, day__lte=period.end).aggregate(**aggregates)
    for key in ("current", "previous"):
        by_channel = {
            str(c): {"revenue": _money(row[f"{key}_revenue_{c}"]), "orders": row[f"{key}_orders_{c}"] or 0}
            for c in Channel
        }
        figures[key] = {
            "revenue": sum((v["revenue"] for v in by_channel.values()), Decimal(0)),
            "orders": sum(v["orders"] for v in by_channel.values()),
            "by_channel": by_channel,
            "club_revenue": _money(row[f"{key}_club"]),
        }
    return figures


def _counts(key: str, part: Period, before: Period) -> dict:
    """The BuyerDay sums for one period (`before` is the period preceding it)."""
    days, start = _in(part), part.start
    return {
        f"{key}_buyers": Sum("purchases", filter=days & Q(lag=1, earlier_day__lt=start)),
        f"{key}_returning": Sum(
            "purchases", filter=days & Q(lag=1, earlier_day__lt=start, earlier_day__gt=NO_PURCHASE)
        ),
        f"{key}_second": Sum("purchases", filter=days & Q(lag=2, earlier_day__lt=start)),
        f"{key}_kept": Sum(
            "purchases", filter=days & Q(lag=1, earlier_day__gte=before.start, earlier_day__lte=before.end)
        ),
    }


def buyer_counts(period: Period) -> dict[str, dict]:
    """{"current": …, "previous": …}, each {"buyers", "repeat", "kept", "earlier_buyers"}: distinct buyers,
    buyers with two orders or more, buyers of the period before who bought again, and that period's buyers."""
    previous = period.previous()
    before_previous = previous.previous()
    row = BuyerDay.objects.filter(day__gte=before_previous.start, day__lte=period.end).aggregate(
        **_counts("current", period, previous),
        **_counts("previous", previous, before_previous),
        earliest_buyers=Sum("purchases", filter=_in(before_previous) & Q(lag=1, earlier_day__lt=before_previous.start)),
    )
    value = {name: n or 0 for name, n in row.items()}
    result = {}
    for key, earlier in (("current", "previous"), ("previous", "earliest")):
        result[key] = {
            "buyers": value[f"{key}_buyers"],
            "repeat": value[f"{key}_second"] - value[f"{key}_returning"],
            "kept": value[f"{key}_kept"],
            "earlier_buyers": value[f"{earlier}_buyers"],
        }
    return result
