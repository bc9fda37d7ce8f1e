"""Rule trees cannot grow past the size caps, cannot be stored unless they compile, and hostile
JSON (deeply nested, huge) is a 400 naming the node, never a crash."""

import dataclasses
import json

import pytest
from django.core.exceptions import ValidationError
from django.db.models import BooleanField, Q
from django.db.models.expressions import RawSQL
from django.urls import reverse

from segments import registry, services
from segments.models import Segment

pytestmark = pytest.mark.django_db(transaction=True)

HAIFA = {"field": "city", "op": "eq", "value": "Haifa"}


@pytest.fixture
def api(make_client):
    return make_client("segments:read", "segments:write")


def nested(levels, leaf=HAIFA):
    tree = leaf
    for _ in range(levels):
        tree = {"all": [tree]}
    return tree


def in_segment(segment):
    return {"field": "in_segment", "op": "is", "value": True, "segment": segment.pk}


def error(response):
    assert response.status_code == 400, (response.status_code, response.content[:300])
    return response.json()["rules"][0]


def test_a_tree_with_more_conditions_than_the_cap_is_a_400_naming_the_first_extra_one(api, settings):
    settings.SEGMENT_RULES_MAX_CONDITIONS = 100
    ok = api.post("/api/v1/segments/", {"name": "Big", "rules": {"any": [HAIFA] * 100}}, format="json")
    assert ok.status_code == 201
    message = error(api.post("/api/v1/segments/", {"name": "Too big", "rules": {"any": [HAIFA] * 101}}, format="json"))
    assert message.startswith("any[100]: Too many conditions: at most 100")
    assert not Segment.objects.filter(name="Too big").exists()


def test_empty_groups_count_towards_the_cap(api, settings):
    settings.SEGMENT_RULES_MAX_CONDITIONS = 3
    message = error(api.post("/api/v1/segments/", {"name": "x", "rules": {"all": [{"any": []}] * 4}}, format="json"))
    assert message.startswith("all[3]: Too many conditions")


def test_groups_nested_deeper_than_the_cap_are_a_400_naming_the_node(api, settings):
    settings.SEGMENT_RULES_MAX_DEPTH = 10
    assert api.post("/api/v1/segments/", {"name": "Deep", "rules": nested(10)}, format="json").status_code == 201
    message = error(api.post("/api/v1/segments/", {"name": "Deeper", "rules": nested(11)}, format="json"))
    assert message.startswith("all[0]" + ".all[0]" * 10 + ": Groups are nested too deeply: at most 10 levels")


def test_a_json_body_nested_ten_thousand_levels_is_a_400(api):
    body = '{"name": "x", "rules": ' + '{"not": ' * 10_000 + json.dumps(HAIFA) + "}" * 10_001
    response = api.post("/api/v1/segments/", body, content_type="application/json")
    assert response.status_code == 400
    assert not Segment.objects.exists()


def test_in_segment_counts_the_conditions_of_the_segment_it_includes(api, settings):
    settings.SEGMENT_RULES_MAX_CONDITIONS = 100
    inner = services.segment_create(name="Inner", rules={"any": [HAIFA] * 60}, refresh=False)
    fits = {"all": [HAIFA] * 39 + [in_segment(inner)]}
    assert api.post("/api/v1/segments/", {"name": "Fits", "rules": fits}, format="json").status_code == 201
    too_many = {"all": [HAIFA] * 40 + [in_segment(inner)]}
    message = error(api.post("/api/v1/segments/", {"name": "Too many", "rules": too_many}, format="json"))
    assert message.startswith("all[40]: Too many conditions")


def test_in_segment_counts_the_depth_of_the_segment_it_includes(api, settings):
    settings.SEGMENT_RULES_MAX_DEPTH = 10
    inner = services.segment_create(name="Inner", rules=nested(8), refresh=False)
    assert (
        api.post(
            "/api/v1/segments/", {"name": "Fits", "rules": {"all": [in_segment(inner)]}}, format="json"
        ).status_code
        == 201
    )
    message = error(
        api.post(
            "/api/v1/segments/", {"name": "Too deep", "rules": {"all": [{"not": in_segment(inner)}]}}, format="json"
        )
    )
    assert message.startswith("all[0].not: Including this segment nests the rules too deeply")


