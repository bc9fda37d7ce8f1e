import csv
import io

import pytest
from rest_framework.test import APIClient

from contacts.services import contact_upsert
from segments.models import Segment
from segments.services import segment_create
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db(transaction=True)
HAIFA = {"field": "city", "op": "eq", "value": "Haifa"}


@pytest.fixture
def api(make_client):
    return make_client("segments:read", "segments:write", "contacts:read")


def test_create_returns_the_segment_filled_with_its_members(api):
    ContactFactory(city="Haifa")
    response = api.post("/api/v1/segments/", {"name": "Haifa", "rules": HAIFA}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["id"] and body["kind"] == "dynamic" and body["member_count"] == 1


def test_bad_rules_are_a_400_naming_the_node(api):
    response = api.post(
        "/api/v1/segments/",
        {"name": "Bad", "rules": {"any": [{"field": "age", "op": "gte", "value": -3}]}},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["rules"][0].startswith("any[0].value")


def test_a_static_segment_needs_no_rules_and_takes_contacts(api):
    a, b = ContactFactory(), ContactFactory()
    created = api.post("/api/v1/segments/", {"name": "VIP event", "kind": "static"}, format="json").json()
    url = f"/api/v1/segments/{created['id']}/members/"
    added = api.post(url, {"contacts": [a.pk, b.pk]}, format="json")
    assert added.json() == {"changed": 2, "member_count": 2}
    removed = api.delete(url, {"contacts": [a.pk]}, format="json")
    assert removed.json() == {"changed": 1, "member_count": 1}
    members = api.get(url).json()
    assert [m["contact"] for m in members["results"]] == [b.pk]
    assert set(members["results"][0]) >= {"contact", "email", "joined_at"}
    assert "next" in members and "previous" in members


def test_adding_unknown_contacts_is_a_400_that_names_them(api):
    segment = segment_create(name="List", kind=Segment.Kind.STATIC)
    response = api.post(f"/api/v1/segments/{segment.pk}/members/", {"contacts": [424242]}, format="json")
    assert response.status_code == 400 and "424242" in response.json()["contacts"][0]


def test_live_count_and_members_of_a_dynamic_segment(api):
    ContactFactory(city="Haifa")
    segment = segment_create(name="Haifa", rules=HAIFA)
    contact_upsert(email="new@example.com", city="Haifa")
    assert api.get(f"/api/v1/segments/{segment.pk}/count/").json() == {"count": 2}
    assert len(api.get(f"/api/v1/segments/{segment.pk}/members/").json()["results"]) == 2


def test_patching_rules_re_evaluates_members(api):
    ContactFactory(city="Haifa")
    ContactFactory(city="Eilat")
    segment = segment_create(name="Haifa", rules=HAIFA)
    response = api.patch(
        f"/api/v1/segments/{segment.pk}/",
        {"rules": {"field": "city", "op": "in", "value": ["haifa", "eilat"]}},
        format="json",
    )
    assert response.status_code == 200
    segment.refresh_from_db()
    assert segment.member_count == 2


def test_deleting_a_segment_in_use_is_a_409(api):
    inner = segment_create(name="Inner", rules=HAIFA, refresh=False)
    segment_create(
        name="Outer", rules={"field": "in_segment", "op": "is", "value": True, "segment": inner.pk}, refresh=False
    )
    response = api.delete(f"/api/v1/segments/{inner.pk}/")
    assert response.status_code == 409 and "Outer" in response.json()["detail"]


@pytest.mark.parametrize("fmt, header", [("meta", "email"), ("google", "Email"), ("csv", "id")])
def test_export_streams_the_requested_format(api, fmt, header):
    ContactFactory(city="Haifa", email_opt_in=True)
    segment = segment_create(name="Haifa", rules=HAIFA)
    response = api.get(f"/api/v1/segments/{segment.pk}/export/?format={fmt}")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][0] == header and len(rows) == 2


def test_an_unknown_export_format_is_a_400(api):
    segment = segment_create(name="Haifa", rules=HAIFA, refresh=False)
    response = api.get(f"/api/v1/segments/{segment.pk}/export/?format=xls")
    assert response.status_code == 400 and "format" in response.json()


def test_the_condition_catalogue_lists_every_key_with_operators(api):
    body = api.get("/api/v1/segments/conditions/").json()
    by_key = {c["field"]: c for c in body}
    assert {"city", "age", "birthday", "purchase_count", "event", "cart_abandoned", "in_segment"} <= set(by_key)
    assert {o["op"] for o in by_key["purchase_count"]["operators"]} == {"gte", "lte", "eq", "between"}
    assert {e["key"] for e in by_key["purchase_count"]["extra"]} == {"days", "channel"}


def test_scopes_are_enforced(make_client):
    reader = make_client("segments:read")
    assert reader.get("/api/v1/segments/").status_code == 200
    assert reader.post("/api/v1/segments/", {"name": "x", "rules": HAIFA}, format="json").status_code == 403
    assert make_client("contacts:read").get("/api/v1/segments/").status_code == 403
    assert APIClient().get("/api/v1/segments/").status_code == 401
