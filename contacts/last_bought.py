"""When each contact last bought each product (`LastBought`), kept beside the buyers' aggregates
(`contacts.purchase_stats`) in the same two ways, with the same result:

- `last_bought_add`: purchases being counted move their buyers' rows forward: a (contact, product) row is
  inserted, or its time moved to the new purchase's where that is later; a late purchase (a store sale imported
  days later) leaves a later time as it is.
- `last_bought_refresh`: the rows of some contacts read again from all their purchases but those queued to be
  counted (`contacts.purchase_queue`): a first purchase, a merge, a purchase deleted, data fixed by hand.

Each is one statement per kind (grouped by contact and product, written in key order so that two counters
touching the same contacts, already locked in id order by their caller, never deadlock).
"""

from typing import Any

from django.db import connection

from .models import LastBought, Purchase, PurchaseItem, UncountedPurchase
from .purchase_stats import id_in, id_rows

LAST, PURCHASES = LastBought._meta.db_table, Purchase._meta.db_table
ITEMS, UNCOUNTED = PurchaseItem._meta.db_table, UncountedPurchase._meta.db_table
CHUNK = 5000  # contacts read again per statement


def _grouped(where: str) -> str:
    return (
        f"SELECT p.contact_id, i.product_id, MAX(p.purchased_at) FROM {PURCHASES} p "
        f"JOIN {ITEMS} i ON i.purchase_id = p.id WHERE {where} "
        "GROUP BY p.contact_id, i.product_id ORDER BY p.contact_id, i.product_id"
    )


def last_bought_add(purchase_ids: list[int], *, buyers: list[int] | None = None) -> None:
    """Move the rows of these purchases' buyers forward to these purchases (inside the transaction that
    counts them); only the purchases of `buyers` when given (the others' buyers are read again whole by
    `last_bought_refresh`, which would delete what this wrote)."""
    if not purchase_ids:
        return
    where, params = id_in("p.id", purchase_ids)
    if buyers is not None:
        of_buyers, buyer_params = id_in("p.contact_id", buyers)
        where, params = f"{where} AND {of_buyers}", [*params, *buyer_params]
    sql = (
        f"INSERT INTO {LAST} (contact_id, product_id, purchased_at) {_grouped(where)} "
        "ON CONFLICT (contact_id, product_id) DO UPDATE SET purchased_at = excluded.purchased_at "
        f"WHERE {LAST}.purchased_at < excluded.purchased_at"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def last_bought_refresh(contact_ids: list[int]) -> None:
    """Read these contacts' rows again from all their counted purchases."""
    ids = sorted(set(contact_ids))
    with connection.cursor() as cursor:
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            where, params = id_in("contact_id", chunk)
            cursor.execute(f"DELETE FROM {LAST} WHERE {where}", params)
            cursor.execute(*_reread(chunk))


def _reread(ids: list[int]) -> tuple[str, list]:
    """The INSERT of these contacts' rows read from their counted purchases. On PostgreSQL each contact's
    purchases are grouped apart (a LATERAL subquery per contact): joined as a whole, the planner expects each
    contact to have as many purchases as the average buyer (most of a batch's contacts are buying for the
    first time) and hashes every purchase line of the shop (0.8 s for 5,000 contacts at 1,000,000)."""
    counted = f"NOT EXISTS (SELECT 1 FROM {UNCOUNTED} q WHERE q.purchase_id = p.id)"
    insert = f"INSERT INTO {LAST} (contact_id, product_id, purchased_at) "
    if connection.vendor != "postgresql":
        where, params = id_in("p.contact_id", ids)
        return insert + _grouped(f"{where} AND {counted}"), params
    rows, params = id_rows(ids)
    return (
        f"{insert}SELECT c.id, g.product_id, g.at FROM ({rows}) AS c(id) CROSS JOIN LATERAL ("
        f"SELECT i.product_id, MAX(p.purchased_at) AS at FROM {PURCHASES} p JOIN {ITEMS} i ON i.purchase_id = p.id "
        f"WHERE p.contact_id = c.id AND {counted} GROUP BY i.product_id) AS g ORDER BY c.id, g.product_id",
        params,
    )


def item_saved(sender: type, instance: PurchaseItem, created: bool, raw: bool = False, **kwargs: Any) -> None:
    """A line saved one by one (a fixture, a test's factory; services write lines in bulk and count them with
    their purchase): its purchase moves the buyer's row forward, as counting it would."""
    if created and not raw:
        last_bought_add([instance.purchase_id])
