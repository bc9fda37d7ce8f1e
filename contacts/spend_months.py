"""Each contact's orders and spending per calendar month (`contacts.SpendMonth`), kept by database triggers on
the purchases table.

"Spent at least X (or bought N times) in the last D days" sums the window per contact. At a million contacts a
year holds 2.1 million purchases but 640,000 months with a purchase, so the condition reads the whole months
of its window from here and only the part of a month at its start from the purchases themselves
(`segments.conditions.purchases`). Months are UTC calendar months, stored as the instant they begin; which
partition is used does not matter to the result, since the part of the window before the first whole month
is read raw.

Triggers rather than the code that writes purchases, so every path keeps the rows right without knowing of
them: the bulk and single ingestion, a merge (the duplicate's purchases move to the survivor), a purchase
deleted by hand, a contact deleted, the demo data, fixtures:

- a purchase stored, or moved to a contact or a month, adds itself to its row (a row is created when missing);
- a purchase deleted, or moved away from a contact or month, or its total changed, makes that row read the
  contact's purchases of the month again — or go, when none is left. Those statements only change rows that
  exist, so deleting a contact never writes a row for the contact being deleted.

On PostgreSQL the triggers run once per statement over its transition tables (one grouped upsert per batch,
in key order, so two batches touching the same contacts cannot deadlock); on SQLite once per row.
"""

import datetime as dt

from django.db.backends.base.base import BaseDatabaseWrapper

TABLE = "contacts_spendmonth"
PURCHASES = "contacts_purchase"
COLUMNS = "(contact_id, month_start, orders, total)"


def month_after(moment: dt.datetime) -> dt.datetime:
    """The first instant at or after `moment` that begins a UTC calendar month: the whole months of a window
    starting at `moment` begin there."""
    utc = moment.astimezone(dt.UTC)
    start = utc.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if start == utc:
        return start
    return start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)


# PostgreSQL: the UTC month of a purchase time, and the end of a stored month (calendar arithmetic in UTC
# whatever the session's time zone).
_PG_MONTH = "(date_trunc('month', {0} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')"
_PG_MONTH_END = "((({0} AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC')"

_PG_ADD = (
    f"INSERT INTO {TABLE} {COLUMNS} "
    f"SELECT contact_id, {_PG_MONTH.format('purchased_at')}, count(*), sum(total) FROM {{source}} "
    "WHERE contact_id IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2 "
    f"ON CONFLICT (contact_id, month_start) DO UPDATE SET orders = {TABLE}.orders + excluded.orders, "
    f"total = {TABLE}.total + excluded.total"
)


def _pg_reread(source: str) -> str:
    """PL/pgSQL: the (contact, month) keys of `source`'s rows read again by `contacts_spend_month_reread`."""
    return (
        "  SELECT jsonb_agg(jsonb_build_array(contact_id, m) ORDER BY contact_id, m) INTO keys\n"
        f"  FROM (SELECT DISTINCT contact_id, {_PG_MONTH.format('purchased_at')} AS m FROM {source} "
        "WHERE contact_id IS NOT NULL) o;\n"
        "  IF keys IS NOT NULL THEN\n"
        "    PERFORM contacts_spend_month_reread(keys);\n"
        "  END IF;"
    )


def _pg_changed(side: str) -> str:
    """The purchases of an UPDATE whose contact, time or total changed, as they are now (`n`) or were (`o`)."""
    return (
        f"SELECT {side}.contact_id, {side}.purchased_at, {side}.total FROM old_purchases o "
        "JOIN new_purchases n USING (id) "
        "WHERE (o.contact_id, o.purchased_at, o.total) IS DISTINCT FROM (n.contact_id, n.purchased_at, n.total)"
    )


