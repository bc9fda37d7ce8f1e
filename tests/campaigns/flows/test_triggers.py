"""Every way a contact enters a flow: segment entries, events, purchases, dates, replenishment and lifecycle.

Each trigger enrolls the right contacts once, only into active flows, through the services and hooks that
record what happened (tasks run eagerly once the transaction commits)."""

import datetime as dt
import threading
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection, connections, transaction
from django.utils import timezone

from campaigns.flows import triggers
from campaigns.flows.models import Enrollment, Flow
from contacts import hooks as contact_hooks
from contacts import services
from contacts.models import Contact
from segments import services as segment_services
from segments.models import SegmentMembership
from tests.factories import ContactFactory, MemberFactory, ProductFactory, PurchaseFactory, PurchaseItemFactory

pytestmark = pytest.mark.django_db

LOCAL = ZoneInfo("Asia/Jerusalem")
TODAY = dt.date(2026, 3, 10)
NOON = dt.datetime(2026, 3, 10, 12, 0, tzinfo=LOCAL)
WAIT = [{"type": "wait", "days": 1}]


@pytest.fixture
def make_flow(db):
    def make(trigger: dict, **fields) -> Flow:
        values = {"name": "Automation", "status": Flow.Status.ACTIVE, "steps": WAIT, **fields}
        return Flow.objects.create(trigger=trigger, **values)

    return make


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run what the block leaves for after commit (hooks, then the tasks they enqueue)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def enrolled(flow: Flow) -> set[int]:
    return set(Enrollment.objects.filter(flow=flow).values_list("contact_id", flat=True))


def track(contact: Contact, event_type: str) -> None:
    services.activity_track(
        contact=contact,
        anonymous_id=None,
        event_id=None,
        type=event_type,
        occurred_at=timezone.now(),
        product=None,
        url="",
        properties={},
    )


def buy(contact: Contact, *, channel: str = "online", external_id: str | None = None) -> None:
    services.purchase_record(
        contact=contact,
        source="shop",
        external_id=external_id,
        channel=channel,
        purchased_at=timezone.now(),
        total=Decimal("10.00"),
        currency="ILS",
        store=None,
        items=[],
    )


def finish(flow: Flow, **fields) -> None:
    """The contacts inside have gone through the flow."""
    Enrollment.objects.filter(flow=flow).update(state=Enrollment.State.COMPLETED, **fields)


# ------------------------------------------------------------------ segment_entered


@pytest.fixture
def static_list(db):
    return segment_services.segment_create(name="VIP", kind="static", refresh=False)


def test_contacts_who_enter_the_segment_after_activation_are_enrolled_once(make_flow, static_list, committed):
    before = ContactFactory()
    segment_services.static_add(segment=static_list, contact_ids=[before.pk])
    flow = make_flow({"type": "segment_entered", "segment": static_list.pk})
    triggers.start_cursor(flow)
    newcomer = ContactFactory()

    with committed():
        segment_services.static_add(segment=static_list, contact_ids=[newcomer.pk])

    assert enrolled(flow) == {newcomer.pk}
    assert triggers.enroll_segment_entries() == 0
    assert Enrollment.objects.filter(flow=flow).count() == 1


def test_include_existing_enrolls_the_current_members_at_activation(make_flow, static_list):
    members = [ContactFactory(), ContactFactory()]
    segment_services.static_add(segment=static_list, contact_ids=[c.pk for c in members])
    flow = make_flow({"type": "segment_entered", "segment": static_list.pk, "include_existing": True})

    assert triggers.start_cursor(flow) == 2
    assert enrolled(flow) == {c.pk for c in members}
    assert triggers.enroll_segment_entries() == 0


def test_a_dynamic_segment_refresh_enrolls_its_new_members_right_away(make_flow, committed):
    segment = segment_services.segment_create(
        name="Haifa", rules={"field": "city", "op": "eq", "value": "Haifa"}, refresh=False
    )
    flow = make_flow({"type": "segment_entered", "segment": segment.pk})
    other = make_flow({"type": "segment_entered", "segment": segment.pk + 1000})
    triggers.start_cursor(flow)
    local, away = ContactFactory(city="Haifa"), ContactFactory(city="Eilat")

    with committed():
        segment_services.segment_refresh(segment=segment)

    assert enrolled(flow) == {local.pk}
    assert away.pk not in enrolled(flow)
    assert enrolled(other) == set()


