"""The visitors' counted days are read one visitor at a time, whatever the statistics of the table say.

The KPIs' trigger reads, for a batch's anonymous visitors, the days already counted for them. While the
statistics still describe the table as empty (a new installation, or one just emptied), the planner once
turned that lookup around: every stored day of the kind, each compared with every visitor of the batch
(35 million comparisons, 2.3 s for a batch of 5,000 events). Read from EXPLAIN ANALYZE: the rows compared
and thrown away, not the time."""

import datetime as dt

import pytest
from django.db import connection

from campaigns.reports.counts import DistinctDay
from campaigns.reports.triggers.postgresql import _stored_days
from tests.plans import analyzed_plan, rows_thrown_away

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the planner's statistics (PostgreSQL)"),
]


def test_stored_days_are_probed_per_visitor_while_the_statistics_say_the_table_is_empty():
    DistinctDay.objects.all().delete()
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {DistinctDay._meta.db_table}")
    day = dt.date(2026, 11, 1)
    DistinctDay.objects.bulk_create(
        [DistinctDay(kind="anonymous", member=f"visitor-{n}", day=day) for n in range(3000)], batch_size=1000
    )
    visitors = [f"visitor-{n}" for n in range(0, 3000, 3)] + [f"new-{n}" for n in range(500)]

    # As the trigger runs it: a statement prepared once, the array a parameter of unknown length.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute(f"PREPARE stored_days(text[]) AS SELECT count(*) FROM ({_stored_days('anonymous', '$1')}) s")
    try:
        plan = analyzed_plan("EXECUTE stored_days(%s)", [visitors])
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DEALLOCATE stored_days")

    assert plan["Actual Rows"] == 1
    # All 3,000 stored days against the 1,500 visitors would be 4.5 million.
    assert rows_thrown_away(plan) < 1500
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM ({_stored_days('anonymous', '%s::text[]')}) s", [visitors])
        assert cursor.fetchone()[0] == 1000
