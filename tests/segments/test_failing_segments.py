"""One broken segment never stops the others from refreshing, nor a contact write: it is marked
failing (admin, API, log), keeps its members, and is cleared once it evaluates again."""

import dataclasses
import logging

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.db.models import BooleanField, Q
from django.db.models.expressions import RawSQL
from django.urls import reverse

from contacts import services as contact_services
from contacts.models import Contact
from segments import registry, services
from segments.models import Segment, SegmentMembership
from segments.tasks import refresh_dynamic_segments
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db(transaction=True)

HAIFA = {"field": "city", "op": "eq", "value": "Haifa"}
NORTH = {"field": "region", "op": "eq", "value": "North"}


def members(segment):
    return set(
        SegmentMembership.objects.filter(segment=segment, left_at__isnull=True).values_list("contact_id", flat=True)
    )


def break_region(monkeypatch, how):
    """Make the `region` condition fail: at compile time, or only when the database runs it."""
    if how == "compile":

        def compile_region(cond, ctx):
            raise KeyError("lookup table missing")
    else:

        def compile_region(cond, ctx):
            return Q(RawSQL("no_such_column = 1", [], output_field=BooleanField()))

    monkeypatch.setitem(
        registry.conditions(), "region", dataclasses.replace(registry.get("region"), compile=compile_region)
    )


@pytest.fixture
def segments():
    """A segment that works, one that will break (members already recorded), another that works."""
    northerner = ContactFactory(city="Eilat", region="North")
    first = services.segment_create(name="Haifa A", rules=HAIFA)
    broken = services.segment_create(name="North", rules=NORTH)
    last = services.segment_create(name="Haifa B", rules=HAIFA)
    assert members(broken) == {northerner.pk}
    return first, broken, last


def assert_marked(segment, *words):
    segment.refresh_from_db()
    assert segment.is_failing and segment.last_error_at is not None
    assert all(word in segment.last_error for word in words), segment.last_error


