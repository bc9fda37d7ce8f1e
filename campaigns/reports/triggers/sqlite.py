"""The SQLite triggers (see `campaigns.reports.triggers`): row-level, as SQLite has no other kind; one writer at a
time, so a member's days are recomputed without locks. Dates are stored as Django stores them on SQLite, UTC text
('YYYY-MM-DD HH:MM:SS[.ffffff]'), which `date()` reads."""

from ..counts import LONG_GAP_DAYS, PROMOTER_EVENTS

PROMOTER_TYPES = "(" + ", ".join(f"'{event}'" for event in PROMOTER_EVENTS) + ")"
AUDIENCE_COLUMNS = "funnel_stage, consenting, first_purchase_at, first_clamped, last_purchase_at, last_clamped, n"


def day_start(column: str) -> str:
    """The UTC midnight that starts the day of `column`, as Django writes a datetime."""
    return f"datetime(date({column}))"


def _audience(row: str, sign: int) -> str:
    return (
        f"INSERT INTO reports_audiencecount ({AUDIENCE_COLUMNS}) SELECT {row}.funnel_stage, "
        f"{row}.email_opt_in OR {row}.sms_opt_in, {day_start(f'{row}.first_purchase_at')}, 0, "
        f"{day_start(f'{row}.last_purchase_at')}, 0, {sign} WHERE {row}.erased_at IS NULL;"
    )


def _signup(row: str, sign: int) -> str:
    return (
        f"INSERT INTO reports_signupcount (day, source, n) SELECT date({row}.signed_up_at), {row}.source, {sign} "
        f"WHERE {row}.signed_up_at IS NOT NULL;"
    )


def _days(kind: str, member: str) -> str:
    if kind == "anonymous":
        return (
            f"SELECT DISTINCT date(a.occurred_at) AS day FROM contacts_activity a WHERE a.anonymous_id = {member} "
            "AND a.contact_id IS NULL AND NOT EXISTS "
            "(SELECT 1 FROM contacts_visitoridentity v WHERE v.anonymous_id = a.anonymous_id)"
        )
    return (
        f"SELECT DISTINCT date(a.occurred_at) AS day FROM contacts_activity a "
        f"WHERE a.contact_id = CAST({member} AS INTEGER) AND a.type IN {PROMOTER_TYPES}"
    )


def _refresh(kind: str, member: str) -> str:
    """The member's `DistinctDay` rows taken out and counted again from its events."""
    mine = f"kind = '{kind}' AND member = {member}"
    gap = f"julianday(day) - julianday(lag(day) OVER w) > {LONG_GAP_DAYS}"
    return (
        f"INSERT INTO reports_distinctcount (kind, day, prev_day, n) SELECT kind, day, prev_day, -1 "
        f"FROM reports_distinctday WHERE {mine}; "
        f"DELETE FROM reports_distinctday WHERE {mine}; "
        f"INSERT INTO reports_distinctday (kind, member, day, prev_day) SELECT '{kind}', {member}, day, "
        f"CASE WHEN {gap} THEN NULL ELSE lag(day) OVER w END FROM ({_days(kind, member)}) WINDOW w AS (ORDER BY day); "
        f"INSERT INTO reports_distinctcount (kind, day, prev_day, n) SELECT kind, day, prev_day, 1 "
        f"FROM reports_distinctday WHERE {mine};"
    )


def _channel(row: str, sign: int) -> str:
    credited = f"EXISTS (SELECT 1 FROM reports_attribution a WHERE a.purchase_id = {row}.id)"
    return (
        f"INSERT INTO reports_channelcount (day, channel, n, revenue) SELECT date({row}.purchased_at), "
        f"CASE WHEN {credited} THEN 'email' ELSE lower({row}.utm_source) END, {sign}, {sign} * {row}.total "
        f"WHERE {row}.utm_source <> '' OR {credited};"
    )


