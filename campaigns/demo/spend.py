"""What marketing cost in the demo: spend per channel for the months the demo's last 90 days touch.

Ad budgets are set from the revenue each channel actually brought in the demo data, each for the return a
retailer would typically see there (search pays best, Instagram does not pay for itself), so channel ROMI tells
the same story whatever the demo's size. The email channel's spend is what the month's mailings cost plus the
sending platform's fee.
"""

import calendar
import datetime as dt
import random
from decimal import Decimal

from django.utils import timezone

from ..models import Campaign
from ..reports.period import Period
from ..reports.services import spend_set
from ..reports.spend import EMAIL, channel_revenue

PERIOD_DAYS = 90
MONTHS = 4  # the anchor's month and the three before it: every day of the last 90 has its month's spend
ROMI_TARGETS = {"google": 3.0, "facebook": 1.2, "instagram": -0.25}
PLATFORM_FEE = 350  # ₪ a month for the sending platform
MINIMUM = 100  # ₪: a channel keeps a budget even in a demo too small to show its revenue


def spend_seed(*, anchor: dt.datetime, seed: int, campaigns: list[Campaign]) -> None:
    rng = random.Random(f"demo:{seed}:spend")
    today = timezone.localtime(anchor).date()
    period = Period(today - dt.timedelta(days=PERIOD_DAYS), today - dt.timedelta(days=1))
    daily = {channel: amount / period.days for channel, amount in channel_revenue(period).items()}
    for month in _months(today):
        length = calendar.monthrange(month.year, month.month)[1]
        for channel, target in ROMI_TARGETS.items():
            budget = daily.get(channel, Decimal(0)) * length / Decimal(1 + target) * Decimal(rng.uniform(0.85, 1.15))
            spend_set(channel=channel, month=month, amount=max(_tens(budget), Decimal(MINIMUM)))
        mailings = sum((c.cost for c in campaigns if c.started_at and _month(c.started_at) == month), Decimal(0))
        spend_set(channel=EMAIL, month=month, amount=mailings + PLATFORM_FEE)


def _months(today: dt.date) -> list[dt.date]:
    months = [today.replace(day=1)]
    while len(months) < MONTHS:
        months.append((months[-1] - dt.timedelta(days=1)).replace(day=1))
    return months


def _month(moment: dt.datetime) -> dt.date:
    return timezone.localtime(moment).date().replace(day=1)


def _tens(amount: Decimal) -> Decimal:
    return Decimal(round(amount / 10) * 10)
