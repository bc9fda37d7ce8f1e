"""RFM scores and segments, custom date fields and children's ages as rule conditions: the edges the
reference test meets only by chance (29 February, the year wrap, the local day), the errors that name
the bad key, and the builder and API that offer them."""

import datetime as dt
import json

import pytest
from django.urls import reverse
from django.utils import translation

from contacts.models import Contact, CustomField, RfmSegment
from contacts.rfm import RFM_SEGMENT_GRID, rfm_segment_of
from segments.registry import Context
from segments.rules import compile_tree, validate
from segments.selectors import audience
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db
UTC = dt.UTC


@pytest.fixture
def date_fields(db):
    CustomField.objects.create(key="pet_birthday", label="Pet's birthday", type=CustomField.Type.DATE)
    CustomField.objects.create(key="child_birth", label="Child's birth date", type=CustomField.Type.DATE)
    CustomField.objects.create(key="shoe_size", label="Shoe size", type=CustomField.Type.NUMBER)


def matching(tree: dict, now: dt.datetime) -> set[int]:
    return set(audience().filter(compile_tree(validate(tree), Context.current(now))).values_list("pk", flat=True))


def with_pet_born(*days: str) -> list[int]:
    return [ContactFactory(attributes={"pet_birthday": day}).pk for day in days]


def anniversary(days: int) -> dict:
    return {"field": "attribute_date", "op": "anniversary_in_next_days", "value": days, "key": "pet_birthday"}


def test_every_scored_cell_has_exactly_one_rfm_segment_name():
    for recency in range(1, 6):
        for frequency in range(1, 6):
            cells = [
                name
                for name, rectangles in RFM_SEGMENT_GRID.items()
                for (r0, r1), (f0, f1) in rectangles
                if r0 <= recency <= r1 and f0 <= frequency <= f1
            ]
            assert len(cells) == 1, (recency, frequency, cells)
    assert set(RFM_SEGMENT_GRID) == set(RfmSegment)
    assert rfm_segment_of(5, 5) == "champions" and rfm_segment_of(1, 3) == "at_risk"
    assert rfm_segment_of(None, 3) is None


def test_a_pet_born_on_29_february_has_its_birthday_on_the_28th_in_a_common_year(date_fields):
    leap, common = with_pet_born("2020-02-29", "2021-02-28")
    march = with_pet_born("2020-03-01")[0]
    evening_of_28th = dt.datetime(2027, 2, 28, 12, 0, tzinfo=UTC)
    assert matching(anniversary(0), evening_of_28th) == {leap, common}
    assert matching(anniversary(1), evening_of_28th) == {leap, common, march}


def test_an_anniversary_window_wraps_from_december_into_january(date_fields):
    new_year, december, february = with_pet_born("2019-01-02", "2019-12-30", "2019-02-01")
    assert matching(anniversary(10), dt.datetime(2026, 12, 25, 12, 0, tzinfo=UTC)) == {new_year, december}
    assert february not in matching(anniversary(30), dt.datetime(2026, 12, 25, 12, 0, tzinfo=UTC))


def test_the_day_is_the_time_zone_day_not_utcs(date_fields):
    (pet,) = with_pet_born("2020-01-01")
    just_past_local_midnight = dt.datetime(2026, 12, 31, 22, 30, tzinfo=UTC)  # 00:30 on 1 January in Jerusalem
    assert matching(anniversary(0), just_past_local_midnight) == {pet}
    assert matching(anniversary(0), dt.datetime(2026, 12, 31, 21, 30, tzinfo=UTC)) == set()


def test_the_date_itself_is_not_its_own_anniversary(date_fields):
    (wedding,) = with_pet_born("2027-03-05")  # a wedding day collected before the wedding
    assert matching(anniversary(30), dt.datetime(2027, 3, 1, 12, 0, tzinfo=UTC)) == set()
    assert matching(anniversary(30), dt.datetime(2028, 3, 1, 12, 0, tzinfo=UTC)) == {wedding}


def test_a_malformed_or_missing_date_matches_only_the_not(date_fields):
    blank, text, number = with_pet_born("", "next spring", 20200101)  # type: ignore[arg-type]
    without = ContactFactory(attributes={}).pk
    before = {"field": "attribute_date", "op": "before", "value": "2100-01-01", "key": "pet_birthday"}
    now = dt.datetime(2027, 1, 1, tzinfo=UTC)
    assert matching(before, now) == set()
    assert matching({"not": before}, now) == {blank, text, number, without}


