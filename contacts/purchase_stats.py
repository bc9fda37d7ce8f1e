"""Buyers' stored aggregates (count, total, first/last purchase, funnel stage, RFM), each set of contacts
written by ONE UPDATE, in two ways that give the same result wherever the stored aggregates are current:

- `purchases_add`: new purchases added to what is stored (count + n, total + their sum, first and last
  purchase moved to the new ones' earliest and latest where those lie outside). It reads only the new
  purchases, so a batch costs what the batch holds, however long the buyers' history; a late purchase (a
  store sale imported days later) is added like any other. It takes the buyers who have purchases counted.
- `refresh_buyers`: the aggregates read again from all of a contact's purchases: for buyers with none counted
  (a first purchase, or purchases written in bulk before their buyers' aggregates were), a merge, data fixed
  by hand.

Both score RFM in the same statement from the fresh aggregates, by the expressions `contacts.rfm` owns, and
give back each contact's lifecycle after the write, by the expression `contacts.lifecycle` owns (lifecycle is
not stored), so nobody reads the rows again. The contacts are named to the UPDATE itself, not only through
the join: PostgreSQL expects many more groups than there are and would otherwise hash the whole contact
table (0.7 s per 1,000 buyers at 1,000,000 contacts).
"""

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

from django.db import connection
from django.db.models.expressions import RawSQL
from django.db.models.sql import Query
from django.utils import timezone

from .lifecycle import lifecycle_case
from .models import Contact, FunnelStage, Purchase, UncountedPurchase
from .rfm import scores_sql

CONTACTS, PURCHASES = Contact._meta.db_table, Purchase._meta.db_table
UNCOUNTED = UncountedPurchase._meta.db_table

# What each aggregate becomes, by the column it is written to: read again from the grouped purchases `a`,
# or the stored value plus the grouped new purchases `b` (an UPDATE's expressions read the stored values).
REREAD = {"purchase_count": "a.n", "total_spent": "a.s", "first_purchase_at": "a.f", "last_purchase_at": "a.l"}
ADDED = {
    "purchase_count": f"{CONTACTS}.purchase_count + b.n",
    "total_spent": f"{CONTACTS}.total_spent + b.s",
    "first_purchase_at": f"CASE WHEN b.f < {CONTACTS}.first_purchase_at THEN b.f ELSE {CONTACTS}.first_purchase_at END",
    "last_purchase_at": f"CASE WHEN b.l > {CONTACTS}.last_purchase_at THEN b.l ELSE {CONTACTS}.last_purchase_at END",
}

Stages = dict[int, str | None]  # contact id → lifecycle stage


def refresh_buyers(ids: list[int], *, now: dt.datetime | None = None) -> Stages:
    """Write the aggregates of every contact in `ids` that has purchases, read from all its purchases but those
    queued to be counted (`contacts.purchase_queue`: they are added when counted); returns those contacts with
    their lifecycle at `now` (default: this moment)."""
    where, params = id_in("contact_id", ids)
    purchases = (f"{where} AND NOT EXISTS (SELECT 1 FROM {UNCOUNTED} q WHERE q.purchase_id = {PURCHASES}.id)", params)
    return _update(REREAD, "a", purchases=purchases, contacts=id_in(f"{CONTACTS}.id", ids), now=now)


def purchases_add(*, purchase_ids: list[int], contact_ids: list[int], now: dt.datetime | None = None) -> Stages:
    """Add these new purchases to the stored aggregates of `contact_ids`, buyers that have purchases counted
    (the caller read that under a lock); returns the contacts written, with their lifecycle at `now`. The new
    purchases' other buyers are left for `refresh_buyers`."""
    return _update(
        ADDED, "b", purchases=id_in("id", purchase_ids), contacts=id_in(f"{CONTACTS}.id", contact_ids), now=now
    )


