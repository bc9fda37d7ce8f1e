"""The audience figures of the KPIs read from the counts the database keeps (campaigns.reports.counts), each equal
to the count of the rows it stands for.

Sign-ups and members are counted by day in the zone the triggers were installed with (TIME_ZONE on PostgreSQL,
UTC on SQLite, `triggers.counts_zone`). The whole days of that zone inside a period are read from the counts;
the hours left at either end (`day_split`: none when the zones agree) from the counted tables themselves,
through their time indexes, a day's worth of rows at most.

- `audience_now`: contacts not erased, by funnel stage and by lifecycle stage at `now`, and those consenting to
  email or SMS. The lifecycle rule is `contacts.lifecycle`'s, applied to each count's purchase days: a day that
  none of the rule's thresholds (`lifecycle_thresholds`) falls inside holds contacts of one stage, the stage of
  its first instant. The contacts of the two or three days a threshold falls inside are read themselves
  (`contact_first_purchase_idx`, `contact_last_purchase_idx`). Should a coarsened count straddle a threshold
  (a `now` earlier than the last fold, or new lifecycle settings), every contact is read instead (`audience_scan`).
- `signups`: contacts by source whose signed_up_at falls in the period.
- `distinct_members`: anonymous visitors, or promoters, seen in the period, each once.
"""

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from django.db import connection
from django.db.models import BooleanField, Case, CharField, Count, Exists, OuterRef, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Cast

from contacts.lifecycle import ORDER as LIFECYCLES
from contacts.lifecycle import lifecycle_case, lifecycle_q, lifecycle_thresholds, with_lifecycle
from contacts.models import Activity, Contact, FunnelStage, VisitorIdentity

from . import triggers
from .counts import LONG_GAP_DAYS, PROMOTER_EVENTS, AudienceCount, DistinctCount, DistinctDay, SignupCount
from .period import Period

DAY = dt.timedelta(days=1)
CLAMPED = {"first_purchase_at": "first_clamped", "last_purchase_at": "last_clamped"}


@dataclass(frozen=True)
class Audience:
    contacts: int
    consenting: int
    funnel: dict[int, int]  # by FunnelStage value
    lifecycle: dict[str, int]  # by Lifecycle value


def live_contacts() -> QuerySet:
    return Contact.objects.filter(erased_at__isnull=True)


# ------------------------------------------------------------------ days


def utc_midnight(moment: dt.datetime) -> dt.datetime:
    """The UTC midnight at or before `moment`."""
    return dt.datetime.combine(moment.astimezone(dt.UTC).date(), dt.time.min, tzinfo=dt.UTC)


@dataclass(frozen=True)
class DaySplit:
    """[start, end) as the whole days [first, stop) of a zone inside it (None when there is none) and the
    instants left over at either end."""

    days: tuple[dt.date, dt.date] | None
    edges: list[tuple[dt.datetime, dt.datetime]]


def day_split(start: dt.datetime, end: dt.datetime, zone: dt.tzinfo) -> DaySplit:
    first = start.astimezone(zone).date()
    if dt.datetime.combine(first, dt.time.min, tzinfo=zone) < start:
        first += DAY
    stop = end.astimezone(zone).date()
    lo, hi = (dt.datetime.combine(day, dt.time.min, tzinfo=zone) for day in (first, stop))
    if lo >= hi:
        return DaySplit(None, [(start, end)])
    return DaySplit((first, stop), [(a, b) for a, b in ((start, lo), (hi, end)) if a < b])


def _within(field: str, spans: list[tuple[dt.datetime, dt.datetime]]) -> Q:
    found = Q(pk__in=[])
    for lo, hi in spans:
        found |= Q(**{f"{field}__gte": lo, f"{field}__lt": hi})
    return found


# ------------------------------------------------------------------ the audience now


def audience_now(*, now: dt.datetime) -> Audience:
    """Funnel, lifecycle and consent of the contacts not erased, from the counts (see the module docstring)."""
    thresholds = lifecycle_thresholds(now)
    # The UTC days a threshold falls strictly inside, per purchase date: their contacts are read one by one.
    split = {
        field: sorted({utc_midnight(t) for t in instants if utc_midnight(t) != t})
        for field, instants in thresholds.items()
    }
    cells = _cells(now, split)
    if any(cell["straddles"] for cell in cells):
        return audience_scan(now=now)
    funnel: Counter[int] = Counter()
    stages: Counter[str] = Counter()
    for cell in cells:
        funnel[cell["funnel_stage"]] += cell["n"]
        if cell["stage"] and not cell["split"]:
            stages[cell["stage"]] += cell["n"]
    stages.update(_stages_of_split_days(now, split))
    return Audience(
        contacts=sum(cell["n"] for cell in cells),
        consenting=sum(cell["n"] for cell in cells if cell["consenting"]),
        funnel={stage.value: funnel[stage.value] for stage in FunnelStage},
        lifecycle={stage: stages[stage] for stage in LIFECYCLES},
    )


def straddling(now: dt.datetime) -> Q:
    """Coarsened counts (`*_clamped`: any time before the day after the one stored) that a threshold of the
    lifecycle rule at `now` falls inside."""
    found = Q(pk__in=[])
    for field, instants in lifecycle_thresholds(now).items():
        for instant in instants:
            found |= Q(**{CLAMPED[field]: True, f"{field}__gt": instant - DAY})
    return found


