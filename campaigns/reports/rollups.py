"""The daily rollups the KPIs read instead of every purchase of a period: `SalesDay` (orders and revenue per
day, channel and club membership) and `BuyerDay` (purchases per day by the day of the buyer's earlier
purchases), with `PurchaseFact`, what they hold about each purchase.

Days are TIME_ZONE dates, like the periods asked for. A purchase's facts come from the database in one
windowed query (`_facts`): its day, its channel and total, whether its buyer has an active club membership,
and the days of the buyer's two purchases before it (by time, then id). The rollups are the sums of those
facts, so they always equal what the raw purchases say, kept so by:

- `sync(contact_ids)`: the facts of those contacts' purchases are read anew and compared with the stored ones;
  the rollups get the difference. Idempotent (a second call finds nothing to change), and whatever changed —
  new purchases, a late one older than the buyer's last, purchases moved by a merge, a club membership that
  began or ended — it comes out right. The contacts are locked meanwhile, so two syncs of a contact queue.
  Called inside the counting transaction for new purchases (`contacts.hooks.on_purchases_counted`, and the
  purchase model's post-save for rows saved one by one) and merges, and after commit for club changes
  (`contacts_changed`, through `club_sync`, which syncs only contacts whose membership no longer matches).
- `rebuild()`: everything from the purchases in three set-based statements; for the migration that adds the
  rollups, the demo data set (written by COPY), a change of TIME_ZONE (`manage.py rebuild_rollups`).

A sync costs what the contacts' purchase histories hold, never the table; a rebuild reads every purchase once.
"""

import datetime as dt
import logging
from collections import Counter
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, NamedTuple, cast

from django.db import connection, transaction
from django.db.models import (
    Exists,
    F,
    Field,
    Max,
    Model,
    OuterRef,
    QuerySet,
    Value,
    Window,
)
from django.db.models.functions import Lag, TruncDate
from django.utils import timezone

from contacts.ingest.common import recordset_insert, rows_insert
from contacts.models import Contact, LoyaltyMember, Purchase
from contacts.purchase_stats import id_list

from .models import NO_PURCHASE, BuyerDay, PurchaseFact, SalesDay

logger = logging.getLogger(__name__)

FACT_FIELDS = ("contact_id", "day", "channel", "total", "club", "previous_day", "second_previous_day")
# What `_facts` selects, named so the rebuild can read them from a subquery: the purchase, then FACT_FIELDS.
FACT_COLUMNS = (
    "fact_purchase",
    "fact_contact",
    "day",
    "fact_channel",
    "fact_total",
    "club",
    "previous_day",
    "second_previous_day",
)
CHUNK = 500  # rows per upsert statement (SQLite)


class Fact(NamedTuple):
    contact_id: int
    day: dt.date
    channel: str
    total: Decimal
    club: bool
    previous_day: dt.date | None
    second_previous_day: dt.date | None


def _facts(purchases: QuerySet, *, club: Any = None) -> QuerySet:
    """(pk, *FACT_FIELDS) of each purchase in `purchases`, which must hold every purchase of its contacts (the
    earlier purchases are read over the contact's rows). `club` is how to tell a club member's purchase: by
    default whether the buyer has an active membership, a subquery per row (the rebuild's; a sync passes the
    answer it looked up for its few contacts)."""
    day = TruncDate("purchased_at", tzinfo=timezone.get_default_timezone())
    contact, order = [F("contact_id")], [F("purchased_at").asc(), F("id").asc()]
    if club is None:
        active = LoyaltyMember.objects.filter(contact_id=OuterRef("contact_id"), status=LoyaltyMember.Status.ACTIVE)
        club = Exists(active)
    return purchases.annotate(
        fact_purchase=F("pk"),
        fact_contact=F("contact_id"),
        fact_channel=F("channel"),
        fact_total=F("total"),
        day=day,
        previous_day=Window(Lag(day, 1), partition_by=contact, order_by=order),
        second_previous_day=Window(Lag(day, 2), partition_by=contact, order_by=order),
        club=club,
    ).values_list(*FACT_COLUMNS)


# ------------------------------------------------------------------ incremental


