"""The numbers of an automation: who entered, who is where, what each mail step did and sold (CONTRACT §6,
§7), whether its mails made a difference against its holdout; and the reads of its back office (a contact's
automations, an enrollment's steps).

A send step's mail numbers are its campaign's, computed by `campaigns.selectors.campaigns_stats`, so a flow
mail and a campaign mail are counted by the same code; its money is the attribution rows of that campaign.
Every count is one aggregate query grouped by step (or by step campaign), whatever the number of contacts
and of steps.
"""

import datetime as dt
from collections.abc import Collection
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, F, FilteredRelation, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from contacts.models import Channel

from ..models import Message
from ..reports.lift import Groups, lift_stats
from ..reports.models import Attribution
from ..selectors import campaigns_stats, delivered, rate
from .models import Enrollment, Flow, FlowMail, StepRun
from .paths import walk

MAIL_NUMBERS = ("sent", "failed", "unique_opens", "unique_clicks", "open_rate", "click_rate")
MONEY_KEYS = ("conversions", "converted_contacts", "revenue", "in_store_revenue")
MONEY_NUMBERS = (*MONEY_KEYS, "conversion_rate", "revenue_per_recipient")
CENTS = Decimal("0.01")
ZERO = Decimal("0.00")


def flow_enrollments(flow: Flow) -> QuerySet:
    return Enrollment.objects.filter(flow=flow).select_related("contact").order_by("-entered_at", "-pk")


def _skipped_by_reason(campaign_ids: Collection[int]) -> dict[int, dict[str, int]]:
    if not campaign_ids:
        return {}
    rows = (
        Message.objects.filter(campaign_id__in=campaign_ids, status=Message.Status.SKIPPED)
        .values("campaign_id", "skip_reason")
        .annotate(n=Count("pk"))
        .order_by("campaign_id", "skip_reason")
    )
    skipped: dict[int, dict[str, int]] = {}
    for row in rows:
        skipped.setdefault(row["campaign_id"], {})[row["skip_reason"]] = row["n"]
    return skipped


def _money_aggregates() -> dict:
    """Attributed purchases (conversions), their distinct contacts, revenue and its in-store part, over
    attribution rows: one set of expressions (keyed as MONEY_KEYS) for a step and for the whole flow."""
    return {
        "conversions": Count("pk"),
        "converted_contacts": Count("contact", distinct=True),
        "revenue": Coalesce(Sum("total"), ZERO),
        "in_store_revenue": Coalesce(Sum("total", filter=Q(channel=Channel.IN_STORE)), ZERO),
    }


def _campaigns_money(campaign_ids: Collection[int]) -> dict[int, dict]:
    """Per step campaign: the `_money_aggregates` of its attribution rows, in one query grouped by campaign
    (zeros for a campaign nobody bought from)."""
    money: dict[int, dict] = {pk: dict(zip(MONEY_KEYS, (0, 0, ZERO, ZERO), strict=True)) for pk in campaign_ids}
    if not campaign_ids:
        return money
    rows = (
        Attribution.objects.filter(campaign_id__in=campaign_ids)
        .values("campaign_id")
        .order_by()
        .annotate(**_money_aggregates())
        .values_list("campaign_id", *MONEY_KEYS)
    )
    for campaign_id, *figures in rows:
        money[campaign_id] = dict(zip(MONEY_KEYS, figures, strict=True))
    return money


def _step_money(money: dict | None, stats: dict | None) -> dict:
    """A send step's money numbers (CONTRACT §7, as a campaign's): conversion_rate = converted_contacts /
    delivered, revenue_per_recipient = revenue / delivered. All None while the step has mailed nobody."""
    if money is None or stats is None:
        return dict.fromkeys(MONEY_NUMBERS)
    mailed = delivered(stats)
    return {
        **money,
        "conversion_rate": rate(money["converted_contacts"], mailed),
        "revenue_per_recipient": (money["revenue"] / mailed).quantize(CENTS) if mailed else None,
    }


