"""A flow's definition is checked by one validator: what it accepts is stored as given, what it refuses is
named by a dotted path and a code, and nothing a client sends makes it fail any other way."""

import copy
import functools
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import path
from django.utils import translation
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.utils import extend_schema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft7Validator, FormatChecker
from rest_framework.exceptions import ValidationError
from rest_framework.views import APIView

from campaigns.flows.definition import FlowDefinitionSerializer, flow_definition_validate
from campaigns.flows.paths import step_at, walk
from campaigns.models import EmailTemplate
from crm.api import ApiAutoSchema
from crm.api_errors import exception_handler
from segments.services import segment_create

pytestmark = pytest.mark.django_db

HAIFA = {"field": "city", "op": "eq", "value": "Haifa"}
MISSING = 999_999


@pytest.fixture
def template(make_template) -> EmailTemplate:
    return make_template(name="Welcome")


@pytest.fixture
def segment():
    return segment_create(name="Haifa", rules=HAIFA, refresh=False)


def flow(**fields: Any) -> dict:
    """A valid definition with only the required fields, changed by `fields`."""
    return {
        "name": "Welcome series",
        "trigger": {"type": "event", "event": "signup"},
        "steps": [{"type": "exit"}],
        **fields,
    }


def refusal(data: Any, *, partial: bool = False) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        flow_definition_validate(data, partial=partial)
    return caught.value


def codes(data: Any, *, partial: bool = False) -> dict[str, list[str]]:
    return refusal(data, partial=partial).get_codes()  # type: ignore[return-value]


def messages(data: Any) -> dict[str, list[str]]:
    return {key: [str(message) for message in found] for key, found in refusal(data).detail.items()}


def branch(yes: list, no: list | None = None) -> dict:
    return {"type": "branch", "rules": HAIFA, "yes": yes, "no": no or []}


def nested_branches(depth: int) -> list:
    steps: list = [{"type": "exit"}]
    for _level in range(depth):
        steps = [branch(steps)]
    return steps


# ------------------------------------------------------------------ what is accepted


def test_a_definition_with_only_the_required_fields_gets_the_documented_defaults():
    assert flow_definition_validate(flow()) == {
        **flow(),
        "reentry": "never",
        "reentry_days": None,
        "exit_rules": None,
        "holdout_percent": 0,
        "bypass_frequency_cap": False,
    }


@pytest.mark.parametrize(
    "trigger",
    [
        {"type": "event", "event": "add_to_cart"},
        {"type": "purchase"},
        {"type": "purchase", "channel": "in_store"},
        {"type": "date", "field": "birthday", "offset_days": -7, "time": "18:30"},
        {"type": "date", "field": "club_joined", "offset_days": 365, "time": "00:00"},
        {"type": "replenishment_due", "days_before": 0},
        {"type": "replenishment_due", "days_before": 90},
        {"type": "lifecycle_changed", "to": "at_risk"},
    ],
)
def test_every_trigger_type_is_stored_as_given(trigger):
    assert flow_definition_validate(flow(trigger=trigger))["trigger"] == trigger


def test_a_segment_trigger_names_an_existing_segment_and_may_include_its_members(segment):
    trigger = {"type": "segment_entered", "segment": segment.pk, "include_existing": True}

    assert flow_definition_validate(flow(trigger=trigger))["trigger"] == trigger


def test_a_date_trigger_without_a_time_fires_at_nine():
    trigger = {"type": "date", "field": "wedding_anniversary", "offset_days": 0}

    assert flow_definition_validate(flow(trigger=trigger))["trigger"] == {**trigger, "time": "09:00"}


def test_every_step_type_is_stored_as_given_keeping_the_unit_of_each_wait(template):
    steps = [
        {"type": "wait", "minutes": 90},
        {"type": "wait", "hours": 8760},
        {"type": "wait", "days": 2},
        {"type": "wait_until", "time": "08:05"},
        {"type": "send_email", "template": template.pk, "from_email": "news@shop.example.com"},
        branch([{"type": "add_tag", "tag": "VIP"}], [{"type": "remove_tag", "tag": "VIP"}]),
        {"type": "branch", "rules": {"all": []}, "yes": [], "no": []},
        {"type": "award_points", "points": -100_000, "reason": "Welcome back"},
        {"type": "exit"},
    ]

    assert flow_definition_validate(flow(steps=steps))["steps"] == steps


