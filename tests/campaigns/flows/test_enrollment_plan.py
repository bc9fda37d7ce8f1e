"""Enrolling stays one pass over the candidates when the table's statistics have not seen the flow yet.

A flow activated after the last ANALYZE of the enrollments is, to PostgreSQL's statistics, a flow with no
enrollments. The re-entry check once let the planner believe that and compare each candidate with every
enrollment the flow had gathered since (4,000 buyers of a batch against 27,000 enrollments: 6.8 s). What
the database did is read from EXPLAIN ANALYZE: the rows a join compared and threw away, not the time."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from campaigns.flows.enrollment import enroll
from campaigns.flows.models import Enrollment, Flow
from contacts.models import Contact
from tests.plans import analyzed_plan, rows_thrown_away

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the planner's statistics (PostgreSQL)"),
]

WAIT = [{"type": "wait", "days": 1}]


def make_flow(name: str) -> Flow:
    return Flow.objects.create(
        name=name, status=Flow.Status.ACTIVE, trigger={"type": "purchase"}, steps=WAIT, reentry=Flow.Reentry.NEVER
    )


def test_a_flow_unseen_by_the_statistics_checks_each_candidate_once():
    contacts = Contact.objects.bulk_create([Contact(email=f"buyer{n}@example.com") for n in range(1200)])
    ids = [contact.pk for contact in contacts]
    older = make_flow("Older")
    assert enroll(flow=older, contacts=Contact.objects.filter(pk__in=ids)) == 1200
    newer = make_flow("Newer")
    with connection.cursor() as cursor:  # the statistics know the older flow only
        cursor.execute(f"ANALYZE {Enrollment._meta.db_table}")
    assert enroll(flow=newer, contacts=Contact.objects.filter(pk__in=ids[:600])) == 600

    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        assert enroll(flow=newer, contacts=Contact.objects.filter(pk__in=ids)) == 600
        transaction.set_rollback(True)
    insert = next(q["sql"] for q in queries.captured_queries if q["sql"].startswith("INSERT INTO"))
    plan = analyzed_plan(insert)

    # Each of the 1,200 candidates compared with each of the flow's 600 enrollments would be 720,000.
    assert rows_thrown_away(plan) < 1200
    assert Enrollment.objects.filter(flow=newer).count() == 600
