"""The PostgreSQL triggers (see `campaigns.reports.triggers`): statement-level, with transition tables, so a bulk
UPDATE of a thousand contacts appends one grouped row per changed cell, and an UPDATE that moves no contact
between cells appends nothing. A member of `DistinctDay` is locked before its days are recomputed — the row
of `reports_distinctbucket` that stands for its hash bucket, locked FOR UPDATE: a row lock costs no shared
memory however many members a statement touches, unlike an advisory lock — so two transactions adding days
to one visitor queue, and the second computes from what the first committed. Members are locked in one order
(anonymous ids, then contacts, each sorted), so two statements cannot wait on each other.

Sign-up, member and channel days are dates in the zone the triggers are installed with (TIME_ZONE, named in the
label that `label_statement` reads back), so a period's days are whole days of the counts. The contacts' purchase
days are UTC days: the lifecycle rule's thresholds are instants, not dates."""

import hashlib
from collections.abc import Callable

from ..counts import LONG_GAP_DAYS, PROMOTER_EVENTS

PROMOTER_TYPES = "(" + ", ".join(f"'{event}'" for event in PROMOTER_EVENTS) + ")"
AUDIENCE_COLUMNS = "funnel_stage, consenting, first_purchase_at, first_clamped, last_purchase_at, last_clamped, n"
COUNTED = {
    "contacts_contact": "reports_contact_counts",
    "contacts_activity": "reports_activity_counts",
    "contacts_visitoridentity": "reports_identity_counts",
    "contacts_purchase": "reports_purchase_counts",
    "reports_attribution": "reports_attribution_counts",
}
CLEAR = {
    "contacts_contact": "reports_contact_counts_clear",
    "contacts_activity": "reports_distinct_clear",
    "contacts_visitoridentity": "reports_distinct_clear",
    "contacts_purchase": "reports_channel_clear",
    "reports_attribution": "reports_channel_clear",
}
EVENTS = ("insert", "update", "delete", "truncate")
FUNCTIONS = [
    *(f"{function}()" for function in COUNTED.values()),
    "reports_contact_counts_clear()",
    "reports_distinct_clear()",
    "reports_distinct_fill()",
    "reports_distinct_lock(text, text[])",
    "reports_anonymous_refresh(text[])",
    "reports_promoter_refresh(text[])",
    "reports_channel_clear()",
    "reports_channel_fill()",
]
Rows = list[tuple[str, int]]  # (transition table, +1 or -1)


def day_start(column: str) -> str:
    """The UTC midnight that starts the day of `column` (a timestamptz)."""
    return f"date_trunc('day', {column} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"


def _day(column: str, zone: str) -> str:
    return f"({column} AT TIME ZONE '{zone}')::date"


def _audience_deltas(rows: Rows) -> str:
    counted = " UNION ALL ".join(
        f"SELECT funnel_stage, email_opt_in OR sms_opt_in AS consenting, {day_start('first_purchase_at')} AS f, "
        f"{day_start('last_purchase_at')} AS l, {sign} AS n FROM {table} WHERE erased_at IS NULL"
        for table, sign in rows
    )
    return (
        f"INSERT INTO reports_audiencecount ({AUDIENCE_COLUMNS}) SELECT funnel_stage, consenting, f, false, l, false, "
        f"SUM(n) FROM ({counted}) c GROUP BY funnel_stage, consenting, f, l HAVING SUM(n) <> 0"
    )


def _signup_deltas(rows: Rows, zone: str) -> str:
    counted = " UNION ALL ".join(
        f"SELECT {_day('signed_up_at', zone)} AS day, source, {sign} AS n FROM {table} WHERE signed_up_at IS NOT NULL"
        for table, sign in rows
    )
    return (
        f"INSERT INTO reports_signupcount (day, source, n) SELECT day, source, SUM(n) FROM ({counted}) c "
        "GROUP BY day, source HAVING SUM(n) <> 0"
    )