def test_text_is_trimmed_and_a_tag_name_spaced_as_tags_are_stored():
    clean = flow_definition_validate(flow(name="  Welcome  ", steps=[{"type": "add_tag", "tag": "  summer   sale "}]))

    assert clean["name"] == "Welcome"
    assert clean["steps"] == [{"type": "add_tag", "tag": "summer sale"}]


def test_the_rule_trees_come_back_as_the_segment_validator_cleans_them():
    rules = {"all": [{"field": "city", "op": "eq", "value": "  Haifa "}]}

    clean = flow_definition_validate(flow(exit_rules=rules, steps=[{**branch([]), "rules": rules}]))

    assert clean["exit_rules"] == {"all": [HAIFA]}
    assert clean["steps"][0]["rules"] == {"all": [HAIFA]}


def test_a_flow_may_go_again_after_some_days_and_hold_out_half():
    clean = flow_definition_validate(
        flow(reentry="after_days", reentry_days=30, holdout_percent=50, bypass_frequency_cap=True, exit_rules=HAIFA)
    )

    assert (clean["reentry"], clean["reentry_days"], clean["holdout_percent"]) == ("after_days", 30, 50)
    assert clean["bypass_frequency_cap"] is True


def test_a_partial_change_checks_and_returns_only_the_fields_given():
    assert flow_definition_validate({"holdout_percent": 10}, partial=True) == {"holdout_percent": 10}


def test_a_partial_change_away_from_after_days_clears_the_days():
    assert flow_definition_validate({"reentry": "always"}, partial=True) == {"reentry": "always", "reentry_days": None}


def test_a_template_is_looked_up_once_however_many_steps_send_it(template):
    steps = [{"type": "send_email", "template": template.pk}] * 20

    with CaptureQueriesContext(connection) as queries:
        flow_definition_validate(flow(steps=steps))

    assert len([q for q in queries if "campaigns_emailtemplate" in q["sql"]]) == 1


# ------------------------------------------------------------------ what is refused, and where


@pytest.mark.parametrize(
    ("trigger", "where", "code"),
    [
        (None, "trigger", "null"),
        ("signup", "trigger", "invalid"),
        ([{"type": "event"}], "trigger", "invalid"),
        ({}, "trigger.type", "required"),
        ({"type": "webhook"}, "trigger.type", "invalid_choice"),
        ({"type": 7}, "trigger.type", "invalid_choice"),
        ({"type": "segment_entered"}, "trigger.segment", "required"),
        ({"type": "segment_entered", "segment": MISSING}, "trigger.segment", "does_not_exist"),
        ({"type": "segment_entered", "segment": "1"}, "trigger.segment", "invalid"),
        ({"type": "segment_entered", "segment": 0}, "trigger.segment", "min_value"),
        ({"type": "event", "event": "Signup"}, "trigger.event", "invalid_choice"),
        ({"type": "event", "event": "signup", "segment": 1}, "trigger.segment", "unknown_key"),
        ({"type": "purchase", "channel": "phone"}, "trigger.channel", "invalid_choice"),
        ({"type": "purchase", "channel": None}, "trigger.channel", "null"),
        ({"type": "date", "field": "name_day", "offset_days": 0}, "trigger.field", "invalid_choice"),
        ({"type": "date", "field": "birthday"}, "trigger.offset_days", "required"),
        ({"type": "date", "field": "birthday", "offset_days": 366}, "trigger.offset_days", "max_value"),
        ({"type": "date", "field": "birthday", "offset_days": -366}, "trigger.offset_days", "min_value"),
        ({"type": "date", "field": "birthday", "offset_days": 1.5}, "trigger.offset_days", "invalid"),
        ({"type": "date", "field": "birthday", "offset_days": 0, "time": "9:00"}, "trigger.time", "invalid"),
        ({"type": "date", "field": "birthday", "offset_days": 0, "time": "24:00"}, "trigger.time", "invalid"),
        ({"type": "replenishment_due", "days_before": 91}, "trigger.days_before", "max_value"),
        ({"type": "replenishment_due", "days_before": -1}, "trigger.days_before", "min_value"),
        ({"type": "lifecycle_changed", "to": "churned"}, "trigger.to", "invalid_choice"),
    ],
)
def test_a_bad_trigger_is_named_by_its_path_and_code(trigger, where, code):
    assert codes(flow(trigger=trigger)) == {where: [code]}