def test_segment_entries_are_read_in_bounded_batches(make_flow, static_list, monkeypatch):
    flow = make_flow({"type": "segment_entered", "segment": static_list.pk})
    triggers.start_cursor(flow)
    contacts = [ContactFactory() for _ in range(5)]
    segment_services.static_add(segment=static_list, contact_ids=[c.pk for c in contacts])
    monkeypatch.setattr(triggers, "ENTRIES_PER_CALL", 2)

    assert [triggers.enroll_segment_entries() for _ in range(4)] == [2, 2, 1, 0]
    assert enrolled(flow) == {c.pk for c in contacts}


@pytest.mark.parametrize(
    ("reentry", "days", "entered_days_ago", "enrolled_again"),
    [
        ("never", None, 30, False),
        ("always", None, 0, True),
        ("after_days", 7, 3, False),
        ("after_days", 7, 8, True),
    ],
)
def test_entering_the_segment_again_follows_the_reentry_rule(
    make_flow, static_list, reentry, days, entered_days_ago, enrolled_again
):
    flow = make_flow({"type": "segment_entered", "segment": static_list.pk}, reentry=reentry, reentry_days=days)
    triggers.start_cursor(flow)
    contact = ContactFactory()
    segment_services.static_add(segment=static_list, contact_ids=[contact.pk])
    assert triggers.enroll_segment_entries() == 1
    finish(flow, entered_at=timezone.now() - dt.timedelta(days=entered_days_ago))

    segment_services.static_remove(segment=static_list, contact_ids=[contact.pk])
    segment_services.static_add(segment=static_list, contact_ids=[contact.pk])

    assert triggers.enroll_segment_entries() == int(enrolled_again)


def test_a_contact_still_inside_the_flow_is_not_enrolled_twice(make_flow, static_list):
    flow = make_flow({"type": "segment_entered", "segment": static_list.pk}, reentry="always")
    triggers.start_cursor(flow)
    contact = ContactFactory()
    segment_services.static_add(segment=static_list, contact_ids=[contact.pk])
    segment_services.static_remove(segment=static_list, contact_ids=[contact.pk])
    segment_services.static_add(segment=static_list, contact_ids=[contact.pk])

    assert triggers.enroll_segment_entries() == 1


def test_entries_while_a_flow_was_paused_do_not_enroll_when_it_resumes(make_flow, static_list):
    flow = make_flow({"type": "segment_entered", "segment": static_list.pk})
    triggers.start_cursor(flow)
    Flow.objects.filter(pk=flow.pk).update(status=Flow.Status.PAUSED)
    segment_services.static_add(segment=static_list, contact_ids=[ContactFactory().pk])
    assert triggers.enroll_segment_entries() == 0

    flow.refresh_from_db()
    flow.status = Flow.Status.ACTIVE
    flow.save()
    triggers.start_cursor(flow, include_existing=False)

    assert triggers.enroll_segment_entries() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers (PostgreSQL)")
def test_an_entry_still_being_written_is_not_skipped_for_one_committed_after_it():
    segment = segment_services.segment_create(name="VIP", kind="static", refresh=False)
    flow = Flow.objects.create(
        name="VIP welcome", trigger={"type": "segment_entered", "segment": segment.pk}, steps=WAIT, status="active"
    )
    triggers.start_cursor(flow)
    slow, quick = ContactFactory(), ContactFactory()
    inserted, release = threading.Event(), threading.Event()

    def slow_writer() -> None:
        try:
            with transaction.atomic():
                SegmentMembership.objects.create(segment=segment, contact=slow)  # the lower id, not committed
                inserted.set()
                release.wait(5)
        finally:
            connections.close_all()

    writer = threading.Thread(target=slow_writer)
    writer.start()
    assert inserted.wait(5)
    SegmentMembership.objects.create(segment=segment, contact=quick)  # a higher id, committed first
    threading.Timer(0.3, release.set).start()

    triggers.enroll_segment_entries()  # waits for the slow writer, then reads both
    writer.join()

    assert enrolled(flow) == {slow.pk, quick.pk}


