"""When each contact last did each type of event (`LastEvent`, what "did X in the last N days" reads) equals a
reading of every event stored, however the events come and go: one at a time or in a bulk batch, earlier than
the contact's last one (sent late), at the very same instant, anonymous and then identified, merged into another
contact, moved to another type or time by hand, deleted one by one or in bulk, or with their contact. The rows
are kept by database triggers; this runs on SQLite and on PostgreSQL alike."""

import datetime as dt
import importlib
from types import SimpleNamespace

import pytest
import time_machine
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contacts.ingest import activities_track_bulk, activity_ingest
from contacts.merging import merge
from contacts.models import Activity, Contact, LastEvent
from contacts.services import contact_delete, contact_erase
from contacts.services.activities import identify
from segments.selectors import rules_contacts
from tests.concurrency import write_held_until_waited_on
from tests.examples import rolled_back

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 1, 9, 30, tzinfo=dt.UTC)
CONTACTS = 3
TYPES = ["product_view", "add_to_cart", "page_view"]
EXAMPLES = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))

event = st.fixed_dictionaries(
    {
        "who": st.one_of(st.integers(0, CONTACTS - 1), st.sampled_from(["visitor-a", "visitor-b"])),
        "type": st.sampled_from(TYPES),
        "days": st.sampled_from([0, 1, 7, 8, 40]),  # often the same instant: ties and late events
    }
)
step = st.one_of(
    st.tuples(st.just("one"), event),
    st.tuples(st.just("bulk"), st.lists(event, min_size=1, max_size=5)),
    st.tuples(st.just("identify"), st.sampled_from(["visitor-a", "visitor-b"]), st.integers(0, CONTACTS - 1)),
    st.tuples(st.just("merge"), st.integers(0, CONTACTS - 1), st.integers(0, CONTACTS - 1)),
    st.tuples(st.just("retype"), st.integers(0, 50), st.sampled_from(TYPES), st.sampled_from([0, 3, 60])),
    st.tuples(st.just("delete"), st.integers(0, 50)),
    st.tuples(st.just("delete_type"), st.sampled_from(TYPES)),
    st.tuples(st.just("erase"), st.integers(0, CONTACTS - 1)),
    st.tuples(st.just("delete_contact"), st.integers(0, CONTACTS - 1)),
)


def stored() -> set[tuple]:
    return set(LastEvent.objects.values_list("contact_id", "type", "occurred_at"))


def reference() -> set[tuple]:
    """Each contact's latest event of each type, in plain Python."""
    latest: dict[tuple, dt.datetime] = {}
    for contact, kind, at in Activity.objects.filter(contact__isnull=False).values_list(
        "contact_id", "type", "occurred_at"
    ):
        if (contact, kind) not in latest or at > latest[(contact, kind)]:
            latest[(contact, kind)] = at
    return {(contact, kind, at) for (contact, kind), at in latest.items()}


def item(spec: dict, contacts: list[int]) -> dict:
    who = spec["who"]
    data = {"type": spec["type"], "occurred_at": (NOW - dt.timedelta(days=spec["days"])).isoformat()}
    if isinstance(who, int):
        data["contact"] = contacts[who]
    else:
        data["anonymous_id"] = who
    return data


def alive(contacts: list[int], n: int) -> Contact | None:
    return Contact.objects.filter(pk=contacts[n], erased_at__isnull=True).first()


def apply(action: tuple, contacts: list[int]) -> None:
    kind, *args = action
    events = list(Activity.objects.order_by("pk").values_list("pk", flat=True))
    if kind == "one":
        who = args[0]["who"]
        if isinstance(who, int) and not alive(contacts, who):
            return
        activity_ingest(data=item(args[0], contacts))
    elif kind == "bulk":
        activities_track_bulk(items=[item(spec, contacts) for spec in args[0]])
    elif kind == "identify" and (contact := alive(contacts, args[1])):
        identify(anonymous_id=args[0], contact=contact)
    elif kind == "merge" and args[0] != args[1]:
        survivor, duplicate = alive(contacts, args[0]), alive(contacts, args[1])
        if survivor and duplicate:
            merge(survivor=survivor, duplicate=duplicate)
    elif kind == "retype" and events:
        Activity.objects.filter(pk=events[args[0] % len(events)]).update(
            type=args[1], occurred_at=NOW - dt.timedelta(days=args[2])
        )
    elif kind == "delete" and events:
        Activity.objects.filter(pk=events[args[0] % len(events)]).delete()
    elif kind == "delete_type":
        Activity.objects.filter(type=args[0]).delete()
    elif kind == "erase" and (contact := alive(contacts, args[0])):
        contact_erase(contact=contact)
    elif kind == "delete_contact" and (contact := Contact.objects.filter(pk=contacts[args[0]]).first()):
        contact_delete(contact=contact)


@EXAMPLES
@given(steps=st.lists(step, min_size=1, max_size=8))
def test_the_last_event_of_each_type_equals_a_reading_of_every_event(steps):
    with rolled_back():
        contacts = [Contact.objects.create(email=f"visitor{n}@example.com").pk for n in range(CONTACTS)]
        for action in steps:
            apply(action, contacts)
            assert stored() == reference(), action