def test_an_unknown_trigger_type_lists_the_types_there_are():
    found = messages(flow(trigger={"type": "webhook"}))

    assert found == {
        "trigger.type": [
            "The trigger type must be one of: segment_entered, event, purchase, date, replenishment_due, "
            "lifecycle_changed."
        ]
    }


def test_include_existing_is_a_json_boolean(segment):
    trigger = {"type": "segment_entered", "segment": segment.pk, "include_existing": "yes"}

    assert codes(flow(trigger=trigger)) == {"trigger.include_existing": ["invalid"]}


@pytest.mark.parametrize(
    ("step", "where", "code"),
    [
        ("wait", "steps.0", "invalid"),
        ({"days": 1}, "steps.0.type", "required"),
        ({"type": "teleport"}, "steps.0.type", "invalid_choice"),
        ({"type": "wait"}, "steps.0", "required"),
        ({"type": "wait", "days": 1, "hours": 2}, "steps.0", "invalid"),
        ({"type": "wait", "minutes": 0}, "steps.0.minutes", "min_value"),
        ({"type": "wait", "hours": 8761}, "steps.0.hours", "max_value"),
        ({"type": "wait", "days": 366}, "steps.0.days", "max_value"),
        ({"type": "wait", "days": "2"}, "steps.0.days", "invalid"),
        ({"type": "wait", "weeks": 1, "days": 7}, "steps.0.weeks", "unknown_key"),
        ({"type": "wait_until"}, "steps.0.time", "required"),
        ({"type": "wait_until", "time": "12:60"}, "steps.0.time", "invalid"),
        ({"type": "send_email", "template": MISSING}, "steps.0.template", "does_not_exist"),
        ({"type": "send_email"}, "steps.0.template", "required"),
        ({"type": "branch", "rules": HAIFA, "yes": []}, "steps.0.no", "required"),
        ({"type": "branch", "rules": HAIFA, "yes": {}, "no": []}, "steps.0.yes", "invalid"),
        ({"type": "branch", "rules": None, "yes": [], "no": []}, "steps.0.rules", "null"),
        ({"type": "branch", "rules": [], "yes": [], "no": []}, "steps.0.rules", "invalid"),
        ({"type": "branch", "rules": {"field": "mood"}, "yes": [], "no": []}, "steps.0.rules", "invalid"),
        ({"type": "add_tag", "tag": "   "}, "steps.0.tag", "blank"),
        ({"type": "add_tag", "tag": "x" * 101}, "steps.0.tag", "max_length"),
        ({"type": "remove_tag", "tag": 5}, "steps.0.tag", "invalid"),
        ({"type": "award_points", "points": 0, "reason": "Hi"}, "steps.0.points", "invalid"),
        ({"type": "award_points", "points": 100_001, "reason": "Hi"}, "steps.0.points", "max_value"),
        ({"type": "award_points", "points": -100_001, "reason": "Hi"}, "steps.0.points", "min_value"),
        ({"type": "award_points", "points": 5, "reason": "x" * 201}, "steps.0.reason", "max_length"),
        ({"type": "award_points", "points": 5}, "steps.0.reason", "required"),
        ({"type": "exit", "reason": "done"}, "steps.0.reason", "unknown_key"),
    ],
)
def test_a_bad_step_is_named_by_its_path_and_code(step, where, code):
    assert codes(flow(steps=[step])) == {where: [code]}


def test_a_sender_address_must_be_valid(template):
    step = {"type": "send_email", "template": template.pk, "from_email": "news at shop"}

    assert codes(flow(steps=[step])) == {"steps.0.from_email": ["invalid"]}


def test_a_template_that_no_longer_compiles_is_refused(template):
    EmailTemplate.objects.filter(pk=template.pk).update(html="<p>{{ contact.nickname }}</p>")

    assert codes(flow(steps=[{"type": "send_email", "template": template.pk}])) == {"steps.0.template": ["invalid"]}


