"""Which message a purchase is credited to (CONTRACT §7), computed by the database for a whole set of purchases.

The rule has one owner, `touch_events`: the contact's latest human click at most ATTRIBUTION_CLICK_DAYS before
the purchase; else its latest human open at most ATTRIBUTION_OPEN_DAYS before it. Both ends are included: a
touch at the very moment of the purchase counts, and so does one exactly the window's length before it. Two
touches at the same instant: the one recorded last wins. Machine opens and clicks (privacy proxies, scanners,
prefetch) never count. Time is the purchase's `purchased_at`, so a store sale imported the next day is credited
as if it had arrived at once.

`attribute` writes the result for any set of purchases with two statements (delete theirs, insert the new
ones), whatever the set's size: at ingestion for the new purchases (the bulk path's whole batch at once),
after a merge for the survivor's purchases, and by `recompute_attribution` for a period, in id-ordered batches.
"""

import datetime as dt
from collections.abc import Iterator

from django.conf import settings
from django.db import connection, transaction
from django.db.models import DateTimeField, ExpressionWrapper, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from contacts.models import Purchase
from contacts.purchase_stats import id_list

from ..models import TrackingEvent
from .models import Attribution

BATCH = 5000
COLUMNS = ("purchase", "message", "campaign", "contact", "touch", "touched_at", "purchased_at", "total", "channel")


def _window_start(days: int) -> ExpressionWrapper:
    return ExpressionWrapper(OuterRef("purchased_at") - Value(dt.timedelta(days=days)), output_field=DateTimeField())


def touch_events(kind: str, days: int) -> QuerySet:
    """The human `kind` touches (opens or clicks) of a purchase's contact that may take its credit, latest
    first: for use as a subquery on purchases."""
    return TrackingEvent.objects.filter(
        contact_id=OuterRef("contact_id"),
        kind=kind,
        is_machine=False,
        occurred_at__lte=OuterRef("purchased_at"),
        occurred_at__gte=_window_start(days),
    ).order_by("-occurred_at", "-pk")


def credited(purchases: QuerySet) -> QuerySet:
    """`purchases` with `event_id`: the tracking event their credit goes to, or None."""
    click = touch_events(TrackingEvent.Kind.CLICK, settings.ATTRIBUTION_CLICK_DAYS)
    opened = touch_events(TrackingEvent.Kind.OPEN, settings.ATTRIBUTION_OPEN_DAYS)
    return purchases.annotate(event_id=Coalesce(Subquery(click.values("pk")[:1]), Subquery(opened.values("pk")[:1])))


def _column(model, name: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(name).column)


def attribute(purchases: QuerySet, *, replace: bool = True) -> int:
    """Store the attribution of these purchases, replacing what they had; returns how many were credited.

    One statement: the purchases with the event their credit goes to are materialized first (for a new batch,
    a primary-key probe each, then a short backward scan of `event_contact_kind_time_idx` per kind tried), and
    each credited one reads its event's message, campaign, kind and time by the event's primary key. The
    cost follows the batch, never the size of the tracking table (a join to it let PostgreSQL hash the whole
    table: 330 ms per 1,000 purchases at 500,000 events, growing with them). `replace=False` is for purchases
    just inserted (nothing to delete)."""
    purchases = purchases.order_by()
    with transaction.atomic():
        if replace:
            Attribution.objects.filter(purchase_id__in=purchases.values("pk")).delete()
        return _run(*_statement(purchases))


def _statement(purchases: QuerySet) -> tuple[str, list]:
    """The INSERT that credits `purchases` (see `attribute`), with its parameters."""
    sql, params = (
        credited(purchases).values("pk", "contact_id", "purchased_at", "total", "channel", "event_id").query
    ).sql_with_params()
    quote = connection.ops.quote_name
    event_id = _column(TrackingEvent, "id")

    def of_event(name: str) -> str:
        return (
            f"(SELECT e.{_column(TrackingEvent, name)} FROM {quote(TrackingEvent._meta.db_table)} AS e "
            f"WHERE e.{event_id} = c.event_id)"
        )

    columns = ", ".join(_column(Attribution, name) for name in COLUMNS)
    # The WITH belongs to the SELECT, so the statement starts with INSERT (SQLite counts its rows only then).
    insert = (
        f"INSERT INTO {quote(Attribution._meta.db_table)} ({columns}) "
        f"WITH c AS MATERIALIZED ({sql}) "
        f"SELECT c.{quote('pk')}, {of_event('message')}, {of_event('campaign')}, c.{_column(Purchase, 'contact')}, "
        f"{of_event('kind')}, {of_event('occurred_at')}, c.{_column(Purchase, 'purchased_at')}, "
        f"c.{_column(Purchase, 'total')}, c.{_column(Purchase, 'channel')} FROM c WHERE c.event_id IS NOT NULL"
    )
    return insert, list(params)


def _run(sql: str, params: list) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


_statements: dict[tuple, tuple[str, list, int]] = {}


def _new_purchases_statement(purchase_ids: list[int]) -> tuple[str, list]:
    """`_statement` for purchases given by id. On PostgreSQL it is built once per database and windows, the
    ids passed as one array: the ORM takes ~10 ms to build it, a third of what running it costs a batch."""
    if connection.vendor != "postgresql":
        return _statement(Purchase.objects.filter(pk__in=purchase_ids))
    key = (connection.alias, settings.ATTRIBUTION_CLICK_DAYS, settings.ATTRIBUTION_OPEN_DAYS)
    if key not in _statements:
        marker = [-1, -2, -3]  # never ids: stands for the batch's
        sql, params = _statement(Purchase.objects.filter(pk__in=id_list(marker)))
        (slot,) = [n for n, param in enumerate(params) if param == marker]
        _statements[key] = (sql, params, slot)
    sql, params, slot = _statements[key]
    return sql, [*params[:slot], list(purchase_ids), *params[slot + 1 :]]


def purchases_stored(purchase_ids: list[int]) -> None:
    """New purchases (one, or a bulk batch): attributed in the inserting transaction."""
    if purchase_ids:
        _run(*_new_purchases_statement(purchase_ids))


def contacts_merged(survivor_id: int, duplicate_id: int) -> None:
    """The duplicate's purchases and mail now belong to the survivor: its purchases are credited anew, so a
    click of one and a purchase of the other meet."""
    attribute(Purchase.objects.filter(contact_id=survivor_id))


def _batches(purchases: QuerySet) -> Iterator[tuple[int, int, int]]:
    """(first id, last id, count) of consecutive id ranges of BATCH purchases each, read by keyset."""
    after = 0
    while True:
        ids = list(purchases.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:BATCH])
        if not ids:
            return
        yield ids[0], ids[-1], len(ids)
        after = ids[-1]


def recompute(*, start: dt.datetime, end: dt.datetime) -> tuple[int, int]:
    """Attribute every purchase made in [start, end) anew, BATCH purchases per transaction; returns
    (purchases, credited). For a change of the windows, or data fixed by hand."""
    purchases = Purchase.objects.filter(purchased_at__gte=start, purchased_at__lt=end)
    seen = credited_count = 0
    for first, last, count in _batches(purchases):
        credited_count += attribute(purchases.filter(pk__gte=first, pk__lte=last))
        seen += count
    return seen, credited_count