# ------------------------------------------------------------------ event and purchase


def test_an_event_enrolls_its_contact_into_the_flows_of_that_event_type(make_flow, committed):
    carts = make_flow({"type": "event", "event": "add_to_cart"})
    views = make_flow({"type": "event", "event": "page_view"})
    contact = ContactFactory()

    with committed():
        track(contact, "add_to_cart")

    assert (enrolled(carts), enrolled(views)) == ({contact.pk}, set())


def test_a_failing_hook_handler_neither_undoes_the_event_nor_stops_the_flows(make_flow, committed, monkeypatch, caplog):
    def broken(contact_ids_by_type):
        raise RuntimeError("down")

    monkeypatch.setattr(contact_hooks, "_activities", [broken, *contact_hooks._activities])
    flow = make_flow({"type": "event", "event": "signup"})
    contact = ContactFactory()

    with committed():
        track(contact, "signup")

    assert contact.activities.count() == 1
    assert enrolled(flow) == {contact.pk}
    assert "Error calling test_a_failing_hook_handler" in caplog.text


@pytest.mark.parametrize(
    ("reentry", "days", "entered_days_ago", "enrolled_again"),
    [("never", None, 30, False), ("always", None, 0, True), ("after_days", 7, 3, False), ("after_days", 7, 8, True)],
)
def test_an_event_again_follows_the_reentry_rule(make_flow, committed, reentry, days, entered_days_ago, enrolled_again):
    flow = make_flow({"type": "event", "event": "signup"}, reentry=reentry, reentry_days=days)
    contact = ContactFactory()
    with committed():
        track(contact, "signup")
    finish(flow, entered_at=timezone.now() - dt.timedelta(days=entered_days_ago))

    with committed():
        track(contact, "signup")

    assert Enrollment.objects.filter(flow=flow).count() == 1 + int(enrolled_again)


def test_a_purchase_enrolls_into_flows_of_its_channel_and_of_any_channel(make_flow, committed):
    any_channel = make_flow({"type": "purchase"})
    online = make_flow({"type": "purchase", "channel": "online"})
    in_store = make_flow({"type": "purchase", "channel": "in_store"})
    contact = ContactFactory()

    with committed():
        buy(contact, channel="online")

    assert (enrolled(any_channel), enrolled(online), enrolled(in_store)) == ({contact.pk}, {contact.pk}, set())


def test_a_bulk_purchase_batch_enrolls_its_buyers_with_one_call_per_flow(
    make_flow, make_client, committed, monkeypatch
):
    ProductFactory(sku="LENS-30")
    any_channel = make_flow({"type": "purchase"})
    online = make_flow({"type": "purchase", "channel": "online"})
    in_store = make_flow({"type": "purchase", "channel": "in_store"})
    shoppers, visitors = [ContactFactory() for _ in range(4)], [ContactFactory() for _ in range(3)]
    batch = [
        {"external_id": f"W-{c.pk}", "source": "shop", "channel": "online", "contact": c.pk, "total": "10"}
        for c in shoppers
    ] + [
        {"external_id": f"S-{c.pk}", "source": "pos", "channel": "in_store", "contact": c.pk, "total": "10"}
        for c in visitors
    ]
    calls = []
    real_enroll = triggers.enroll
    monkeypatch.setattr(triggers, "enroll", lambda **kw: calls.append(kw["flow"].pk) or real_enroll(**kw))

    with committed():
        response = make_client().post("/api/v1/purchases/bulk/", {"purchases": batch}, format="json")

    assert response.json()["created"] == 7
    assert sorted(calls) == sorted([any_channel.pk, online.pk, in_store.pk])
    assert enrolled(any_channel) == {c.pk for c in shoppers + visitors}
    assert (enrolled(online), enrolled(in_store)) == ({c.pk for c in shoppers}, {c.pk for c in visitors})


def test_a_bulk_events_batch_enrolls_each_contact_by_its_own_event(make_flow, make_client, committed):
    carts = make_flow({"type": "event", "event": "add_to_cart"})
    carter, viewer = ContactFactory(), ContactFactory()
    events = [{"type": "add_to_cart", "contact": carter.pk}, {"type": "page_view", "contact": viewer.pk}]

    with committed():
        make_client().post("/api/v1/events/bulk/", {"events": events}, format="json")

    assert enrolled(carts) == {carter.pk}


