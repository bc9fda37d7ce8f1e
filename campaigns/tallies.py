"""Running totals of campaigns' mail, kept by the database itself: what the reports read instead of every
message and tracking event of a big campaign.

- `CampaignTally`: per campaign, its messages by state (recipients, sent, failed, skipped, held out,
  delivered, bounced, complaints, unsubscribes, and the messages with a human open or click, from the
  message's own first_opened_at / first_clicked_at).
- `SentHour`: per UTC hour of sent_at, the mail sent then (status sent): sent, bounced, opened, clicked.
- `EventHour`: per campaign and UTC hour, its human opens, machine opens and human clicks (a campaign's totals
  are the sum of its hours).

Triggers keep them in the transaction of every write to the messages and the tracking events: sending,
tracking, webhooks, merges, erasure, deletes, the demo writer's COPY, a test's `Message.objects.create`. No
write path can forget them, so they always equal a count of the rows. Each number is a Q object of COUNTS
(the same ones the Python code filters with), compiled to the database's SQL: the rule has one owner.

On PostgreSQL the triggers are statement-level: a statement writing a million messages (an audience snapshot,
a cancel) adds one aggregate per tally, and one that changes nothing counted writes nothing. Each backend adds
to its own row (`shard`), so the opens of one campaign do not queue on a single row; readers sum the shards.
`campaigns.tally_sql` writes them, for SQLite too.

Hours are UTC (a trigger does not know TIME_ZONE): the days of a period are whole UTC hours wherever the zone is
a whole number of hours from UTC, which `whole_hours` checks; elsewhere the callers count the rows themselves.

The triggers are installed after every `migrate` (`install_after_migrate`) rather than frozen in a migration:
they name columns later migrations may change, and SQLite drops a table's triggers whenever a migration rebuilds
the table. When what is installed is not what this code would install, the triggers are created afresh and
every tally recounted from the rows (`install`), in one transaction with writers held off.
"""

import datetime as dt
from collections.abc import Iterable

from django.db import connections, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Q, Sum

from . import tally_sql
from .models import Campaign, CampaignTally, EventHour, Message, SentHour, TrackingEvent
from .stats import DELIVERED, HUMAN_CLICK, HUMAN_OPEN, MACHINE_OPEN
from .tally_sql import Tally

OPENS_AND_CLICKS = Q(kind__in=[TrackingEvent.Kind.OPEN, TrackingEvent.Kind.CLICK])
CAMPAIGN = (("campaign_id", "campaign_id", False),)
COUNTS = (
    Tally(
        CampaignTally,
        Message,
        CAMPAIGN,
        {
            "recipients": Q(),
            "sent": Q(status=Message.Status.SENT),
            "failed": Q(status=Message.Status.FAILED),
            "skipped": Q(status=Message.Status.SKIPPED),
            "held_out": Q(status=Message.Status.HOLDOUT),
            "delivered": DELIVERED,
            "bounced": Q(bounced_at__isnull=False),
            "complaints": Q(complained_at__isnull=False),
            "unsubscribes": Q(unsubscribed_at__isnull=False),
            "unique_opens": Q(first_opened_at__isnull=False),
            "unique_clicks": Q(first_clicked_at__isnull=False),
        },
    ),
    Tally(
        SentHour,
        Message,
        (("hour", "sent_at", True),),
        {
            "sent": Q(),
            "bounced": Q(bounced_at__isnull=False),
            "opened": Q(first_opened_at__isnull=False),
            "clicked": Q(first_clicked_at__isnull=False),
        },
        Q(status=Message.Status.SENT, sent_at__isnull=False),
    ),
    Tally(
        EventHour,
        TrackingEvent,
        (*CAMPAIGN, ("hour", "occurred_at", True)),
        {"opens": HUMAN_OPEN, "machine_opens": MACHINE_OPEN, "clicks": HUMAN_CLICK},
        OPENS_AND_CLICKS,
    ),
)


# ------------------------------------------------------------------ installing


def _run(conn: BaseDatabaseWrapper, statements: Iterable[str]) -> None:
    with conn.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def _wanted(conn: BaseDatabaseWrapper) -> list[str]:
    if conn.vendor == "postgresql":
        return tally_sql.postgresql(COUNTS, Campaign, conn)
    return list(tally_sql.sqlite(COUNTS, Campaign, conn).values())


