"""A bulk batch's events are stored by a worker, after the batch commits, instead of inside the batch.

A batch validates its events, resolves their contacts and products, and queues them as `QueuedActivity` rows:
one insert into a table with a single index, the answer to the shop. Storing them is the rest: the insert
into `contacts_activity` with its indexes and what its triggers keep (each contact's last event of each type,
the distinct visitors of the reports), the funnel stages raised, and, once that has committed, the segments'
refresh and the automations an event starts (`hooks.activities_recorded`). Each of those costs about what the
batch itself does; done by a worker, they no longer hold up the site that sends the events, and several
batches are stored in one transaction.

`activities_store_queued` takes the oldest queued events, deletes their rows and stores them, in one transaction
(on PostgreSQL in one statement: the events never leave the database, only a contact and a type per stored event
come back for the funnel and the hooks): an event is stored once whoever stores it, and a worker that fails leaves
its events queued for the next. Workers side by side take different events (SKIP LOCKED). What may have happened
to an event's contact meanwhile is settled as the event is stored: merged (`merging` re-homes queued events too),
erased (the event is stored scrubbed, as erasure leaves the contact's stored events), deleted (the event is kept
as an anonymous visitor's); an anonymous visitor identified meanwhile gets the event on its contact; a deleted
product is left out of the event, as deleting it leaves stored events. An event id is accepted once, queued or
stored; the same id sent twice at the same moment is stored once.

A batch's commit schedules the storing task; the beat runs it every minute too, for whatever a lost task left.
Where Celery runs tasks in-process (CELERY_TASK_ALWAYS_EAGER: the test suite, a machine with no worker) a batch
stores its events itself, in its own transaction, with the same function.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from functools import partial
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from . import hooks
from .models import Activity, Contact, Product, QueuedActivity, VisitorIdentity
from .purchase_stats import id_list, queue_take
from .services import contacts_raise_stages, stage_for_event, visitors_resolve

BATCH = 5000  # events stored per transaction

# The columns of a queued or stored event, in the order of the rows below.
COLUMNS = (
    "contact_id",
    "anonymous_id",
    "event_id",
    "type",
    "occurred_at",
    "product_id",
    "url",
    "properties",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "created_at",
)
CONTACT, ANONYMOUS, EVENT_ID, TYPE, PRODUCT, URL, PROPERTIES = 0, 1, 2, 3, 5, 6, 7


def activities_queue(rows: list[tuple]) -> None:
    """Inside the transaction of a batch: its events (rows of `COLUMNS`, checked) to be stored once it commits.
    Where tasks run in-process they are stored now."""
    if not rows:
        return
    if settings.CELERY_TASK_ALWAYS_EAGER:
        activities_store(rows, settled=True)
        return
    from .ingest.common import rows_copy  # the ingest package imports this module

    rows_copy(QueuedActivity, COLUMNS, rows)
    from .tasks import store_events_task  # the tasks module imports the services, which import this one's users

    transaction.on_commit(partial(store_events_task.delay), robust=True)


@transaction.atomic
def activities_store_queued(*, limit: int = BATCH) -> int:
    """Store up to `limit` of the oldest queued events not being stored by someone else; returns how many."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # a few index-driven statements; compiling them costs more than them
            cursor.execute("SET LOCAL jit = off")
        return _store_queued_in_database(limit)
    queued = QueuedActivity.objects.select_for_update(skip_locked=True).order_by("pk")
    taken = list(queued.values_list("pk", *COLUMNS)[:limit])
    if taken:
        QueuedActivity.objects.filter(pk__in=id_list([row[0] for row in taken])).delete()
        activities_store([row[1:] for row in taken], settled=False)
    return len(taken)


