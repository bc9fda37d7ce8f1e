"""The SQL of the tallies (`campaigns.tallies`): a tally's spec turned into the triggers that keep it, for
PostgreSQL and SQLite, and into the statement that recounts it from the rows.

A condition is a Q object compiled by Django for the source model, its table name replaced by the row's alias
(a transition table's row, NEW, OLD) and its parameters written in as literals (trigger bodies take none).

PostgreSQL: statement-level triggers with transition tables, so a statement writing many rows (an audience
snapshot, a batch marked sent, a cancel, the demo writer's COPY) adds to each tally row once. Adding once per
written row would stack up the tally row's versions within the transaction, each write slower than the last.
An update that changes nothing counted (an open counted again, a claim, an erasure) sums to zero and writes
nothing. Each backend adds to its own shard (its pid modulo SHARDS), so concurrent writers do not queue on one
row.

SQLite (one writer at a time): row-level triggers, shard 0; an update fires only when a counted value changed.
"""

import hashlib
from dataclasses import dataclass, field

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Q

SHARDS = 8
SIGN = "tally_sign"  # +1 for a row that came, -1 for one that went
OPS = ("insert", "update", "delete")
STATEMENT_END = ";\n"
TRANSITIONS = {
    "insert": ("REFERENCING NEW TABLE AS tally_new", f"SELECT 1 AS {SIGN}, * FROM tally_new"),
    "update": (
        "REFERENCING OLD TABLE AS tally_old NEW TABLE AS tally_new",
        f"SELECT 1 AS {SIGN}, * FROM tally_new UNION ALL SELECT -1, * FROM tally_old",
    ),
    "delete": ("REFERENCING OLD TABLE AS tally_old", f"SELECT -1 AS {SIGN}, * FROM tally_old"),
}
PREFIX = "campaigns_tally_"
OWNER_DELETED = f"{PREFIX}owner_delete"


@dataclass(frozen=True)
class Tally:
    """What the rows of `source` add to `model`: per key (tally column, source column, by the hour when
    hourly), one count per Q of `counts`, over the source rows that match `rows`."""

    model: type[models.Model]
    source: type[models.Model]
    keys: tuple[tuple[str, str, bool], ...]
    counts: dict[str, Q]
    rows: Q = field(default_factory=Q)


# ------------------------------------------------------------------ one tally


def table(model: type[models.Model], conn: BaseDatabaseWrapper) -> str:
    return conn.ops.quote_name(model._meta.db_table)


def _literal(value: object) -> str:
    if isinstance(value, bool | int):
        return str(int(value))
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no SQL literal for {value!r}")


def condition(source: type[models.Model], q: Q, alias: str, conn: BaseDatabaseWrapper) -> str:
    """`q` as SQL over the row `alias` of `source` ("1=1" for an empty Q)."""
    if not q:
        return "1=1"
    query = source._default_manager.filter(q).query
    sql, params = query.get_compiler(connection=conn).compile(query.where)
    sql = sql.replace(f"{table(source, conn)}.", f"{alias}.")
    return sql % tuple(_literal(p) for p in params)


def _key(column: str, hourly: bool, alias: str, conn: BaseDatabaseWrapper) -> str:
    value = f"{alias}.{conn.ops.quote_name(column)}"
    if not hourly:
        return value
    if conn.vendor == "postgresql":
        return f"date_trunc('hour', {value} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
    return f"strftime('%Y-%m-%d %H:00:00', {value})"


def _cases(tally: Tally, alias: str, conn: BaseDatabaseWrapper) -> list[str]:
    return [f"CASE WHEN {condition(tally.source, q, alias, conn)} THEN 1 ELSE 0 END" for q in tally.counts.values()]


def _on_conflict(tally: Tally, conn: BaseDatabaseWrapper) -> str:
    target, q = table(tally.model, conn), conn.ops.quote_name
    keys = ", ".join(q(name) for name, _column, _hourly in tally.keys)
    added = ", ".join(f"{q(name)} = {target}.{q(name)} + excluded.{q(name)}" for name in tally.counts)
    return f"ON CONFLICT ({keys}, shard) DO UPDATE SET {added}"


def _columns(tally: Tally, conn: BaseDatabaseWrapper) -> str:
    names = [*(name for name, _column, _hourly in tally.keys), "shard", *tally.counts]
    return ", ".join(conn.ops.quote_name(name) for name in names)


