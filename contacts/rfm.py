"""RFM, the one owner of how buyers are scored 1–5 on recency, frequency and monetary value.

The cut points are the quintiles of the buyers' stored aggregates (kept in RfmBreakpoints), and a
score is the SQL CASE of `score_case` over them. The nightly recompute applies that expression to
the stored columns through the ORM (`rfm_apply`); purchase ingestion compiles the very same
expression into its UPDATE … FROM over freshly grouped purchases (`scores_sql`, used by
`purchase_stats`). Neither path writes its own copy of the rule, so they cannot drift apart.

The named RFM segments (champions, at risk, …) are cells of the recency × frequency grid in
`RFM_SEGMENT_GRID`; the API's `rfm_segment` (`rfm_segment_of`) and the segment condition
(`rfm_segment_q`) both read that one table.
"""

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, cast

from django.db import connection
from django.db.models import Case, F, Field, IntegerField, Q, QuerySet, Value, When
from django.db.models.expressions import Combinable, RawSQL
from django.db.models.lookups import IsNull, LessThan
from django.db.models.sql import Query
from django.utils import timezone

from .models import Contact, RfmBreakpoints, RfmSegment

# Each stored score and the aggregate it scores (5 = most recent / most frequent / highest spend).
SCORED = {"rfm_recency": "last_purchase_at", "rfm_frequency": "purchase_count", "rfm_monetary": "total_spent"}

Cuts = dict[str, list]  # aggregate field → its ascending cut points


def stored_cuts() -> Cuts | None:
    """The cut points of the last bulk computation, typed like their aggregates; None before the first."""
    breakpoints = RfmBreakpoints.objects.order_by("-pk").first()
    if breakpoints is None or not breakpoints.frequency:
        return None
    return {
        "last_purchase_at": [dt.datetime.fromisoformat(v) for v in breakpoints.recency_days],
        "purchase_count": [int(v) for v in breakpoints.frequency],
        "total_spent": [Decimal(v) for v in breakpoints.monetary],
    }


def quintiles(qs: QuerySet, field: str) -> list:
    """Four cut points splitting the non-null values of `field` into five equal groups."""
    values = qs.exclude(**{f"{field}__isnull": True}).order_by(field).values_list(field, flat=True)
    total = values.count()
    if not total:
        return []
    return [values[min(total - 1, total * k // 5)] for k in range(1, 5)]


def rfm_breakpoints_compute() -> RfmBreakpoints:
    """Store the current buyers' quintiles; single-contact updates score against them until the next run."""
    buyers = Contact.objects.filter(purchase_count__gt=0)
    breakpoints = RfmBreakpoints.objects.order_by("-pk").first() or RfmBreakpoints()
    breakpoints.recency_days = [v.isoformat() for v in quintiles(buyers, "last_purchase_at")]
    breakpoints.frequency = [int(v) for v in quintiles(buyers, "purchase_count")]
    breakpoints.monetary = [str(v) for v in quintiles(buyers, "total_spent")]
    breakpoints.computed_at = timezone.now()
    breakpoints.save()
    return breakpoints


def score_case(value: Combinable, cuts: list) -> Any:
    """1 below the first cut … len(cuts)+1 at or above the last; no score for a missing value, or
    when there are no cut points to score against."""
    if not cuts:
        return Value(None, output_field=IntegerField())
    whens = [When(LessThan(value, Value(cut)), then=Value(score)) for score, cut in enumerate(cuts, start=1)]
    return Case(
        When(IsNull(value, True), then=Value(None)), *whens, default=Value(len(cuts) + 1), output_field=IntegerField()
    )


def score_updates(cuts: Cuts, values: Mapping[str, Combinable] | None = None) -> dict[str, Any]:
    """`update()` keyword arguments setting every score; `values` replaces the stored aggregates."""
    values = values or {aggregate: F(aggregate) for aggregate in SCORED.values()}
    return {score: score_case(values[aggregate], cuts[aggregate]) for score, aggregate in SCORED.items()}


def rfm_apply(qs: QuerySet) -> None:
    """Score R, F and M 1–5 against the stored quintile cut points (5 = best)."""
    cuts = stored_cuts()
    if cuts is None:
        return
    qs.filter(purchase_count__gt=0).update(**score_updates(cuts))
    qs.filter(purchase_count=0).exclude(
        rfm_recency__isnull=True, rfm_frequency__isnull=True, rfm_monetary__isnull=True
    ).update(rfm_recency=None, rfm_frequency=None, rfm_monetary=None)


def scores_sql(columns: dict[str, str]) -> tuple[dict[str, str], list]:
    """SQL of each score over raw aggregate columns (`{"total_spent": "a.s", …}`), with its parameters,
    for a statement the ORM cannot write (UPDATE … FROM); a stored score stays as it is until there are
    cut points. The expressions are `score_case`'s, compiled for the default database."""
    cuts = stored_cuts()
    if cuts is None:
        return {score: score for score in SCORED}, []
    query = Query(Contact)
    compiler = query.get_compiler(connection=connection)
    values = {
        aggregate: RawSQL(column, (), output_field=cast(Field, Contact._meta.get_field(aggregate)))
        for aggregate, column in columns.items()
    }  # the aggregates are concrete columns
    sql, params = {}, []
    for score, expression in score_updates(cuts, values).items():
        sql[score], expression_params = compiler.compile(expression.resolve_expression(query))
        params += expression_params
    return sql, params


# Each named segment as rectangles of (recency from–to, frequency from–to) scores; together they tile the
# 5 × 5 grid once, so every scored buyer has exactly one name (the widely used R × F segment map).
RFM_SEGMENT_GRID: dict[str, tuple[tuple[tuple[int, int], tuple[int, int]], ...]] = {
    RfmSegment.CHAMPIONS: (((5, 5), (4, 5)),),
    RfmSegment.LOYAL: (((3, 4), (4, 5)),),
    RfmSegment.POTENTIAL_LOYALIST: (((4, 5), (2, 3)),),
    RfmSegment.NEW_CUSTOMERS: (((5, 5), (1, 1)),),
    RfmSegment.PROMISING: (((4, 4), (1, 1)),),
    RfmSegment.NEEDS_ATTENTION: (((3, 3), (3, 3)),),
    RfmSegment.ABOUT_TO_SLEEP: (((3, 3), (1, 2)),),
    RfmSegment.AT_RISK: (((1, 2), (3, 4)),),
    RfmSegment.CANNOT_LOSE: (((1, 2), (5, 5)),),
    RfmSegment.HIBERNATING: (((1, 2), (1, 2)),),
}


def rfm_segment_of(recency: int | None, frequency: int | None) -> str | None:
    """The named segment of these scores; None for a contact not scored (no purchase, or no cut points yet)."""
    if recency is None or frequency is None:
        return None
    for name, cells in RFM_SEGMENT_GRID.items():
        if any(r0 <= recency <= r1 and f0 <= frequency <= f1 for (r0, r1), (f0, f1) in cells):
            return str(name)
    return None


def rfm_segment_q(name: str) -> Q:
    """Contacts whose stored scores fall in the named segment; FALSE (never NULL) for unscored contacts."""
    found = Q(pk__in=[])
    for (r0, r1), (f0, f1) in RFM_SEGMENT_GRID[RfmSegment(name)]:
        found |= Q(
            rfm_recency__gte=r0,
            rfm_recency__lte=r1,
            rfm_frequency__gte=f0,
            rfm_frequency__lte=f1,
        )
    return Q(rfm_recency__isnull=False, rfm_frequency__isnull=False) & found
