"""What PostgreSQL did for a statement, read from EXPLAIN ANALYZE: counts of work, not times."""

import json
from typing import Any

from django.db import connection, transaction


def analyzed_plan(sql: str, params: Any = None) -> dict:
    """The top node of the statement's plan as run (in a savepoint rolled back, so a write leaves nothing)."""
    with connection.cursor() as cursor, transaction.atomic():
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
        transaction.set_rollback(True)
    return (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]


def rows_thrown_away(plan: dict) -> int:
    """Rows every join of the plan compared and discarded: what checking each row of one side against every
    row of the other costs."""
    own = plan.get("Rows Removed by Join Filter", 0) * plan.get("Actual Loops", 1)
    return own + sum(rows_thrown_away(child) for child in plan.get("Plans", []))