def upsert(tally: Tally, delta: str, shard: str, conn: BaseDatabaseWrapper) -> str:
    """Add to the tally the signed rows of `delta` (a SELECT of source rows with a SIGN column), summed per key;
    keys whose sums are all 0 are left alone, so a statement that changed nothing counted writes nothing."""
    keys = [_key(column, hourly, "d", conn) for _name, column, hourly in tally.keys]
    sums = [f"SUM(d.{SIGN} * {case}) AS c{n}" for n, case in enumerate(_cases(tally, "d", conn))]
    picked = [f"k{n}" for n in range(len(keys))]
    grouped = (
        f"SELECT {', '.join(f'{key} AS k{n}' for n, key in enumerate(keys))}, {', '.join(sums)} "
        f"FROM ({delta}) AS d WHERE {condition(tally.source, tally.rows, 'd', conn)} "
        f"GROUP BY {', '.join(picked)}"
    )
    nonzero = " OR ".join(f"g.c{n} <> 0" for n in range(len(tally.counts)))
    values = ", ".join([*(f"g.{k}" for k in picked), shard, *(f"g.c{n}" for n in range(len(tally.counts)))])
    return (
        f"INSERT INTO {table(tally.model, conn)} ({_columns(tally, conn)}) SELECT {values} FROM ({grouped}) AS g "
        f"WHERE {nonzero} ORDER BY {', '.join(f'g.{k}' for k in picked)} {_on_conflict(tally, conn)}"
    )


def recount(tallies: tuple[Tally, ...], conn: BaseDatabaseWrapper) -> list[str]:
    """Every tally emptied and counted again from all the rows of its source."""
    emptied = [f"DELETE FROM {table(model, conn)}" for model in dict.fromkeys(t.model for t in tallies)]
    return emptied + [upsert(t, f"SELECT 1 AS {SIGN}, * FROM {table(t.source, conn)}", "0", conn) for t in tallies]


# ------------------------------------------------------------------ triggers


def _sources(tallies: tuple[Tally, ...]) -> dict[str, type[models.Model]]:
    return {t.source._meta.model_name or "": t.source for t in tallies}


def trigger_names(tallies: tuple[Tally, ...]) -> set[str]:
    """The triggers the tallies have (on PostgreSQL each calls the function of the same name)."""
    return {f"{PREFIX}{name}_{op}" for name in _sources(tallies) for op in OPS} | {OWNER_DELETED}


def installed(conn: BaseDatabaseWrapper) -> dict[str, tuple[str, str]]:
    """The tally triggers in the database, whatever version made them: name → (table, state), the state being
    whether it is enabled ("O") on PostgreSQL, its CREATE statement on SQLite."""
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            cursor.execute(
                "SELECT t.tgname, c.relname, t.tgenabled::text FROM pg_trigger AS t "
                "JOIN pg_class AS c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal"
            )
        else:
            cursor.execute("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'")
        return {name: (on, state) for name, on, state in cursor.fetchall() if name.startswith(PREFIX)}


def dropped(present: dict[str, tuple[str, str]], conn: BaseDatabaseWrapper) -> list[str]:
    """Statements that remove these triggers (and on PostgreSQL their functions)."""
    if conn.vendor != "postgresql":
        return [f"DROP TRIGGER IF EXISTS {name}" for name in present]
    statements = []
    for name, (on, _state) in present.items():
        statements += [
            f"DROP TRIGGER IF EXISTS {name} ON {conn.ops.quote_name(on)}",
            f"DROP FUNCTION IF EXISTS {name}()",
        ]
    return statements


def _counted(tallies: list[Tally], source: type[models.Model], alias: str, conn: BaseDatabaseWrapper) -> list[str]:
    """Everything the tallies read of a row of `source`: its keys and the value of each condition."""
    found = []
    for tally in tallies:
        found += [_key(column, hourly, alias, conn) for _name, column, hourly in tally.keys]
        found += [condition(source, q, alias, conn) for q in (tally.rows, *tally.counts.values()) if q]
    return list(dict.fromkeys(found))


def _upserts(tallies: list[Tally], delta: str, conn: BaseDatabaseWrapper) -> str:
    """PostgreSQL: one statement adding the signed rows to every tally of a source, the transition tables read
    once: a trigger's cost is mostly its statements, and it runs at every open and click."""
    shard = f"pg_backend_pid() % {SHARDS}"
    *first, last = [upsert(t, "SELECT * FROM tally_delta", shard, conn) for t in tallies]
    added = "".join(f", tally_{n} AS ({statement} RETURNING 1)" for n, statement in enumerate(first))
    return f"WITH tally_delta AS MATERIALIZED ({delta}){added} {last}"


def _function(name: str, body: list[str]) -> str:
    return (
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        f"BEGIN\n{STATEMENT_END.join(body)};\nRETURN NULL;\nEND $$"
    )


