"""The numbers of an automation: who entered, who is where, and what each mail step did (CONTRACT §6).

A send step's mail numbers are its campaign's, computed by `campaigns.selectors.campaign_stats`, so a flow
mail and a campaign mail are counted by the same code. Every count is one aggregate query, whatever the
number of contacts.
"""

from django.db.models import Count, Q, QuerySet

from ..models import Message
from ..selectors import campaign_stats
from .models import Enrollment, Flow, FlowMail, StepRun
from .paths import walk

MAIL_NUMBERS = ("sent", "failed", "unique_opens", "unique_clicks", "open_rate", "click_rate")


def flow_enrollments(flow: Flow) -> QuerySet:
    return Enrollment.objects.filter(flow=flow).select_related("contact").order_by("-entered_at", "-pk")


def _skipped_by_reason(campaign_id: int) -> dict[str, int]:
    rows = (
        Message.objects.filter(campaign_id=campaign_id, status=Message.Status.SKIPPED)
        .values("skip_reason")
        .annotate(n=Count("pk"))
        .order_by("skip_reason")
    )
    return {row["skip_reason"]: row["n"] for row in rows}


def step_numbers(flow: Flow) -> list[dict]:
    """Per step, in the flow's order: how many wait there now and how many passed it; for a send step, its
    mail numbers too."""
    waiting = dict(
        Enrollment.objects.filter(flow=flow, state=Enrollment.State.ACTIVE)
        .values_list("step")
        .annotate(n=Count("pk"))
        .values_list("step", "n")
    )
    passed = dict(
        StepRun.objects.filter(flow=flow).values_list("step").annotate(n=Count("pk")).values_list("step", "n")
    )
    held = dict(
        StepRun.objects.filter(flow=flow, outcome=StepRun.Outcome.HOLDOUT)
        .values_list("step")
        .annotate(n=Count("pk"))
        .values_list("step", "n")
    )
    mails = {mail.step: mail.campaign for mail in FlowMail.objects.filter(flow=flow).select_related("campaign")}
    numbers = []
    for path, step in walk(flow.steps):
        row = {"step": path, "type": step.get("type"), "waiting": waiting.get(path, 0), "passed": passed.get(path, 0)}
        if step.get("type") == "send_email":
            stats = campaign_stats(mails[path]) if path in mails else None
            row.update({name: (stats[name] if stats else None) for name in MAIL_NUMBERS})
            row["held_out"] = held.get(path, 0)
            row["skipped"] = _skipped_by_reason(mails[path].pk) if path in mails else {}
        numbers.append(row)
    return numbers


def flow_stats(flow: Flow) -> dict:
    """entered, active, completed, exited, holdout_size, and the numbers of every step."""
    counts = Enrollment.objects.filter(flow=flow).aggregate(
        entered=Count("pk"),
        active=Count("pk", filter=Q(state=Enrollment.State.ACTIVE)),
        completed=Count("pk", filter=Q(state=Enrollment.State.COMPLETED)),
        exited=Count("pk", filter=Q(state=Enrollment.State.EXITED)),
        holdout_size=Count("pk", filter=Q(holdout=True)),
    )
    return {**counts, "steps": step_numbers(flow)}