def _channel_deltas(rows: Rows, zone: str) -> str:
    """Purchases of `rows` counted in their ROMI channel: `email` when attributed, else lower(utm_source)."""
    credited = "EXISTS (SELECT 1 FROM reports_attribution a WHERE a.purchase_id = p.id)"
    counted = " UNION ALL ".join(
        f"SELECT {_day('p.purchased_at', zone)} AS day, CASE WHEN {credited} THEN 'email' "
        f"ELSE lower(p.utm_source) END AS channel, {sign} AS n, {sign} * p.total AS revenue "
        f"FROM {table} p WHERE p.utm_source <> '' OR {credited}"
        for table, sign in rows
    )
    return _channel_insert(counted)


def _credit_deltas(rows: Rows, zone: str) -> str:
    """An attribution moves its purchase from its utm_source's channel (if any) to `email`."""
    day = _day("p.purchased_at", zone)
    joined = "JOIN contacts_purchase p ON p.id = r.purchase_id"
    counted = " UNION ALL ".join(
        f"SELECT {day} AS day, 'email' AS channel, {sign} AS n, {sign} * p.total AS revenue FROM {table} r {joined} "
        f"UNION ALL SELECT {day}, lower(p.utm_source), {-sign}, {-sign} * p.total FROM {table} r {joined} "
        "WHERE p.utm_source <> ''"
        for table, sign in rows
    )
    return _channel_insert(counted)


def _channel_insert(counted: str) -> str:
    return (
        f"INSERT INTO reports_channelcount (day, channel, n, revenue) SELECT day, channel, SUM(n), SUM(revenue) "
        f"FROM ({counted}) c GROUP BY day, channel HAVING SUM(n) <> 0 OR SUM(revenue) <> 0"
    )


def _days(kind: str, zone: str, *, some: bool) -> str:
    """(member, day) of every member of `kind`, or of those in `p_members` when `some`."""
    day = _day("a.occurred_at", zone)
    if kind == "anonymous":
        which = "a.anonymous_id = ANY(p_members)" if some else "a.anonymous_id IS NOT NULL"
        return (
            f"SELECT DISTINCT a.anonymous_id AS member, {day} AS day FROM contacts_activity a WHERE {which} "
            "AND a.contact_id IS NULL AND NOT EXISTS "
            "(SELECT 1 FROM contacts_visitoridentity v WHERE v.anonymous_id = a.anonymous_id)"
        )
    which = "a.contact_id = ANY(p_members::bigint[])" if some else "a.contact_id IS NOT NULL"
    return (
        f"SELECT DISTINCT a.contact_id::text AS member, {day} AS day FROM contacts_activity a "
        f"WHERE {which} AND a.type IN {PROMOTER_TYPES}"
    )


def _member_days(kind: str, zone: str, *, some: bool) -> str:
    return (
        f"SELECT member, day, CASE WHEN day - lag(day) OVER w > {LONG_GAP_DAYS} THEN NULL ELSE lag(day) OVER w END "
        f"AS prev_day FROM ({_days(kind, zone, some=some)}) d WINDOW w AS (PARTITION BY member ORDER BY day)"
    )


def _stored_days(kind: str, members: str) -> str:
    """The `DistinctDay` rows (member, day, prev_day) of `kind` of the members in the text array `members`, each
    member's read by index. Written `member = ANY(members)` beside the kind, a planner that believed the table
    small (new, or just emptied and not analyzed yet) read every row of the kind and searched the array for each:
    0.45 s for 10,000 rows against 1,800 visitors, growing with both. A lateral probe per member cannot take that
    plan, provided it stays a probe: a plain LATERAL subquery is merged into the outer query, whose join the
    planner may then turn around (every stored day of the kind, each compared with every member: 35 million
    comparisons, 2.3 s per batch of 5,000 events). OFFSET 0 keeps it a subquery run per member."""
    return (
        f"SELECT d.member, d.day, d.prev_day FROM unnest({members}) m(member) CROSS JOIN LATERAL "
        f"(SELECT member, day, prev_day FROM reports_distinctday WHERE kind = '{kind}' AND member = m.member "
        "OFFSET 0) d"
    )