def test_messages_name_the_step_as_a_marketer_counts_them():
    steps = [{"type": "exit"}, {"type": "exit"}, {"type": "wait"}, branch([{"type": "exit", "x": 1}])]

    assert messages(flow(steps=steps)) == {
        "steps.2": ["Step 3: wait needs one of minutes, hours or days."],
        "steps.3.yes.0.x": ["Step 4 › yes 1: “x” is not a key of exit."],
    }


def test_errors_deep_inside_branches_name_their_whole_path(template):
    steps = [
        {"type": "wait", "days": 1},
        branch([{"type": "exit"}], [branch([{"type": "send_email", "template": MISSING}], [{"type": "wait"}])]),
        branch([{"type": "send_email", "template": template.pk}]),
    ]

    assert codes(flow(steps=steps)) == {
        "steps.1.no.0.yes.0.template": ["does_not_exist"],
        "steps.1.no.0.no.0": ["required"],
    }
    assert messages(flow(steps=steps))["steps.1.no.0.yes.0.template"] == [f"Unknown template {MISSING}."]


def test_a_rule_tree_error_stays_at_its_field_and_names_the_node():
    bad = {"all": [HAIFA, {"field": "city", "op": "after", "value": "x"}]}

    found = refusal(flow(exit_rules=bad, steps=[{**branch([]), "rules": bad}]))

    assert found.get_codes() == {"exit_rules": ["invalid"], "steps.0.rules": ["invalid"]}
    assert str(found.detail["exit_rules"][0]).startswith("all[1].op: ")


def test_several_errors_are_reported_at_once():
    found = codes({"name": "", "trigger": {"type": "purchase", "channel": "fax"}, "steps": [], "holdout_percent": 51})

    assert found == {
        "name": ["blank"],
        "trigger.channel": ["invalid_choice"],
        "steps": ["required"],
        "holdout_percent": ["max_value"],
    }


@pytest.mark.parametrize(
    ("fields", "where", "code"),
    [
        ({"name": "x" * 201}, "name", "max_length"),
        ({"name": None}, "name", "null"),
        ({"steps": {"type": "exit"}}, "steps", "invalid"),
        ({"reentry": "sometimes"}, "reentry", "invalid_choice"),
        ({"reentry": "after_days"}, "reentry_days", "required"),
        ({"reentry": "after_days", "reentry_days": 0}, "reentry_days", "min_value"),
        ({"reentry": "never", "reentry_days": 30}, "reentry_days", "invalid"),
        ({"reentry_days": 30}, "reentry_days", "invalid"),
        ({"exit_rules": "city is Haifa"}, "exit_rules", "invalid"),
        ({"holdout_percent": -1}, "holdout_percent", "min_value"),
        ({"holdout_percent": True}, "holdout_percent", "invalid"),
        ({"bypass_frequency_cap": "true"}, "bypass_frequency_cap", "invalid"),
    ],
)
def test_a_bad_option_is_named_by_its_field_and_code(fields, where, code):
    assert codes(flow(**fields)) == {where: [code]}


def test_a_partial_change_that_sets_days_names_after_days_too():
    assert codes({"reentry_days": 5}, partial=True) == {"reentry_days": ["invalid"]}
    assert flow_definition_validate({"reentry": "after_days", "reentry_days": 5}, partial=True) == {
        "reentry": "after_days",
        "reentry_days": 5,
    }


def test_the_api_answers_the_errors_with_the_same_paths_and_codes():
    response = exception_handler(refusal(flow(steps=[branch([{"type": "wait", "days": 0}])])), {})

    assert response.status_code == 400
    assert response.data["error_codes"] == {"steps.0.yes.0.days": ["min_value"]}


# ------------------------------------------------------------------ limits


def test_a_flow_holds_at_most_100_steps_counting_those_inside_branches():
    assert flow_definition_validate(flow(steps=[{"type": "exit"}] * 100))
    assert codes(flow(steps=[{"type": "exit"}] * 101)) == {"steps": ["too_many_steps"]}
    assert codes(flow(steps=[{"type": "exit"}] * 50 + [branch([{"type": "exit"}] * 50)])) == {
        "steps": ["too_many_steps"]
    }


