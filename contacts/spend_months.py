"""Each contact's orders and spending per calendar month and per calendar quarter (`contacts.SpendMonth`,
`contacts.SpendQuarter`), kept by database triggers on the purchases table.

"Spent at least X (or bought N times) in the last D days" sums the window per contact. At a million contacts a
year holds 2.1 million purchases, 600,000 months with a purchase and 360,000 quarters, so the condition reads
the window's whole quarters and the whole months before the first of them from here, and only the part of a
month at its start from the purchases themselves (`segments.conditions.purchases`). Periods are UTC calendar
months and quarters, stored as the instant they begin; which partition is used does not matter to the
result, since the part of the window before the first whole period is read raw.

Triggers rather than the code that writes purchases, so every path keeps the rows right without knowing of
them: the bulk and single ingestion, a merge (the duplicate's purchases move to the survivor), a purchase
deleted by hand, a contact deleted, the demo data, fixtures:

- a purchase stored, or moved to a contact or a period, adds itself to its month and its quarter (a row is
  created when missing);
- a purchase deleted, or moved away from a contact or period, or its total changed, makes those rows read the
  contact's purchases of the period again — or go, when none is left. Those statements only change rows that
  exist, so deleting a contact never writes a row for the contact being deleted.

On PostgreSQL the triggers run once per statement over its transition tables (one grouped upsert per period
and batch, in key order, months before quarters everywhere, so two batches touching the same contacts cannot
deadlock); on SQLite once per row.

The rows a batch adds to stay locked until it commits, and a concurrent batch with a buyer in common waits for
them. Added by the trigger, as the purchases are inserted, they were held through the batch's lines, its
attribution and the foreign-key checks at commit: with eight batches of 1,000 in flight, batches spent more
time waiting in that upsert than in all their other statements. The bulk ingestion therefore adds its batch
itself, last (`add_deferred`, after `defer_adding`): the same statements, in the same transaction, holding
the rows for a few milliseconds.
"""

import datetime as dt
from collections.abc import Iterable

from django import db
from django.db.backends.base.base import BaseDatabaseWrapper

DEFERRED = "crm.spend_deferred"  # PostgreSQL setting, local to a transaction: 'on' while the caller adds

PURCHASES = "contacts_purchase"
COLUMNS = "(contact_id, starts_at, orders, total)"
# Each period: its table, its unit (date_trunc's) and its length; months first, the order every lock follows.
PERIODS = (("contacts_spendmonth", "month", 1), ("contacts_spendquarter", "quarter", 3))
_STATEMENTS = ";\n  "  # statements of one PL/pgSQL or SQL function body


def month_after(moment: dt.datetime) -> dt.datetime:
    """The first instant at or after `moment` that begins a UTC calendar month: the whole months of a window
    starting at `moment` begin there."""
    return _period_after(moment, 1)


def quarter_after(moment: dt.datetime) -> dt.datetime:
    """The first instant at or after `moment` that begins a UTC calendar quarter."""
    return _period_after(moment, 3)