class Changes:
    """What a set of facts adds to (sign +1) or takes from (−1) the two rollups."""

    def __init__(self) -> None:
        self.sales: Counter[tuple] = Counter()
        self.revenue: dict[tuple, Decimal] = {}
        self.buyers: Counter[tuple] = Counter()

    def count(self, fact: Fact, sign: int) -> None:
        key = (fact.day, fact.channel, fact.club)
        self.sales[key] += sign
        self.revenue[key] = self.revenue.get(key, Decimal(0)) + sign * fact.total
        self.buyers[(fact.day, 1, fact.previous_day or NO_PURCHASE)] += sign
        if fact.previous_day is not None:
            self.buyers[(fact.day, 2, fact.second_previous_day or NO_PURCHASE)] += sign

    def apply(self) -> None:
        sales = [(*key, n, self.revenue[key]) for key, n in sorted(self.sales.items()) if n or self.revenue[key]]
        buyers = [(*key, n) for key, n in sorted(self.buyers.items()) if n]
        _upsert(SalesDay, ("day", "channel", "club"), ("orders", "revenue"), sales)
        _upsert(BuyerDay, ("day", "lag", "earlier_day"), ("purchases",), buyers)


def _upsert(model: type[Model], keys: tuple[str, ...], sums: tuple[str, ...], rows: list[tuple]) -> None:
    """Add `rows` (keys then sums) to the model's rows with the same keys, creating the missing ones; in key
    order, so concurrent writers lock rows in the same order. On PostgreSQL one statement reading the rows
    as one JSON document (`recordset_insert`): as VALUES lists, the client split and quoted some 8,000
    placeholders a batch of 1,000 purchases, a tenth of the counting worker's time."""
    if not rows:
        return
    table, quote = model._meta.db_table, connection.ops.quote_name
    update = ", ".join(f"{quote(c)} = {table}.{quote(c)} + excluded.{quote(c)}" for c in sums)
    conflict = f"ON CONFLICT ({', '.join(quote(c) for c in keys)}) DO UPDATE SET {update}"
    if connection.vendor == "postgresql":
        insert, document = recordset_insert(model, (*keys, *sums), rows)
        with connection.cursor() as cursor:
            cursor.execute(f"{insert} {conflict}", [document])
        return
    columns = ", ".join(quote(c) for c in (*keys, *sums))
    fields = [cast(Field, model._meta.get_field(c)) for c in (*keys, *sums)]
    with connection.cursor() as cursor:
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            values = ", ".join(["(" + ", ".join(["%s"] * len(fields)) + ")"] * len(chunk))
            params = [f.get_db_prep_save(v, connection) for row in chunk for f, v in zip(fields, row, strict=True)]
            cursor.execute(f"INSERT INTO {table} ({columns}) VALUES {values} {conflict}", params)


def sync(contact_ids: Iterable[int], *, since: dt.datetime | None = None) -> None:
    """Bring the rollups up to date with these contacts' purchases (see the module docstring). With `since`,
    only their purchases made from then on are compared (the earlier ones are known unchanged: new purchases
    change the facts of those after them only)."""
    ids = sorted(set(contact_ids))
    if not ids:
        return
    with transaction.atomic():
        members = _lock(ids)
        desired = {
            row[0]: Fact(row[1], row[2], row[3], row[4], row[1] in members, row[6], row[7])
            for row in _desired(ids, since)
        }
        stored_facts = PurchaseFact.objects.filter(contact_id__in=id_list(ids))
        if since is not None:
            stored_facts = PurchaseFact.objects.filter(pk__in=id_list(sorted(desired)))
        stored = {row[0]: Fact(*row[1:]) for row in stored_facts.values_list("pk", *FACT_FIELDS)}
        changes, gone, fresh = Changes(), [], []
        for pk in stored.keys() | desired.keys():
            old, new = stored.get(pk), desired.get(pk)
            if old == new:
                continue
            if old is not None:
                changes.count(old, -1)
                gone.append(pk)
            if new is not None:
                changes.count(new, +1)
                fresh.append((pk, *new))
        if gone:
            PurchaseFact.objects.filter(pk__in=id_list(gone)).delete()
        rows_insert(PurchaseFact, ("purchase_id", *FACT_FIELDS), fresh, returning=False)
        changes.apply()


def _lock(ids: list[int]) -> set[int]:
    """Lock the contacts (two syncs of a contact queue; a no-key lock, which leaves rows that refer to them
    writable meanwhile) and return those with an active club membership, read by index apart: a membership
    test in the locking query makes PostgreSQL hash every active membership of the club (~200 ms a batch of
    5,000 buyers at 1,000,000 contacts)."""
    locked = Contact.objects.select_for_update(no_key=True).filter(pk__in=id_list(ids)).order_by("pk")
    list(locked.values_list("pk", flat=True))
    active = LoyaltyMember.objects.filter(contact_id__in=id_list(ids), status=LoyaltyMember.Status.ACTIVE)
    return set(active.values_list("contact_id", flat=True))