def test_a_large_recorded_batch_is_split_into_tasks_and_enrolls_everyone(make_flow, monkeypatch):
    flow = make_flow({"type": "event", "event": "signup"})
    contacts = [ContactFactory() for _ in range(5)]
    monkeypatch.setattr(triggers, "RECORDED_PER_TASK", 2)

    triggers.activities_recorded({"signup": [c.pk for c in contacts], "page_view": [contacts[0].pk]})

    assert enrolled(flow) == {c.pk for c in contacts}


def test_holdout_is_about_the_share_asked_and_the_same_contacts_every_time(make_flow):
    flow = make_flow({"type": "event", "event": "signup"}, holdout_percent=20)
    ids = [c.pk for c in Contact.objects.bulk_create([Contact(email=f"h{n}@example.com") for n in range(500)])]

    assert triggers.enroll_recorded(trigger_type="event", contact_ids_by_key={"signup": ids}) == 500
    held = set(Enrollment.objects.filter(flow=flow, holdout=True).values_list("contact_id", flat=True))
    assert 0.15 <= len(held) / 500 <= 0.25
    Enrollment.objects.filter(flow=flow).delete()
    triggers.enroll_recorded(trigger_type="event", contact_ids_by_key={"signup": ids})
    assert set(Enrollment.objects.filter(flow=flow, holdout=True).values_list("contact_id", flat=True)) == held


def test_an_erased_contact_is_never_enrolled(make_flow):
    events = make_flow({"type": "event", "event": "signup"})
    birthdays = make_flow({"type": "date", "field": "birthday", "offset_days": 0, "time": "09:00"})
    contact = ContactFactory(birth_date=dt.date(1990, 3, 10))
    services.contact_erase(contact=contact)
    Contact.objects.filter(pk=contact.pk).update(birth_date=dt.date(1990, 3, 10))

    assert triggers.enroll_recorded(trigger_type="event", contact_ids_by_key={"signup": [contact.pk]}) == 0
    assert triggers.enroll_date_flows(TODAY) == 0
    assert enrolled(events) == enrolled(birthdays) == set()


# ------------------------------------------------------------------ date


def date_flow(make_flow, field: str = "birthday", offset: int = 0, **fields) -> Flow:
    return make_flow({"type": "date", "field": field, "offset_days": offset, "time": "10:30"}, **fields)


@pytest.mark.parametrize(
    ("field", "make_contact"),
    [
        ("birthday", lambda: ContactFactory(birth_date=dt.date(1990, 3, 10))),
        ("wedding_anniversary", lambda: ContactFactory(wedding_date=dt.date(2015, 3, 10))),
        ("signed_up", lambda: ContactFactory(signed_up_at=dt.datetime(2024, 3, 10, 23, 30, tzinfo=LOCAL))),
        ("club_joined", lambda: MemberFactory(joined_at=dt.datetime(2023, 3, 10, 8, 0, tzinfo=LOCAL)).contact),
    ],
)
def test_a_date_flow_enrolls_on_the_anniversary_at_its_local_time(make_flow, field, make_contact):
    flow = date_flow(make_flow, field)
    contact = make_contact()
    ContactFactory(birth_date=dt.date(1990, 3, 11), wedding_date=dt.date(2015, 3, 9))

    assert triggers.enroll_date_flows(TODAY) == 1
    enrollment = Enrollment.objects.get(flow=flow)
    assert enrollment.contact_id == contact.pk
    assert (enrollment.trigger_key, enrollment.run_at) == ("2026", dt.datetime(2026, 3, 10, 10, 30, tzinfo=LOCAL))


def test_signing_up_today_is_not_an_anniversary(make_flow):
    date_flow(make_flow, "signed_up")
    ContactFactory(signed_up_at=dt.datetime(2026, 3, 10, 8, 0, tzinfo=LOCAL))

    assert triggers.enroll_date_flows(TODAY) == 0


