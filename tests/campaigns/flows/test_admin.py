"""The flow builder in the admin: the list with its numbers, the change form saved through the one validator
(its errors naming the step in words), the status buttons and who may press them, deletion rules, hostile
names, the diagram's page and the ready-made flows."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaigns.flows import services
from campaigns.flows.models import Enrollment, Flow
from segments.services import segment_create
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

WAIT = [{"type": "wait", "hours": 2}]
EVENT = {"type": "event", "event": "add_to_cart"}


def url(name, *args):
    return reverse(f"admin:flows_flow_{name}", args=args)


@pytest.fixture
def marketer(login):
    return login("Marketer")


@pytest.fixture
def template(make_template):
    return make_template(name="Cart reminder")


def make_flow(status=Flow.Status.DRAFT, **fields):
    values = {"name": "Abandoned cart", "trigger": EVENT, "steps": WAIT, **fields}
    flow = services.flow_create(**values)
    Flow.objects.filter(pk=flow.pk).update(status=status)
    flow.refresh_from_db()
    return flow


def enroll(flow, count=1, **fields):
    return [Enrollment.objects.create(flow=flow, contact=ContactFactory(), step="0", **fields) for _ in range(count)]


def form_data(**changes):
    data = {
        "name": "Abandoned cart",
        "description": "",
        "trigger": EVENT,
        "steps": WAIT,
        "exit_rules": "",
        "reentry": "never",
        "reentry_days": "",
        "holdout_percent": "0",
        **changes,
    }
    return {key: json.dumps(value) if isinstance(value, (dict, list)) else value for key, value in data.items()}


# ------------------------------------------------------------------ the list


def test_the_list_words_each_trigger_and_counts_who_entered_and_who_is_inside(marketer):
    vip = segment_create(name="VIPs", rules={"field": "tag", "op": "has", "value": "vip"})
    cart = make_flow(Flow.Status.ACTIVE)
    make_flow(name="Birthday", trigger={"type": "date", "field": "birthday", "offset_days": 0})
    make_flow(name="Welcome VIPs", trigger={"type": "segment_entered", "segment": vip.pk})
    enroll(cart, 3)
    enroll(cart, 2, state=Enrollment.State.COMPLETED)

    response = marketer.get(url("changelist"))

    page = response.content.decode()
    assert "Event: Add to cart" in page
    assert "Birthday, 09:00" in page
    assert "Enters segment VIPs" in page
    row = next(result for result in response.context["cl"].result_list if result.pk == cart.pk)
    assert (row.entered_count, row.active_count) == (5, 3)
    assert url("presets") in page


def test_the_list_costs_the_same_queries_for_one_flow_or_many(marketer):
    vip = segment_create(name="VIPs", rules={"field": "tag", "op": "has", "value": "vip"})
    make_flow(trigger={"type": "segment_entered", "segment": vip.pk})
    with CaptureQueriesContext(connection) as one:
        marketer.get(url("changelist"))
    for index in range(6):
        enroll(make_flow(name=f"Flow {index}", trigger={"type": "segment_entered", "segment": vip.pk}))
    with CaptureQueriesContext(connection) as many:
        marketer.get(url("changelist"))

    assert len(many) == len(one)


def test_the_list_filters_by_status(marketer):
    make_flow(name="Running", status=Flow.Status.ACTIVE)
    make_flow(name="Sketch")

    response = marketer.get(url("changelist"), {"status__exact": "active"})

    assert [flow.name for flow in response.context["cl"].result_list] == ["Running"]


# ------------------------------------------------------------------ the change page


@pytest.mark.parametrize(
    "status, buttons",
    [
        ("draft", {"activate", "archive"}),
        ("active", {"pause", "archive"}),
        ("paused", {"activate", "archive"}),
        ("archived", set()),
    ],
)
def test_the_change_page_offers_the_buttons_of_its_status(marketer, status, buttons):
    flow = make_flow(status)
    enroll(flow)

    response = marketer.get(url("change", flow.pk))

    assert response.status_code == 200
    assert {action["verb"] for action in response.context["status_actions"]} == buttons
    page = response.content.decode()
    for verb in buttons:
        assert f'action="{url(verb, flow.pk)}"' in page
    assert "Numbers per step" in page
    assert ('id="flow-builder-choices"' in page) == (status != "archived")


def test_the_change_page_shows_each_steps_numbers_in_words(marketer, template):
    flow = make_flow(
        Flow.Status.ACTIVE,
        steps=[
            {"type": "wait", "hours": 2},
            {
                "type": "branch",
                "rules": {"field": "tag", "op": "has", "value": "vip"},
                "yes": [{"type": "send_email", "template": template.pk}],
                "no": [],
            },
        ],
    )
    enroll(flow, 2)

    response = marketer.get(url("change", flow.pk))

    rows = {row["step"]: row for row in response.context["step_rows"]}
    assert rows["0"]["waiting"] == 2
    assert rows["1.yes.0"]["place"] == "Step 2 → yes → step 1"
    assert rows["1.yes.0"]["label"] == "Send “Cart reminder”"
    assert response.context["step_numbers"]["0"] == {"waiting": 2, "passed": 0, "sent": None}
    assert response.context["stats"]["entered"] == 2
    page = response.content.decode()
    assert f"{reverse('admin:flows_enrollment_changelist')}?flow__id__exact={flow.pk}" in page
    assert 'id="flow-diagram"' in page


def test_a_marketer_creates_a_draft_through_the_form(marketer, template):
    steps = [{"type": "wait", "hours": 2}, {"type": "send_email", "template": template.pk}]

    response = marketer.post(
        url("add"),
        form_data(
            steps=steps,
            reentry="after_days",
            reentry_days="14",
            exit_rules={"field": "tag", "op": "has", "value": "buyer"},
        ),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    flow = Flow.objects.get()
    assert (flow.status, flow.trigger, flow.steps) == ("draft", EVENT, steps)
    assert (flow.reentry, flow.reentry_days) == ("after_days", 14)
    assert flow.exit_rules == {"field": "tag", "op": "has", "value": "buyer"}


def test_a_bad_step_is_refused_with_its_place_in_words(marketer):
    steps = [
        {"type": "wait", "hours": 2},
        {"type": "wait"},
        {"type": "branch", "rules": {"all": []}, "yes": [{"type": "send_email", "template": 999999}], "no": []},
    ]

    response = marketer.post(url("add"), form_data(steps=steps))

    assert response.status_code == 200
    assert not Flow.objects.exists()
    form = response.context["adminform"].form
    assert "Step 3 → yes → step 1 (template): Unknown template 999999." in form.errors["steps"]
    assert "Step 2: wait needs one of minutes, hours or days." in form.errors["steps"]
    assert form.definition_errors["steps.2.yes.0.template"] == ["Unknown template 999999."]
    page = response.content.decode()
    assert 'id="flow-builder-errors"' in page and "steps.2.yes.0.template" in page


def test_a_trigger_error_lands_on_the_trigger(marketer):
    response = marketer.post(url("add"), form_data(trigger={"type": "segment_entered", "segment": 999999}))

    assert response.context["adminform"].form.errors["trigger"] == ["segment: Unknown segment 999999."]


def test_json_that_does_not_parse_is_shown_back_as_typed(marketer):
    response = marketer.post(url("add"), form_data(steps='[{"type": "wait"'))

    assert response.status_code == 200
    assert "steps" in response.context["adminform"].form.errors
    assert "[{&quot;type&quot;: &quot;wait&quot;</textarea>" in response.content.decode()


def test_editing_the_steps_of_an_active_flow_raises_its_version(marketer):
    flow = make_flow(Flow.Status.ACTIVE)

    response = marketer.post(url("change", flow.pk), form_data(name="Cart", steps=[{"type": "wait", "days": 1}]))

    assert response.status_code == 302
    flow.refresh_from_db()
    assert (flow.name, flow.version, flow.steps) == ("Cart", 2, [{"type": "wait", "days": 1}])


def test_an_archived_flow_is_shown_but_not_changed(marketer):
    flow = make_flow(Flow.Status.ARCHIVED)

    page = marketer.get(url("change", flow.pk)).content.decode()
    response = marketer.post(url("change", flow.pk), form_data(name="Renamed"))

    assert 'name="_save"' not in page
    assert response.status_code == 403
    flow.refresh_from_db()
    assert flow.name == "Abandoned cart"


def test_the_builder_page_answers_in_hebrew_right_to_left(marketer):
    flow = make_flow()

    response = marketer.get(url("change", flow.pk), HTTP_ACCEPT_LANGUAGE="he")

    assert response.status_code == 200
    assert '<html lang="he" dir="rtl">' in response.content.decode()
    assert 'id="flow-builder-text"' in response.content.decode()


# ------------------------------------------------------------------ status buttons


def test_activate_pause_and_archive_go_through_the_services(marketer):
    flow = make_flow()
    contact_inside = enroll(flow)[0]

    for verb, status in (("activate", "active"), ("pause", "paused"), ("activate", "active"), ("archive", "archived")):
        response = marketer.post(url(verb, flow.pk), follow=True)
        flow.refresh_from_db()
        assert flow.status == status
        assert f"is now {flow.get_status_display().lower()}" in response.content.decode()

    contact_inside.refresh_from_db()
    assert (contact_inside.state, contact_inside.exit_reason) == ("exited", "archived")


def test_a_button_that_does_not_apply_shows_the_services_refusal(marketer):
    flow = make_flow()

    response = marketer.post(url("pause", flow.pk), follow=True)

    assert "This cannot be done while the automation is “Draft”." in response.content.decode()
    assert Flow.objects.get(pk=flow.pk).status == "draft"


def test_the_buttons_take_post_only(marketer):
    flow = make_flow()

    assert marketer.get(url("activate", flow.pk)).status_code == 405
    assert Flow.objects.get(pk=flow.pk).status == "draft"


def test_an_analyst_sees_flows_but_changes_nothing(login):
    flow = make_flow()
    analyst = login("Analyst")

    page = analyst.get(url("change", flow.pk))
    assert page.status_code == 200
    assert page.context["status_actions"] == []
    assert 'id="flow-builder-choices"' not in page.content.decode()
    assert url("presets") not in analyst.get(url("changelist")).content.decode()

    assert analyst.post(url("activate", flow.pk)).status_code == 403
    assert analyst.post(url("change", flow.pk), form_data(name="Mine")).status_code == 403
    assert analyst.post(url("presets"), {"key": "birthday"}).status_code == 403
    flow.refresh_from_db()
    assert (flow.status, flow.name) == ("draft", "Abandoned cart")
    assert not Flow.objects.exclude(pk=flow.pk).exists()


# ------------------------------------------------------------------ delete, hostile names


def test_a_flow_somebody_went_through_is_archived_not_deleted(marketer):
    used, unused = make_flow(name="Used"), make_flow(name="Unused")
    enroll(used)

    response = marketer.post(url("delete", used.pk), {"post": "yes"}, follow=True)
    marketer.post(url("delete", unused.pk), {"post": "yes"})

    assert "archive it to keep its numbers" in response.content.decode()
    assert list(Flow.objects.values_list("name", flat=True)) == ["Used"]


def test_a_hostile_name_is_shown_as_text(marketer):
    hostile = "<script>window.__xss=1</script>"
    segment = segment_create(name=hostile, rules={"field": "tag", "op": "has", "value": "x"})
    flow = make_flow(name=hostile, trigger={"type": "segment_entered", "segment": segment.pk})

    for page in (marketer.get(url("changelist")), marketer.get(url("change", flow.pk))):
        html = page.content.decode()
        assert hostile not in html
        assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in html


# ------------------------------------------------------------------ ready-made flows


def test_the_gallery_lists_the_presets_and_makes_a_draft_of_one(marketer):
    gallery = marketer.get(url("presets"))
    assert gallery.status_code == 200
    assert "Birthday benefit" in gallery.content.decode()

    response = marketer.post(url("presets"), {"key": "birthday"}, follow=True)

    flow = Flow.objects.get(preset="birthday")
    assert flow.status == "draft"
    assert response.redirect_chain[-1][0] == url("change", flow.pk)
    assert "Draft created; check it and press Activate." in response.content.decode()

    marketer.post(url("activate", flow.pk))
    assert Flow.objects.get(pk=flow.pk).status == "active"


def test_an_unknown_preset_is_a_message_not_a_crash(marketer):
    response = marketer.post(url("presets"), {"key": "nope"}, follow=True)

    assert "There is no ready-made flow “nope”." in response.content.decode()
    assert not Flow.objects.exists()