def id_in(column: str, ids: list[int]) -> tuple[str, list]:
    """`column IN ids` as SQL and parameters: one array on PostgreSQL (a list of a thousand placeholders
    costs more to build and plan than the query takes to run), one JSON list on SQLite."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s::{_id_type()}[])", [list(ids)]
    return f"{column} IN (SELECT value FROM json_each(%s))", [json.dumps(list(ids))]


def id_rows(ids: list[int]) -> tuple[str, list]:
    """A SELECT of these ids, one row each, and its parameters (for an INSERT … SELECT), as `id_in` sends them."""
    if connection.vendor == "postgresql":
        return f"SELECT unnest(%s::{_id_type()}[])", [list(ids)]
    return "SELECT value FROM json_each(%s)", [json.dumps(list(ids))]


def queue_take(table: str, key: str, returning: str) -> str:
    """PostgreSQL: a DELETE that takes the oldest rows of a queue (up to a `%s` limit) not taken by someone
    else, matched by the queue's key index whatever the planner knows of the queue. Matched against the ids as
    a subquery, the deletion was planned from the statistics of the last ANALYZE, often taken while the queue
    was empty: it then compared every queued row with every id (2 s for 5,000 rows)."""
    table, key = connection.ops.quote_name(table), connection.ops.quote_name(key)
    return (
        f"DELETE FROM {table} WHERE {key} = ANY(ARRAY("
        f"SELECT {key} FROM {table} ORDER BY {key} LIMIT %s FOR UPDATE SKIP LOCKED)) RETURNING {returning}"
    )


def id_list(ids: Iterable[int]) -> Any:
    """What `pk__in=` takes for a batch's ids, for the same reason as `id_in`: on PostgreSQL one array."""
    if connection.vendor == "postgresql":
        return RawSQL(f"SELECT unnest(%s::{_id_type()}[])", [list(ids)])
    return list(ids)


def _id_type() -> str:
    return str(Contact._meta.pk.rel_db_type(connection))  # purchases' ids are of the same type


def _money(sql: str) -> str:
    """SQLite keeps decimals as binary floats, so 49.90 + 49.90 + 350.50 sums to 450.29999…; rounded to the
    cents the column holds, a total compares equal to the same amount typed in a rule or kept as an RFM cut
    point, as it does in PostgreSQL's exact numeric."""
    return f"ROUND({sql}, 2)" if connection.vendor == "sqlite" else sql


def _grouped(where: str) -> str:
    return (
        "(SELECT contact_id, COUNT(*) AS n, SUM(total) AS s, MIN(purchased_at) AS f, MAX(purchased_at) AS l "
        f"FROM {PURCHASES} WHERE {where} GROUP BY contact_id)"
    )


def _update(
    values: dict[str, str],
    alias: str,
    *,
    purchases: tuple[str, list],
    contacts: tuple[str, list],
    now: dt.datetime | None,
) -> Stages:
    """UPDATE … FROM the `purchases` (a WHERE and its parameters) grouped by contact as `alias`, setting the
    aggregates to `values`, the funnel stage and the scores, for the `contacts` (a WHERE and its parameters)."""
    values = {field: _money(value) if field == "total_spent" else value for field, value in values.items()}
    scores, score_params = scores_sql(values)
    lifecycle, lifecycle_params = _compiled_lifecycle(now or timezone.now())
    sql = (
        f"UPDATE {CONTACTS} SET {', '.join(f'{field} = {value}' for field, value in values.items())}, "
        f"funnel_stage = {int(FunnelStage.PURCHASER)}, "
        f"{', '.join(f'{score} = {expression}' for score, expression in scores.items())}, updated_at = %s "
        f"FROM {_grouped(purchases[0])} {alias} WHERE {CONTACTS}.id = {alias}.contact_id AND {contacts[0]} "
        f"RETURNING {CONTACTS}.id, {lifecycle}"
    )
    updated_at = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(sql, [*score_params, updated_at, *purchases[1], *contacts[1], *lifecycle_params])
        return dict(cursor.fetchall())


def _compiled_lifecycle(now: dt.datetime) -> tuple[str, list]:
    """`lifecycle_case` as SQL over the contact table's columns (in a RETURNING clause: the new values)."""
    query = Query(Contact)
    return query.get_compiler(connection=connection).compile(lifecycle_case(now=now).resolve_expression(query))