@pytest.mark.parametrize(
    ("offset", "birthday"),
    [(-3, dt.date(1990, 3, 13)), (2, dt.date(1990, 3, 8)), (0, dt.date(1990, 3, 10))],
)
def test_offset_days_before_or_after_the_anniversary(make_flow, offset, birthday):
    flow = date_flow(make_flow, offset=offset)
    contact = ContactFactory(birth_date=birthday)
    for other in (-4, -1, 1, 3):
        ContactFactory(birth_date=birthday + dt.timedelta(days=other))

    triggers.enroll_date_flows(TODAY)

    assert enrolled(flow) == {contact.pk}


def test_three_days_before_new_year_counts_for_the_next_year(make_flow):
    flow = date_flow(make_flow, offset=-3)
    ContactFactory(birth_date=dt.date(1990, 1, 1))

    triggers.enroll_date_flows(dt.date(2026, 12, 29))

    assert Enrollment.objects.get(flow=flow).trigger_key == "2027"


@pytest.mark.parametrize(
    ("today", "offset", "enrolled_then"),
    [
        (dt.date(2027, 2, 28), 0, True),
        (dt.date(2027, 2, 25), -3, True),
        (dt.date(2027, 3, 3), 3, True),
        (dt.date(2028, 2, 28), 0, False),
        (dt.date(2028, 2, 29), 0, True),
    ],
)
def test_29_february_counts_as_28_february_in_a_non_leap_year(make_flow, today, offset, enrolled_then):
    flow = date_flow(make_flow, offset=offset)
    leapling = ContactFactory(birth_date=dt.date(2000, 2, 29))

    triggers.enroll_date_flows(today)

    assert enrolled(flow) == ({leapling.pk} if enrolled_then else set())


def test_a_date_flow_enrolls_a_contact_once_per_year_however_often_it_runs(make_flow):
    flow = date_flow(make_flow, reentry="always")
    ContactFactory(birth_date=dt.date(1990, 3, 10))

    assert triggers.enroll_date_flows(TODAY) == 1
    assert triggers.enroll_date_flows(TODAY) == 0
    finish(flow)
    assert triggers.enroll_date_flows(TODAY) == 0
    assert triggers.enroll_date_flows(dt.date(2027, 3, 10)) == 1
    assert sorted(Enrollment.objects.filter(flow=flow).values_list("trigger_key", flat=True)) == ["2026", "2027"]


# ------------------------------------------------------------------ replenishment_due


def bought(contact: Contact, product, day: dt.date) -> None:
    purchase = PurchaseFactory(contact=contact, purchased_at=dt.datetime.combine(day, dt.time(12), tzinfo=LOCAL))
    PurchaseItemFactory(purchase=purchase, product=product)


@pytest.fixture
def lenses(db):
    return ProductFactory(sku="LENS-30", replenishment_days=30)


@pytest.mark.parametrize("days_before", [0, 3])
def test_replenishment_enrolls_when_the_last_purchase_is_due_that_many_days_ahead(make_flow, lenses, days_before):
    flow = make_flow({"type": "replenishment_due", "days_before": days_before}, reentry="always")
    due = TODAY + dt.timedelta(days=days_before)
    ready, rebought, later = ContactFactory(), ContactFactory(), ContactFactory()
    bought(ready, lenses, due - dt.timedelta(days=30))
    bought(rebought, lenses, due - dt.timedelta(days=30))
    bought(rebought, lenses, due - dt.timedelta(days=5))
    bought(later, lenses, due - dt.timedelta(days=29))

    assert triggers.enroll_replenishment_due(TODAY) == 1
    assert enrolled(flow) == {ready.pk}
    assert Enrollment.objects.get(flow=flow).trigger_key == f"due-{due.isoformat()}"
    finish(flow)
    assert triggers.enroll_replenishment_due(TODAY) == 0


def test_products_without_a_replenishment_cycle_never_enroll(make_flow):
    make_flow({"type": "replenishment_due", "days_before": 0})
    bought(ContactFactory(), ProductFactory(replenishment_days=None), TODAY - dt.timedelta(days=30))

    assert triggers.enroll_replenishment_due(TODAY) == 0


# ------------------------------------------------------------------ lifecycle_changed