def _flag(condition: Q) -> Case:
    return Case(When(condition, then=Value(True)), default=Value(False), output_field=BooleanField())


def _cells(now: dt.datetime, split: dict[str, list[dt.datetime]]) -> list[dict]:
    """The counts summed by funnel stage, consent, lifecycle stage of the purchase days at `now`, whether they
    lie on a split day, and whether they straddle a threshold (a few dozen rows)."""
    on_split_day = Q(pk__in=[])
    for field, days in split.items():
        on_split_day |= Q(**{f"{field}__in": days, CLAMPED[field]: False})
    cells = AudienceCount.objects.annotate(
        stage=lifecycle_case(now=now), split=_flag(on_split_day), straddles=_flag(straddling(now))
    )
    keys = ("funnel_stage", "consenting", "stage", "split", "straddles")
    return list(cells.values(*keys).order_by().annotate(n=Sum("n")))


def _stages_of_split_days(now: dt.datetime, split: dict[str, list[dt.datetime]]) -> dict[str, int]:
    spans = {field: [(day, day + DAY) for day in days] for field, days in split.items()}
    on_split_day = Q(pk__in=[])
    for field, field_spans in spans.items():
        on_split_day |= _within(field, field_spans)
    rows = with_lifecycle(live_contacts().filter(on_split_day), now=now).values("lifecycle").order_by()
    return {row["lifecycle"]: row["n"] for row in rows.annotate(n=Count("pk")) if row["lifecycle"]}


def audience_scan(*, now: dt.datetime) -> Audience:
    """The same figures from every contact (one scan): what the counts must equal, and the answer when they
    cannot give it."""
    counts = live_contacts().aggregate(
        contacts=Count("pk"),
        consenting=Count("pk", filter=Q(email_opt_in=True) | Q(sms_opt_in=True)),
        **{f"funnel_{stage.value}": Count("pk", filter=Q(funnel_stage=stage)) for stage in FunnelStage},
        **{f"lifecycle_{stage}": Count("pk", filter=lifecycle_q(stage, now=now)) for stage in LIFECYCLES},
    )
    return Audience(
        contacts=counts["contacts"],
        consenting=counts["consenting"],
        funnel={stage.value: counts[f"funnel_{stage.value}"] for stage in FunnelStage},
        lifecycle={stage: counts[f"lifecycle_{stage}"] for stage in LIFECYCLES},
    )


# ------------------------------------------------------------------ what happened in a period


def signups(period: Period) -> Counter[str]:
    """Contacts (erased ones too) whose signed_up_at falls in the period, by source."""
    split = day_split(*period.bounds(), triggers.counts_zone(connection))
    found: Counter[str] = Counter()
    if split.days:
        first, stop = split.days
        counted = SignupCount.objects.filter(day__gte=first, day__lt=stop).values("source").order_by()
        found.update({row["source"]: row["n"] for row in counted.annotate(n=Sum("n"))})
    if split.edges:
        joined = Contact.objects.filter(_within("signed_up_at", split.edges)).values("source").order_by()
        found.update({row["source"]: row["n"] for row in joined.annotate(n=Count("pk"))})
    return +found  # without the sources whose counts add up to nothing


def _members(kind: str) -> tuple[QuerySet, str, object]:
    """The events that make a member of `kind`, the member's field, and its `DistinctDay.member` expression."""
    if kind == "anonymous":
        linked = VisitorIdentity.objects.filter(anonymous_id=OuterRef("anonymous_id"))
        # No "anonymous_id IS NOT NULL": the count of distinct ids leaves NULL out, and the condition would tempt
        # the planner into the partial index on every anonymous id.
        events = Activity.objects.filter(contact__isnull=True).exclude(Exists(linked))
        return events, "anonymous_id", OuterRef("anonymous_id")
    events = Activity.objects.filter(type__in=PROMOTER_EVENTS, contact__isnull=False)
    return events, "contact_id", Cast(OuterRef("contact_id"), CharField())


def distinct_members(kind: str, period: Period) -> int:
    """Members of `kind` ("anonymous": anonymous ids with events linked to no contact; "promoter": contacts with a
    review or referral event) seen in the period, each once."""
    start, end = period.bounds()
    events, field, member = _members(kind)
    split = day_split(start, end, triggers.counts_zone(connection))
    if split.days is None or (split.days[1] - split.days[0]).days > LONG_GAP_DAYS:
        return events.filter(occurred_at__gte=start, occurred_at__lt=end).aggregate(n=Count(field, distinct=True))["n"]
    first, stop = split.days
    inside = DistinctCount.objects.filter(kind=kind, day__gte=first, day__lt=stop)
    seen = inside.filter(Q(prev_day__isnull=True) | Q(prev_day__lt=first)).aggregate(n=Sum("n"))["n"] or 0
    if split.edges:
        days = DistinctDay.objects.filter(kind=kind, member=member, day__gte=first, day__lt=stop)
        at_edges = events.filter(_within("occurred_at", split.edges)).exclude(Exists(days))
        seen += at_edges.aggregate(n=Count(field, distinct=True))["n"]
    return seen
