"""Each contact's last event of each type (`contacts.LastEvent`), kept by database triggers on the events table.

"Did X in the last N days" (the `event` condition counted once, without a product) reads one row per contact
and type instead of every event of the window: at a million contacts a month of product views is 630,000
events but 320,000 last views. Triggers rather than the code that writes events, so every path keeps the row
right without knowing of it — the bulk and single ingestion, a visitor identified (its anonymous events move
to the contact), a merge (the duplicate's events move to the survivor), the demo data, fixtures, data fixed by
hand:

- an event stored or moved to a contact raises the row of its contact and type to the event's time (a row is
  created when missing);
- an event deleted, or moved away from a contact or a type, makes that row read the contact's remaining
  events of the type again — or go, when none is left. Those statements only change rows that exist, so
  deleting a contact (its rows first or its events first, in any order, in any number of statements) never
  writes a row for the contact being deleted.

On PostgreSQL the triggers run once per statement over its transition tables (one grouped upsert per batch,
in key order, so two batches touching the same contacts cannot deadlock); on SQLite once per row.
"""

from django.db.backends.base.base import BaseDatabaseWrapper

TABLE = "contacts_lastevent"
EVENTS = "contacts_activity"


def _reread(source: str) -> str:
    """PL/pgSQL: the (contact, type) keys of `source`'s rows read again by `contacts_last_event_reread`."""
    return (
        "  SELECT jsonb_agg(jsonb_build_array(contact_id, type) ORDER BY contact_id, type) INTO keys\n"
        f"  FROM (SELECT DISTINCT contact_id, type FROM {source} WHERE contact_id IS NOT NULL) o;\n"
        "  IF keys IS NOT NULL THEN\n"
        "    PERFORM contacts_last_event_reread(keys);\n"
        "  END IF;"
    )


_UPSERT = (
    f"INSERT INTO {TABLE} (contact_id, type, occurred_at) {{rows}} "
    "ON CONFLICT (contact_id, type) DO UPDATE SET occurred_at = excluded.occurred_at "
    f"WHERE {TABLE}.occurred_at < excluded.occurred_at"
)


def _changed(side: str) -> str:
    """The events of an UPDATE whose contact, type or time changed, as they are now (`n`) or were (`o`)."""
    return (
        f"SELECT {side}.contact_id, {side}.type, {side}.occurred_at FROM old_events o JOIN new_events n USING (id) "
        "WHERE (o.contact_id, o.type, o.occurred_at) IS DISTINCT FROM (n.contact_id, n.type, n.occurred_at)"
    )


POSTGRESQL_INSTALL = [
    f"""
CREATE OR REPLACE FUNCTION contacts_last_event_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  {
        _UPSERT.format(
            rows="SELECT contact_id, type, max(occurred_at) FROM new_events WHERE contact_id IS NOT NULL "
            "GROUP BY contact_id, type ORDER BY contact_id, type"
        )
    };
  RETURN NULL;
END $$""",
    # The keys whose events went away (deleted, or moved to another contact or type), read again: the time of
    # the latest event left, or the row deleted when none is.
    f"""
CREATE OR REPLACE FUNCTION contacts_last_event_reread(keys jsonb) RETURNS void LANGUAGE sql AS $$
  -- The rows locked first, in key order, and read in the next statement, whose snapshot is taken after the
  -- lock: an event another transaction stored meanwhile (it held the row) is then seen, not overwritten.
  SELECT count(*) FROM (
    SELECT 1 FROM {TABLE} t JOIN jsonb_array_elements(keys) e
      ON t.contact_id = (e->>0)::bigint AND t.type = e->>1
    ORDER BY t.contact_id, t.type FOR UPDATE OF t
  ) locked;
  WITH k AS (
    SELECT DISTINCT (e->>0)::bigint AS contact_id, e->>1 AS type FROM jsonb_array_elements(keys) e
  ), latest AS (
    SELECT k.contact_id, k.type,
           (SELECT max(a.occurred_at) FROM {EVENTS} a WHERE a.contact_id = k.contact_id AND a.type = k.type) AS at
    FROM k
  ), gone AS (
    DELETE FROM {TABLE} t USING latest l
    WHERE t.contact_id = l.contact_id AND t.type = l.type AND l.at IS NULL
  )
  UPDATE {TABLE} t SET occurred_at = l.at FROM latest l
  WHERE t.contact_id = l.contact_id AND t.type = l.type AND l.at IS NOT NULL AND t.occurred_at <> l.at
$$""",
    f"""
CREATE OR REPLACE FUNCTION contacts_last_event_removed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE keys jsonb;
BEGIN
{_reread("old_events")}
  RETURN NULL;
END $$""",
    f"""
CREATE OR REPLACE FUNCTION contacts_last_event_moved() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE keys jsonb;
BEGIN
  -- Only the rows whose contact, type or time changed (an erasure that blanks the URL changes none).
  WITH changed AS ({_changed("n")})
  {
        _UPSERT.format(
            rows="SELECT contact_id, type, max(occurred_at) FROM changed WHERE contact_id IS NOT NULL "
            "GROUP BY contact_id, type ORDER BY contact_id, type"
        )
    };
  WITH changed AS ({_changed("o")})
{_reread("changed")}
  RETURN NULL;
END $$""",
    f"DROP TRIGGER IF EXISTS contacts_last_event_insert ON {EVENTS}",
    f"DROP TRIGGER IF EXISTS contacts_last_event_update ON {EVENTS}",
    f"DROP TRIGGER IF EXISTS contacts_last_event_delete ON {EVENTS}",
    f"CREATE TRIGGER contacts_last_event_insert AFTER INSERT ON {EVENTS} REFERENCING NEW TABLE AS new_events "
    "FOR EACH STATEMENT EXECUTE FUNCTION contacts_last_event_add()",
    f"CREATE TRIGGER contacts_last_event_update AFTER UPDATE ON {EVENTS} "
    "REFERENCING OLD TABLE AS old_events NEW TABLE AS new_events "
    "FOR EACH STATEMENT EXECUTE FUNCTION contacts_last_event_moved()",
    f"CREATE TRIGGER contacts_last_event_delete AFTER DELETE ON {EVENTS} REFERENCING OLD TABLE AS old_events "
    "FOR EACH STATEMENT EXECUTE FUNCTION contacts_last_event_removed()",
]

