"""The ready-made flows: each makes a valid draft with its mails in both languages, and activates."""

import pytest

from campaigns.flows import services
from campaigns.flows.models import Flow
from campaigns.flows.paths import walk
from campaigns.flows.presets import PRESETS, preset_create
from campaigns.flows.triggers import enroll_segment_entries
from campaigns.models import EmailTemplate
from segments.models import Segment
from segments.services import segment_refresh
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

KEYS = [preset.key for preset in PRESETS]


def mail_steps(flow: Flow) -> list[dict]:
    return [step for _path, step in walk(flow.steps) if step["type"] == "send_email"]


def test_the_catalogue_has_the_ten_flows_marketers_asked_for():
    assert KEYS == [
        "welcome",
        "birthday",
        "wedding_anniversary",
        "club_anniversary",
        "abandoned_cart",
        "first_purchase",
        "replenishment",
        "win_back",
        "did_not_open",
        "review_referral",
    ]
    assert all(str(preset.title) and str(preset.description) for preset in PRESETS)


@pytest.mark.parametrize("key", KEYS)
def test_each_preset_is_a_draft_with_mails_in_hebrew_and_english_and_can_be_activated(key):
    flow = preset_create(key=key)
    assert flow.status == Flow.Status.DRAFT and flow.preset == key
    templates = EmailTemplate.objects.filter(pk__in=[step["template"] for step in mail_steps(flow)])
    languages = [template.language for template in templates]
    assert languages and languages.count("he") == languages.count("en")
    for path, step in walk(flow.steps):
        if step["type"] == "send_email":  # every mail is the language branch's yes (English) or no (Hebrew)
            language = EmailTemplate.objects.get(pk=step["template"]).language
            assert path.endswith(".yes.0" if language == "en" else ".no.0")
    services.flow_activate(flow=flow)
    flow.refresh_from_db()
    assert flow.status == Flow.Status.ACTIVE


def test_a_preset_used_twice_reuses_its_segment_but_makes_its_own_templates():
    first, second = preset_create(key="welcome"), preset_create(key="welcome")
    assert first.trigger["segment"] == second.trigger["segment"]
    assert Segment.objects.filter(pk=first.trigger["segment"]).count() == 1
    assert not {s["template"] for s in mail_steps(first)} & {s["template"] for s in mail_steps(second)}


def test_did_not_open_sends_the_second_mail_only_to_those_who_did_not_open_the_first():
    flow = preset_create(key="did_not_open")
    campaigns = {mail.step: mail.campaign_id for mail in flow.mails.all()}
    assert set(campaigns) == {"0.yes.0", "0.no.0"}
    follow_up = flow.steps[2]
    assert follow_up["type"] == "branch" and follow_up["yes"] == []
    assert sorted(rule["value"] for rule in follow_up["rules"]["any"]) == sorted(campaigns.values())


def test_an_unknown_preset_is_a_key_error():
    with pytest.raises(KeyError):
        preset_create(key="nope")


def test_the_api_lists_the_ready_made_flows_and_makes_a_draft_from_one(make_client):
    api = make_client("campaigns:read", "campaigns:write")
    listed = api.get("/api/v1/flows/presets/")
    assert listed.status_code == 200
    assert [item["key"] for item in listed.json()] == KEYS
    made = api.post("/api/v1/flows/from-preset/", {"preset": "abandoned_cart"}, format="json")
    assert made.status_code == 201, made.content
    assert made.json()["status"] == "draft" and made.json()["preset"] == "abandoned_cart"
    refused = api.post("/api/v1/flows/from-preset/", {"preset": "nope"}, format="json")
    assert refused.status_code == 400 and "preset" in refused.json()


def test_a_segment_made_by_a_preset_does_not_enroll_who_was_already_in_it(django_capture_on_commit_callbacks):
    ContactFactory()  # signed up just now: already in "New sign-ups" when the flow starts
    with django_capture_on_commit_callbacks(execute=True):
        flow = preset_create(key="welcome")
        services.flow_activate(flow=flow)
    assert Segment.objects.get(pk=flow.trigger["segment"]).memberships.count() == 1
    enroll_segment_entries()
    assert not flow.enrollments.exists()
    ContactFactory()  # signs up once the flow is active: enters at the next refresh
    segment_refresh(segment=Segment.objects.get(pk=flow.trigger["segment"]))
    assert enroll_segment_entries() == 1
