"""Buyers' stored aggregates in ONE statement: count, total, first/last purchase, funnel, RFM.

Ingestion refreshes these for every contact of a batch, so they are written by a single
UPDATE … FROM (grouped purchases) rather than several passes that would each rewrite the rows
and their indexes. RFM scores are computed in the same statement from the fresh aggregates (same cut
points as `services.rfm_apply`); lifecycle is not stored (contacts.lifecycle computes it when read).
"""
import datetime as dt
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from .models import Contact, FunnelStage, Purchase, RfmBreakpoints


def _score_sql(column: str, cuts: list, params: list) -> str:
    """CASE giving 1 below the first cut … len(cuts)+1 at or above the last (5 = best)."""
    if not cuts:
        return "NULL"
    whens = []
    for score, cut in enumerate(cuts, start=1):
        whens.append(f"WHEN {column} < %s THEN {score}")
        params.append(cut)
    return f"CASE {' '.join(whens)} ELSE {len(cuts) + 1} END"


def _rfm_sql(params: list) -> tuple[str, str, str]:
    breakpoints = RfmBreakpoints.objects.order_by("-pk").first()
    if breakpoints is None or not breakpoints.frequency:
        return "rfm_recency", "rfm_frequency", "rfm_monetary"
    adapt = connection.ops.adapt_datetimefield_value
    recency = [adapt(dt.datetime.fromisoformat(v)) for v in breakpoints.recency_days]
    # SQLite compares an aggregate with a text parameter as text, so it gets floats there.
    money = [Decimal(v) if connection.vendor == "postgresql" else float(v) for v in breakpoints.monetary]
    return (_score_sql("a.l", recency, params), _score_sql("a.n", list(breakpoints.frequency), params),
            _score_sql("a.s", money, params))


def refresh_buyers(ids: list[int]) -> set[int]:
    """Write the aggregates of every contact in `ids` that has purchases (one UPDATE); returns their ids."""
    now = timezone.now()
    adapt = connection.ops.adapt_datetimefield_value
    params: list = []
    recency, frequency, monetary = _rfm_sql(params)
    contacts, purchases = Contact._meta.db_table, Purchase._meta.db_table
    placeholders = ", ".join(["%s"] * len(ids))
    sql = (
        f"UPDATE {contacts} SET purchase_count = a.n, total_spent = a.s, first_purchase_at = a.f, "
        f"last_purchase_at = a.l, funnel_stage = {int(FunnelStage.PURCHASER)}, "
        f"rfm_recency = {recency}, rfm_frequency = {frequency}, rfm_monetary = {monetary}, updated_at = %s "
        f"FROM (SELECT contact_id, COUNT(*) AS n, SUM(total) AS s, MIN(purchased_at) AS f, "
        f"MAX(purchased_at) AS l FROM {purchases} WHERE contact_id IN ({placeholders}) GROUP BY contact_id) a "
        f"WHERE {contacts}.id = a.contact_id RETURNING {contacts}.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, adapt(now), *ids])
        return {row[0] for row in cursor.fetchall()}
