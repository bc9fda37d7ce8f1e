"""Reads: which contacts a segment holds, counts, entry/exit history."""

import dataclasses
import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from contacts.models import Contact

from .models import Segment, SegmentMembership
from .registry import Context
from .rules import compile_tree

RULES_VERSION_KEY = "segments:rules-version"


def rules_version() -> str | None:
    """A token that changes whenever a segment is created, edited or deleted.

    Kept in the cache (shared by every process when CACHE_URL points at Redis), so what other apps
    derive from the set of segments (which of them look at email engagement) can be recomputed as
    soon as it changes instead of on a timer."""
    return cache.get(RULES_VERSION_KEY)


def audience() -> QuerySet:
    """Every contact a segment may hold: erased contacts are in none."""
    return Contact.objects.filter(erased_at__isnull=True)


def cheapest_plan(build: Callable[[Context], QuerySet], ctx: Context | None = None) -> QuerySet:
    """`build`'s queryset for the rules as written to probe each contact (`Context.scan` False) or to
    aggregate each window once (True), whichever PostgreSQL's planner costs lower. The two give the same
    contacts; which is faster depends on how many contacts the other conditions leave, which only the
    planner's statistics know. Other databases, and trees with no condition written two ways, take the
    probes."""
    ctx = ctx or Context.current()
    probe = build(dataclasses.replace(ctx, scan=False))
    if connections[probe.db].vendor != "postgresql":
        return probe
    priced = build(dataclasses.replace(ctx, scan=True, priced=True))  # see Context.priced
    try:
        if str(priced.query) == str(probe.query):
            return probe
    except EmptyResultSet:  # the rules match no one: nothing to plan
        return probe
    if _planned_cost(probe) <= _planned_cost(priced):
        return probe
    return build(dataclasses.replace(ctx, scan=True))


def _planned_cost(qs: QuerySet) -> float:
    """The planner's total cost of counting `qs` (EXPLAIN without running it)."""
    sql, params = qs.order_by().values("pk").query.sql_with_params()
    with connections[qs.db].cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) SELECT count(*) FROM ({sql}) AS counted", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return float(plan[0]["Plan"]["Total Cost"])


def segment_contacts(segment: Segment, ctx: Context | None = None) -> QuerySet:
    """The live answer: a dynamic segment's rules evaluated now, or a static list's members."""
    if segment.is_dynamic:
        return rules_contacts(segment.rules or {"any": []}, ctx)
    members = SegmentMembership.objects.filter(segment=segment, contact=OuterRef("pk"), left_at__isnull=True)
    return audience().filter(Exists(members))


def rules_contacts(rules: dict, ctx: Context | None = None, *, among: list[int] | None = None) -> QuerySet:
    """Every contact the rules match, with the cheaper of the two ways of writing them (`cheapest_plan`);
    with `among`, only those of these contacts, probed one by one (the cheap way for a few)."""
    if among is not None:
        return audience().filter(compile_tree(rules, ctx), pk__in=among)
    return cheapest_plan(lambda c: audience().filter(compile_tree(rules, c)), ctx)


@dataclass
class Preview:
    count: int
    contacts: list
    milliseconds: float


def rules_preview(rules: dict, *, limit: int = 50) -> Preview:
    """Live count plus the first `limit` matches, and how long the query took."""
    started = time.perf_counter()
    qs = rules_contacts(rules)
    count = qs.count()
    first = list(qs.order_by("pk").select_related("club")[:limit])
    return Preview(count=count, contacts=first, milliseconds=round((time.perf_counter() - started) * 1000, 1))


def current_members(segment: Segment) -> QuerySet:
    return SegmentMembership.objects.filter(segment=segment, left_at__isnull=True)


def membership_events(*, segment: Segment | None = None, since: dt.datetime | None = None) -> QuerySet:
    """Entries and exits as rows (joined_at / left_at), for automations and reports."""
    qs = SegmentMembership.objects.all()
    if segment is not None:
        qs = qs.filter(segment=segment)
    if since is not None:
        qs = qs.filter(Q(joined_at__gte=since) | Q(left_at__gte=since))
    return qs


def daily_movement(segment: Segment, *, days: int = 30) -> list[dict]:
    """Entries and exits per local day over the last `days` days, oldest first."""
    tz = timezone.get_default_timezone()
    today = timezone.localdate()
    start = dt.datetime.combine(today - dt.timedelta(days=days - 1), dt.time(), tzinfo=tz)
    rows = SegmentMembership.objects.filter(segment=segment)
    joined = dict(
        rows.filter(joined_at__gte=start)
        .annotate(day=TruncDate("joined_at", tzinfo=tz))
        .values("day")
        .annotate(n=Count("pk"))
        .values_list("day", "n")
    )
    left = dict(
        rows.filter(left_at__gte=start)
        .annotate(day=TruncDate("left_at", tzinfo=tz))
        .values("day")
        .annotate(n=Count("pk"))
        .values_list("day", "n")
    )
    series = []
    for offset in range(days):
        day = today - dt.timedelta(days=days - 1 - offset)
        series.append({"day": day, "entries": joined.get(day, 0), "exits": left.get(day, 0)})
    return series


def size_history(segment: Segment, *, days: int = 30) -> list[dict]:
    """Members at the end of each local day over the last `days` days, oldest first, with that day's
    entries and exits: today's size is counted, earlier ones are worked back from the movement, so the
    whole series costs three indexed queries whatever the segment's size."""
    series = daily_movement(segment, days=days)
    size = current_members(segment).count()
    for day in reversed(series):
        day["size"] = size
        size = max(0, size - day["entries"] + day["exits"])
    return series


def segments_using(segment: Segment) -> QuerySet:
    """Dynamic segments whose rules point at `segment` through in_segment."""
    from .rules import referenced_segments

    using = [
        s.pk
        for s in Segment.objects.filter(kind=Segment.Kind.DYNAMIC).exclude(pk=segment.pk).only("rules")
        if segment.pk in referenced_segments(s.rules)
    ]
    return Segment.objects.filter(pk__in=using)


def contact_segments(contact: Contact) -> QuerySet:
    return Segment.objects.filter(memberships__contact=contact, memberships__left_at__isnull=True).distinct()