def _refresh(kind: str, zone: str) -> str:
    """Rewrites those `DistinctDay` rows of the members given that changed, and appends the difference.

    The stored and the fresh rows are compared with EXCEPT (NULL equals NULL there, as a gap with no
    previous day needs) over the given members' rows only, so the comparison is hashed whatever the planner
    believes of the table's size; as anti-joins, planned while the table looked empty, they compared each
    fresh row with every stored one."""
    stored = _stored_days(kind, "p_members")
    return f"""
        CREATE OR REPLACE FUNCTION reports_{kind}_refresh(p_members text[]) RETURNS void LANGUAGE sql AS $$
        WITH fresh AS ({_member_days(kind, zone, some=True)}),
        gone AS (
            DELETE FROM reports_distinctday o USING ({stored} EXCEPT SELECT member, day, prev_day FROM fresh) x
            WHERE o.kind = '{kind}' AND o.member = x.member AND o.day = x.day
            AND o.prev_day IS NOT DISTINCT FROM x.prev_day RETURNING o.day, o.prev_day, -1 AS n
        ),
        added AS (
            INSERT INTO reports_distinctday (kind, member, day, prev_day)
            SELECT '{kind}', member, day, prev_day FROM (SELECT member, day, prev_day FROM fresh EXCEPT {stored}) x
            RETURNING day, prev_day, 1 AS n
        )
        INSERT INTO reports_distinctcount (kind, day, prev_day, n)
        SELECT '{kind}', day, prev_day, SUM(n) FROM (SELECT * FROM gone UNION ALL SELECT * FROM added) c
        GROUP BY day, prev_day HAVING SUM(n) <> 0
        $$"""


def _trigger_function(name: str, body: Callable[[Rows], str], settings: str = "") -> str:
    """A trigger function running `body(rows)` on the transition tables of the statement that fired it."""
    return f"""
        CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql {settings} AS $$
        DECLARE anonymous text[]; promoters text[];
        BEGIN
            IF TG_OP = 'INSERT' THEN {body([("new_rows", 1)])}
            ELSIF TG_OP = 'UPDATE' THEN {body([("new_rows", 1), ("old_rows", -1)])}
            ELSE {body([("old_rows", -1)])}
            END IF;
            RETURN NULL;
        END $$"""


def _contact_body(zone: str) -> Callable[[Rows], str]:
    return lambda rows: f"{_audience_deltas(rows)}; {_signup_deltas(rows, zone)};"


def _purchase_body(zone: str) -> Callable[[Rows], str]:
    return lambda rows: f"{_channel_deltas(rows, zone)};"


def _attribution_body(zone: str) -> Callable[[Rows], str]:
    return lambda rows: f"{_credit_deltas(rows, zone)};"


def _touched(rows: Rows, columns: str) -> str:
    return " UNION ALL ".join(f"SELECT {columns} FROM {table}" for table, _sign in rows)


def _activity_body(zone: str) -> Callable[[Rows], str]:
    return lambda rows: _activity_statements(rows, zone)


def _activity_statements(rows: Rows, zone: str) -> str:
    """Recounts the visitors and promoters the statement touched. New events of a visitor on a day already
    counted for it change none of its days: those visitors are neither locked nor recounted (most events are
    a visitor's second page of the day). That is safe without the lock because an anonymous visitor's day goes
    away only when its events stop being anonymous (identified), and then all its days go, the new event's
    included."""
    anonymous = "contact_id IS NULL AND anonymous_id IS NOT NULL"
    if rows == [("new_rows", 1)]:
        new_days = f"SELECT DISTINCT anonymous_id, {_day('occurred_at', zone)} AS day FROM new_rows WHERE {anonymous}"
        # The visitors first, then their counted days read by index with the array of them.
        visitors = (
            f"SELECT array_agg(DISTINCT anonymous_id) INTO anonymous FROM new_rows WHERE {anonymous};\n"
            "        IF anonymous IS NOT NULL THEN\n"
            f"            SELECT array_agg(DISTINCT n.anonymous_id) INTO anonymous FROM ({new_days}) n "
            "WHERE (n.anonymous_id, n.day) NOT IN (SELECT s.member, s.day FROM "
            f"({_stored_days('anonymous', 'anonymous')}) s);\n"
            "        END IF;"
        )
        promoters = f"contact_id IS NOT NULL AND type IN {PROMOTER_TYPES}"
        collect = (
            f"{visitors}\n        SELECT array_agg(DISTINCT contact_id::text) INTO promoters FROM new_rows "
            f"WHERE {promoters};"
        )
    else:
        collect = f"""
        SELECT array_agg(DISTINCT anonymous_id) FILTER (WHERE {anonymous}),
               array_agg(DISTINCT contact_id::text) FILTER (WHERE contact_id IS NOT NULL AND type IN {PROMOTER_TYPES})
        INTO anonymous, promoters FROM ({_touched(rows, "contact_id, anonymous_id, type")}) r;"""
    return f"""{collect}
        IF anonymous IS NOT NULL THEN PERFORM reports_distinct_lock('anonymous', anonymous); END IF;
        IF promoters IS NOT NULL THEN PERFORM reports_distinct_lock('promoter', promoters); END IF;
        IF anonymous IS NOT NULL THEN PERFORM reports_anonymous_refresh(anonymous); END IF;
        IF promoters IS NOT NULL THEN PERFORM reports_promoter_refresh(promoters); END IF;"""


