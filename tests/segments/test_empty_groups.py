"""`{"any": []}` matches no one and `{"all": []}` everyone, on every path that evaluates a segment."""

import csv
import io

import pytest
from django.core.management import call_command

from contacts import services as contact_services
from segments import services
from segments.models import Segment, SegmentMembership
from segments.tasks import refresh_dynamic_segments
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db(transaction=True)

EVERYONE = {"all": []}
NO_ONE = {"any": []}


@pytest.fixture
def api(make_client):
    return make_client("segments:read", "segments:write", "contacts:read")


@pytest.fixture
def people():
    return {ContactFactory(city="Haifa", email_opt_in=True).pk, ContactFactory(city="Eilat", email_opt_in=True).pk}


def members(segment):
    return set(
        SegmentMembership.objects.filter(segment=segment, left_at__isnull=True).values_list("contact_id", flat=True)
    )


def export_ids(api, segment):
    response = api.get(f"/api/v1/segments/{segment.pk}/export/?format=csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    return {int(row[0]) for row in rows[1:]}


@pytest.mark.parametrize("rules", [NO_ONE, {"all": [NO_ONE]}, {"not": EVERYONE}])
def test_rules_matching_no_one_are_saved_counted_refreshed_and_exported_as_empty(api, people, rules):
    response = api.post("/api/v1/segments/", {"name": "Nobody", "rules": rules}, format="json")
    assert response.status_code == 201, response.json()
    segment = Segment.objects.get(pk=response.json()["id"])

    assert api.get(f"/api/v1/segments/{segment.pk}/count/").json() == {"count": 0}
    assert services.segment_refresh(segment=segment).members == 0
    assert api.get(f"/api/v1/segments/{segment.pk}/members/").json()["results"] == []
    assert export_ids(api, segment) == set()
    segment.refresh_from_db()
    assert not segment.is_failing


@pytest.mark.parametrize("rules", [EVERYONE, {"any": [EVERYONE]}, {"not": NO_ONE}])
def test_rules_matching_everyone_are_saved_counted_refreshed_and_exported_in_full(api, people, rules):
    response = api.post("/api/v1/segments/", {"name": "Everybody", "rules": rules}, format="json")
    assert response.status_code == 201, response.json()
    segment = Segment.objects.get(pk=response.json()["id"])

    assert api.get(f"/api/v1/segments/{segment.pk}/count/").json() == {"count": 2}
    assert services.segment_refresh(segment=segment).members == 2
    listed = api.get(f"/api/v1/segments/{segment.pk}/members/").json()["results"]
    assert {m["contact"] for m in listed} == people
    assert export_ids(api, segment) == people


def test_a_contact_write_re_evaluates_it_against_empty_groups():
    everyone = services.segment_create(name="Everyone", rules=EVERYONE)
    no_one = services.segment_create(name="No one", rules=NO_ONE)
    contact, created = contact_services.contact_upsert(email="new@example.com", city="Haifa")
    assert created
    assert contact.pk in members(everyone)
    assert contact.pk not in members(no_one)
    assert services.segments_refresh_contacts(contact_ids=[contact.pk]) == {"entered": 0, "left": 0, "failed": 0}


def test_the_refresh_command_and_the_periodic_task_handle_empty_groups(people, capsys):
    everyone = services.segment_create(name="Everyone", rules=EVERYONE, refresh=False)
    no_one = services.segment_create(name="No one", rules=NO_ONE, refresh=False)
    call_command("refresh_segments")
    assert members(everyone) == people and members(no_one) == set()
    assert "Everyone: 2 members" in capsys.readouterr().out

    ContactFactory(city="Acre")
    assert refresh_dynamic_segments.delay().get() == 2
    assert len(members(everyone)) == 3 and members(no_one) == set()


def test_an_in_segment_condition_pointing_at_an_empty_any_matches_no_one(people):
    no_one = services.segment_create(name="No one", rules=NO_ONE)
    outside = services.segment_create(
        name="Not in no one", rules={"field": "in_segment", "op": "is", "value": False, "segment": no_one.pk}
    )
    inside = services.segment_create(
        name="In no one", rules={"field": "in_segment", "op": "is", "value": True, "segment": no_one.pk}
    )
    assert members(outside) == people and members(inside) == set()
