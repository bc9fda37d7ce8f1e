"""Bulk batches queue their events to be stored by a worker (`contacts.event_queue`): until then nothing derives
from them; once stored, each event is stored once — whoever stores it, however often, whatever happened to its
contact or product meanwhile (a merge, an erasure, a deletion, an anonymous visitor identified, the same event id
sent again). Runs on SQLite and on PostgreSQL alike; the suite's own tasks run in-process, so these tests turn
that off."""

import datetime as dt

import pytest
from django.test import override_settings

from campaigns.reports.models import DistinctDay
from contacts import event_queue, hooks, tasks
from contacts.ingest.events import activities_track_bulk, activity_ingest
from contacts.merging import merge
from contacts.models import Activity, Contact, FunnelStage, LastEvent, Product, QueuedActivity
from contacts.services import contact_erase, identify
from contacts.signals import contacts_changed
from crm.runtime.periodic import jobs
from tests.factories import ContactFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("queued")]

AT = dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)


@pytest.fixture
def queued():
    with override_settings(CELERY_TASK_ALWAYS_EAGER=False):
        yield


def post(*items: dict) -> dict:
    answer = activities_track_bulk(items=[{"occurred_at": AT.isoformat(), **item} for item in items])
    assert answer["errors"] == [], answer["errors"]
    return answer


def stage(contact: Contact) -> int:
    contact.refresh_from_db()
    return contact.funnel_stage


def test_a_batch_is_queued_then_stored_once(django_capture_on_commit_callbacks):
    ann = ContactFactory()
    with django_capture_on_commit_callbacks() as scheduled:
        answer = post(
            {"contact": ann.pk, "type": "add_to_cart", "event_id": "e-1", "url": "https://shop.example/p/1"},
            {"anonymous_id": "visitor-1", "type": "page_view", "event_id": "e-2"},
        )

    assert answer == {"created": 2, "duplicates": 0, "errors": []}
    assert len(scheduled) == 1  # the storing task, once the batch commits
    assert QueuedActivity.objects.count() == 2
    assert not Activity.objects.exists()
    assert stage(ann) < FunnelStage.CART

    assert event_queue.activities_store_queued() == 2
    assert event_queue.activities_store_queued() == 0
    assert not QueuedActivity.objects.exists()
    stored = {a.event_id: a for a in Activity.objects.all()}
    assert (stored["e-1"].contact_id, stored["e-1"].url, stored["e-1"].occurred_at) == (
        ann.pk,
        "https://shop.example/p/1",
        AT,
    )
    assert (stored["e-2"].contact_id, stored["e-2"].anonymous_id) == (None, "visitor-1")
    assert stage(ann) == FunnelStage.CART
    # what the events table's triggers keep is kept as the worker stores
    assert LastEvent.objects.filter(contact=ann, type="add_to_cart", occurred_at=AT).exists()
    assert DistinctDay.objects.filter(member="visitor-1").exists()


def test_an_event_id_is_accepted_once_queued_or_stored():
    ben = ContactFactory()
    post({"contact": ben.pk, "type": "page_view", "event_id": "b-1"})
    again = post({"contact": ben.pk, "type": "page_view", "event_id": "b-1"}, {"contact": ben.pk, "type": "signup"})
    assert (again["created"], again["duplicates"]) == (1, 1)

    event_queue.activities_store_queued()
    once_more = post({"contact": ben.pk, "type": "page_view", "event_id": "b-1"})
    assert (once_more["created"], once_more["duplicates"]) == (0, 1)
    assert Activity.objects.filter(event_id="b-1").count() == 1
    assert Activity.objects.filter(contact=ben).count() == 2


def test_an_event_id_stored_meanwhile_by_the_single_endpoint_is_stored_once(django_capture_on_commit_callbacks):
    heard: list[dict] = []
    hooks.on_activities_recorded(heard.append)
    try:
        cat = ContactFactory()
        post(
            {"contact": cat.pk, "type": "product_view", "event_id": "c-1"},
            {"contact": cat.pk, "type": "add_to_cart", "event_id": "c-2"},
        )
        with django_capture_on_commit_callbacks(execute=True):
            activity_ingest(data={"contact": cat.pk, "type": "product_view", "event_id": "c-1"})
        heard.clear()  # the single endpoint's own event

        with django_capture_on_commit_callbacks(execute=True):
            assert event_queue.activities_store_queued() == 2  # both taken off the queue ...
        assert Activity.objects.filter(event_id="c-1").count() == 1
        assert heard == [{"add_to_cart": [cat.pk]}]  # ... only the one stored is told of, on either database
    finally:
        hooks._activities.remove(heard.append)


def test_queued_events_follow_a_merge_to_the_survivor(django_capture_on_commit_callbacks):
    ann, twin = ContactFactory(), ContactFactory()
    post({"contact": twin.pk, "type": "add_to_cart", "event_id": "m-1"})

    with django_capture_on_commit_callbacks(execute=True):
        merge(survivor=ann, duplicate=twin)
    event_queue.activities_store_queued()

    assert Activity.objects.get(event_id="m-1").contact_id == ann.pk
    assert stage(ann) == FunnelStage.CART


