"""Windowed count and sum conditions are written two ways (per-contact probes, or the window aggregated once);
the planner picks on PostgreSQL, and both give the same contacts (the rule reference tests check both forms
on random data; these pin the choice itself)."""

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contacts.models import Activity, Purchase
from segments.registry import Context
from segments.rules import compile_tree, condition_nodes
from segments.selectors import _planned_cost, audience, cheapest_plan, rules_contacts
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

VIEWS_3 = {"field": "event", "op": "count_gte", "value": 3, "event": "product_view", "days": 30}
SPENT_90 = {"field": "total_spent", "op": "gte", "value": 300, "days": 90}
AT_MOST_1_IN_90 = {"field": "purchase_count", "op": "lte", "value": 1, "days": 90}


@pytest.fixture
def people():
    now = timezone.now()
    viewer, buyer, quiet = ContactFactory(), ContactFactory(), ContactFactory()
    Activity.objects.bulk_create(
        Activity(contact=viewer, type=Activity.Type.PRODUCT_VIEW, occurred_at=now - dt.timedelta(days=d))
        for d in (1, 2, 3, 40)
    )
    Activity.objects.bulk_create(
        Activity(contact=buyer, type=Activity.Type.PRODUCT_VIEW, occurred_at=now - dt.timedelta(days=d)) for d in (1, 2)
    )
    for days, total in ((5, "200"), (80, "150"), (100, "900")):
        Purchase.objects.create(
            contact=buyer, purchased_at=now - dt.timedelta(days=days), total=Decimal(total), source="shop"
        )
    return {"viewer": viewer.pk, "buyer": buyer.pk, "quiet": quiet.pk}


def ids(qs) -> set[int]:
    return set(qs.values_list("pk", flat=True))


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        (VIEWS_3, {"viewer"}),
        (SPENT_90, {"buyer"}),
        (AT_MOST_1_IN_90, {"viewer", "quiet"}),  # no purchase at all counts as zero: it passes "at most 1"
        ({"not": AT_MOST_1_IN_90}, {"buyer"}),
    ],
)
def test_both_forms_and_the_picked_one_agree(people, rules, expected):
    want = {people[name] for name in expected}
    for scan in (False, True):
        ctx = dataclasses.replace(Context.current(), scan=scan)
        assert ids(audience().filter(compile_tree(rules, ctx))) == want, scan
    assert ids(rules_contacts(rules)) == want


def test_the_scan_form_aggregates_the_window_once_and_the_probe_form_per_contact(people):
    probe = str(audience().filter(compile_tree(VIEWS_3, Context.current())).query)
    scan = str(audience().filter(compile_tree(VIEWS_3, dataclasses.replace(Context.current(), scan=True))).query)
    assert "HAVING" not in probe.upper()
    assert "HAVING" in scan.upper()


def test_rules_with_no_windowed_total_are_not_planned_twice(people):
    with CaptureQueriesContext(connection) as queries:
        qs = rules_contacts({"field": "city", "op": "eq", "value": "Haifa"})
    assert not [q for q in queries.captured_queries if "EXPLAIN" in q["sql"]]
    assert "HAVING" not in str(qs.query).upper()


def test_a_few_known_contacts_are_probed_not_scanned(people):
    with CaptureQueriesContext(connection) as queries:
        qs = rules_contacts(SPENT_90, among=[people["buyer"], people["quiet"]])
        assert ids(qs) == {people["buyer"]}
    assert not [q for q in queries.captured_queries if "EXPLAIN" in q["sql"]]
    assert "HAVING" not in str(qs.query).upper()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the planner's costs are PostgreSQL's")
def test_postgresql_costs_both_forms_and_keeps_one_of_them(people):
    def build(ctx):
        return audience().filter(compile_tree(VIEWS_3, ctx))

    now = Context.current()
    costs = {str(qs.query): _planned_cost(qs) for qs in (build(dataclasses.replace(now, scan=s)) for s in (0, 1))}
    with CaptureQueriesContext(connection) as queries:
        picked = cheapest_plan(build, now)
    assert len([q for q in queries.captured_queries if q["sql"].startswith("EXPLAIN")]) == 2
    assert len(costs) == 2
    assert costs[str(picked.query)] == min(costs.values())


def test_other_databases_take_the_probes(people):
    if connection.vendor == "postgresql":
        pytest.skip("PostgreSQL picks by cost")
    picked = cheapest_plan(lambda ctx: audience().filter(compile_tree(VIEWS_3, ctx)))
    assert "HAVING" not in str(picked.query).upper()


CLUB = {"field": "club_member", "op": "is", "value": True}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="an init plan and its array are PostgreSQL's")
@pytest.mark.parametrize(
    "rules",
    [
        SPENT_90,
        {"not": SPENT_90},
        {"any": [SPENT_90, CLUB]},
        {"all": [SPENT_90, VIEWS_3, {"field": "purchase_count", "op": "gte", "value": 2, "days": 90}]},
    ],
)
def test_the_window_is_gathered_once_and_never_searched_row_by_row(people, rules):
    """The scan form groups the window once — events into an array read back as rows, money over the stored
    months in place (its contacts come out in id order) — and wherever the condition stands (alone, under NOT,
    in an OR, beside others) no contact is compared with an array element by element — a plan filter
    `id = ANY($n)` / `id <> ALL($n)` on an init plan's array — which took minutes at 1,000,000 contacts."""
    qs = audience().filter(compile_tree(rules, dataclasses.replace(Context.current(), scan=True)))
    sql, params = qs.order_by().values("pk").query.sql_with_params()
    assert "contacts_spendmonth" in sql
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN SELECT count(*) FROM ({sql}) s", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert ("unnest(ARRAY(" in sql) == (VIEWS_3 in condition_nodes(rules))
    assert ("InitPlan" in plan) == ("unnest(ARRAY(" in sql)
    assert "ANY ($" not in plan and "ALL ($" not in plan, plan
    assert ids(qs) == ids(audience().filter(compile_tree(rules, Context.current())))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the planner's costs are PostgreSQL's")
@pytest.mark.parametrize("rules", [SPENT_90, {"all": [SPENT_90, VIEWS_3]}])
def test_money_in_a_window_is_priced_in_its_plain_form_and_run_over_the_stored_months(people, rules):
    """The planner cannot tell how many contacts the stored months give and prices them as a handful, so the
    choice is made on the plain form (the window's purchases), whose price follows the work; the form run
    when the scan wins reads the months."""

    def build(ctx):
        return audience().filter(compile_tree(rules, ctx))

    with CaptureQueriesContext(connection) as queries:
        picked = cheapest_plan(build, Context.current())
    explained = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("EXPLAIN")]
    assert len(explained) == 2
    assert not [sql for sql in explained if "contacts_spendmonth" in sql]
    sql = str(picked.query)
    assert ("contacts_spendmonth" in sql) == ("HAVING" in sql.upper())
    assert ids(picked) == ids(audience().filter(compile_tree(rules, Context.current())))