def _store_queued_in_database(limit: int) -> int:
    """PostgreSQL: take, settle and store the queued events in one statement, without bringing them here.

    The same rules as `_settle`, as joins: the contact's row (gone: the event stays the visitor's; erased: the
    event scrubbed), the identified visitor for an anonymous event, the product's row. Only what was stored
    comes back, a contact and a type per event, for the funnel and the hooks."""
    quote = connection.ops.quote_name
    stored = quote(Activity._meta.db_table)
    contacts, products = quote(Contact._meta.db_table), quote(Product._meta.db_table)
    visitors = quote(VisitorIdentity._meta.db_table)
    kept = "c.erased_at IS NULL"  # no contact row (anonymous, deleted) or a contact not erased
    sql = f"""
        WITH taken AS ({queue_take(QueuedActivity._meta.db_table, "id", "*")}), inserted AS (
            INSERT INTO {stored} ({", ".join(COLUMNS)})
            SELECT CASE WHEN t.contact_id IS NULL THEN v.contact_id ELSE c.id END,
                   CASE WHEN {kept} THEN t.anonymous_id END, CASE WHEN {kept} THEN t.event_id END,
                   t.type, t.occurred_at, p.id,
                   CASE WHEN {kept} THEN t.url ELSE '' END, CASE WHEN {kept} THEN t.properties ELSE '{{}}' END,
                   t.utm_source, t.utm_medium, t.utm_campaign, t.created_at
            FROM taken t
            LEFT JOIN {contacts} c ON c.id = t.contact_id
            LEFT JOIN {visitors} v ON t.contact_id IS NULL AND v.anonymous_id = t.anonymous_id
            LEFT JOIN {products} p ON p.id = t.product_id
            ORDER BY t.id
            ON CONFLICT DO NOTHING
            RETURNING contact_id, type
        )
        SELECT contact_id, type, NULL FROM inserted WHERE contact_id IS NOT NULL
        UNION ALL SELECT NULL, NULL, count(*) FROM taken
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [limit])
        rows = cursor.fetchall()
    taken = next(count for _, _, count in rows if count is not None)  # the one row that counts, wherever it comes
    _stored((contact_id, event_type) for contact_id, event_type, count in rows if count is None)
    return taken


def activities_store(rows: Sequence[tuple], *, settled: bool) -> None:
    """Store events (rows of `COLUMNS`), raise their contacts' funnel stages and tell what depends on them.

    `settled`: the rows were checked in this transaction (a batch storing its own events); an id sent twice at
    the same moment then fails the insert, and the batch answers item by item. Rows from the queue are first
    brought up to date with their contacts and products, and an event id stored meanwhile is left out (neither
    stored again nor told of)."""
    if not settled:
        rows = _settle(rows)
    from .ingest.common import rows_insert

    rows_insert(Activity, COLUMNS, rows, returning=False)
    _stored((row[CONTACT], row[TYPE]) for row in rows if row[CONTACT] is not None)


def _stored(events: Iterable[tuple[int, str]]) -> None:
    """After stored events (a contact and a type each): their contacts' funnel stages raised, then the hooks."""
    stage_by_contact: dict[int, int] = {}
    by_type: dict[str, list[int]] = defaultdict(list)
    for contact_id, event_type in events:
        stage_by_contact[contact_id] = max(stage_by_contact.get(contact_id, 0), stage_for_event(event_type))
        by_type[event_type].append(contact_id)
    contacts_raise_stages(stage_by_contact)
    hooks.activities_recorded(by_type)


def activities_queued() -> int:
    """How many accepted events are waiting to be stored (the home page says so while it is not 0)."""
    return QueuedActivity.objects.count()


def _settle(rows: Sequence[tuple]) -> list[tuple]:
    """Queued rows as they are to be stored now (see the module's note), without those whose event id was
    stored meanwhile (the single endpoint); one query per kind. (Elsewhere than PostgreSQL: SQLite has one
    writer at a time, and the worker holds the write lock from its deletion of the queued rows on, so nothing
    is stored between this read and the insert.)"""
    event_ids = [row[EVENT_ID] for row in rows if row[EVENT_ID] is not None]
    if event_ids:
        stored = set(Activity.objects.filter(event_id__in=event_ids).values_list("event_id", flat=True))
        rows = [row for row in rows if row[EVENT_ID] is None or row[EVENT_ID] not in stored]
    contact_ids = {row[CONTACT] for row in rows if row[CONTACT] is not None}
    found = Contact.objects.filter(pk__in=id_list(contact_ids)).values_list("pk", "erased_at") if contact_ids else []
    erased = {pk: erased_at is not None for pk, erased_at in found}
    visitors = visitors_resolve(row[ANONYMOUS] for row in rows if row[CONTACT] is None)
    product_ids = {row[PRODUCT] for row in rows if row[PRODUCT] is not None}
    products = set(Product.objects.filter(pk__in=id_list(product_ids)).values_list("pk", flat=True))
    settled = []
    for row in rows:
        row_list: list[Any] = list(row)
        if row[PRODUCT] is not None and row[PRODUCT] not in products:
            row_list[PRODUCT] = None
        if row[CONTACT] is None:
            row_list[CONTACT] = visitors.get(row[ANONYMOUS]) if row[ANONYMOUS] else None
        elif row[CONTACT] not in erased:  # deleted: the event stays the anonymous visitor's, if it had one
            row_list[CONTACT] = None
        elif erased[row[CONTACT]]:  # what erasure leaves of a stored event
            row_list[ANONYMOUS], row_list[EVENT_ID], row_list[URL], row_list[PROPERTIES] = None, None, "", {}
        settled.append(tuple(row_list))
    return settled