def postgresql(tallies: tuple[Tally, ...], owner: type[models.Model], conn: BaseDatabaseWrapper) -> list[str]:
    statements = []
    for name, source in _sources(tallies).items():
        mine = [t for t in tallies if t.source is source]
        for op, (referencing, delta) in TRANSITIONS.items():
            function, on = f"{PREFIX}{name}_{op}", table(source, conn)
            statements += [
                _function(function, [_upserts(mine, delta, conn)]),
                f"DROP TRIGGER IF EXISTS {function} ON {on}",
                f"CREATE TRIGGER {function} AFTER {op.upper()} ON {on} {referencing} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
            ]
    owned = [table(t.model, conn) for t in tallies if any(key == "campaign_id" for key, *_c in t.keys)]
    cleared = [f"DELETE FROM {t} WHERE campaign_id IN (SELECT id FROM tally_old)" for t in dict.fromkeys(owned)]
    statements += [
        _function(OWNER_DELETED, cleared),
        f"DROP TRIGGER IF EXISTS {OWNER_DELETED} ON {table(owner, conn)}",
        f"CREATE TRIGGER {OWNER_DELETED} AFTER DELETE ON {table(owner, conn)} "
        f"REFERENCING OLD TABLE AS tally_old FOR EACH STATEMENT EXECUTE FUNCTION {OWNER_DELETED}()",
    ]
    return [*statements, f"COMMENT ON FUNCTION {OWNER_DELETED}() IS '{fingerprint(statements)}'"]


def fingerprint(statements: list[str]) -> str:
    """What names one version of the triggers, so `campaigns.tallies.outdated` can tell it is installed."""
    return "tallies " + hashlib.sha256("\n".join(statements).encode()).hexdigest()[:16]


def _row_upsert(tally: Tally, row: str, sign: int, conn: BaseDatabaseWrapper) -> str:
    """SQLite: add one row (NEW, or OLD taken away) to the tally, if it counts."""
    keys = [_key(column, hourly, row, conn) for _name, column, hourly in tally.keys]
    counts = [f"{sign} * ({case})" for case in _cases(tally, row, conn)]
    return (
        f"INSERT INTO {table(tally.model, conn)} ({_columns(tally, conn)}) SELECT {', '.join([*keys, '0', *counts])} "
        f"WHERE {condition(tally.source, tally.rows, row, conn)} {_on_conflict(tally, conn)};"
    )


def _row_removed(tally: Tally, conn: BaseDatabaseWrapper) -> str:
    """SQLite: take a deleted row away. An UPDATE, not an upsert: when a test database is flushed table by
    table, a tally already emptied must stay empty."""
    q = conn.ops.quote_name
    cases = zip(tally.counts, _cases(tally, "OLD", conn), strict=True)
    taken = ", ".join(f"{q(name)} = {q(name)} - ({case})" for name, case in cases)
    keys = " AND ".join(f"{q(name)} = {_key(column, hourly, 'OLD', conn)}" for name, column, hourly in tally.keys)
    rows = condition(tally.source, tally.rows, "OLD", conn)
    return f"UPDATE {table(tally.model, conn)} SET {taken} WHERE {keys} AND shard = 0 AND {rows};"


def sqlite(tallies: tuple[Tally, ...], owner: type[models.Model], conn: BaseDatabaseWrapper) -> dict[str, str]:
    """Trigger name → its CREATE statement (as SQLite keeps it, so what is installed can be compared)."""
    created = {}
    for name, source in _sources(tallies).items():
        mine = [t for t in tallies if t.source is source]
        pairs = zip(_counted(mine, source, "OLD", conn), _counted(mine, source, "NEW", conn), strict=True)
        bodies = {
            "insert": ("", " ".join(_row_upsert(t, "NEW", 1, conn) for t in mine)),
            "update": (
                "WHEN " + " OR ".join(f"({old}) IS NOT ({new})" for old, new in pairs),
                " ".join(_row_upsert(t, "OLD", -1, conn) + " " + _row_upsert(t, "NEW", 1, conn) for t in mine),
            ),
            "delete": ("", " ".join(_row_removed(t, conn) for t in mine)),
        }
        for op, (when, body) in bodies.items():
            trigger = f"{PREFIX}{name}_{op}"
            created[trigger] = (
                f"CREATE TRIGGER {trigger} AFTER {op.upper()} ON {table(source, conn)} FOR EACH ROW {when} "
                f"BEGIN {body} END"
            )
    owned = [table(t.model, conn) for t in tallies if any(key == "campaign_id" for key, *_c in t.keys)]
    cleared = " ".join(f"DELETE FROM {t} WHERE campaign_id = OLD.id;" for t in dict.fromkeys(owned))
    created[OWNER_DELETED] = (
        f"CREATE TRIGGER {OWNER_DELETED} AFTER DELETE ON {table(owner, conn)} FOR EACH ROW BEGIN {cleared} END"
    )
    return created