def step_numbers(flow: Flow) -> list[dict]:
    """Per step, in the flow's order: how many wait there now and how many passed it; for a send step, its
    mail and money numbers too. Seven queries at most, however many steps the flow has."""
    waiting = dict(
        Enrollment.objects.filter(flow=flow, state=Enrollment.State.ACTIVE)
        .values_list("step")
        .annotate(n=Count("pk"))
        .values_list("step", "n")
    )
    runs = {
        step: (passed, held)
        for step, passed, held in StepRun.objects.filter(flow=flow)
        .values("step")
        .order_by()
        .annotate(passed=Count("pk"), held=Count("pk", filter=Q(outcome=StepRun.Outcome.HOLDOUT)))
        .values_list("step", "passed", "held")
    }
    campaigns = dict(FlowMail.objects.filter(flow=flow).values_list("step", "campaign_id"))
    mail_stats = campaigns_stats(list(campaigns.values()))
    skipped = _skipped_by_reason(list(campaigns.values()))
    money = _campaigns_money(list(campaigns.values()))
    numbers = []
    for path, step in walk(flow.steps):
        passed, held = runs.get(path, (0, 0))
        row = {"step": path, "type": step.get("type"), "waiting": waiting.get(path, 0), "passed": passed}
        if step.get("type") == "send_email":
            stats = mail_stats.get(campaigns[path]) if path in campaigns else None
            row.update({name: (stats[name] if stats else None) for name in MAIL_NUMBERS})
            row.update(_step_money(money.get(campaigns[path]) if path in campaigns else None, stats))
            row["held_out"] = held
            row["skipped"] = skipped.get(campaigns[path], {}) if path in campaigns else {}
        numbers.append(row)
    return numbers


def contact_enrollments(contact_id: int, *, limit: int) -> list[Enrollment]:
    """The automations a contact is or was in, newest first, with their flows (one query)."""
    return list(
        Enrollment.objects.filter(contact_id=contact_id).select_related("flow").order_by("-entered_at", "-pk")[:limit]
    )


def enrollment_history(enrollment: Enrollment) -> QuerySet[StepRun]:
    """The steps an enrollment went through, in the order they ran, with their mails (one query)."""
    return enrollment.step_runs.select_related("message__campaign").order_by("ran_at", "pk")


def flow_counts(flow: Flow) -> dict[str, int]:
    """entered, active, completed, exited and holdout_size, in one aggregate."""
    return Enrollment.objects.filter(flow=flow).aggregate(
        entered=Count("pk"),
        active=Count("pk", filter=Q(state=Enrollment.State.ACTIVE)),
        completed=Count("pk", filter=Q(state=Enrollment.State.COMPLETED)),
        exited=Count("pk", filter=Q(state=Enrollment.State.EXITED)),
        holdout_size=Count("pk", filter=Q(holdout=True)),
    )


def flow_money(flow: Flow) -> dict:
    """The whole flow's attributed purchases: those of every mail it sent, also from steps an edit removed
    since (one aggregate, joined through its step campaigns)."""
    return Attribution.objects.filter(campaign__flow_mail__flow=flow).aggregate(**_money_aggregates())


def holdout_groups(flow: Flow) -> Groups:
    """Held-out against other enrollments: how many, how many bought anything (any channel, attributed or
    not) within ATTRIBUTION_CLICK_DAYS after entering, and what they spent there; both ends of the window
    included.

    The groups are all the enrollments the holdout draw split, mailed or not (no consent, exited before the
    mail): the held-out side contains the same kinds of contacts, so comparing them with the mailed ones only
    would credit the mails with the difference between who may be mailed and who may not. One aggregate over
    enrollments joined to their window's purchases; an enrollment is the unit, so a contact who entered twice
    counts twice."""
    window = dt.timedelta(days=settings.ATTRIBUTION_CLICK_DAYS)
    bought = FilteredRelation(
        "contact__purchases",
        condition=Q(
            contact__purchases__purchased_at__gte=F("entered_at"),
            contact__purchases__purchased_at__lte=F("entered_at") + window,
        ),
    )
    rows = (
        Enrollment.objects.filter(flow=flow)
        .annotate(bought=bought)
        .values("holdout")
        .order_by()
        .annotate(
            size=Count("pk", distinct=True),
            converted=Count("pk", distinct=True, filter=Q(bought__isnull=False)),
            revenue=Coalesce(Sum("bought__total"), ZERO),
        )
        .values_list("holdout", "size", "converted", "revenue")
    )
    sides = {holdout: (size, converted, revenue) for holdout, size, converted, revenue in rows}
    treated, held = sides.get(False, (0, 0, ZERO)), sides.get(True, (0, 0, ZERO))
    return Groups(
        treated=treated[0],
        treated_converted=treated[1],
        treated_revenue=treated[2],
        holdout=held[0],
        holdout_converted=held[1],
        holdout_revenue=held[2],
    )


def flow_holdout(flow: Flow) -> dict:
    """The holdout comparison of CONTRACT §7 for a flow, with its verdict (`campaigns.reports.lift`)."""
    return lift_stats(holdout_groups(flow))


def flow_stats(flow: Flow) -> dict:
    """entered, active, completed, exited, holdout_size; the flow's attributed money and its holdout
    comparison; and the numbers of every step."""
    return {**flow_counts(flow), **flow_money(flow), **flow_holdout(flow), "steps": step_numbers(flow)}
