"""The database triggers that keep `campaigns.reports.counts`, for PostgreSQL (`postgresql.py`) and SQLite
(`sqlite.py`).

They are installed after every `migrate` (`install_after_migrate`) rather than frozen in a migration: they name
columns of contacts tables that later migrations may change, SQLite drops a table's triggers whenever a migration
rebuilds the table, and on PostgreSQL they count days in TIME_ZONE, which a deployment may change. When what is
installed is not what this code would install (a trigger missing or different, another zone), it is all created
afresh and every count recounted from the rows (`folding.counts_recount`) in the same transaction, so the counts
are right from the first write the triggers see.
"""

import zoneinfo
from types import ModuleType

from django.conf import settings
from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from ..counts import AudienceCount, ChannelCount, DistinctCount, DistinctDay, SignupCount
from . import postgresql, sqlite

TABLES = [model._meta.db_table for model in (AudienceCount, SignupCount, DistinctDay, DistinctCount, ChannelCount)]


def dialect(connection: BaseDatabaseWrapper) -> ModuleType:
    if connection.vendor == "postgresql":
        return postgresql
    if connection.vendor == "sqlite":
        return sqlite
    raise NotImplementedError(f"no counting triggers for {connection.vendor}")


def run(connection: BaseDatabaseWrapper, statements: list[str]) -> None:
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def _label(connection: BaseDatabaseWrapper) -> str:
    with connection.cursor() as cursor:
        cursor.execute(postgresql.label_statement())
        return cursor.fetchone()[0] or ""


def counts_zone(connection: BaseDatabaseWrapper) -> zoneinfo.ZoneInfo:
    """The zone whose dates the sign-up, member and channel counts are by (UTC on SQLite). Readers split periods
    by it, so the counts stay exact even when TIME_ZONE changed and no `migrate` has reinstalled them yet."""
    if connection.vendor != "postgresql":
        return zoneinfo.ZoneInfo("UTC")
    return zoneinfo.ZoneInfo(_label(connection).split(" ")[0] or "UTC")


def outdated(connection: BaseDatabaseWrapper) -> bool:
    """Whether what is installed differs from what `install` would install now."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
            present = {row[0] for row in cursor.fetchall()}
            return not postgresql.trigger_names() <= present or _label(connection) != postgresql.label(
                settings.TIME_ZONE
            )
        cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
        stored = dict(cursor.fetchall())
    return any(stored.get(name) != sql for name, sql in sqlite.created().items())


def install(connection: BaseDatabaseWrapper) -> None:
    """Every trigger created afresh, for days in TIME_ZONE, and every count recounted, in one transaction."""
    from ..folding import counts_recount

    with transaction.atomic(using=connection.alias):
        run(connection, dialect(connection).install_statements(settings.TIME_ZONE))
        counts_recount(using=connection.alias)


def uninstall(connection: BaseDatabaseWrapper) -> None:
    run(connection, dialect(connection).uninstall_statements())


def install_after_migrate(sender, using: str = "default", **kwargs) -> None:
    """post_migrate: the triggers, wherever the counts' tables exist and what is installed is outdated."""
    connection = connections[using]
    if connection.vendor not in ("postgresql", "sqlite"):
        return
    if not set(TABLES) <= set(connection.introspection.table_names()):
        return  # migrated back before 0003_audience, or not that far yet
    if outdated(connection):
        install(connection)