def test_branches_nest_at_most_five_deep():
    assert flow_definition_validate(flow(steps=nested_branches(5)))
    assert codes(flow(steps=nested_branches(6))) == {"steps.0.yes.0.yes.0.yes.0.yes.0.yes.0": ["too_deep"]}


def test_a_huge_list_is_refused_without_reading_each_step():
    with CaptureQueriesContext(connection) as queries:
        found = codes(flow(steps=[{"type": "send_email", "template": MISSING}] * 100_000))

    assert found == {"steps": ["too_many_steps"]}
    assert len(queries) == 0


# ------------------------------------------------------------------ paths for the engine


def test_steps_are_walked_depth_first_with_their_paths_and_found_by_them():
    steps = [{"type": "wait", "days": 1}, branch([{"type": "exit"}], [branch([], [{"type": "add_tag", "tag": "a"}])])]

    walked = list(walk(steps))

    assert [path for path, _step in walked] == ["0", "1", "1.yes.0", "1.no.0", "1.no.0.no.0"]
    assert all(step_at(steps, path) is step for path, step in walked)


@pytest.mark.parametrize("missing", ["2", "0.yes.0", "1.yes.1", "1.maybe.0", "1.yes", "", "x", "1.no.0.no.0"])
def test_a_path_with_no_step_names_no_step(missing):
    assert step_at([{"type": "exit"}, branch([{"type": "exit"}])], missing) is None


# ------------------------------------------------------------------ hostile input

DEEP_LIST: list = []
for _level in range(5000):
    DEEP_LIST = [DEEP_LIST]
DEEP_OBJECT: dict = {}
for _level in range(5000):
    DEEP_OBJECT = {"not": DEEP_OBJECT, "type": DEEP_OBJECT}
HUGE = 10**5000  # too many digits for Python to print


@pytest.mark.parametrize(
    "data",
    [
        DEEP_LIST,
        flow(name=DEEP_LIST),
        flow(trigger=DEEP_OBJECT),
        flow(steps=DEEP_LIST),
        flow(steps=[{"type": "branch", "rules": DEEP_OBJECT, "yes": DEEP_LIST, "no": [DEEP_OBJECT]}]),
        flow(exit_rules=DEEP_OBJECT),
        flow(name=HUGE),
        flow(trigger={"type": "segment_entered", "segment": HUGE}),
        flow(trigger={"type": "segment_entered", "segment": 2**64}),
        flow(trigger={"type": "date", "field": HUGE, "offset_days": HUGE, "time": HUGE}),
        flow(steps=[{"type": "send_email", "template": 1e300}, {"type": "wait", "days": float("nan")}]),
        flow(steps=[{"type": "award_points", "points": -HUGE, "reason": HUGE}, {"type": "add_tag", "tag": HUGE}]),
        flow(reentry="after_days", reentry_days=HUGE, holdout_percent=float("inf"), reentry_days_=1),
        flow(exit_rules={"field": "in_segment", "op": "is", "value": True, "segment": 2**70}),
        flow(exit_rules={"field": "total_spent", "op": "gte", "value": HUGE}),
        flow(name="a\x00b", steps=[{"type": "add_tag", "tag": "\x00"}, {"type\x00": "exit"}]),
        flow(
            trigger={"type": "event\x00", "event": "signup"}, exit_rules={"field": "city", "op": "eq", "value": "\x00"}
        ),
        flow(steps=[{"type": "wait_until", "time": "09:00\x00"}, {"type": "exit", "\x00": None}]),
        flow(trigger=["event", "signup"], steps=[["exit"]], exit_rules=[HAIFA]),
        flow(trigger="event", steps="exit", name=["x"], reentry=["never"], bypass_frequency_cap=[False]),
        flow(steps=[{"type": "wait", "days": "1"}, {"type": "award_points", "points": "5", "reason": 5}]),
        flow(steps=[{1: "exit", "type": "exit"}, {("a", "b"): 1, "type": "exit"}]),
        "not a flow",
        None,
    ],
)
def test_hostile_input_is_refused_with_a_validation_error_and_nothing_else(data):
    found = refusal(data)

    assert found.get_codes()