@pytest.mark.parametrize("how", ["compile", "database"])
def test_the_refresh_command_refreshes_the_others_marks_the_broken_one_and_exits_non_zero(
    segments, monkeypatch, how, capsys, caplog
):
    first, broken, last = segments
    haifa = ContactFactory(city="Haifa")
    Contact.objects.filter(pk=haifa.pk).update(city="Haifa")  # not seen by per-contact re-evaluation yet
    SegmentMembership.objects.filter(contact=haifa).delete()
    break_region(monkeypatch, how)

    with caplog.at_level(logging.ERROR, logger="segments"), pytest.raises(CommandError, match=str(broken.pk)):
        call_command("refresh_segments")

    assert members(first) == members(last) == {haifa.pk}
    assert_marked(broken, "KeyError" if how == "compile" else "no_such_column")
    assert len(members(broken)) == 1, "a failing segment keeps its members"
    assert f"(id {broken.pk}) failed" in capsys.readouterr().err
    assert any(f"segment {broken.pk}" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize("how", ["compile", "database"])
def test_the_periodic_task_carries_on_past_a_broken_segment(segments, monkeypatch, how):
    first, broken, last = segments
    haifa = ContactFactory(city="Eilat")
    Contact.objects.filter(pk=haifa.pk).update(city="Haifa")
    break_region(monkeypatch, how)

    refresh_dynamic_segments.delay()

    assert haifa.pk in members(first) and haifa.pk in members(last)
    assert_marked(broken)


@pytest.mark.parametrize("how", ["compile", "database"])
def test_a_contact_write_succeeds_and_re_evaluates_the_other_segments(segments, monkeypatch, how, make_client):
    first, broken, last = segments
    break_region(monkeypatch, how)
    contact = ContactFactory(city="Eilat", region="North")

    contact_services.contact_update(contact=contact, city="Haifa")

    contact.refresh_from_db()
    assert contact.city == "Haifa"
    assert contact.pk in members(first) and contact.pk in members(last)
    assert_marked(broken)
    assert len(members(broken)) == 1, "members of a failing segment are not dropped"

    api = make_client("contacts:read", "contacts:write")
    response = api.patch(f"/api/v1/contacts/{contact.pk}/", {"city": "Acre"}, format="json")
    assert response.status_code == 200
    assert contact.pk not in members(first)


def test_a_stored_tree_that_no_longer_compiles_is_isolated_on_every_path(segments, make_client):
    first, broken, last = segments
    Segment.objects.filter(pk=broken.pk).update(rules={"all": [{"field": "retired_key", "op": "eq", "value": 1}]})
    contact, _created = contact_services.contact_upsert(email="new@example.com", city="Haifa")
    assert contact.pk in members(first) and contact.pk in members(last)
    assert_marked(broken)

    assert services.segments_refresh_all()[first.pk].members == 1
    api = make_client("segments:read")
    count = api.get(f"/api/v1/segments/{broken.pk}/count/")
    assert count.status_code == 409
    assert api.get(f"/api/v1/segments/{broken.pk}/").json()["failing"] is True
    assert api.get(f"/api/v1/segments/{first.pk}/count/").json() == {"count": 1}


def test_a_segment_is_cleared_once_it_evaluates_again(segments, monkeypatch):
    _first, broken, _last = segments
    break_region(monkeypatch, "database")
    with pytest.raises(services.SegmentFailed):
        services.segment_refresh(segment=broken)
    assert_marked(broken)

    monkeypatch.undo()
    services.segment_refresh(segment=broken)
    broken.refresh_from_db()
    assert not broken.is_failing and broken.last_error == ""


def test_per_contact_re_evaluation_clears_the_mark_when_the_segment_works_again(segments):
    _first, broken, _last = segments
    Segment.objects.filter(pk=broken.pk).update(last_error="OperationalError: gone", last_error_at=broken.created_at)
    contact = ContactFactory(city="Eilat")
    contact_services.contact_update(contact=contact, region="North")
    broken.refresh_from_db()
    assert not broken.is_failing
    assert contact.pk in members(broken)


def test_the_admin_shows_failing_segments_in_the_list_and_on_their_page(segments, monkeypatch, admin_client):
    first, broken, _last = segments
    break_region(monkeypatch, "compile")
    services.segments_refresh_all()

    listing = admin_client.get(reverse("admin:segments_segment_changelist")).content.decode()
    assert listing.count('class="segment-failing"') == 1
    failing_only = admin_client.get(reverse("admin:segments_segment_changelist") + "?failing=yes").content.decode()
    assert "North" in failing_only and "Haifa A" not in failing_only
    page = admin_client.get(reverse("admin:segments_segment_change", args=[broken.pk])).content.decode()
    assert "could not be evaluated" in page and "KeyError" in page
    healthy = admin_client.get(reverse("admin:segments_segment_change", args=[first.pk])).content.decode()
    assert "could not be evaluated" not in healthy


def test_the_admin_refresh_action_reports_the_broken_segment_and_refreshes_the_rest(
    segments, monkeypatch, admin_client
):
    first, broken, last = segments
    haifa = ContactFactory(city="Eilat")
    Contact.objects.filter(pk=haifa.pk).update(city="Haifa")
    break_region(monkeypatch, "database")
    response = admin_client.post(
        reverse("admin:segments_segment_changelist"),
        {"action": "refresh_selected", "_selected_action": [first.pk, broken.pk, last.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "could not be evaluated" in response.content.decode()
    assert haifa.pk in members(first) and haifa.pk in members(last)
    assert_marked(broken)


def test_a_contact_write_stands_even_when_the_whole_re_evaluation_breaks(segments, monkeypatch, caplog):
    def unavailable(**kwargs):
        raise RuntimeError("evaluation unavailable")

    monkeypatch.setattr(services, "segments_refresh_contacts", unavailable)
    contact = ContactFactory(city="Eilat")
    with caplog.at_level(logging.ERROR, logger="segments"):
        contact_services.contact_update(contact=contact, city="Haifa")
    contact.refresh_from_db()
    assert contact.city == "Haifa"
    assert any("changed contacts failed" in record.getMessage() for record in caplog.records)


def test_a_database_error_in_one_segment_leaves_the_surrounding_transaction_usable(segments, monkeypatch):
    first, broken, last = segments
    haifa = ContactFactory(city="Haifa")
    break_region(monkeypatch, "database")
    with transaction.atomic():
        with pytest.raises(services.SegmentFailed):
            services.segment_refresh(segment=broken)
        assert services.segment_refresh(segment=first).members == 1
        assert services.segments_refresh_contacts(contact_ids=[haifa.pk])["failed"] == 1
        assert haifa.pk in members(last)
    assert_marked(broken)