def _period_after(moment: dt.datetime, months: int) -> dt.datetime:
    utc = moment.astimezone(dt.UTC)
    start = utc.replace(month=utc.month - (utc.month - 1) % months, day=1, hour=0, minute=0, second=0, microsecond=0)
    if start == utc:
        return start
    index = start.year * 12 + start.month - 1 + months
    return start.replace(year=index // 12, month=index % 12 + 1)


# PostgreSQL: the UTC period of a purchase time, and the end of a stored period (calendar arithmetic in UTC
# whatever the session's time zone).
def _pg_start(unit: str, column: str) -> str:
    return f"(date_trunc('{unit}', {column} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')"


def _pg_end(months: int, column: str) -> str:
    return f"((({column} AT TIME ZONE 'UTC') + interval '{months} months') AT TIME ZONE 'UTC')"


def _pg_add(source: str) -> str:
    """Statements that add `source`'s purchases to their periods, months first."""
    return _STATEMENTS.join(
        f"INSERT INTO {table} {COLUMNS} "
        f"SELECT contact_id, {_pg_start(unit, 'purchased_at')}, count(*), sum(total) FROM {source} "
        "WHERE contact_id IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2 "
        f"ON CONFLICT (contact_id, starts_at) DO UPDATE SET orders = {table}.orders + excluded.orders, "
        f"total = {table}.total + excluded.total"
        for table, unit, _months in PERIODS
    )


def _pg_keys(unit: str) -> str:
    """The (contact, period start) keys of `table` named by the function's `keys` (contact, month start)."""
    return (
        f"SELECT DISTINCT (e->>0)::bigint AS contact_id, {_pg_start(unit, '(e->>1)::timestamptz')} AS starts_at "
        "FROM jsonb_array_elements(keys) e"
    )


def _pg_lock(table: str, unit: str) -> str:
    return (
        f"SELECT count(*) FROM (SELECT 1 FROM {table} t JOIN ({_pg_keys(unit)}) k "
        "ON t.contact_id = k.contact_id AND t.starts_at = k.starts_at "
        "ORDER BY t.contact_id, t.starts_at FOR UPDATE OF t) locked"
    )


def _pg_reread_rows(table: str, unit: str, months: int) -> str:
    return f"""WITH k AS ({_pg_keys(unit)}), left_over AS (
    SELECT k.contact_id, k.starts_at, s.orders, s.total FROM k CROSS JOIN LATERAL (
      SELECT count(*) AS orders, sum(p.total) AS total FROM {PURCHASES} p
      WHERE p.contact_id = k.contact_id AND p.purchased_at >= k.starts_at
        AND p.purchased_at < {_pg_end(months, "k.starts_at")}
    ) s
  ), gone AS (
    DELETE FROM {table} t USING left_over l
    WHERE t.contact_id = l.contact_id AND t.starts_at = l.starts_at AND l.orders = 0
  )
  UPDATE {table} t SET orders = l.orders, total = l.total FROM left_over l
  WHERE t.contact_id = l.contact_id AND t.starts_at = l.starts_at AND l.orders > 0
    AND (t.orders, t.total) IS DISTINCT FROM (l.orders, l.total)"""


def _pg_reread(source: str) -> str:
    """PL/pgSQL: the (contact, month) keys of `source`'s rows read again by `contacts_spend_reread`."""
    return (
        "  SELECT jsonb_agg(jsonb_build_array(contact_id, m) ORDER BY contact_id, m) INTO keys\n"
        f"  FROM (SELECT DISTINCT contact_id, {_pg_start('month', 'purchased_at')} AS m FROM {source} "
        "WHERE contact_id IS NOT NULL) o;\n"
        "  IF keys IS NOT NULL THEN\n"
        "    PERFORM contacts_spend_reread(keys);\n"
        "  END IF;"
    )


def _pg_changed(side: str) -> str:
    """The purchases of an UPDATE whose contact, time or total changed, as they are now (`n`) or were (`o`)."""
    return (
        f"SELECT {side}.contact_id, {side}.purchased_at, {side}.total FROM old_purchases o "
        "JOIN new_purchases n USING (id) "
        "WHERE (o.contact_id, o.purchased_at, o.total) IS DISTINCT FROM (n.contact_id, n.purchased_at, n.total)"
    )


_PG_TRIGGERS = ("contacts_spend_insert", "contacts_spend_update", "contacts_spend_delete")
_PG_LOCKS = _STATEMENTS.join(_pg_lock(table, unit) for table, unit, _months in PERIODS)
_PG_REREADS = _STATEMENTS.join(_pg_reread_rows(table, unit, months) for table, unit, months in PERIODS)
_PG_MOVED_ADDS = _STATEMENTS.join(
    f"WITH changed AS ({_pg_changed('n')}) {statement}" for statement in _pg_add("changed").split(_STATEMENTS)
)

POSTGRESQL_INSTALL = [
    f"""
CREATE OR REPLACE FUNCTION contacts_spend_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('{DEFERRED}', true) = 'on' THEN
    RETURN NULL;  -- added by the caller before its commit (`add_deferred`)
  END IF;
  {_pg_add("new_purchases")};
  RETURN NULL;
END $$""",
    # The keys whose purchases went away (deleted, moved to another contact or period, or changed in total),
    # read again: the orders and total of the purchases left, or the row deleted when none is.
    f"""
CREATE OR REPLACE FUNCTION contacts_spend_reread(keys jsonb) RETURNS void LANGUAGE sql AS $$
  -- The rows locked first, in key order, months before quarters, and read in the next statements, whose
  -- snapshots are taken after the locks: a purchase another transaction stored meanwhile (it held the rows)
  -- is then seen, not lost.
  {_PG_LOCKS};
  {_PG_REREADS}
$$""",
    f"""
CREATE OR REPLACE FUNCTION contacts_spend_removed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE keys jsonb;
BEGIN
{_pg_reread("old_purchases")}
  RETURN NULL;
END $$""",
    f"""
CREATE OR REPLACE FUNCTION contacts_spend_moved() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE keys jsonb;
BEGIN
  -- Only the rows whose contact, time or total changed (an erasure that blanks the order id changes none).
  -- The old keys are read again after the new ones are added: a purchase whose total changed within its
  -- period is then counted once, as it is now.
  {_PG_MOVED_ADDS};
  WITH changed AS ({_pg_changed("o")})
{_pg_reread("changed")}
  RETURN NULL;
END $$""",
    *(f"DROP TRIGGER IF EXISTS {name} ON {PURCHASES}" for name in _PG_TRIGGERS),
    f"CREATE TRIGGER contacts_spend_insert AFTER INSERT ON {PURCHASES} "
    "REFERENCING NEW TABLE AS new_purchases FOR EACH STATEMENT EXECUTE FUNCTION contacts_spend_add()",
    f"CREATE TRIGGER contacts_spend_update AFTER UPDATE ON {PURCHASES} "
    "REFERENCING OLD TABLE AS old_purchases NEW TABLE AS new_purchases "
    "FOR EACH STATEMENT EXECUTE FUNCTION contacts_spend_moved()",
    f"CREATE TRIGGER contacts_spend_delete AFTER DELETE ON {PURCHASES} "
    "REFERENCING OLD TABLE AS old_purchases FOR EACH STATEMENT EXECUTE FUNCTION contacts_spend_removed()",
]

POSTGRESQL_UNINSTALL = [
    *(f"DROP TRIGGER IF EXISTS {name} ON {PURCHASES}" for name in _PG_TRIGGERS),
    "DROP FUNCTION IF EXISTS contacts_spend_add()",
    "DROP FUNCTION IF EXISTS contacts_spend_moved()",
    "DROP FUNCTION IF EXISTS contacts_spend_removed()",
    "DROP FUNCTION IF EXISTS contacts_spend_reread(jsonb)",
]


# SQLite keeps times as text in UTC ("YYYY-MM-DD HH:MM:SS[.ffffff]") and decimals as binary floats, so a period
# is the text of its first instant and every total is rounded to the cents the column holds.
def _sqlite_start(months: int, row: str) -> str:
    if months == 1:
        return f"strftime('%Y-%m-01 00:00:00', {row}.purchased_at)"
    return (
        f"printf('%s-%02d-01 00:00:00', strftime('%Y', {row}.purchased_at), "
        f"(CAST(strftime('%m', {row}.purchased_at) AS INTEGER) - 1) / {months} * {months} + 1)"
    )


def _sqlite_reread(row: str) -> str:
    """The statements that read the keys of `row` (OLD) again: a row deleted when no purchase is left, else its
    orders and total set to those left."""
    statements = []
    for table, _unit, months in PERIODS:
        start = _sqlite_start(months, row)
        within = (
            f"p.contact_id = {row}.contact_id AND p.purchased_at >= {start} "
            f"AND p.purchased_at < strftime('%Y-%m-%d %H:%M:%S', {start}, '+{months} months')"
        )
        key = f"contact_id = {row}.contact_id AND starts_at = {start}"
        statements.append(
            f"DELETE FROM {table} WHERE {key} AND NOT EXISTS (SELECT 1 FROM {PURCHASES} p WHERE {within}); "
            f"UPDATE {table} SET orders = (SELECT count(*) FROM {PURCHASES} p WHERE {within}), "
            f"total = (SELECT ROUND(sum(p.total), 2) FROM {PURCHASES} p WHERE {within}) WHERE {key};"
        )
    return " ".join(statements)


_SQLITE_ADD = " ".join(
    f"INSERT INTO {table} {COLUMNS} SELECT NEW.contact_id, {_sqlite_start(months, 'NEW')}, 1, ROUND(NEW.total, 2) "
    "WHERE NEW.contact_id IS NOT NULL ON CONFLICT (contact_id, starts_at) DO UPDATE SET orders = orders + 1, "
    "total = ROUND(total + excluded.total, 2);"
    for table, _unit, months in PERIODS
)

SQLITE_INSTALL = [
    "DROP TRIGGER IF EXISTS contacts_spend_insert",
    "DROP TRIGGER IF EXISTS contacts_spend_update",
    "DROP TRIGGER IF EXISTS contacts_spend_delete",
    f"CREATE TRIGGER contacts_spend_insert AFTER INSERT ON {PURCHASES} BEGIN {_SQLITE_ADD} END",
    # One trigger, so the order is certain: the new keys added first, then the old ones read again (a total
    # changed within its period is then counted once, as it is now).
    f"CREATE TRIGGER contacts_spend_update AFTER UPDATE OF contact_id, purchased_at, total ON {PURCHASES} "
    f"BEGIN {_SQLITE_ADD} {_sqlite_reread('OLD')} END",
    f"CREATE TRIGGER contacts_spend_delete AFTER DELETE ON {PURCHASES} WHEN OLD.contact_id IS NOT NULL "
    f"BEGIN {_sqlite_reread('OLD')} END",
]

SQLITE_UNINSTALL = SQLITE_INSTALL[:3]


def defer_adding() -> bool:
    """Inside a transaction on PostgreSQL: the purchases it inserts from now on are left out by the trigger,
    for `add_deferred` to add before the commit; returns whether that is so (elsewhere the trigger adds them)."""
    if db.connection.vendor != "postgresql":
        return False
    with db.connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, 'on', true)", [DEFERRED])
    return True