def _identity_body(rows: Rows) -> str:
    return f"""
        SELECT array_agg(DISTINCT anonymous_id) INTO anonymous FROM ({_touched(rows, "anonymous_id")}) r;
        IF anonymous IS NOT NULL THEN
            PERFORM reports_distinct_lock('anonymous', anonymous);
            PERFORM reports_anonymous_refresh(anonymous);
        END IF;"""


def _functions(zone: str) -> list[str]:
    fill = " UNION ALL ".join(
        f"SELECT '{kind}', member, day, prev_day FROM ({_member_days(kind, zone, some=False)}) {kind}"
        for kind in ("anonymous", "promoter")
    )
    return [
        "DROP TABLE IF EXISTS reports_distinctlock",
        # Locks by hash bucket, never by the id itself: the table holds no visitor's id (erasure leaves nothing
        # behind) and stays at most 65,536 rows per kind; two ids sharing a bucket merely queue.
        """CREATE TABLE IF NOT EXISTS reports_distinctbucket (
            kind varchar(10) NOT NULL, bucket integer NOT NULL, PRIMARY KEY (kind, bucket)
        )""",
        # Every bucket's row exists from the start, so taking a lock never writes (inserting buckets as
        # they were first met made new databases' batches wait on each other's inserts: 60–130 ms a batch).
        """INSERT INTO reports_distinctbucket (kind, bucket)
        SELECT kind, bucket FROM unnest(ARRAY['anonymous', 'promoter']) kind, generate_series(0, 65535) bucket
        ON CONFLICT DO NOTHING""",
        """CREATE OR REPLACE FUNCTION reports_distinct_lock(p_kind text, p_members text[]) RETURNS void
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM 1 FROM reports_distinctbucket
            WHERE kind = p_kind AND bucket = ANY(ARRAY(SELECT hashtext(m) & 65535 FROM unnest(p_members) m))
            ORDER BY bucket FOR UPDATE;
        END $$""",
        _refresh("anonymous", zone),
        _refresh("promoter", zone),
        f"""CREATE OR REPLACE FUNCTION reports_distinct_fill() RETURNS void LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM reports_distinctday;
            DELETE FROM reports_distinctcount;
            INSERT INTO reports_distinctday (kind, member, day, prev_day) {fill};
            INSERT INTO reports_distinctcount (kind, day, prev_day, n)
            SELECT kind, day, prev_day, COUNT(*) FROM reports_distinctday GROUP BY kind, day, prev_day;
        END $$""",
        """CREATE OR REPLACE FUNCTION reports_distinct_clear() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM reports_distinct_fill(); RETURN NULL; END $$""",
        """CREATE OR REPLACE FUNCTION reports_contact_counts_clear() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN DELETE FROM reports_audiencecount; DELETE FROM reports_signupcount; RETURN NULL; END $$""",
        f"""CREATE OR REPLACE FUNCTION reports_channel_fill() RETURNS void LANGUAGE plpgsql AS $$
        BEGIN DELETE FROM reports_channelcount; {_channel_deltas([("contacts_purchase", 1)], zone)}; END $$""",
        """CREATE OR REPLACE FUNCTION reports_channel_clear() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM reports_channel_fill(); RETURN NULL; END $$""",
        _trigger_function("reports_contact_counts", _contact_body(zone)),
        # Its statements look members up by index, always: PL/pgSQL keeps their plans for the session, and a
        # plan made while the days table looked empty (a new database) scanned it once per new visitor — a
        # nested loop that grew with the table, 60–540 ms a batch within the first minute of traffic.
        _trigger_function("reports_activity_counts", _activity_body(zone), "SET enable_seqscan = off"),
        _trigger_function("reports_identity_counts", _identity_body),
        _trigger_function("reports_purchase_counts", _purchase_body(zone)),
        _trigger_function("reports_attribution_counts", _attribution_body(zone)),
    ]