def _credit(row: str, sign: int) -> str:
    """An attribution moves its purchase from its utm_source's channel (if any) to `email`."""
    purchase = f"FROM contacts_purchase p WHERE p.id = {row}.purchase_id"
    insert = "INSERT INTO reports_channelcount (day, channel, n, revenue)"
    return (
        f"{insert} SELECT date(p.purchased_at), 'email', {sign}, {sign} * p.total {purchase}; "
        f"{insert} SELECT date(p.purchased_at), lower(p.utm_source), {-sign}, {-sign} * p.total {purchase} "
        "AND p.utm_source <> '';"
    )


def _channel_triggers() -> dict[str, str]:
    return {
        "reports_purchase_insert": f"AFTER INSERT ON contacts_purchase BEGIN {_channel('NEW', 1)} END",
        "reports_purchase_update": (
            "AFTER UPDATE OF purchased_at, total, utm_source ON contacts_purchase "
            f"BEGIN {_channel('OLD', -1)} {_channel('NEW', 1)} END"
        ),
        "reports_purchase_delete": f"AFTER DELETE ON contacts_purchase BEGIN {_channel('OLD', -1)} END",
        "reports_attribution_insert": f"AFTER INSERT ON reports_attribution BEGIN {_credit('NEW', 1)} END",
        "reports_attribution_update": (
            f"AFTER UPDATE OF purchase_id ON reports_attribution BEGIN {_credit('OLD', -1)} {_credit('NEW', 1)} END"
        ),
        "reports_attribution_delete": f"AFTER DELETE ON reports_attribution BEGIN {_credit('OLD', -1)} END",
    }


def _changed(columns: list[str]) -> str:
    return " OR ".join(f"{column.format(row='OLD')} IS NOT {column.format(row='NEW')}" for column in columns)


def _contact_triggers() -> dict[str, str]:
    audience_changed = _changed(
        [
            "{row}.funnel_stage",
            "({row}.email_opt_in OR {row}.sms_opt_in)",
            "date({row}.first_purchase_at)",
            "date({row}.last_purchase_at)",
            "({row}.erased_at IS NULL)",
        ]
    )
    signup_changed = _changed(["date({row}.signed_up_at)", "{row}.source"])
    table = "contacts_contact"
    return {
        "reports_audience_insert": f"AFTER INSERT ON {table} BEGIN {_audience('NEW', 1)} {_signup('NEW', 1)} END",
        "reports_audience_update": (
            f"AFTER UPDATE OF funnel_stage, email_opt_in, sms_opt_in, first_purchase_at, last_purchase_at, erased_at "
            f"ON {table} WHEN {audience_changed} BEGIN {_audience('OLD', -1)} {_audience('NEW', 1)} END"
        ),
        "reports_signup_update": (
            f"AFTER UPDATE OF signed_up_at, source ON {table} WHEN {signup_changed} "
            f"BEGIN {_signup('OLD', -1)} {_signup('NEW', 1)} END"
        ),
        "reports_audience_delete": f"AFTER DELETE ON {table} BEGIN {_audience('OLD', -1)} {_signup('OLD', -1)} END",
    }


def _member_triggers() -> dict[str, str]:
    anonymous = "{row}.contact_id IS NULL AND {row}.anonymous_id IS NOT NULL"
    promoter = f"{{row}}.contact_id IS NOT NULL AND {{row}}.type IN {PROMOTER_TYPES}"
    kinds = {
        "anonymous": (anonymous, "{row}.anonymous_id", "contact_id, anonymous_id, occurred_at"),
        "promoter": (promoter, "CAST({row}.contact_id AS TEXT)", "contact_id, type, occurred_at"),
    }
    triggers = {}
    for kind, (when, member, columns) in kinds.items():
        for event, rows in (("insert", ["NEW"]), ("update", ["OLD", "NEW"]), ("delete", ["OLD"])):
            for row in rows:
                timing = f"UPDATE OF {columns}" if event == "update" else event.upper()
                triggers[f"reports_{kind}_{event}_{row.lower()}"] = (
                    f"AFTER {timing} ON contacts_activity WHEN {when.format(row=row)} "
                    f"BEGIN {_refresh(kind, member.format(row=row))} END"
                )
    for event, rows in (("insert", ["NEW"]), ("update", ["OLD", "NEW"]), ("delete", ["OLD"])):
        for row in rows:
            timing = "UPDATE OF anonymous_id" if event == "update" else event.upper()
            triggers[f"reports_identity_{event}_{row.lower()}"] = (
                f"AFTER {timing} ON contacts_visitoridentity BEGIN {_refresh('anonymous', f'{row}.anonymous_id')} END"
            )
    return triggers


