"""Exit rules end an enrollment as soon as a recorded purchase or event makes them match, not only when the
next step comes due; the engine's own check before each step stays."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns.flows import exits
from campaigns.flows.enrollment import enroll
from campaigns.flows.models import Enrollment, Flow
from contacts import services
from contacts.models import Contact
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

NOT_ABANDONED = {"not": {"field": "cart_abandoned", "op": "within_last_days", "value": 3}}


@pytest.fixture
def cart_flow(db):
    return Flow.objects.create(
        name="Cart",
        status=Flow.Status.ACTIVE,
        trigger={"type": "event", "event": "add_to_cart"},
        steps=[{"type": "wait", "days": 14}, {"type": "exit"}],
        exit_rules=NOT_ABANDONED,
    )


def add_to_cart(contact: Contact) -> None:
    services.activity_track(
        contact=contact,
        anonymous_id=None,
        event_id=None,
        type="add_to_cart",
        occurred_at=timezone.now() - dt.timedelta(minutes=5),
        product=None,
        url="",
        properties={},
    )


def buy(contact: Contact) -> None:
    services.purchase_record(
        contact=contact,
        source="shop",
        external_id=None,
        channel="online",
        purchased_at=timezone.now(),
        total=Decimal("10.00"),
        currency="ILS",
        store=None,
        items=[],
    )


def waiting(flow: Flow, *contacts: Contact) -> None:
    enroll(flow=flow, contacts=Contact.objects.filter(pk__in=[c.pk for c in contacts]))
    Enrollment.objects.filter(flow=flow).update(step="1", run_at=timezone.now() + dt.timedelta(days=14))


def test_a_purchase_ends_the_abandoned_cart_flow_at_once(cart_flow, django_capture_on_commit_callbacks):
    buyer, other = ContactFactory(), ContactFactory()
    for contact in (buyer, other):
        add_to_cart(contact)
    waiting(cart_flow, buyer, other)
    with django_capture_on_commit_callbacks(execute=True):
        buy(buyer)
    states = dict(Enrollment.objects.values_list("contact_id", "state"))
    assert states == {buyer.pk: "exited", other.pk: "active"}
    left = Enrollment.objects.get(contact=buyer)
    assert left.exit_reason == "exit_rules" and left.exited_at is not None and left.run_at is None


def test_an_event_that_does_not_make_the_rules_match_changes_nothing(cart_flow, django_capture_on_commit_callbacks):
    contact = ContactFactory()
    add_to_cart(contact)
    waiting(cart_flow, contact)
    with django_capture_on_commit_callbacks(execute=True):
        add_to_cart(contact)
    assert Enrollment.objects.get(contact=contact).state == "active"


@pytest.mark.parametrize("status", [Flow.Status.PAUSED, Flow.Status.DRAFT])
def test_a_flow_that_is_not_active_holds_its_contacts(cart_flow, status, django_capture_on_commit_callbacks):
    contact = ContactFactory()
    add_to_cart(contact)
    waiting(cart_flow, contact)
    Flow.objects.filter(pk=cart_flow.pk).update(status=status)
    with django_capture_on_commit_callbacks(execute=True):
        buy(contact)
    assert Enrollment.objects.get(contact=contact).state == "active"


def test_the_check_is_one_rule_query_per_flow_concerned(cart_flow, django_assert_max_num_queries):
    contacts = ContactFactory.create_batch(5)
    for contact in contacts:
        add_to_cart(contact)
    waiting(cart_flow, *contacts)
    for contact in contacts:
        buy(contact)
    with django_assert_max_num_queries(8):
        assert exits.exit_matching([c.pk for c in contacts]) == 5
    assert exits.exit_matching([c.pk for c in contacts]) == 0  # idempotent
