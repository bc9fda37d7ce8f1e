"""Buyers' stored aggregates in ONE statement: count, total, first/last purchase, funnel, RFM.

Ingestion refreshes these for every contact of a batch, so they are written by a single
UPDATE … FROM (grouped purchases) rather than several passes that would each rewrite the rows
and their indexes. RFM scores are computed in the same statement from the fresh aggregates, by the
expressions `contacts.rfm` owns; lifecycle is not stored (contacts.lifecycle computes it when read).
"""

from django.db import connection
from django.utils import timezone

from .models import Contact, FunnelStage, Purchase
from .rfm import scores_sql

# The grouped purchases' columns, by the Contact field each one refreshes.
AGGREGATES = {"purchase_count": "a.n", "total_spent": "a.s", "first_purchase_at": "a.f", "last_purchase_at": "a.l"}


def refresh_buyers(ids: list[int]) -> set[int]:
    """Write the aggregates of every contact in `ids` that has purchases (one UPDATE); returns their ids."""
    scores, params = scores_sql(AGGREGATES)
    contacts, purchases = Contact._meta.db_table, Purchase._meta.db_table
    placeholders = ", ".join(["%s"] * len(ids))
    sql = (
        f"UPDATE {contacts} SET purchase_count = a.n, total_spent = a.s, first_purchase_at = a.f, "
        f"last_purchase_at = a.l, funnel_stage = {int(FunnelStage.PURCHASER)}, "
        f"{', '.join(f'{score} = {expression}' for score, expression in scores.items())}, updated_at = %s "
        f"FROM (SELECT contact_id, COUNT(*) AS n, SUM(total) AS s, MIN(purchased_at) AS f, "
        f"MAX(purchased_at) AS l FROM {purchases} WHERE contact_id IN ({placeholders}) GROUP BY contact_id) a "
        f"WHERE {contacts}.id = a.contact_id RETURNING {contacts}.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, connection.ops.adapt_datetimefield_value(timezone.now()), *ids])
        return {row[0] for row in cursor.fetchall()}