def triggers() -> dict[str, str]:
    """Every trigger by name: what follows `CREATE TRIGGER name`."""
    return _contact_triggers() | _member_triggers() | _channel_triggers()


def created() -> dict[str, str]:
    """Each trigger's CREATE statement, as SQLite keeps it in sqlite_master (so a trigger made by other code is
    told apart)."""
    return {name: f"CREATE TRIGGER {name} {body}" for name, body in triggers().items()}


def install_statements(zone: str) -> list[str]:
    """The triggers (SQLite has no time zones: its days are UTC days, whatever `zone`)."""
    return uninstall_statements() + list(created().values())


def uninstall_statements() -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {name}" for name in triggers()]


def _member_fill(kind: str, member: str, where: str) -> str:
    gap = f"julianday(day) - julianday(lag(day) OVER w) > {LONG_GAP_DAYS}"
    return (
        f"INSERT INTO reports_distinctday (kind, member, day, prev_day) SELECT '{kind}', member, day, "
        f"CASE WHEN {gap} THEN NULL ELSE lag(day) OVER w END FROM (SELECT DISTINCT {member} AS member, "
        f"date(a.occurred_at) AS day FROM contacts_activity a WHERE {where}) "
        "WINDOW w AS (PARTITION BY member ORDER BY day)"
    )


def lock_statement(*, audience_only: bool) -> None:
    """None: SQLite has one writer at a time, nothing writes while the counts are recounted."""
    return None


def audience_rows() -> str:
    """The contacts' cells counted from the contacts, purchase days exact."""
    return (
        f"SELECT funnel_stage, email_opt_in OR sms_opt_in AS consenting, {day_start('first_purchase_at')} AS "
        f"first_purchase_at, 0 AS first_clamped, {day_start('last_purchase_at')} AS last_purchase_at, "
        "0 AS last_clamped, COUNT(*) AS n FROM contacts_contact WHERE erased_at IS NULL GROUP BY 1, 2, 3, 5"
    )


def recount_statements(zone: str) -> list[str]:
    """Sign-ups and members counted afresh from the rows (days are UTC days on SQLite, whatever `zone`)."""
    unlinked = (
        "a.anonymous_id IS NOT NULL AND a.contact_id IS NULL AND NOT EXISTS "
        "(SELECT 1 FROM contacts_visitoridentity v WHERE v.anonymous_id = a.anonymous_id)"
    )
    promoted = f"a.contact_id IS NOT NULL AND a.type IN {PROMOTER_TYPES}"
    return [
        "DELETE FROM reports_signupcount",
        "INSERT INTO reports_signupcount (day, source, n) SELECT date(signed_up_at), source, COUNT(*) "
        "FROM contacts_contact WHERE signed_up_at IS NOT NULL GROUP BY 1, 2",
        "DELETE FROM reports_distinctday",
        "DELETE FROM reports_distinctcount",
        _member_fill("anonymous", "a.anonymous_id", unlinked),
        _member_fill("promoter", "CAST(a.contact_id AS TEXT)", promoted),
        "INSERT INTO reports_distinctcount (kind, day, prev_day, n) SELECT kind, day, prev_day, COUNT(*) "
        "FROM reports_distinctday GROUP BY kind, day, prev_day",
        "DELETE FROM reports_channelcount",
        "INSERT INTO reports_channelcount (day, channel, n, revenue) SELECT date(p.purchased_at), CASE WHEN EXISTS "
        "(SELECT 1 FROM reports_attribution a WHERE a.purchase_id = p.id) THEN 'email' ELSE lower(p.utm_source) END, "
        "COUNT(*), SUM(p.total) FROM contacts_purchase p WHERE p.utm_source <> '' OR EXISTS "
        "(SELECT 1 FROM reports_attribution a WHERE a.purchase_id = p.id) GROUP BY 1, 2",
    ]
