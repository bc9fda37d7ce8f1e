"""The per-contact check keeps its compiled SQL for the day: a later minute only moves the parameters
that are "now", and anything the SQL was compiled from (a segment, a segment it includes, products'
replenishment cycles) compiles it again within a minute of changing."""

import datetime as dt

import pytest
import time_machine
from django.db.models import Q
from django.utils import timezone

from segments import evaluation, registry
from segments.models import Segment
from segments.registry import Condition, Context, Op
from tests.factories import ContactFactory, ProductFactory, PurchaseFactory, PurchaseItemFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC
NOON = dt.datetime(2026, 6, 10, 9, 0, tzinfo=UTC)  # 12:00 in Jerusalem


@pytest.fixture
def builds(monkeypatch):
    """How many times rule trees were compiled to SQL."""
    calls = []
    build = evaluation._build

    def counted(*args, **kwargs):
        calls.append(args[1].now)
        return build(*args, **kwargs)

    monkeypatch.setattr(evaluation, "_build", counted)
    return calls


def dynamic(name, rules):
    return Segment.objects.create(name=name, kind=Segment.Kind.DYNAMIC, rules=rules)


def matched(segments, contact):
    return {segment_id for segment_id, _contact in evaluation.matching_segments(segments, [contact.pk]).found}


def test_a_later_minute_of_the_day_moves_the_window_without_compiling_again(builds):
    contact = ContactFactory()
    PurchaseFactory(contact=contact, purchased_at=NOON - dt.timedelta(hours=23, minutes=50))
    recent = dynamic("Bought in the last day", {"field": "purchase_count", "op": "gte", "value": 1, "days": 1})
    segments = [recent]

    with time_machine.travel(NOON, tick=False):
        assert matched(segments, contact) == {recent.pk}
    assert len(builds) == 2  # at noon, and at the day's last minute to see what moves with the clock
    plan = next(iter(evaluation._plans.values()))
    assert plan.daily and len(plan.moving) == 1

    with time_machine.travel(NOON + dt.timedelta(minutes=9), tick=False):
        assert matched(segments, contact) == {recent.pk}
    with time_machine.travel(NOON + dt.timedelta(minutes=11), tick=False):
        assert matched(segments, contact) == set()  # the purchase is now a day and a minute old
    assert len(builds) == 2


def test_a_new_day_compiles_again(builds):
    contact = ContactFactory()
    segments = [dynamic("Everyone", {"all": []})]
    with time_machine.travel(NOON, tick=False):
        matched(segments, contact)
    with time_machine.travel(NOON + dt.timedelta(hours=11, minutes=59), tick=False):  # 23:59 in Jerusalem
        matched(segments, contact)
    assert len(builds) == 2
    with time_machine.travel(NOON + dt.timedelta(hours=12), tick=False):  # midnight: a new day
        matched(segments, contact)
    assert len(builds) == 4


def test_a_changed_segment_compiles_again_at_once(builds):
    contact = ContactFactory(city="Haifa")
    segment = dynamic("Haifa", {"field": "city", "op": "eq", "value": "Eilat"})
    with time_machine.travel(NOON, tick=False):
        assert matched([segment], contact) == set()
    with time_machine.travel(NOON + dt.timedelta(seconds=30), tick=False):
        segment.rules = {"field": "city", "op": "eq", "value": "Haifa"}
        segment.save()
        assert matched([segment], contact) == {segment.pk}


def test_a_changed_replenishment_cycle_is_seen_the_next_minute():
    contact = ContactFactory()
    product = ProductFactory(replenishment_days=30)
    PurchaseItemFactory(
        product=product, purchase=PurchaseFactory(contact=contact, purchased_at=NOON - dt.timedelta(days=28))
    )
    due = dynamic("Due", {"field": "replenishment_due", "op": "in_next_days", "value": 3})

    with time_machine.travel(NOON, tick=False):
        assert matched([due], contact) == {due.pk}
        product.replenishment_days = 60
        product.save()
        assert matched([due], contact) == {due.pk}  # read once a minute
    with time_machine.travel(NOON + dt.timedelta(minutes=1), tick=False):
        assert matched([due], contact) == set()
        product.replenishment_days = None
        product.save()
        ProductFactory(replenishment_days=28)  # same count of cycles, same sum: the products differ
    with time_machine.travel(NOON + dt.timedelta(minutes=2), tick=False):
        assert matched([due], contact) == set()


