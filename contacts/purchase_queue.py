"""A bulk batch's purchases are counted after the batch commits, by a worker, instead of inside the batch.

A batch stores its purchases, their lines and their attribution (CONTRACT §7: the whole batch in one statement,
`hooks.purchases_stored`) and queues the purchases as `UncountedPurchase` rows. Counting them is the rest: the
buyers' aggregates, funnel stage, RFM and lifecycle moves (`services.contacts_add_purchases`), the sales rollups
(`hooks.purchases_counted`) and, once that has committed, the segments' refresh and the automations a purchase
starts (`hooks.purchases_recorded`). At a million contacts the counting costs twice what the storing does (a
buyer's row carries twenty indexes); done by a worker, it no longer holds up the shop or the till that sends
the batch, and several batches are counted in one transaction.

`purchases_count_queued` takes the oldest queued purchases, deletes their rows and counts them, in one
transaction: a purchase is counted once whoever counts it, and a counter that fails leaves its purchases queued
for the next. Counters side by side take different buyers' purchases (on PostgreSQL, `_take_in_database`).
The buyer's aggregates read again from all purchases (`purchase_stats.refresh_buyers`: a first purchase, a
merge) leave the queued ones out; they are added when counted. A batch's commit schedules the counting task;
the beat runs it every minute too, for whatever a lost task left. Where Celery runs tasks in-process
(CELERY_TASK_ALWAYS_EAGER: the test suite, a machine with no worker) a batch is counted in its own
transaction, with the same function.
"""

from functools import partial

from django.conf import settings
from django.db import connection, transaction

from . import hooks
from .models import Contact, Purchase, UncountedPurchase
from .purchase_stats import id_list, id_rows
from .services import contacts_add_purchases

BATCH = 5000  # purchases counted per transaction

# Counting is a few dozen index-driven statements over one batch's buyers. Priced by what the planner expects
# of a thousand buyers at a million contacts, some pass jit_above_cost, and PostgreSQL would compile each one
# before running it (~190 ms for the last purchases read again, which then run in 30 ms): the counting
# transaction runs with JIT off.


def purchases_queue(purchase_ids: list[int]) -> None:
    """Inside the transaction that stored these purchases: queue them to be counted once it commits."""
    if not purchase_ids:
        return
    if settings.CELERY_TASK_ALWAYS_EAGER:
        purchases_count(purchase_ids)
        return
    rows, params = id_rows(purchase_ids)
    with connection.cursor() as cursor:  # a model instance per id would cost more than the statement
        cursor.execute(f"INSERT INTO {UncountedPurchase._meta.db_table} (purchase_id) {rows}", params)
    from .tasks import count_purchases_task  # the tasks module imports the services, which import this one's users

    transaction.on_commit(partial(count_purchases_task.delay), robust=True)


@transaction.atomic
def purchases_count_queued(*, limit: int = BATCH) -> int:
    """Count up to `limit` of the oldest queued purchases not being counted by someone else; returns how many."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # see the note on BATCH
            cursor.execute("SET LOCAL jit = off")
        taken = _take_in_database(limit)
    else:
        queued = UncountedPurchase.objects.select_for_update(skip_locked=True).order_by("pk")
        taken = list(queued.values_list("pk", flat=True)[:limit])
        UncountedPurchase.objects.filter(pk__in=taken).delete()
    if taken:
        purchases_count(taken)
    return len(taken)


def _take_in_database(limit: int) -> list[int]:
    """PostgreSQL: take and delete up to `limit` of the oldest queued purchases that no other counter is
    taking and whose buyers no other counter holds, locking those buyers, in one statement.

    Counters side by side then count different buyers and never wait for each other. When the take skipped
    only the queue rows another counter had locked, two counters of a shop's busy hour still shared most
    buyers, and the second waited for the first's commit at its first lock. A purchase whose buyer is held
    stays queued, passed over by the other counters until this one commits.

    Each step is a probe by key (the queue's oldest rows, each one's buyer, the buyers, the rows to delete)
    whatever the planner knows of the queue (see `queue_take`): joined to the purchases, the queue was matched
    by reading the purchases' key from the first, and the buyers held were searched as an array once per
    purchase (88 ms for 5,000 at 175,000 purchases; 27 ms this way, and the same at any size)."""
    queue, purchases, contacts = (m._meta.db_table for m in (UncountedPurchase, Purchase, Contact))
    sql = f"""
        WITH candidates AS MATERIALIZED (
            SELECT q.purchase_id, (SELECT p.contact_id FROM {purchases} p WHERE p.id = q.purchase_id) AS contact_id
            FROM (SELECT purchase_id FROM {queue} ORDER BY purchase_id LIMIT %s FOR UPDATE SKIP LOCKED) q
        ), buyers AS MATERIALIZED (
            SELECT c.id FROM {contacts} c
            WHERE c.id = ANY(ARRAY(SELECT DISTINCT contact_id FROM candidates WHERE contact_id IS NOT NULL))
            ORDER BY c.id FOR NO KEY UPDATE SKIP LOCKED
        )
        DELETE FROM {queue} WHERE purchase_id = ANY(ARRAY(
            SELECT purchase_id FROM candidates WHERE contact_id IS NULL OR contact_id IN (SELECT id FROM buyers)
        )) RETURNING purchase_id"""
    with connection.cursor() as cursor:
        cursor.execute(sql, [limit])
        return sorted(row[0] for row in cursor.fetchall())


def purchases_count(purchase_ids: list[int]) -> None:
    """Count these stored purchases (no longer queued) into what derives from them."""
    rows = list(Purchase.objects.filter(pk__in=id_list(purchase_ids)).values_list("pk", "contact_id", "channel"))
    if not rows:  # erased since
        return
    ids = [pk for pk, _contact, _channel in rows]
    hooks.purchases_counted(ids)
    contacts_add_purchases(contact_ids=[contact for _pk, contact, _channel in rows], purchase_ids=ids)
    by_channel: dict[str, list[int]] = {}
    for _pk, contact, channel in rows:
        by_channel.setdefault(channel, []).append(contact)
    hooks.purchases_recorded(by_channel)


def purchases_queued() -> int:
    """How many stored purchases are waiting to be counted (the home page says so while it is not 0)."""
    return UncountedPurchase.objects.count()
