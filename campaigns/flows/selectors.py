"""The numbers of an automation: who entered, who is where, and what each mail step did (CONTRACT §6);
and the reads of its back office (a contact's automations, an enrollment's steps).

A send step's mail numbers are its campaign's, computed by `campaigns.selectors.campaigns_stats`, so a flow
mail and a campaign mail are counted by the same code. Every count is one aggregate query grouped by step
(or by step campaign), whatever the number of contacts and of steps.
"""

from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, QuerySet

from ..models import Message
from ..selectors import campaigns_stats
from .models import Enrollment, Flow, FlowMail, StepRun
from .paths import walk

MAIL_NUMBERS = ("sent", "failed", "unique_opens", "unique_clicks", "open_rate", "click_rate")


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


def step_numbers(flow: Flow) -> list[dict]:
    """Per step, in the flow's order: how many wait there now and how many passed it; for a send step, its
    mail numbers too. Six queries at most, however many steps the flow has."""
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
    numbers = []
    for path, step in walk(flow.steps):
        passed, held = runs.get(path, (0, 0))
        row = {"step": path, "type": step.get("type"), "waiting": waiting.get(path, 0), "passed": passed}
        if step.get("type") == "send_email":
            stats = mail_stats.get(campaigns[path]) if path in campaigns else None
            row.update({name: (stats[name] if stats else None) for name in MAIL_NUMBERS})
            row["held_out"] = held
            row["skipped"] = skipped.get(campaigns[path], {}) if path in campaigns else {}
        numbers.append(row)
    return numbers


@dataclass(frozen=True)
class StepConversions:
    """Purchases attributed to a mail step's messages (CONTRACT §7): None while unknown."""

    converted: int | None = None
    revenue: Decimal | None = None


def step_conversions(flow: Flow) -> dict[str, StepConversions]:
    """Per send step (by path), the purchases attributed to its mail and their revenue.

    The hook for attribution: purchases are not attributed to messages yet, so every send step answers
    None, which the diagram leaves out rather than show a zero that would read "this mail sold nothing".
    Once attribution exists, this computes both in one query grouped by step campaign; its callers stay.
    """
    return {path: StepConversions() for path, step in walk(flow.steps or []) if step.get("type") == "send_email"}


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


def flow_stats(flow: Flow) -> dict:
    """entered, active, completed, exited, holdout_size, and the numbers of every step."""
    return {**flow_counts(flow), "steps": step_numbers(flow)}