def test_a_nul_character_is_refused_with_its_own_code():
    found = codes(flow(name="a\x00b", exit_rules={"field": "city", "op": "eq", "value": "\x00"}))

    assert found == {"name": ["null_characters_not_allowed"], "exit_rules.value": ["null_characters_not_allowed"]}


def test_messages_in_hebrew_are_produced_without_error():
    bad = flow(trigger={"type": "webhook"}, steps=[{"type": "wait"}, {"type": "teleport"}], holdout_percent=90)

    with translation.override("he"):
        found = refusal(bad)

    assert set(found.get_codes()) == {"trigger.type", "steps.0", "steps.1.type", "holdout_percent"}
    assert all(str(message) for messages in found.detail.values() for message in messages)


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=10)
    | st.sampled_from(["exit", "wait", "branch", "event", "signup", "09:00", "after_days"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["type", "days", "yes", "no", "rules", "all", "field", "op", "value", "tag", "x"])
            | st.text(max_size=5),
            children,
            max_size=4,
        )
    ),
    max_leaves=30,
)


@given(
    data=st.one_of(
        JSON,
        st.fixed_dictionaries({"name": JSON, "trigger": JSON, "steps": JSON}, optional={"exit_rules": JSON}),
        st.fixed_dictionaries({"name": st.just("x"), "trigger": JSON, "steps": st.lists(JSON, max_size=4)}),
    ),
    partial=st.booleans(),
)
@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
def test_random_json_is_accepted_or_refused_with_a_validation_error(data, partial):
    try:
        flow_definition_validate(data, partial=partial)
    except ValidationError as error:
        assert isinstance(error.detail, dict)


# ------------------------------------------------------------------ the schema tells the truth

# Refusals of schema-valid input for a reason a schema cannot carry: an id naming no row, a step count
# over the whole tree, a NUL character; and a rule tree the condition catalogue refuses (at its field).
UNSPOKEN = {"does_not_exist", "too_many_steps", "null_characters_not_allowed"}


class FlowsView(APIView):
    """Never called: only the schema drf-spectacular makes of it is read."""

    schema = ApiAutoSchema()

    @extend_schema(request=FlowDefinitionSerializer, responses=FlowDefinitionSerializer)
    def post(self, request):
        raise NotImplementedError

    @extend_schema(request=FlowDefinitionSerializer, responses=FlowDefinitionSerializer)
    def patch(self, request):
        raise NotImplementedError