def test_a_product_moved_into_a_category_is_seen_the_next_minute():
    contact = ContactFactory()
    product = ProductFactory(category="Shoes")
    PurchaseItemFactory(
        product=product, purchase=PurchaseFactory(contact=contact, purchased_at=NOON - dt.timedelta(days=2))
    )
    bags = dynamic("Bags", {"field": "purchased_category", "op": "in", "value": ["bags"], "days": 30})

    with time_machine.travel(NOON, tick=False):
        assert matched([bags], contact) == set()
        product.category = "Bags "
        product.save()
    with time_machine.travel(NOON + dt.timedelta(minutes=1), tick=False):
        assert matched([bags], contact) == {bags.pk}


def test_a_changed_segment_it_includes_is_seen_the_next_minute():
    contact = ContactFactory(city="Haifa")
    inner = Segment.objects.create(
        name="Inner", kind=Segment.Kind.DYNAMIC, rules={"field": "city", "op": "eq", "value": "Eilat"}
    )
    outer = dynamic("Outer", {"field": "in_segment", "op": "is", "value": True, "segment": inner.pk})
    with time_machine.travel(NOON, tick=False):
        assert matched([outer], contact) == set()
    with time_machine.travel(NOON + dt.timedelta(minutes=1), tick=False):
        inner.rules = {"field": "city", "op": "eq", "value": "Haifa"}
        inner.save()
    with time_machine.travel(NOON + dt.timedelta(minutes=2), tick=False):
        assert matched([outer], contact) == {outer.pk}
        inner.delete()
    with time_machine.travel(NOON + dt.timedelta(minutes=3), tick=False):
        assert matched([outer], contact) == set()


@pytest.fixture
def by_the_hour():
    """A condition that reads the clock its own way (the hour), not as a window ending now."""
    key = "test_even_hour"
    registry.conditions()
    registry.register(
        Condition(
            key=key,
            label="Even hour",
            group="Test",
            ops={"is": Op("bool", "is")},
            compile=lambda cond, ctx: ~Q(pk__in=[]) if timezone.localtime(ctx.now).hour % 2 == 0 else Q(pk__in=[]),
        )
    )
    yield key
    registry._registry.pop(key)


def test_a_condition_that_reads_the_clock_its_own_way_compiles_each_minute(builds, by_the_hour):
    contact = ContactFactory()
    segment = dynamic("Even hours", {"field": by_the_hour, "op": "is", "value": True})
    with time_machine.travel(NOON, tick=False):
        assert matched([segment], contact) == {segment.pk}
    plan = next(iter(evaluation._plans.values()))
    assert not plan.daily
    with time_machine.travel(NOON + dt.timedelta(minutes=1), tick=False):
        assert matched([segment], contact) == {segment.pk}
    with time_machine.travel(NOON + dt.timedelta(hours=1), tick=False):
        assert matched([segment], contact) == set()
    assert len(builds) == 4  # the day's two, then one for each later minute


RULES = [
    {"field": "purchase_count", "op": "gte", "value": 2, "days": 30},
    {"field": "total_spent", "op": "between", "value": [100, 900], "days": 90, "channel": "online"},
    {"field": "event", "op": "count_gte", "value": 3, "event": "product_view", "days": 7},
    {"field": "cart_abandoned", "op": "within_last_days", "value": 2},
    {"field": "last_purchase", "op": "within_last_days", "value": 14},
    {"field": "birthday", "op": "in_next_days", "value": 7},
    {"field": "signed_up", "op": "more_than_days_ago", "value": 100},
    {"field": "club_joined", "op": "anniversary_in_next_days", "value": 10},
    {"field": "email_opened", "op": "within_last_days", "value": 30},
    {"field": "lifecycle", "op": "in", "value": ["active", "at_risk"]},
    {"field": "replenishment_due", "op": "in_next_days", "value": 5},
]


@pytest.mark.parametrize(
    "start",
    [
        dt.datetime(2026, 10, 24, 21, 10, tzinfo=UTC),  # 00:10 on the day Jerusalem's clocks go back
        dt.datetime(2027, 3, 25, 22, 5, tzinfo=UTC),  # 00:05 on the day they go forward
        dt.datetime(2026, 12, 31, 21, 58, tzinfo=UTC),  # 23:58: the day's last minutes
    ],
)
def test_each_minute_gets_the_sql_and_parameters_of_that_minute(start):
    ProductFactory(replenishment_days=30)
    segments = [Segment(pk=n + 1, name=f"s{n}", rules=rules) for n, rules in enumerate(RULES)]
    segments.append(Segment(pk=99, name="all", rules={"all": RULES}))
    plan = evaluation._build_for_day(segments, start, 1)
    assert plan.daily and plan.moving
    day = timezone.localdate(start)
    minute = start
    while timezone.localdate(minute) == day:
        fresh = evaluation._build(segments, Context.current(minute), 1)
        assert (fresh.sql, fresh.params) == (plan.sql, plan.params_at(minute)), minute
        minute += dt.timedelta(minutes=37)
