"""Adding up the rows the counting triggers append (campaigns.reports.counts), a periodic job, so the tables stay a
few thousand rows long whatever the rate of writes; and recounting them from the rows.

The rows of a cell that has several are replaced by one holding their sum (a cell that adds up to nothing goes);
a row alone in its cell stays as it is, so a fold rewrites what was appended since the last one. On PostgreSQL
that is one statement — DELETE … RETURNING feeding the INSERT — which takes exactly the rows it saw: a row a
concurrent transaction appends meanwhile stays for the next fold, and a reader, one statement, sees the table
before or after, never half. On SQLite the transaction holds the one write lock throughout.

Purchase days too old for the lifecycle rule to tell apart are coarsened on the way (`*_clamped`, see
`AudienceCount`): a day that ends CLAMP_MARGIN or more before every threshold of the rule at `now` joins one
count per funnel stage, consent and other date. Should new lifecycle settings have moved a threshold into a
coarsened count, the contacts' counts are recounted first.
"""

import datetime as dt
from dataclasses import dataclass, field

from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from contacts.lifecycle import lifecycle_thresholds

from . import triggers
from .audience import CLAMPED, DAY, straddling, utc_midnight
from .counts import AudienceCount

CLAMP_MARGIN = dt.timedelta(days=2)
AUDIENCE = "reports_audiencecount"
FOLDS = {
    "reports_signupcount": ["day", "source"],
    "reports_distinctcount": ["kind", "day", "prev_day"],
    "reports_channelcount": ["day", "channel"],
}
VALUES = {"reports_channelcount": ["n", "revenue"]}  # the others hold `n` alone


@dataclass
class Cells:
    """How a table's rows fold: the cell columns, the SQL giving each row's cell, and which lone rows must move
    to another cell all the same (old purchase days to coarsen)."""

    columns: list[str]
    expressions: list[str]
    values: list[str] = field(default_factory=lambda: ["n"])
    params: list = field(default_factory=list)
    moving: str = "FALSE"
    moving_params: list = field(default_factory=list)


def counts_fold(*, now: dt.datetime | None = None, using: str = "default") -> dict[str, int]:
    """Fold every count table; returns the rows each holds afterwards."""
    now = now or timezone.now()
    connection = connections[using]
    if AudienceCount.objects.using(using).filter(straddling(now)).exists():
        counts_recount(now=now, using=using, audience_only=True)
    tables = {AUDIENCE: _audience_cells(connection, now)} | {
        table: Cells(keys, keys, VALUES.get(table, ["n"])) for table, keys in FOLDS.items()
    }
    sizes = {}
    with transaction.atomic(using=using), connection.cursor() as cursor:
        for table, cells in tables.items():
            _fold(connection, table, cells)
            cursor.execute(f"SELECT COUNT(*) FROM {table}")
            sizes[table] = cursor.fetchone()[0]
    return sizes


def counts_recount(*, now: dt.datetime | None = None, using: str = "default", audience_only: bool = False) -> None:
    """Every count afresh from the rows (the contacts' cells already coarsened as a fold at `now` would), with
    the counted tables locked against writes meanwhile on PostgreSQL."""
    connection = connections[using]
    sql = triggers.dialect(connection)
    cells = _audience_cells(connection, now or timezone.now())
    with transaction.atomic(using=using), connection.cursor() as cursor:
        if lock := sql.lock_statement(audience_only=audience_only):
            cursor.execute(lock)
        cursor.execute(f"DELETE FROM {AUDIENCE}")
        cursor.execute(_summed(AUDIENCE, cells, f"({sql.audience_rows()}) r"), cells.params)
        if not audience_only:
            zone = str(triggers.counts_zone(connection))
            triggers.run(connection, sql.recount_statements(zone))


def _audience_cells(connection: BaseDatabaseWrapper, now: dt.datetime) -> Cells:
    """Each row's cell once its old purchase days are coarsened."""
    cells = Cells(["funnel_stage", "consenting"], ["funnel_stage", "consenting"])
    adapt = connection.ops.adapt_datetimefield_value
    moving = []
    for name, instants in lifecycle_thresholds(now).items():
        horizon, clamped = utc_midnight(min(instants)) - CLAMP_MARGIN, CLAMPED[name]
        cells.columns += [name, clamped]
        cells.expressions += [
            f"CASE WHEN {name} < %s THEN %s ELSE {name} END",
            f"({clamped} OR COALESCE({name} < %s, FALSE))",
        ]
        cells.params += [adapt(horizon), adapt(horizon - DAY), adapt(horizon)]
        moving.append(f"(NOT {clamped} AND {name} < %s) OR ({clamped} AND {name} < %s)")
        cells.moving_params += [adapt(horizon), adapt(horizon - DAY)]
    cells.moving = " OR ".join(moving)
    return cells


def _summed(table: str, cells: Cells, rows: str) -> str:
    positions = ", ".join(str(position) for position in range(1, len(cells.columns) + 1))
    sums = ", ".join(f"SUM({value})" for value in cells.values)
    return (
        f"INSERT INTO {table} ({', '.join(cells.columns + cells.values)}) SELECT {', '.join(cells.expressions)}, "
        f"{sums} FROM {rows} GROUP BY {positions} HAVING SUM(n) <> 0"
    )


def _fold(connection: BaseDatabaseWrapper, table: str, cells: Cells) -> None:
    """The rows sharing a cell with another, or moving, replaced by one per cell; the others left alone."""

    def chosen(bound: str) -> str:
        return (
            f"SELECT id FROM (SELECT id, COUNT(*) OVER (PARTITION BY {', '.join(cells.columns)}) AS c, "
            f"{cells.moving} AS moving FROM {table}{bound}) w WHERE c > 1 OR moving"
        )

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            gone = f"WITH gone AS (DELETE FROM {table} WHERE id IN ({chosen('')})"
            gone += f" RETURNING {', '.join(cells.columns + cells.values)}) "
            folded = _summed(table, cells, "gone")
            cursor.execute(gone + folded, [*cells.moving_params, *cells.params])
            return
        cursor.execute(f"SELECT MAX(id) FROM {table}")
        (last,) = cursor.fetchone()
        if last is None:
            return
        picked = chosen(" WHERE id <= %s")
        rows = f"(SELECT * FROM {table} WHERE id IN ({picked})) r"
        cursor.execute(_summed(table, cells, rows), [*cells.params, *cells.moving_params, last])
        cursor.execute(f"DELETE FROM {table} WHERE id IN ({picked})", [*cells.moving_params, last])
