"""The automations API (CONTRACT §6): define a flow, activate it, pause it, read its numbers."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail

from campaigns.flows import engine
from campaigns.flows.models import Enrollment, Flow
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

FLOWS = "/api/v1/flows/"


@pytest.fixture
def api(make_client):
    return make_client("campaigns:read", "campaigns:write", "contacts:write")


@pytest.fixture
def definition(make_template):
    template = make_template(subject="Still thinking about it?")
    return {
        "name": "Abandoned cart",
        "trigger": {"type": "event", "event": "add_to_cart"},
        "steps": [{"type": "wait", "hours": 4}, {"type": "send_email", "template": template.pk}],
        "reentry": "after_days",
        "reentry_days": 14,
        "holdout_percent": 0,
    }


def test_a_flow_is_created_as_a_draft_and_activated(api, definition):
    created = api.post(FLOWS, definition, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["status"], body["version"], body["steps"]) == ("draft", 1, definition["steps"])

    activated = api.post(f"{FLOWS}{body['id']}/activate/")
    assert activated.status_code == 200
    assert activated.json()["status"] == "active"
    assert api.post(f"{FLOWS}{body['id']}/activate/").status_code == 400

    paused = api.post(f"{FLOWS}{body['id']}/pause/")
    assert paused.json()["status"] == "paused"


def test_a_bad_step_is_a_400_naming_its_path(api, definition):
    definition["steps"].append({"type": "branch", "rules": None, "yes": [{"type": "send_email", "template": 999999}]})

    response = api.post(FLOWS, definition, format="json")

    assert response.status_code == 400
    codes = response.json()["error_codes"]
    assert codes.get("steps.2.yes.0.template") == ["does_not_exist"], codes


def test_a_change_to_the_steps_of_a_flow_that_ran_raises_its_version(api, definition):
    flow_id = api.post(FLOWS, definition, format="json").json()["id"]
    api.post(f"{FLOWS}{flow_id}/activate/")

    renamed = api.patch(f"{FLOWS}{flow_id}/", {"name": "Cart"}, format="json").json()
    assert renamed["version"] == 1
    changed = api.patch(f"{FLOWS}{flow_id}/", {"steps": [{"type": "wait", "days": 1}]}, format="json").json()
    assert changed["version"] == 2


@time_machine.travel(dt.datetime(2026, 3, 10, 12, 0, tzinfo=ZoneInfo("Asia/Jerusalem")), tick=False)
def test_stats_and_enrollments_follow_the_contacts(api, definition, django_capture_on_commit_callbacks):
    definition["steps"] = definition["steps"][1:]  # mail at once
    flow_id = api.post(FLOWS, definition, format="json").json()["id"]
    api.post(f"{FLOWS}{flow_id}/activate/")
    from campaigns.flows.enrollment import enroll
    from contacts.models import Contact

    ContactFactory.create_batch(3)
    enroll(flow=Flow.objects.get(pk=flow_id), contacts=Contact.objects.all())
    with django_capture_on_commit_callbacks(execute=True):
        engine.tick(seconds=5)

    stats = api.get(f"{FLOWS}{flow_id}/stats/").json()
    assert (stats["entered"], stats["completed"]) == (3, 3)
    assert stats["steps"][0]["sent"] + stats["steps"][0]["held_out"] + sum(stats["steps"][0]["skipped"].values()) <= 3
    enrollments = api.get(f"{FLOWS}{flow_id}/enrollments/").json()
    assert len(enrollments["results"]) == 3
    assert {e["state"] for e in enrollments["results"]} == {"completed"}
    assert len(mail.outbox) == stats["steps"][0]["sent"]


def test_a_flow_that_ran_is_archived_rather_than_deleted(api, definition):
    flow_id = api.post(FLOWS, definition, format="json").json()["id"]
    api.post(f"{FLOWS}{flow_id}/activate/")
    flow = Flow.objects.get(pk=flow_id)
    Enrollment.objects.create(flow=flow, contact=ContactFactory())

    assert api.delete(f"{FLOWS}{flow_id}/").status_code == 400
    draft = api.post(FLOWS, definition, format="json").json()["id"]
    assert api.delete(f"{FLOWS}{draft}/").status_code == 204


def test_reading_needs_campaigns_read_and_writing_campaigns_write(make_client, definition):
    reader = make_client("campaigns:read")
    assert reader.get(FLOWS).status_code == 200
    assert reader.post(FLOWS, definition, format="json").status_code == 403
    assert make_client("contacts:read").get(FLOWS).status_code == 403