def outdated(conn: BaseDatabaseWrapper) -> bool:
    """Whether what is installed differs from what `install` would install now: a trigger missing, disabled,
    left over from another version, or written differently."""
    present = tally_sql.installed(conn)
    if conn.vendor != "postgresql":
        return {name: sql for name, (_table, sql) in present.items()} != tally_sql.sqlite(COUNTS, Campaign, conn)
    if set(present) != tally_sql.trigger_names(COUNTS) or any(state != "O" for _t, state in present.values()):
        return True
    with conn.cursor() as cursor:
        cursor.execute(f"SELECT obj_description(to_regprocedure('{tally_sql.OWNER_DELETED}()'), 'pg_proc')")
        label = cursor.fetchone()[0]
    return label != tally_sql.fingerprint(_wanted(conn)[:-1])


def install(conn: BaseDatabaseWrapper) -> None:
    """The triggers created afresh and every tally recounted, in one transaction, writers held off meanwhile."""
    with transaction.atomic(using=conn.alias):
        if conn.vendor == "postgresql":
            tables = ", ".join(tally_sql.table(model, conn) for model in (Message, TrackingEvent))
            _run(conn, [f"LOCK TABLE {tables} IN SHARE ROW EXCLUSIVE MODE"])
        _run(conn, tally_sql.dropped(tally_sql.installed(conn), conn))
        _run(conn, _wanted(conn))
        _run(conn, tally_sql.recount(COUNTS, conn))


def uninstall(conn: BaseDatabaseWrapper) -> None:
    _run(conn, tally_sql.dropped(tally_sql.installed(conn), conn))


def install_after_migrate(sender, using: str = "default", **kwargs) -> None:
    """post_migrate: the triggers, wherever the tallies' tables exist and what is installed is outdated."""
    conn = connections[using]
    if conn.vendor not in ("postgresql", "sqlite"):
        return
    tables = {model._meta.db_table for model in (CampaignTally, SentHour, EventHour)}
    if tables <= set(conn.introspection.table_names()) and outdated(conn):
        install(conn)


# ------------------------------------------------------------------ reading


def campaign_counts(campaign_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Per campaign id, its CampaignTally numbers and its events' (EventHour summed over the hours): zeros for
    a campaign with no rows. Two small aggregates, whatever the campaigns' sizes."""
    ids = list(campaign_ids)
    counts: dict[int, dict[str, int]] = {
        pk: dict.fromkeys([*tally_columns(CampaignTally), *tally_columns(EventHour)], 0) for pk in ids
    }
    for model in (CampaignTally, EventHour):
        names = tally_columns(model)
        rows = (
            model._default_manager.filter(campaign_id__in=ids)
            .values_list("campaign_id")
            .order_by()
            .annotate(*(Sum(name) for name in names))
        )
        for campaign_id, *sums in rows:
            counts[campaign_id].update(zip(names, sums, strict=True))
    return counts


def tally_columns(model: type[models.Model]) -> list[str]:
    return [name for tally in COUNTS if tally.model is model for name in tally.counts]


def whole_hours(*moments: dt.datetime) -> bool:
    """Whether every moment is on a whole UTC hour, as the tallies' hours are."""
    return all(m.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0) == m for m in moments)


def sent_between(start: dt.datetime, end: dt.datetime) -> dict[str, int]:
    """SentHour's numbers for the mail sent in [start, end); both ends on whole hours (`whole_hours`)."""
    names = tally_columns(SentHour)
    totals = SentHour.objects.filter(hour__gte=start, hour__lt=end).aggregate(**{n: Sum(n) for n in names})
    return {name: totals[name] or 0 for name in names}


def event_hours(campaign_id: int, start: dt.datetime) -> list[dict]:
    """EventHour's rows of a campaign from `start` (a whole hour) on, one per hour: hour, opens, machine_opens,
    clicks."""
    names = tally_columns(EventHour)
    rows = (
        EventHour.objects.filter(campaign_id=campaign_id, hour__gte=start)
        .values_list("hour")
        .order_by("hour")
        .annotate(*(Sum(name) for name in names))
    )
    return [{"hour": hour, **dict(zip(names, sums, strict=True))} for hour, *sums in rows]
