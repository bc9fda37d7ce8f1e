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
from .purchase_stats import id_in

LAST, PURCHASES = LastBought._meta.db_table, Purchase._meta.db_table
ITEMS, UNCOUNTED = PurchaseItem._meta.db_table, UncountedPurchase._meta.db_table
CHUNK = 5000  # contacts read again per statement


def _grouped(where: str) -> str:
    return (
        f"SELECT p.contact_id, i.product_id, MAX(p.purchased_at) FROM {PURCHASES} p "
        f"JOIN {ITEMS} i ON i.purchase_id = p.id WHERE {where} "
        "GROUP BY p.contact_id, i.product_id ORDER BY p.contact_id, i.product_id"
    )


def last_bought_add(purchase_ids: list[int]) -> None:
    """Move the rows of these purchases' buyers forward to these purchases (inside the transaction that
    counts them)."""
    if not purchase_ids:
        return
    where, params = id_in("p.id", purchase_ids)
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
            where, params = id_in("p.contact_id", chunk)
            counted = f"{where} AND NOT EXISTS (SELECT 1 FROM {UNCOUNTED} q WHERE q.purchase_id = p.id)"
            cursor.execute(f"INSERT INTO {LAST} (contact_id, product_id, purchased_at) {_grouped(counted)}", params)


def item_saved(sender: type, instance: PurchaseItem, created: bool, raw: bool = False, **kwargs: Any) -> None:
    """A line saved one by one (a fixture, a test's factory; services write lines in bulk and count them with
    their purchase): its purchase moves the buyer's row forward, as counting it would."""
    if created and not raw:
        last_bought_add([instance.purchase_id])