def test_a_first_purchase_enrolls_into_the_new_customer_flow(make_flow, committed):
    new = make_flow({"type": "lifecycle_changed", "to": "new"})
    active = make_flow({"type": "lifecycle_changed", "to": "active"})
    contact = ContactFactory()

    with committed():
        buy(contact, external_id="first")
    with committed():
        buy(contact, external_id="second")

    assert (enrolled(new), enrolled(active)) == ({contact.pk}, set())


def test_a_lapsed_customer_who_buys_again_enrolls_into_the_active_flow_once(make_flow, committed):
    flow = make_flow({"type": "lifecycle_changed", "to": "active"}, reentry="always")
    with time_machine.travel(NOON, tick=False) as clock:
        triggers.start_cursor(flow)
        contact = ContactFactory()
        PurchaseFactory(contact=contact, purchased_at=NOON - dt.timedelta(days=400))
        services.contacts_refresh_purchase_stats(contact_ids=[contact.pk])
        clock.shift(dt.timedelta(minutes=30))

        with committed():
            buy(contact)
        assert enrolled(flow) == {contact.pk}
        finish(flow)
        clock.shift(dt.timedelta(minutes=30))

        assert triggers.enroll_lifecycle_by_time() == 0


def test_the_passage_of_time_moves_contacts_into_the_flow_once(make_flow):
    flow = make_flow({"type": "lifecycle_changed", "to": "at_risk"})
    first = NOON - dt.timedelta(days=400)
    with time_machine.travel(NOON, tick=False) as clock:
        triggers.start_cursor(flow)
        turning = ContactFactory(first_purchase_at=first, last_purchase_at=NOON - dt.timedelta(days=89))
        ContactFactory(first_purchase_at=first, last_purchase_at=NOON - dt.timedelta(days=100))  # at risk already
        ContactFactory(first_purchase_at=first, last_purchase_at=NOON - dt.timedelta(days=10))  # still active
        clock.shift(dt.timedelta(days=2))

        assert triggers.enroll_lifecycle_by_time() == 1
        assert triggers.enroll_lifecycle_by_time() == 0

    assert enrolled(flow) == {turning.pk}


def test_a_lifecycle_flow_never_started_counts_moves_from_its_first_run(make_flow):
    flow = make_flow({"type": "lifecycle_changed", "to": "lapsed"})
    first = NOON - dt.timedelta(days=400)
    with time_machine.travel(NOON, tick=False) as clock:
        ContactFactory(first_purchase_at=first, last_purchase_at=NOON - dt.timedelta(days=200))
        turning = ContactFactory(first_purchase_at=first, last_purchase_at=NOON - dt.timedelta(days=179))

        assert triggers.enroll_lifecycle_by_time() == 0
        clock.shift(dt.timedelta(days=2))
        assert triggers.enroll_lifecycle_by_time() == 1

    assert enrolled(flow) == {turning.pk}


# ------------------------------------------------------------------ only active flows


@pytest.mark.parametrize("status", [Flow.Status.DRAFT, Flow.Status.PAUSED, Flow.Status.ARCHIVED])
def test_flows_that_are_not_active_enroll_nobody(make_flow, static_list, lenses, committed, status):
    flows = [
        make_flow({"type": "segment_entered", "segment": static_list.pk, "include_existing": True}, status=status),
        make_flow({"type": "event", "event": "signup"}, status=status),
        make_flow({"type": "purchase"}, status=status),
        make_flow({"type": "lifecycle_changed", "to": "new"}, status=status),
        make_flow({"type": "date", "field": "birthday", "offset_days": 0}, status=status),
        make_flow({"type": "replenishment_due", "days_before": 0}, status=status),
    ]
    contact = ContactFactory(birth_date=dt.date(1990, 3, 10))
    bought(contact, lenses, TODAY - dt.timedelta(days=30))
    segment_services.static_add(segment=static_list, contact_ids=[contact.pk])
    for flow in flows:
        triggers.start_cursor(flow)

    with committed():
        track(contact, "signup")
        buy(ContactFactory())
    triggers.enroll_segment_entries()
    triggers.enroll_date_flows(TODAY)
    triggers.enroll_replenishment_due(TODAY)
    triggers.enroll_lifecycle_by_time()

    assert not Enrollment.objects.exists()