def test_a_late_event_keeps_the_later_one_and_a_deleted_last_event_falls_back():
    ann = Contact.objects.create(email="ann@example.com")
    activity_ingest(data={"contact": ann.pk, "type": "product_view", "occurred_at": NOW.isoformat()})
    activity_ingest(
        data={"contact": ann.pk, "type": "product_view", "occurred_at": (NOW - dt.timedelta(days=9)).isoformat()}
    )
    assert stored() == {(ann.pk, "product_view", NOW)}

    Activity.objects.filter(occurred_at=NOW).delete()
    assert stored() == {(ann.pk, "product_view", NOW - dt.timedelta(days=9))}
    Activity.objects.all().delete()
    assert stored() == set()


def test_an_erasure_keeps_the_rows_and_a_deleted_contact_leaves_none():
    ann, ben = (Contact.objects.create(email=f"{name}@example.com") for name in ("ann", "ben"))
    activities_track_bulk(
        items=[
            {"contact": who.pk, "type": kind, "occurred_at": NOW.isoformat(), "url": "https://shop.example/p/1"}
            for who in (ann, ben)
            for kind in ("product_view", "add_to_cart")
        ]
    )
    contact_erase(contact=ann)  # blanks the events' URLs and properties: their contact, type and time stay
    contact_delete(contact=ben)
    assert stored() == reference() == {(ann.pk, "product_view", NOW), (ann.pk, "add_to_cart", NOW)}


@time_machine.travel(NOW, tick=False)
def test_the_condition_reads_the_last_event_within_the_window():
    ann, ben = (Contact.objects.create(email=f"{name}@example.com") for name in ("ann", "ben"))
    for who, days in ((ann, 3), (ann, 40), (ben, 40)):
        activity_ingest(
            data={"contact": who.pk, "type": "product_view", "occurred_at": (NOW - dt.timedelta(days=days)).isoformat()}
        )
    rules = {"field": "event", "op": "count_gte", "value": 1, "event": "product_view", "days": 30}
    assert set(rules_contacts(rules).values_list("pk", flat=True)) == {ann.pk}
    assert set(rules_contacts({"not": rules}).values_list("pk", flat=True)) == {ben.pk}
    assert set(rules_contacts({**rules, "days": None}).values_list("pk", flat=True)) == {ann.pk, ben.pk}


def test_the_migration_fills_the_table_from_the_events_stored():
    ann = Contact.objects.create(email="ann@example.com")
    activities_track_bulk(
        items=[
            {"contact": ann.pk, "type": "page_view", "occurred_at": (NOW - dt.timedelta(days=d)).isoformat()}
            for d in (1, 5)
        ]
    )
    LastEvent.objects.all().delete()
    migration = importlib.import_module("contacts.migrations.0018_last_event")
    with connection.cursor() as cursor:
        editor = SimpleNamespace(execute=lambda sql, params=(): cursor.execute(sql, params), connection=connection)
        migration.install(None, editor)
    assert stored() == reference() == {(ann.pk, "page_view", NOW - dt.timedelta(days=1))}


def test_identified_and_merged_events_move_their_last_times():
    ann, ben = (Contact.objects.create(email=f"{name}@example.com") for name in ("ann", "ben"))
    activities_track_bulk(
        items=[
            {"anonymous_id": "visitor-a", "type": "product_view", "occurred_at": NOW.isoformat()},
            {"contact": ben.pk, "type": "add_to_cart", "occurred_at": NOW.isoformat()},
            {"contact": ben.pk, "type": "product_view", "occurred_at": (NOW - dt.timedelta(days=2)).isoformat()},
        ]
    )
    assert stored() == {(ben.pk, "add_to_cart", NOW), (ben.pk, "product_view", NOW - dt.timedelta(days=2))}

    identify(anonymous_id="visitor-a", contact=ann)
    assert stored() == reference()
    assert (ann.pk, "product_view", NOW) in stored()

    merge(survivor=ann, duplicate=ben)
    assert stored() == reference() == {(ann.pk, "product_view", NOW), (ann.pk, "add_to_cart", NOW)}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers (PostgreSQL)")
def test_an_event_stored_while_the_last_one_is_deleted_is_not_overwritten():
    """The deleting transaction reads the remaining events only once it holds the row, so an event that a
    concurrent batch stored meanwhile counts."""
    ann = Contact.objects.create(email="ann@example.com")
    for days in (1, 9):
        activity_ingest(
            data={"contact": ann.pk, "type": "product_view", "occurred_at": (NOW - dt.timedelta(days=days)).isoformat()}
        )
    batch, stored_one, errors = write_held_until_waited_on(
        lambda: activity_ingest(data={"contact": ann.pk, "type": "product_view", "occurred_at": NOW.isoformat()})
    )
    assert stored_one.wait(10)
    Activity.objects.filter(occurred_at=NOW - dt.timedelta(days=1)).delete()
    batch.join()

    assert errors == []
    assert stored() == reference() == {(ann.pk, "product_view", NOW)}