POSTGRESQL_UNINSTALL = [
    f"DROP TRIGGER IF EXISTS contacts_last_event_insert ON {EVENTS}",
    f"DROP TRIGGER IF EXISTS contacts_last_event_update ON {EVENTS}",
    f"DROP TRIGGER IF EXISTS contacts_last_event_delete ON {EVENTS}",
    "DROP FUNCTION IF EXISTS contacts_last_event_add()",
    "DROP FUNCTION IF EXISTS contacts_last_event_moved()",
    "DROP FUNCTION IF EXISTS contacts_last_event_removed()",
    "DROP FUNCTION IF EXISTS contacts_last_event_reread(jsonb)",
]


def _sqlite_reread(row: str) -> str:
    """The statements that read the key of `row` (OLD) again: the row deleted when no event is left, else
    its time set to the latest event left."""
    latest = f"SELECT max(a.occurred_at) FROM {EVENTS} a WHERE a.contact_id = {row}.contact_id AND a.type = {row}.type"
    return (
        f"DELETE FROM {TABLE} WHERE contact_id = {row}.contact_id AND type = {row}.type AND ({latest}) IS NULL; "
        f"UPDATE {TABLE} SET occurred_at = ({latest}) "
        f"WHERE contact_id = {row}.contact_id AND type = {row}.type AND occurred_at <> ({latest});"
    )


_SQLITE_ADD = _UPSERT.format(rows="VALUES (NEW.contact_id, NEW.type, NEW.occurred_at)") + ";"

SQLITE_INSTALL = [
    "DROP TRIGGER IF EXISTS contacts_last_event_insert",
    "DROP TRIGGER IF EXISTS contacts_last_event_update_old",
    "DROP TRIGGER IF EXISTS contacts_last_event_update_new",
    "DROP TRIGGER IF EXISTS contacts_last_event_delete",
    f"CREATE TRIGGER contacts_last_event_insert AFTER INSERT ON {EVENTS} WHEN NEW.contact_id IS NOT NULL "
    f"BEGIN {_SQLITE_ADD} END",
    f"CREATE TRIGGER contacts_last_event_update_old AFTER UPDATE OF contact_id, type, occurred_at ON {EVENTS} "
    f"WHEN OLD.contact_id IS NOT NULL BEGIN {_sqlite_reread('OLD')} END",
    f"CREATE TRIGGER contacts_last_event_update_new AFTER UPDATE OF contact_id, type, occurred_at ON {EVENTS} "
    f"WHEN NEW.contact_id IS NOT NULL BEGIN {_SQLITE_ADD} END",
    f"CREATE TRIGGER contacts_last_event_delete AFTER DELETE ON {EVENTS} WHEN OLD.contact_id IS NOT NULL "
    f"BEGIN {_sqlite_reread('OLD')} END",
]

SQLITE_UNINSTALL = SQLITE_INSTALL[:4]

BACKFILL = (
    f"INSERT INTO {TABLE} (contact_id, type, occurred_at) SELECT contact_id, type, max(occurred_at) FROM {EVENTS} "
    "WHERE contact_id IS NOT NULL GROUP BY contact_id, type"
)


def statements(connection: BaseDatabaseWrapper, *, install: bool = True) -> list[str]:
    if connection.vendor == "postgresql":
        return POSTGRESQL_INSTALL if install else POSTGRESQL_UNINSTALL
    if connection.vendor == "sqlite":
        return SQLITE_INSTALL if install else SQLITE_UNINSTALL
    raise NotImplementedError(f"last events are kept on PostgreSQL and SQLite, not {connection.vendor}")
