"""Input the database cannot take is a 400 in the error shape before any query runs, on SQLite and PostgreSQL."""

import base64
import json

import pytest
from django.db import connection

from tests.factories import ActivityFactory, ContactFactory, MemberFactory

pytestmark = pytest.mark.django_db

EVENTS = "/api/v1/events/"
MEMBERS = "/api/v1/club-members/"


def cursor(query: str) -> str:
    return base64.b64encode(query.encode()).decode()


def assert_still_usable() -> None:
    """The connection (and on PostgreSQL the test's transaction) still answers queries."""
    with connection.cursor() as db:
        db.execute("SELECT 1")
        assert db.fetchone() == (1,)


def test_the_fuzzed_event_filter_with_an_odd_offset_is_answered_without_a_database_error(api):
    ActivityFactory(anonymous_id="/atY~$bwQ")

    response = api.get(EVENTS + "?occurred_after=0009-07-19T22%3A08%3A09%2B20%3A14&anonymous_id=%2FatY~%24bwQ")

    assert response.status_code == 200
    assert len(response.json()["results"]) == 1
    assert api.get(MEMBERS).status_code == 200
    assert_still_usable()


@pytest.mark.parametrize(
    "query",
    [
        "occurred_after=0001-01-01T00%3A00%3A00%2B05%3A00",
        "occurred_before=9999-12-31T23%3A59%3A59-05%3A00",
    ],
)
def test_a_datetime_outside_the_years_the_database_stores_is_a_400(api, query):
    response = api.get(f"{EVENTS}?{query}")

    assert response.status_code == 400
    field = query.split("=")[0]
    assert response.json()["error_codes"][field] == ["out_of_range"]
    assert_still_usable()


@pytest.mark.parametrize(
    "url",
    [
        EVENTS + "?anonymous_id=a%00b",
        MEMBERS + "?card_number=%00",
        "/api/v1/contacts/?email=x%00%40example.com",
        EVENTS + "?ordering=%00",
    ],
)
def test_a_nul_byte_in_any_parameter_is_a_400(api, url):
    response = api.get(url)

    assert response.status_code == 400
    assert any("null_characters_not_allowed" in codes for codes in response.json()["error_codes"].values())
    assert_still_usable()


@pytest.mark.parametrize(
    "url", [MEMBERS + "?contact=99999999999999999999999", EVENTS + "?contact=-99999999999999999999999"]
)
def test_an_id_filter_beyond_64_bits_is_a_400(api, url):
    MemberFactory(contact=ContactFactory())

    response = api.get(url)

    assert response.status_code == 400
    assert_still_usable()


@pytest.mark.parametrize(
    "url", ["/api/v1/contacts/99999999999999999999999/", "/api/v1/club-members/99999999999999999999999/"]
)
def test_an_object_id_beyond_64_bits_is_a_json_404(api, url):
    response = api.get(url)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    "value", ["%%%garbage", cursor("p=abc"), cursor("p=99999999999999999999999"), cursor("p=1%00"), cursor("o=x")]
)
def test_a_garbage_cursor_is_a_400(api, value):
    ContactFactory()

    response = api.get("/api/v1/contacts/", {"cursor": value})

    assert response.status_code == 400
    assert response.json()["error_codes"]["cursor"] in (["invalid_cursor"], ["null_characters_not_allowed"])
    assert_still_usable()


def test_a_cursor_from_a_page_still_works(api):
    ContactFactory.create_batch(3)

    first = api.get("/api/v1/contacts/", {"page_size": 2}).json()
    second = api.get(first["next"])

    assert second.status_code == 200
    assert len(second.json()["results"]) == 1


def test_a_deeply_nested_body_is_a_400_not_a_server_error(api):
    body = "[" * 10_000 + "]" * 10_000

    response = api.generic("POST", "/api/v1/contacts/", body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error_codes"]["non_field_errors"] == ["too_deep"]


def test_a_body_nested_past_the_limit_is_a_400(api, settings):
    settings.API_MAX_JSON_DEPTH = 5
    nested: object = "x"
    for _ in range(6):
        nested = {"a": nested}

    response = api.post("/api/v1/contacts/", {"email": "deep@example.com", "attributes": nested}, format="json")

    assert response.status_code == 400
    assert response.json()["error_codes"]["non_field_errors"] == ["too_deep"]


def test_a_huge_integer_in_a_body_is_a_400(api):
    member = MemberFactory(contact=ContactFactory())

    response = api.post(
        f"{MEMBERS}{member.pk}/points/",
        data=json.dumps({"delta": 10**30, "reason": "x"}),
        content_type="application/json",
    )

    assert response.status_code == 400
    assert_still_usable()