POSTGRESQL_INSTALL = [
    f"""
CREATE OR REPLACE FUNCTION contacts_spend_month_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  {_PG_ADD.format(source="new_purchases")};
  RETURN NULL;
END $$""",
    # The keys whose purchases went away (deleted, moved to another contact or month, or changed in total),
    # read again: the orders and total of the purchases left, or the row deleted when none is.
    f"""
CREATE OR REPLACE FUNCTION contacts_spend_month_reread(keys jsonb) RETURNS void LANGUAGE sql AS $$
  -- The rows locked first, in key order, and read in the next statement, whose snapshot is taken after the
  -- lock: a purchase another transaction stored meanwhile (it held the row) is then seen, not lost.
  SELECT count(*) FROM (
    SELECT 1 FROM {TABLE} t JOIN jsonb_array_elements(keys) e
      ON t.contact_id = (e->>0)::bigint AND t.month_start = (e->>1)::timestamptz
    ORDER BY t.contact_id, t.month_start FOR UPDATE OF t
  ) locked;
  WITH k AS (
    SELECT DISTINCT (e->>0)::bigint AS contact_id, (e->>1)::timestamptz AS month_start
    FROM jsonb_array_elements(keys) e
  ), left_over AS (
    SELECT k.contact_id, k.month_start, s.orders, s.total FROM k CROSS JOIN LATERAL (
      SELECT count(*) AS orders, sum(p.total) AS total FROM {PURCHASES} p
      WHERE p.contact_id = k.contact_id AND p.purchased_at >= k.month_start
        AND p.purchased_at < {_PG_MONTH_END.format("k.month_start")}
    ) s
  ), gone AS (
    DELETE FROM {TABLE} t USING left_over l
    WHERE t.contact_id = l.contact_id AND t.month_start = l.month_start AND l.orders = 0
  )
  UPDATE {TABLE} t SET orders = l.orders, total = l.total FROM left_over l
  WHERE t.contact_id = l.contact_id AND t.month_start = l.month_start AND l.orders > 0
    AND (t.orders, t.total) IS DISTINCT FROM (l.orders, l.total)
$$""",
    f"""
CREATE OR REPLACE FUNCTION contacts_spend_month_removed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE keys jsonb;
BEGIN
{_pg_reread("old_purchases")}
  RETURN NULL;
END $$""",
    f"""
CREATE OR REPLACE FUNCTION contacts_spend_month_moved() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE keys jsonb;
BEGIN
  -- Only the rows whose contact, time or total changed (an erasure that blanks the order id changes none).
  -- The old keys are read again after the new ones are added: a purchase whose total changed within its
  -- month is then counted once, as it is now.
  WITH changed AS ({_pg_changed("n")})
  {_PG_ADD.format(source="changed")};
  WITH changed AS ({_pg_changed("o")})
{_pg_reread("changed")}
  RETURN NULL;
END $$""",
    f"DROP TRIGGER IF EXISTS contacts_spend_month_insert ON {PURCHASES}",
    f"DROP TRIGGER IF EXISTS contacts_spend_month_update ON {PURCHASES}",
    f"DROP TRIGGER IF EXISTS contacts_spend_month_delete ON {PURCHASES}",
    f"CREATE TRIGGER contacts_spend_month_insert AFTER INSERT ON {PURCHASES} "
    "REFERENCING NEW TABLE AS new_purchases FOR EACH STATEMENT EXECUTE FUNCTION contacts_spend_month_add()",
    f"CREATE TRIGGER contacts_spend_month_update AFTER UPDATE ON {PURCHASES} "
    "REFERENCING OLD TABLE AS old_purchases NEW TABLE AS new_purchases "
    "FOR EACH STATEMENT EXECUTE FUNCTION contacts_spend_month_moved()",
    f"CREATE TRIGGER contacts_spend_month_delete AFTER DELETE ON {PURCHASES} "
    "REFERENCING OLD TABLE AS old_purchases FOR EACH STATEMENT EXECUTE FUNCTION contacts_spend_month_removed()",
]

POSTGRESQL_UNINSTALL = [
    *POSTGRESQL_INSTALL[4:7],
    "DROP FUNCTION IF EXISTS contacts_spend_month_add()",
    "DROP FUNCTION IF EXISTS contacts_spend_month_moved()",
    "DROP FUNCTION IF EXISTS contacts_spend_month_removed()",
    "DROP FUNCTION IF EXISTS contacts_spend_month_reread(jsonb)",
]