def _json_schema(node: Any) -> Any:
    """OpenAPI 3.0 to JSON Schema: `nullable` becomes a null alternative."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _json_schema(value) for key, value in node.items() if key != "nullable"}
    return {"anyOf": [converted, {"type": "null"}]} if node.get("nullable") else converted


@functools.cache
def request_validator(component: str) -> Draft7Validator:
    schema = SchemaGenerator(patterns=[path("flows/", FlowsView.as_view())]).get_schema(request=None, public=True)
    components = {"schemas": _json_schema(schema["components"]["schemas"])}
    root = {"allOf": [{"$ref": f"#/components/schemas/{component}"}], "components": components}
    return Draft7Validator(root, format_checker=FormatChecker())


NOISE = st.none() | st.booleans() | st.text(max_size=3) | st.integers(-(10**20), 10**20) | st.floats(-1e20, 1e20)
# Wrong values a client could send for each key, beside NOISE: at and past the limits, near misses.
TEXT_WRONG = ["", " ", "\x1d", "a\x00b", "x" * 201, " " + "x" * 200]
WRONG: dict[str, list] = {
    "name": TEXT_WRONG,
    "reason": TEXT_WRONG,
    "tag": [*TEXT_WRONG, "x" * 101, " " + "x" * 100],
    "time": ["9:00", "24:00", "09:60", "09:00\n", "0900", "09:00:00"],
    "type": ["Wait", "exit", "branch", "webhook", "event"],
    "segment": [0, MISSING, "1", 1.5, 1e18, 2**63],
    "template": [0, MISSING, "1", 1e18],
    "include_existing": ["yes", 1],
    "event": ["Signup", "login"],
    "channel": ["fax", ""],
    "field": ["name_day"],
    "to": ["gone"],
    "offset_days": [366, -366, 1.5, "1"],
    "days_before": [-1, 91],
    "minutes": [0, 525_601, 1.0],
    "hours": [0, 8761],
    "days": [0, 366, "1"],
    "points": [0, 100_001, -100_001],
    # To a JSON Schema validator, format email means "holds an @"; what holds one and is no address
    # ("news@") is Django's validator to judge, as for every email field of the API.
    "from_email": ["news", "", "@" * 255],
    "rules": [{"field": "mood"}, [], "x", {"all": [{"field": "city", "op": "eq", "value": "\x00"}]}],
    "exit_rules": [{"field": "mood"}, [], "x"],
    "reentry": ["sometimes", "after_days", "never"],
    "reentry_days": [0, 3651, 5],
    "holdout_percent": [-1, 51, 50.0],
    "bypass_frequency_cap": ["true", 1],
    "steps": [[], {}, [{"type": "exit"}] * 101],
    "yes": [{}, [branch([])] * 2],
    "trigger": ["event", []],
}


def kind(name: str, required: dict, optional: dict | None = None) -> st.SearchStrategy:
    return st.fixed_dictionaries({"type": st.just(name), **required}, optional=optional or {})


def valid_definitions(ids: dict[str, int]) -> st.SearchStrategy:
    text = st.sampled_from(["Hi", "  Hi  ", "x" * 100])
    time = st.sampled_from(["09:00", "23:59", "00:00"])
    rules = st.sampled_from([HAIFA, {"all": []}, {"any": [{"not": HAIFA}]}])
    triggers = st.one_of(
        kind("segment_entered", {"segment": st.just(ids["segment"])}, {"include_existing": st.booleans()}),
        kind("event", {"event": st.sampled_from(["signup", "review"])}),
        kind("purchase", {}, {"channel": st.sampled_from(["app", "online"])}),
        kind("date", {"field": st.just("birthday"), "offset_days": st.integers(-365, 365)}, {"time": time}),
        kind("replenishment_due", {"days_before": st.integers(0, 90)}),
        kind("lifecycle_changed", {"to": st.sampled_from(["new", "lapsed"])}),
    )
    limits = {"minutes": 525_600, "hours": 8760, "days": 365}
    waits = st.sampled_from(list(limits)).flatmap(
        lambda unit: st.integers(1, limits[unit]).map(lambda n: {"type": "wait", unit: n})
    )
    leaves = st.one_of(
        waits,
        kind("wait_until", {"time": time}),
        kind("send_email", {"template": st.just(ids["template"])}, {"from_email": st.just("news@shop.example.com")}),
        kind("add_tag", {"tag": text}),
        kind("remove_tag", {"tag": text}),
        kind("award_points", {"points": st.integers(1, 100_000) | st.integers(-100_000, -1), "reason": text}),
        kind("exit", {}),
    )
    steps = st.recursive(
        st.lists(leaves, min_size=1, max_size=3),
        lambda inner: st.lists(leaves | kind("branch", {"rules": rules, "yes": inner, "no": inner}), max_size=3),
        max_leaves=8,
    ).filter(bool)
    reentry = st.sampled_from([{}, {"reentry": "always"}, {"reentry": "after_days", "reentry_days": 30}])
    options = st.fixed_dictionaries(
        {"name": text, "trigger": triggers, "steps": steps},
        optional={
            "exit_rules": rules | st.none(),
            "holdout_percent": st.integers(0, 50),
            "bypass_frequency_cap": st.booleans(),
        },
    )
    return st.tuples(options, reentry).map(lambda parts: parts[0] | parts[1])


def _places(value: Any, at: tuple = ()) -> list[tuple]:
    """The path of every key and list item in a JSON value."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    return [place for key, item in items for place in [(*at, key), *_places(item, (*at, key))]]


DROP, ADD_KEY = object(), object()


def mistakes_at(where: tuple) -> list:
    """What can go wrong at a place: the key dropped, an unknown key added, a wrong value for its key."""
    key = next((part for part in reversed(where) if isinstance(part, str)), "")
    return [DROP, ADD_KEY, *WRONG.get(key, [])]