def _desired(ids: list[int], since: dt.datetime | None) -> QuerySet:
    """The facts of these contacts' purchases (made from `since` on, when given) as the purchases say; the
    club column is left for the caller (False here)."""
    purchases = Purchase.objects.filter(contact_id__in=id_list(ids))
    if since is not None:
        # A window over each purchase alone gives its own time, filtered after the contact's lags are read
        # (the filter selects that column too, after the facts').
        purchases = purchases.annotate(moment=Window(Max("purchased_at"), partition_by=[F("pk")]))
        purchases = purchases.filter(moment__gte=since)
    return _facts(purchases, club=Value(False))


def club_sync(contact_ids: Iterable[int]) -> None:
    """Sync the contacts among these whose counted club membership no longer matches their membership now.
    Two index reads (their active memberships, the distinct club flags of their facts) compared here: a
    membership test inside the fact query makes PostgreSQL hash every active membership of the club."""
    ids = sorted(set(contact_ids))
    if not ids:
        return
    members = set(
        LoyaltyMember.objects.filter(contact_id__in=id_list(ids), status=LoyaltyMember.Status.ACTIVE).values_list(
            "contact_id", flat=True
        )
    )
    counted = PurchaseFact.objects.filter(contact_id__in=id_list(ids)).values_list("contact_id", "club").distinct()
    sync({contact for contact, club in counted if club != (contact in members)})


# ------------------------------------------------------------------ hooks


def purchases_counted(purchase_ids: list[int]) -> None:
    """New purchases (one, or a bulk batch), inside the transaction that counts them into their buyers'
    aggregates."""
    rows = Purchase.objects.filter(pk__in=id_list(purchase_ids)).values_list("contact_id", "purchased_at")
    contacts = {contact for contact, _at in rows}
    if not contacts:
        return
    sync(contacts, since=min(at for _contact, at in rows))


def purchase_saved(sender: type, instance: Purchase, created: bool, raw: bool = False, **kwargs: Any) -> None:
    """A purchase saved one by one (the admin, a fixture, a test's factory); a second sync is a no-op."""
    if created and not raw:
        sync([instance.contact_id])


def contacts_merged(survivor_id: int, duplicate_id: int) -> None:
    """The duplicate's purchases now belong to the survivor: both contacts' facts are read anew."""
    sync([survivor_id, duplicate_id])


def contacts_changed(sender: type, contact_ids: list[int], **kwargs: Any) -> None:
    """After commit, for any change of these contacts; only a club membership that began or ended matters."""
    try:
        club_sync(contact_ids)
    except Exception:  # a failed refresh must not break the write that committed; the next change retries
        logger.exception("club rollup sync failed for %d contacts", len(contact_ids))


def demo_seeded(anchor: dt.datetime, seed: int) -> None:
    """The demo data set's purchases are written by COPY, without hooks: the rollups are rebuilt."""
    rebuild()


# ------------------------------------------------------------------ rebuild


def rebuild() -> None:
    """Every rollup row anew from the purchases, set-based, in one transaction."""
    quote = connection.ops.quote_name
    facts, sales, buyers = (m._meta.db_table for m in (PurchaseFact, SalesDay, BuyerDay))
    select, params = _facts(Purchase.objects.all()).query.sql_with_params()
    none = BuyerDay._meta.get_field("earlier_day").get_db_prep_save(NO_PURCHASE, connection)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # syncs wait for the rebuild rather than race it
            cursor.execute(f"LOCK TABLE {facts}, {sales}, {buyers} IN EXCLUSIVE MODE")
        for table in (facts, sales, buyers):
            cursor.execute(f"DELETE FROM {table}")
        columns, selected = ", ".join(quote(c) for c in FACT_FIELDS), ", ".join(quote(c) for c in FACT_COLUMNS)
        cursor.execute(
            f"INSERT INTO {facts} (purchase_id, {columns}) SELECT {selected} FROM ({select}) f",
            params,
        )
        cursor.execute(
            f"INSERT INTO {sales} (day, channel, club, orders, revenue) "
            f"SELECT day, channel, club, COUNT(*), SUM(total) FROM {facts} GROUP BY day, channel, club"
        )
        cursor.execute(
            f"INSERT INTO {buyers} (day, lag, earlier_day, purchases) "
            f"SELECT day, 1, COALESCE(previous_day, %s), COUNT(*) FROM {facts} "
            f"GROUP BY day, COALESCE(previous_day, %s) "
            f"UNION ALL SELECT day, 2, COALESCE(second_previous_day, %s), COUNT(*) FROM {facts} "
            f"WHERE previous_day IS NOT NULL GROUP BY day, COALESCE(second_previous_day, %s)",
            [none] * 4,
        )