# SQLite keeps times as text in UTC ("YYYY-MM-DD HH:MM:SS[.ffffff]") and decimals as binary floats, so a month
# is the text of its first instant and every total is rounded to the cents the column holds.
_SQLITE_MONTH = "strftime('%Y-%m-01 00:00:00', {0}.purchased_at)"


def _sqlite_reread(row: str) -> str:
    """The statements that read the key of `row` (OLD) again: the row deleted when no purchase is left, else
    its orders and total set to those left."""
    month = _SQLITE_MONTH.format(row)
    within = (
        f"p.contact_id = {row}.contact_id AND p.purchased_at >= {month} "
        f"AND p.purchased_at < strftime('%Y-%m-%d %H:%M:%S', {month}, '+1 month')"
    )
    key = f"contact_id = {row}.contact_id AND month_start = {month}"
    return (
        f"DELETE FROM {TABLE} WHERE {key} AND NOT EXISTS (SELECT 1 FROM {PURCHASES} p WHERE {within}); "
        f"UPDATE {TABLE} SET orders = (SELECT count(*) FROM {PURCHASES} p WHERE {within}), "
        f"total = (SELECT ROUND(sum(p.total), 2) FROM {PURCHASES} p WHERE {within}) WHERE {key};"
    )


_SQLITE_ADD = (
    f"INSERT INTO {TABLE} {COLUMNS} SELECT NEW.contact_id, {_SQLITE_MONTH.format('NEW')}, 1, ROUND(NEW.total, 2) "
    "WHERE NEW.contact_id IS NOT NULL ON CONFLICT (contact_id, month_start) DO UPDATE SET orders = orders + 1, "
    "total = ROUND(total + excluded.total, 2);"
)

SQLITE_INSTALL = [
    "DROP TRIGGER IF EXISTS contacts_spend_month_insert",
    "DROP TRIGGER IF EXISTS contacts_spend_month_update",
    "DROP TRIGGER IF EXISTS contacts_spend_month_delete",
    f"CREATE TRIGGER contacts_spend_month_insert AFTER INSERT ON {PURCHASES} BEGIN {_SQLITE_ADD} END",
    # One trigger, so the order is certain: the new key added first, then the old one read again (a total
    # changed within its month is then counted once, as it is now).
    f"CREATE TRIGGER contacts_spend_month_update AFTER UPDATE OF contact_id, purchased_at, total ON {PURCHASES} "
    f"BEGIN {_SQLITE_ADD} {_sqlite_reread('OLD')} END",
    f"CREATE TRIGGER contacts_spend_month_delete AFTER DELETE ON {PURCHASES} WHEN OLD.contact_id IS NOT NULL "
    f"BEGIN {_sqlite_reread('OLD')} END",
]

SQLITE_UNINSTALL = SQLITE_INSTALL[:3]


def backfill(connection: BaseDatabaseWrapper) -> str:
    """Every contact's months from the purchases stored."""
    if connection.vendor == "postgresql":
        month, total = _PG_MONTH.format("purchased_at"), "sum(total)"
    else:
        month, total = "strftime('%Y-%m-01 00:00:00', purchased_at)", "ROUND(sum(total), 2)"
    return (
        f"INSERT INTO {TABLE} {COLUMNS} SELECT contact_id, {month}, count(*), {total} FROM {PURCHASES} "
        "WHERE contact_id IS NOT NULL GROUP BY 1, 2"
    )


def statements(connection: BaseDatabaseWrapper, *, install: bool = True) -> list[str]:
    if connection.vendor == "postgresql":
        return POSTGRESQL_INSTALL if install else POSTGRESQL_UNINSTALL
    if connection.vendor == "sqlite":
        return SQLITE_INSTALL if install else SQLITE_UNINSTALL
    raise NotImplementedError(f"monthly spending is kept on PostgreSQL and SQLite, not {connection.vendor}")