def changed(definition: dict, where: tuple, mistake: Any) -> dict | None:
    """A copy of the definition with the mistake made at `where`; None if it cannot be made there."""
    copied = copy.deepcopy(definition)
    parent = functools.reduce(lambda node, part: node[part], where[:-1], copied)
    if mistake is DROP:
        del parent[where[-1]]
    elif mistake is ADD_KEY:
        if not isinstance(parent[where[-1]], dict):
            return None
        parent[where[-1]]["x"] = 1
    else:
        parent[where[-1]] = mistake
    return copied


def mutated(definition: dict, data: Any) -> dict:
    """The definition with one mistake somewhere, or with a value of any type somewhere."""
    where = data.draw(st.sampled_from(_places(definition)))
    mistake = data.draw(st.sampled_from(mistakes_at(where)) | NOISE)
    return changed(definition, where, mistake) or definition


def _unspoken(where: str, code: str) -> bool:
    return code in UNSPOKEN or (code == "invalid" and where.endswith("rules"))


def disagreement(definition: Any, *, partial: bool) -> tuple | None:
    """What the schema and the validator disagree on about this input, if anything."""
    schema = request_validator("PatchedFlowDefinitionRequest" if partial else "FlowDefinitionRequest")
    schema_valid = schema.is_valid(definition)
    try:
        flow_definition_validate(definition, partial=partial)
    except ValidationError as error:
        refused: dict = error.get_codes()  # type: ignore[assignment]
    else:
        refused = {}
    if not schema_valid and not refused:
        return "accepted what the schema forbids", definition
    if schema_valid and not all(_unspoken(where, code) for where, found in refused.items() for code in found):
        return "refused what the schema allows", definition, refused
    return None


def every_single_mistake(definition: dict, *, under: str | None = None, top_only: bool = False) -> list[dict]:
    """The definition with each mistake of `mistakes_at` made at each place (only those under a top-level
    key, or only the top-level keys, if asked), one at a time."""
    places = [
        where
        for where in _places(definition)
        if (under is None or where[0] == under) and (not top_only or len(where) == 1)
    ]
    variants = (changed(definition, where, mistake) for where in places for mistake in mistakes_at(where))
    return [variant for variant in variants if variant is not None]


def test_the_schema_and_the_validator_agree_on_every_single_mistake(template, segment):
    steps = [
        {"type": "wait", "minutes": 1},
        {"type": "wait", "hours": 8760},
        {"type": "wait_until", "time": "23:59"},
        {"type": "send_email", "template": template.pk, "from_email": "news@shop.example.com"},
        branch([{"type": "add_tag", "tag": "VIP"}], [{"type": "award_points", "points": 5, "reason": "Hi"}]),
        {"type": "remove_tag", "tag": "VIP"},
        {"type": "exit"},
    ]
    options = {"reentry": "after_days", "reentry_days": 30, "exit_rules": HAIFA, "holdout_percent": 50}
    whole = flow(trigger={"type": "segment_entered", "segment": segment.pk, "include_existing": False}, steps=steps)
    triggers = [
        {"type": "event", "event": "review"},
        {"type": "purchase", "channel": "online"},
        {"type": "date", "field": "birthday", "offset_days": -365, "time": "09:00"},
        {"type": "replenishment_due", "days_before": 0},
        {"type": "lifecycle_changed", "to": "new"},
    ]
    variants = [whole | options, *every_single_mistake(whole | options)]
    variants += [
        variant for trigger in triggers for variant in every_single_mistake(flow(trigger=trigger), under="trigger")
    ]
    # A partial change differs only in what it requires and fills in at the top level.
    partial_variants = [whole | options, *every_single_mistake(whole | options, top_only=True)]

    found = [d for v in variants if (d := disagreement(v, partial=False))]
    found += [d for v in partial_variants if (d := disagreement(v, partial=True))]

    assert len(variants) > 250
    assert found == []


@given(data=st.data(), partial=st.booleans())
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_schema_and_the_validator_agree_on_random_flows(data, partial, template, segment):
    definition = data.draw(valid_definitions({"template": template.pk, "segment": segment.pk}))
    if data.draw(st.integers(0, 4)):
        definition = mutated(definition, data)

    assert disagreement(definition, partial=partial) is None
