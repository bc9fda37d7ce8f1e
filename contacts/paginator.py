"""A changelist paginator that never counts a million rows to draw page links.

Unfiltered on PostgreSQL it reads the planner's row estimate (pg_class.reltuples); filtered it
counts at most `cap` rows, so the cost of a count is bounded whatever the table size.
"""

from typing import cast

from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils.functional import cached_property

COUNT_CAP = 50_000
ESTIMATE_FROM = 100_000


class EstimatedCountPaginator(Paginator):
    cap = COUNT_CAP
    estimate_from = ESTIMATE_FROM

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.count_is_estimate = False
        self.count_is_capped = False

    @cached_property
    def count(self) -> int:
        qs = cast(QuerySet, self.object_list)  # the admin changelist pages a QuerySet
        if not qs.query.where:
            estimate = self._estimate(qs)
            if estimate >= self.estimate_from:
                self.count_is_estimate = True
                return estimate
            return qs.count()
        bounded = qs.order_by()[: self.cap + 1].count()
        if bounded > self.cap:
            self.count_is_capped = True
            return self.cap
        return bounded

    @staticmethod
    def _estimate(qs: QuerySet) -> int:
        """Planner's estimate of the table's rows; -1 when unknown or not on PostgreSQL."""
        connection = connections[qs.db]
        if connection.vendor != "postgresql":
            return -1
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [qs.model._meta.db_table])
            row = cursor.fetchone()
        return int(row[0]) if row else -1