def add_deferred(purchase_ids: Iterable[int]) -> None:
    """The purchases inserted since `defer_adding` added to their periods, as the trigger would have, and the
    trigger adding again from here on. The transaction's deferred constraint checks run first, so that the
    period rows are locked for these statements and the commit only."""
    ids = list(purchase_ids)
    source = f"(SELECT contact_id, purchased_at, total FROM {PURCHASES} WHERE id = ANY(%s::bigint[])) AS batch"
    with db.connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, 'off', true)", [DEFERRED])
        if ids:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for statement in _pg_add(source).split(_STATEMENTS):
                cursor.execute(statement, [ids])
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")  # as every constraint is declared


def backfill(connection: BaseDatabaseWrapper) -> list[str]:
    """Every contact's periods from the purchases stored."""
    statements = []
    for table, unit, months in PERIODS:
        if connection.vendor == "postgresql":
            start, total = _pg_start(unit, "purchased_at"), "sum(total)"
        else:
            start, total = _sqlite_start(months, PURCHASES), "ROUND(sum(total), 2)"
        statements.append(
            f"INSERT INTO {table} {COLUMNS} SELECT contact_id, {start}, count(*), {total} FROM {PURCHASES} "
            "WHERE contact_id IS NOT NULL GROUP BY 1, 2"
        )
    return statements


def statements(connection: BaseDatabaseWrapper, *, install: bool = True) -> list[str]:
    if connection.vendor == "postgresql":
        return POSTGRESQL_INSTALL if install else POSTGRESQL_UNINSTALL
    if connection.vendor == "sqlite":
        return SQLITE_INSTALL if install else SQLITE_UNINSTALL
    raise NotImplementedError(f"spending per period is kept on PostgreSQL and SQLite, not {connection.vendor}")