def test_a_long_chain_of_in_segment_conditions_is_capped_by_depth(settings):
    settings.SEGMENT_RULES_MAX_DEPTH = 10
    segment = services.segment_create(name="Link 0", rules=HAIFA, refresh=False)
    for link in range(1, 11):
        segment = services.segment_create(name=f"Link {link}", rules=in_segment(segment), refresh=False)
    with pytest.raises(ValidationError) as caught:
        services.segment_create(name="Link 11", rules=in_segment(segment), refresh=False)
    assert "nests the rules too deeply" in caught.value.message_dict["rules"][0]


def test_growing_a_segment_that_others_include_past_their_cap_is_refused(api, settings):
    settings.SEGMENT_RULES_MAX_CONDITIONS = 10
    inner = services.segment_create(name="Inner", rules={"any": [HAIFA] * 3}, refresh=False)
    services.segment_create(name="Outer", rules={"all": [HAIFA] * 5 + [in_segment(inner)]}, refresh=False)
    response = api.patch(f"/api/v1/segments/{inner.pk}/", {"rules": {"any": [HAIFA] * 5}}, format="json")
    assert "Segment “Outer” includes this one" in error(response)
    inner.refresh_from_db()
    assert inner.rules == {"any": [HAIFA] * 3}


def _break_condition(monkeypatch, key, compile_function):
    broken = dataclasses.replace(registry.get(key), compile=compile_function)
    monkeypatch.setitem(registry.conditions(), key, broken)


def test_a_condition_that_does_not_compile_is_refused_naming_it_and_nothing_is_stored(api, monkeypatch):
    def boom(cond, ctx):
        raise KeyError("lookup table missing")

    _break_condition(monkeypatch, "region", boom)
    rules = {"all": [HAIFA, {"field": "region", "op": "eq", "value": "North"}]}
    message = error(api.post("/api/v1/segments/", {"name": "Broken", "rules": rules}, format="json"))
    assert message == "all[1]: This condition cannot be evaluated."
    assert not Segment.objects.exists()


def test_rules_the_database_cannot_plan_are_refused(api, monkeypatch):
    _break_condition(
        monkeypatch, "region", lambda cond, ctx: Q(RawSQL("no_such_column = 1", [], output_field=BooleanField()))
    )
    rules = {"any": [HAIFA, {"field": "region", "op": "eq", "value": "North"}]}
    message = error(api.post("/api/v1/segments/", {"name": "Broken", "rules": rules}, format="json"))
    assert message == "rules: The database cannot evaluate these rules."
    assert not Segment.objects.exists()


def test_the_admin_form_shows_the_cap_as_a_form_error(admin_client, settings):
    settings.SEGMENT_RULES_MAX_CONDITIONS = 2
    response = admin_client.post(
        reverse("admin:segments_segment_add"),
        {"name": "Big", "kind": "dynamic", "rules": json.dumps({"any": [HAIFA] * 3})},
    )
    assert response.status_code == 200
    assert "any[2]: Too many conditions" in response.content.decode()
    assert not Segment.objects.exists()


def test_the_admin_form_and_preview_answer_deeply_nested_json_without_crashing(admin_client):
    deep = '{"not": ' * 10_000 + json.dumps(HAIFA) + "}" * 10_000
    form = admin_client.post(reverse("admin:segments_segment_add"), {"name": "Deep", "kind": "dynamic", "rules": deep})
    assert form.status_code == 200
    assert "nested too deeply" in form.content.decode()
    preview = admin_client.post(reverse("admin:segments_segment_preview"), deep, content_type="application/json")
    assert preview.status_code == 400
    fairly_deep = admin_client.post(
        reverse("admin:segments_segment_preview"), json.dumps(nested(30)), content_type="application/json"
    )
    assert fairly_deep.status_code == 400 and "nested too deeply" in fairly_deep.json()["errors"][0]
    assert not Segment.objects.exists()