def _triggers(table: str) -> list[str]:
    function = COUNTED[table]
    referencing = {
        "insert": "REFERENCING NEW TABLE AS new_rows",
        "update": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "delete": "REFERENCING OLD TABLE AS old_rows",
        "truncate": "",
    }
    clear = CLEAR[table]
    return [
        f"CREATE TRIGGER {function}_{event} AFTER {event.upper()} ON {table} {transition} FOR EACH STATEMENT "
        f"EXECUTE FUNCTION {function if event != 'truncate' else clear}()"
        for event, transition in referencing.items()
    ]


def trigger_names() -> set[str]:
    return {f"{function}_{event}" for function in COUNTED.values() for event in EVENTS}


def _created(zone: str) -> list[str]:
    return _functions(zone) + [sql for table in COUNTED for sql in _triggers(table)]


def label(zone: str) -> str:
    """The zone of the installation's days and a fingerprint of its SQL: an installation made for another zone,
    or by other code, has another label."""
    fingerprint = hashlib.sha256("\n".join(_created(zone)).encode()).hexdigest()[:16]
    return f"{zone} {fingerprint}"


def install_statements(zone: str) -> list[str]:
    """Everything afresh, labelled in the comment of `reports_contact_counts()`."""
    return [
        *uninstall_statements(),
        *_created(zone),
        f"COMMENT ON FUNCTION reports_contact_counts() IS '{label(zone)}'",
    ]


def label_statement() -> str:
    """The label of the installation: '<zone> <fingerprint>' (None when there is none)."""
    return "SELECT obj_description(to_regprocedure('reports_contact_counts()'), 'pg_proc')"


def uninstall_statements() -> list[str]:
    triggers = [
        f"DROP TRIGGER IF EXISTS {function}_{event} ON {table}"
        for table, function in COUNTED.items()
        for event in EVENTS
    ]
    functions = [f"DROP FUNCTION IF EXISTS {function}" for function in FUNCTIONS]
    return [
        *triggers,
        *functions,
        "DROP TABLE IF EXISTS reports_distinctlock",
        "DROP TABLE IF EXISTS reports_distinctbucket",
    ]


def lock_statement(*, audience_only: bool) -> str:
    """The counted tables locked against writes while they are recounted (SHARE mode: readers go on)."""
    tables = ["contacts_contact"] if audience_only else list(COUNTED)
    return f"LOCK TABLE {', '.join(tables)} IN SHARE MODE"


def audience_rows() -> str:
    """The contacts' cells counted from the contacts, purchase days exact."""
    return (
        f"SELECT funnel_stage, email_opt_in OR sms_opt_in AS consenting, {day_start('first_purchase_at')} AS "
        f"first_purchase_at, false AS first_clamped, {day_start('last_purchase_at')} AS last_purchase_at, "
        "false AS last_clamped, COUNT(*) AS n FROM contacts_contact WHERE erased_at IS NULL GROUP BY 1, 2, 3, 5"
    )


def recount_statements(zone: str) -> list[str]:
    """Sign-ups and members counted afresh from the rows."""
    return [
        "DELETE FROM reports_signupcount",
        _signup_deltas([("contacts_contact", 1)], zone),
        "SELECT reports_distinct_fill()",
        "SELECT reports_channel_fill()",
    ]
