"""What a campaign's mail earned (CONTRACT §7): attributed purchases and their money, and the holdout comparison.

Money comes from the Attribution table alone (each row carries its purchase's total and channel), as SQL
expressions over a campaign row: `money_annotations` is the one place where conversions, revenue and ROMI are
computed, whether for one campaign's report, many campaigns at once (`campaigns_money`, for automation steps)
or the sortable columns of the campaign list.

- conversions = attributed purchases; converted_contacts = distinct contacts among them
- revenue = sum of their totals; in_store_revenue = the part with channel in_store
- romi = (revenue − cost) / cost, null when the cost is 0 or empty
- conversion_rate = converted_contacts / delivered; revenue_per_recipient = revenue / delivered (`per_recipient`)

The holdout comparison counts purchases of any channel, attributed or not, made within ATTRIBUTION_CLICK_DAYS
after the campaign started (both ends included), by the contacts of its delivered messages (treated) and of its
held-out ones; `lift.lift_stats` turns those counts into rates, lift, its interval and the verdict. The counting
sums the window's purchases per buyer first and then meets the campaign's messages in the same statement (each
buyer's message found by index for a big campaign), so no purchase is looked at twice.

This module reads campaigns' messages but not `campaigns.selectors`, which imports it: the callers pass the
numbers they counted over the messages already (delivered, held out).
"""