def test_an_erasure_before_the_storing_stores_the_event_scrubbed():
    dan = ContactFactory()
    post(
        {
            "contact": dan.pk,
            "type": "page_view",
            "event_id": "d-1",
            "anonymous_id": "dan-phone",
            "url": "https://shop.example/p/dan",
            "properties": {"search": "dan's address"},
        }
    )
    contact_erase(contact=dan)
    event_queue.activities_store_queued()

    event = Activity.objects.get(contact=dan)
    assert (event.url, event.properties, event.anonymous_id, event.event_id) == ("", {}, None, None)


def test_an_erasure_while_queued_after_the_queue_was_scrubbed_stays_scrubbed():
    """Erasure scrubs the queued rows themselves: nothing of them waits in the queue either."""
    eve = ContactFactory()
    post({"contact": eve.pk, "type": "page_view", "event_id": "eve-1", "url": "https://shop.example/eve"})
    contact_erase(contact=eve)
    assert QueuedActivity.objects.get().url == ""
    assert QueuedActivity.objects.get().event_id is None


def test_a_contact_deleted_before_the_storing_leaves_the_visitors_event():
    fay = ContactFactory()
    post({"contact": fay.pk, "type": "page_view", "anonymous_id": "fay-laptop", "event_id": "f-1"})
    fay.delete()
    event_queue.activities_store_queued()

    event = Activity.objects.get(event_id="f-1")
    assert (event.contact_id, event.anonymous_id) == (None, "fay-laptop")


def test_a_visitor_identified_before_the_storing_gets_its_event():
    gil = ContactFactory()
    post({"anonymous_id": "gil-phone", "type": "add_to_cart", "event_id": "g-1"})
    identify(anonymous_id="gil-phone", contact=gil)
    event_queue.activities_store_queued()

    assert Activity.objects.get(event_id="g-1").contact_id == gil.pk
    assert stage(gil) == FunnelStage.CART


def test_a_product_deleted_before_the_storing_is_left_out_of_the_event():
    product = Product.objects.create(sku="SKU-GONE", name="Gone")
    hal = ContactFactory()
    post({"contact": hal.pk, "type": "product_view", "product": "SKU-GONE", "event_id": "h-1"})
    product.delete()
    event_queue.activities_store_queued()

    assert Activity.objects.get(event_id="h-1").product_id is None


def test_the_oldest_are_stored_first_and_a_limit_is_kept():
    ida = ContactFactory()
    post(*({"contact": ida.pk, "type": "page_view", "event_id": f"i-{n}"} for n in range(5)))

    assert event_queue.activities_store_queued(limit=2) == 2
    assert set(Activity.objects.values_list("event_id", flat=True)) == {"i-0", "i-1"}
    assert event_queue.activities_store_queued() == 3


def test_automations_hear_of_the_events_once_they_are_stored(django_capture_on_commit_callbacks):
    heard: list[dict] = []
    hooks.on_activities_recorded(heard.append)
    try:
        jon = ContactFactory()
        with django_capture_on_commit_callbacks(execute=True):
            post({"contact": jon.pk, "type": "add_to_cart"})
        assert heard == []
        with django_capture_on_commit_callbacks(execute=True):
            event_queue.activities_store_queued()
        assert heard == [{"add_to_cart": [jon.pk]}]
    finally:
        hooks._activities.remove(heard.append)


def test_only_the_contacts_whose_stage_moved_are_heard_as_changed(django_capture_on_commit_callbacks):
    changed: list[list[int]] = []

    def heard(sender, contact_ids, **kwargs):
        changed.append(list(contact_ids))

    contacts_changed.connect(heard)
    try:
        ann, bob, cid = ContactFactory(), ContactFactory(), ContactFactory()
        Contact.objects.filter(pk__in=[ann.pk, bob.pk]).update(funnel_stage=FunnelStage.CART)
        post(
            {"contact": ann.pk, "type": "product_view"},  # below where she is: no move
            {"contact": bob.pk, "type": "add_to_cart"},  # where he is: no move
            {"contact": cid.pk, "type": "add_to_cart"},  # moves up
        )
        with django_capture_on_commit_callbacks(execute=True):
            event_queue.activities_store_queued()
        assert changed == [[cid.pk]]
        changed.clear()
        post({"contact": ann.pk, "type": "page_view"}, {"contact": cid.pk, "type": "product_view"})
        with django_capture_on_commit_callbacks(execute=True):
            event_queue.activities_store_queued()
        assert changed == []  # no one moved
    finally:
        contacts_changed.disconnect(heard)


def test_the_task_stores_until_the_queue_is_empty_and_the_beat_runs_it(monkeypatch):
    monkeypatch.setattr(event_queue, "BATCH", 2)
    kim = ContactFactory()
    post(*({"contact": kim.pk, "type": "page_view"} for _ in range(5)))

    assert tasks.store_events_task() == {"stored": 5}
    assert Activity.objects.filter(contact=kim).count() == 5
    assert tasks.STORE_EVENTS_TASK in {job.task for job in jobs()}


def test_without_a_worker_a_batch_stores_its_events_in_its_own_transaction():
    lea = ContactFactory()
    with override_settings(CELERY_TASK_ALWAYS_EAGER=True):
        post({"contact": lea.pk, "type": "add_to_cart", "event_id": "l-1"})
    assert not QueuedActivity.objects.exists()
    assert Activity.objects.filter(event_id="l-1", contact=lea).exists()
    assert stage(lea) == FunnelStage.CART