def test_child_age_bands_follow_the_birth_date_as_children_grow(date_fields):
    now = dt.datetime(2027, 6, 15, 9, 0, tzinfo=UTC)
    baby = ContactFactory(attributes={"child_birth": "2026-06-16"}).pk  # turns 1 tomorrow
    toddler = ContactFactory(attributes={"child_birth": "2025-06-15"}).pk  # 2 today
    teen = ContactFactory(attributes={"child_birth": "2010-06-16"}).pk  # 16, 17 tomorrow
    ContactFactory(attributes={"child_birth": "2009-06-15"})  # 18 today: no longer a child
    rule = {"field": "child_age", "op": "in", "key": "child_birth"}
    assert matching({**rule, "value": ["baby"]}, now) == {baby}
    assert matching({**rule, "value": ["toddler", "teen"]}, now) == {toddler, teen}
    assert matching({**rule, "op": "between", "value": [1, 2]}, now) == {toddler}


def test_rfm_scores_and_segments_select_on_the_stored_scores():
    champion = ContactFactory(rfm_recency=5, rfm_frequency=5, rfm_monetary=4).pk
    at_risk = ContactFactory(rfm_recency=2, rfm_frequency=3, rfm_monetary=5).pk
    never_bought = ContactFactory().pk
    now = dt.datetime(2027, 1, 1, tzinfo=UTC)
    assert matching({"field": "rfm_segment", "op": "eq", "value": "Champions"}, now) == {champion}
    assert matching({"field": "rfm_segment", "op": "in", "value": ["champions", "at_risk"]}, now) == {
        champion,
        at_risk,
    }
    assert matching({"field": "rfm_monetary", "op": "between", "value": [4, 5]}, now) == {champion, at_risk}
    assert matching({"not": {"field": "rfm_recency", "op": "gte", "value": 3}}, now) == {at_risk, never_bought}


@pytest.fixture
def api(make_client):
    return make_client("segments:read", "segments:write", "contacts:read")


@pytest.mark.parametrize(
    ("condition", "where", "says"),
    [
        (
            {"field": "attribute_date", "op": "before", "value": "2026-01-01", "key": "shoe_size"},
            "key",
            "not of type date",
        ),
        ({"field": "attribute_date", "op": "before", "value": "2026-01-01", "key": "nope"}, "key", "no custom field"),
        (
            {"field": "attribute_date", "op": "before", "value": "01/02/2026", "key": "pet_birthday"},
            "value",
            "YYYY-MM-DD",
        ),
        ({"field": "attribute_date", "op": "before", "value": "2026-01-01"}, "key", "required"),
        (
            {"field": "attribute_date", "op": "anniversary_in_next_days", "value": 367, "key": "pet_birthday"},
            "value",
            "366",
        ),
        ({"field": "attribute_date", "op": "in_next_days", "value": -1, "key": "pet_birthday"}, "value", "366"),
        ({"field": "child_age", "op": "in", "value": ["adult"], "key": "child_birth"}, "value[0]", "baby"),
        ({"field": "child_age", "op": "gte", "value": 3, "key": "x" * 5000}, "key", "custom field key"),
        ({"field": "rfm_recency", "op": "gte", "value": 6}, "value", "from 1 to 5"),
        ({"field": "rfm_frequency", "op": "between", "value": [0, 3]}, "value[0]", "from 1 to 5"),
        ({"field": "rfm_monetary", "op": "eq", "value": {"deep": [[[]]]}}, "value", "from 1 to 5"),
        ({"field": "rfm_segment", "op": "in", "value": ["champions", "whales"]}, "value[1]", "champions"),
    ],
)
def test_bad_values_are_a_400_naming_the_key(api, date_fields, condition, where, says):
    response = api.post("/api/v1/segments/", {"name": "Bad", "rules": {"all": [condition]}}, format="json")
    assert response.status_code == 400
    (message,) = response.json()["rules"]
    assert message.startswith(f"all[0].{where}:") and says in message, message