import datetime as dt
from collections.abc import Collection
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.db.models import (
    Case,
    Count,
    DecimalField,
    Expression,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce

from contacts.models import Channel, Purchase

from ..models import Campaign, Message
from ..stats import DELIVERED
from .lift import Groups, lift_stats
from .models import Attribution

MONEY_KEYS = ("conversions", "converted_contacts", "revenue", "in_store_revenue", "cost", "romi")
HOLDOUT_KEYS = (
    "holdout_size",
    "treated_conversion_rate",
    "holdout_conversion_rate",
    "lift",
    "lift_ci95",
    "incremental_revenue",
    "verdict",
    "verdict_text",
)
CENTS = Decimal("0.01")
RATIO_DIGITS = 4
MONEY = DecimalField(max_digits=14, decimal_places=2)
TREATED, HELD_OUT = "treated", "held_out"
# From this many delivered and held-out messages on, a campaign's buyers look their messages up one by one.
PROBE_FROM = 100_000


# ------------------------------------------------------------------ attributed money


def _attributed(aggregate: Expression, output_field, zero) -> Coalesce:
    """`aggregate` over the Attribution rows of the campaign in the outer query; `zero` when it has none."""
    rows = Attribution.objects.filter(campaign_id=OuterRef("pk")).order_by().values("campaign_id")
    return Coalesce(Subquery(rows.annotate(value=aggregate).values("value")[:1]), zero, output_field=output_field)


def money_annotations() -> dict[str, Expression]:
    """Annotations for a Campaign queryset, in this order: conversions, converted_contacts, revenue,
    in_store_revenue, each one aggregate over the campaign's Attribution rows, and romi from revenue and cost.

    One query answers for a whole page of campaigns, and a list can sort by any of them."""
    cost = Cast(F("cost"), FloatField())
    return {
        "conversions": _attributed(Count("pk"), IntegerField(), Value(0)),
        "converted_contacts": _attributed(Count("contact_id", distinct=True), IntegerField(), Value(0)),
        "revenue": _attributed(Sum("total"), MONEY, Value(Decimal("0.00"))),
        "in_store_revenue": _attributed(
            Sum("total", filter=Q(channel=Channel.IN_STORE)), MONEY, Value(Decimal("0.00"))
        ),
        "romi": Case(
            When(cost__gt=0, then=(Cast(F("revenue"), FloatField()) - cost) / cost),
            default=None,
            output_field=FloatField(),
        ),
    }


def _money(row: dict) -> dict:
    """A row of `money_annotations` as the stats give it: money to the cent, ROMI rounded."""
    return {
        "conversions": row["conversions"],
        "converted_contacts": row["converted_contacts"],
        "revenue": Decimal(row["revenue"]).quantize(CENTS),
        "in_store_revenue": Decimal(row["in_store_revenue"]).quantize(CENTS),
        "cost": Decimal(row["cost"] or 0).quantize(CENTS),
        "romi": None if row["romi"] is None else round(row["romi"], RATIO_DIGITS),
    }


def campaigns_money(campaign_ids: Collection[int]) -> dict[int, dict]:
    """The attributed money of many campaigns (an automation's send steps, say) in one query, by campaign id:
    conversions, converted_contacts, revenue and in_store_revenue (Decimal), cost (Decimal) and romi (float or
    None). Unknown ids are left out. Add conversion_rate and revenue_per_recipient with `per_recipient`."""
    if not campaign_ids:
        return {}
    rows = Campaign.objects.filter(pk__in=campaign_ids).annotate(**money_annotations()).values("pk", *MONEY_KEYS)
    return {row["pk"]: _money(row) for row in rows}


def campaign_money(campaign: Campaign) -> dict:
    """`campaigns_money` of one stored campaign (zeros when nothing is attributed to it)."""
    return campaigns_money([campaign.pk])[campaign.pk]


def per_recipient(money: dict, *, delivered: int) -> dict:
    """conversion_rate (a fraction 0..1) and revenue_per_recipient (to the cent); None when nothing was delivered."""
    if not delivered:
        return {"conversion_rate": None, "revenue_per_recipient": None}
    return {
        "conversion_rate": round(min(money["converted_contacts"] / delivered, 1.0), RATIO_DIGITS),
        "revenue_per_recipient": (money["revenue"] / delivered).quantize(CENTS),
    }


# ------------------------------------------------------------------ holdout


def holdout_window(campaign: Campaign) -> tuple[dt.datetime, dt.datetime] | None:
    """[start, end], both included: from the campaign's start, ATTRIBUTION_CLICK_DAYS long; None before it starts."""
    if campaign.started_at is None:
        return None
    return campaign.started_at, campaign.started_at + dt.timedelta(days=settings.ATTRIBUTION_CLICK_DAYS)


def _bought_in_window(
    campaign: Campaign, start: dt.datetime, end: dt.datetime, *, messages: int
) -> dict[str, tuple[int, Decimal]]:
    """Per cohort (treated, held_out): contacts with a purchase in the window and those purchases' revenue.

    One statement: the window's purchases summed per contact (read from the purchase index alone on
    PostgreSQL), then met on the contact with this campaign's delivered and held-out messages (a campaign has
    one message per contact, so one row per buyer), then summed per cohort. A campaign of PROBE_FROM
    `messages` or more, on PostgreSQL, looks its buyers' messages up by index (`_probed`: a few days' buyers
    are far fewer than its messages); a smaller one meets the buyers in one pass over its messages. No message
    is looked at one by one in Python."""
    spent = (
        Purchase.objects.filter(purchased_at__gte=start, purchased_at__lte=end)
        .values("contact_id")
        .annotate(spent=Sum("total"))
        .order_by()
    )
    cohorts = (
        Message.objects.filter(campaign=campaign)
        .filter(DELIVERED | Q(status=Message.Status.HOLDOUT))
        .annotate(cohort=Case(When(status=Message.Status.HOLDOUT, then=Value(HELD_OUT)), default=Value(TREATED)))
        .values("contact_id", "cohort")
        .order_by()
    )
    spent_sql, spent_params = spent.query.sql_with_params()
    cohorts_sql, cohorts_params = cohorts.query.sql_with_params()
    if connection.vendor == "postgresql" and messages >= PROBE_FROM:
        cohort_names = (TREATED, HELD_OUT)
        statement = _probed(spent_sql, cohorts_sql)
        params = (*spent_params, *cohort_names, *cohorts_params, *cohort_names)
    else:
        statement = (
            f"SELECT m.cohort, COUNT(*), SUM(p.spent) FROM ({spent_sql}) AS p "
            f"JOIN ({cohorts_sql}) AS m ON m.contact_id = p.contact_id GROUP BY m.cohort"
        )
        params = (*spent_params, *cohorts_params)
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        rows = cursor.fetchall()
    return {
        cohort: (int(converted), Decimal(str(revenue or 0)).quantize(CENTS))
        for cohort, converted, revenue in rows
        if converted
    }


def _probed(spent_sql: str, cohorts_sql: str) -> str:
    """The per-cohort sums with the buyers' messages found by one index scan over the array of their ids, on
    PostgreSQL. A nested loop looking each buyer up costs about the same to run, but the planner prices it by
    the buyers it expects: at a million contacts that price passes jit_above_cost, so the plan is compiled
    first (20-35 ms), and with three times the window's purchases it passes jit_optimize_above_cost too
    (~350 ms a call). This statement is priced by the window's purchases alone, ~14,000 here, far below either.

    The buyers' spending and their messages are then put side by side and grouped by contact rather than
    joined: a join here rests on the planner's guess of how many messages the array finds, which can lead it
    into comparing every buyer with every message; the grouping is one hash over both whatever the guess. A
    buyer counts once per message of the cohort, as in the join. Parameters: the purchases', the two cohort
    names, the messages', the two cohort names again."""
    return (
        f"WITH p AS MATERIALIZED ({spent_sql}), "
        "b AS (SELECT r.contact_id, MAX(r.spent) AS spent, "
        "COUNT(*) FILTER (WHERE r.cohort = %s) AS treated, COUNT(*) FILTER (WHERE r.cohort = %s) AS held_out "
        "FROM (SELECT p.contact_id, NULL AS cohort, p.spent FROM p UNION ALL "
        f"SELECT m.contact_id, m.cohort, NULL FROM ({cohorts_sql}) AS m "
        "WHERE m.contact_id = ANY(ARRAY(SELECT p.contact_id FROM p))) AS r GROUP BY r.contact_id) "
        "SELECT v.* FROM (SELECT SUM(b.treated) AS t, SUM(b.treated * b.spent) AS tr, SUM(b.held_out) AS h, "
        "SUM(b.held_out * b.spent) AS hr FROM b) AS s CROSS JOIN LATERAL (VALUES (%s, s.t, s.tr), (%s, s.h, s.hr)) AS v"
    )


def holdout_groups(campaign: Campaign, *, delivered: int, held_out: int) -> Groups:
    """The counts `lift_stats` judges; `delivered` and `held_out` are the caller's message counts."""
    window = holdout_window(campaign)
    messages = delivered + held_out
    bought = _bought_in_window(campaign, *window, messages=messages) if window and messages else {}
    treated_converted, treated_revenue = bought.get(TREATED, (0, Decimal(0)))
    holdout_converted, holdout_revenue = bought.get(HELD_OUT, (0, Decimal(0)))
    return Groups(
        treated=delivered,
        treated_converted=treated_converted,
        treated_revenue=treated_revenue,
        holdout=held_out,
        holdout_converted=holdout_converted,
        holdout_revenue=holdout_revenue,
    )


def campaign_holdout(campaign: Campaign, *, delivered: int, held_out: int) -> dict:
    """The holdout numbers of CONTRACT §7 (HOLDOUT_KEYS), with the verdict's code and sentence."""
    numbers = lift_stats(holdout_groups(campaign, delivered=delivered, held_out=held_out))
    return {key: numbers[key] for key in HOLDOUT_KEYS}