def test_the_contact_api_shows_rfm_scores_and_segment(make_client):
    contact = ContactFactory(rfm_recency=1, rfm_frequency=5, rfm_monetary=3)
    body = make_client("contacts:read").get(f"/api/v1/contacts/{contact.pk}/").json()
    assert (body["rfm_recency"], body["rfm_frequency"], body["rfm_monetary"]) == (1, 5, 3)
    assert body["rfm_segment"] == "cannot_lose"
    unscored = make_client("contacts:read").get(f"/api/v1/contacts/{ContactFactory().pk}/").json()
    assert unscored["rfm_segment"] is None and unscored["rfm_recency"] is None


def test_rfm_scores_cannot_be_written_over_the_api(make_client):
    contact = ContactFactory()
    response = make_client("contacts:write", "contacts:read").patch(
        f"/api/v1/contacts/{contact.pk}/", {"rfm_recency": 5, "first_name": "Dana"}, format="json"
    )
    assert response.status_code == 200
    contact.refresh_from_db()
    assert contact.rfm_recency is None and contact.first_name == "Dana"


def test_the_builder_offers_the_new_conditions_and_only_date_fields_as_dates(admin_client, date_fields):
    with translation.override("he"):
        html = admin_client.get(reverse("admin:segments_segment_add"), HTTP_ACCEPT_LANGUAGE="he").content.decode()

    def embedded(element_id: str):
        return json.loads(html.split(f'id="{element_id}" type="application/json">')[1].split("</script>")[0])

    catalogue = {c["field"]: c for c in embedded("builder-catalogue")}
    assert {"attribute_date", "child_age", "rfm_recency", "rfm_frequency", "rfm_monetary", "rfm_segment"} <= set(
        catalogue
    )
    assert {c["value"] for c in catalogue["rfm_segment"]["choices"]} == set(RfmSegment.values)
    assert [c["value"] for c in catalogue["child_age"]["choices"]][:2] == ["baby", "toddler"]
    assert catalogue["child_age"]["extra"][0]["type"] == "date_attribute_key"
    options = embedded("builder-options")
    assert {o["value"] for o in options["date_attribute_key"]} == {"pet_birthday", "child_birth"}


def test_the_why_view_names_the_rfm_segment_and_band_labels(admin_client, date_fields):
    from segments.services import segment_create

    contact = Contact.objects.create(email="r@example.com", rfm_recency=5, rfm_frequency=4, rfm_monetary=1)
    segment_create(
        name="Best",
        rules={
            "any": [
                {"field": "rfm_segment", "op": "eq", "value": "champions"},
                {"field": "child_age", "op": "in", "value": ["teen"], "key": "child_birth"},
            ]
        },
        refresh=False,
    )
    html = admin_client.get(reverse("admin:segments_segment_why", args=[contact.pk])).content.decode()
    assert "Champions" in html and "Teenager (13–17)" in html


def test_the_contact_list_filters_by_rfm_segment(make_client):
    champion = ContactFactory(rfm_recency=5, rfm_frequency=4)
    hibernating = ContactFactory(rfm_recency=1, rfm_frequency=1)
    ContactFactory(rfm_recency=3, rfm_frequency=3)
    ContactFactory()
    client = make_client("contacts:read")
    body = client.get("/api/v1/contacts/?rfm_segment=champions&rfm_segment=hibernating").json()
    assert {c["id"] for c in body["results"]} == {champion.pk, hibernating.pk}
    assert client.get("/api/v1/contacts/?rfm_segment=whales").status_code == 400


def test_a_band_or_segment_named_thousands_of_times_is_one_term(api, date_fields):
    ContactFactory(rfm_recency=5, rfm_frequency=5)
    ContactFactory(rfm_recency=1, rfm_frequency=5)
    rules = {
        "any": [
            {"field": "rfm_segment", "op": "in", "value": ["champions"] * 900},
            {"field": "child_age", "op": "in", "value": ["teen"] * 900, "key": "child_birth"},
        ]
    }
    response = api.post("/api/v1/segments/", {"name": "Repeated", "rules": rules}, format="json")
    assert response.status_code == 201, response.json()
    assert api.get(f"/api/v1/segments/{response.json()['id']}/count/").json() == {"count": 1}
