"""Templates and campaigns over the partner API (CONTRACT §4)."""

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns.models import Campaign, EmailTemplate, Message
from campaigns.selectors import STATS_FIELDS
from segments.models import Segment
from segments.services import segment_create
from tests.campaigns.tracked import tracked
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db
HTML = '<p>שלום {{ contact.first_name|default:"חבר" }}</p><p><a href="https://shop.example.com/">לחנות</a></p>'


@pytest.fixture
def api(make_client):
    return make_client("campaigns:read", "campaigns:write")


@pytest.fixture
def template(api):
    body = api.post(
        "/api/v1/templates/", {"name": "Sale", "subject": "מבצע!", "html": HTML, "language": "he"}, format="json"
    ).json()
    return EmailTemplate.objects.get(pk=body["id"])


@pytest.fixture
def segments():
    haifa = segment_create(name="Haifa", rules={"field": "city", "op": "eq", "value": "Haifa"})
    vip = segment_create(name="VIP", kind=Segment.Kind.STATIC)
    return haifa, vip


def campaign_body(email_template, audience, /, **extra):
    return {
        "name": "Spring",
        "template": email_template.pk,
        "segments": [audience[0].pk],
        "exclude_segments": [audience[1].pk],
        "from_email": "club@shop.example.com",
        "cost": "120.50",
        **extra,
    }


def test_a_key_is_required(template):
    assert APIClient().get("/api/v1/templates/").status_code == 401
    assert APIClient().get("/api/v1/campaigns/").status_code == 401


def test_reading_needs_campaigns_read_and_writing_campaigns_write(make_client, template):
    reader = make_client("campaigns:read")
    assert reader.get("/api/v1/templates/").status_code == 200
    assert reader.get(f"/api/v1/templates/{template.pk}/").status_code == 200
    assert reader.post("/api/v1/templates/", {"name": "x"}, format="json").status_code == 403
    assert make_client("segments:read").get("/api/v1/campaigns/").status_code == 403


def test_staff_sessions_work_too(admin_client, template):
    assert admin_client.get("/api/v1/templates/").json()["results"][0]["id"] == template.pk


def test_create_template_returns_it_with_its_id_and_direction(api):
    response = api.post(
        "/api/v1/templates/",
        {"name": "Birthday", "subject": "Happy birthday", "html": HTML, "language": "he"},
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["id"] and body["language"] == "he" and body["layout"] == "default"
    assert set(body) >= {"name", "subject", "html", "text", "language", "preheader", "direction"}


def test_a_template_with_an_unknown_variable_is_a_400_naming_field_and_line(api):
    response = api.post(
        "/api/v1/templates/",
        {"name": "Bad", "subject": "Hi", "html": "<p>Hi</p>\n<p>{{ contact.nickname }}</p>"},
        format="json",
    )

    assert response.status_code == 400
    assert "line 2" in response.json()["html"][0]
    assert "contact.nickname" in response.json()["html"][0]


@pytest.mark.parametrize(
    "html, expected",
    [
        ('<p>Hi</p>\n<img src="x.png" onerror="steal()">', "onerror"),
        (
            '<p>Hi</p>\n{% for a in "' + "x" * 200 + '"|make_list %}{% for b in "' + "x" * 200 + '"|make_list %}.'
            "{% endfor %}{% endfor %}",
            "TEMPLATE_MAX_LOOP_ITERATIONS",
        ),
        ('<p>Hi</p>\n<p>{{ contact.first_name|ljust:"999999999" }}</p>', "TEMPLATE_MAX_WIDTH"),
    ],
)
def test_a_hostile_template_is_a_400_naming_the_line(api, html, expected):
    response = api.post("/api/v1/templates/", {"name": "Bad", "subject": "Hi", "html": html}, format="json")

    assert response.status_code == 400
    assert "line 2" in response.json()["html"][0] and expected in response.json()["html"][0]


def test_a_template_that_does_not_compile_is_a_400(api):
    response = api.post("/api/v1/templates/", {"name": "Bad", "subject": "{% if %}", "html": "<p>x</p>"}, format="json")

    assert response.status_code == 400
    assert "subject" in response.json()


def test_patch_template_changes_only_what_is_sent(api, template):
    response = api.patch(
        f"/api/v1/templates/{template.pk}/", {"subject": "{{ contact.first_name }}, sale!"}, format="json"
    )

    assert response.status_code == 200, response.json()
    template.refresh_from_db()
    assert template.subject == "{{ contact.first_name }}, sale!"
    assert template.html == HTML


def test_patch_template_is_checked_too(api, template):
    response = api.patch(f"/api/v1/templates/{template.pk}/", {"html": "{% for x in %}"}, format="json")

    assert response.status_code == 400
    assert "html" in response.json()


def test_create_campaign_with_an_exclusion(api, template, segments):
    response = api.post("/api/v1/campaigns/", campaign_body(template, segments), format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "draft"
    assert body["segments"] == [segments[0].pk] and body["exclude_segments"] == [segments[1].pk]
    assert body["cost"] == "120.50"
    campaign = Campaign.objects.get(pk=body["id"])
    assert list(campaign.exclude_segments.all()) == [segments[1]]


@pytest.mark.parametrize(
    "field, value",
    [
        ("template", 999999),
        ("segments", []),
        ("segments", [999999]),
        ("from_email", "not-an-address"),
        ("scheduled_at", "tomorrow-ish"),
        ("cost", "lots"),
    ],
)
def test_bad_campaign_input_names_the_field(api, template, segments, field, value):
    response = api.post("/api/v1/campaigns/", campaign_body(template, segments, **{field: value}), format="json")

    assert response.status_code == 400
    assert field in response.json()


def test_a_negative_cost_is_refused(api, template, segments):
    response = api.post("/api/v1/campaigns/", campaign_body(template, segments, cost="-5"), format="json")

    assert response.status_code == 400
    assert "cost" in response.json()


def test_patch_a_draft_campaign(api, template, segments):
    created = api.post("/api/v1/campaigns/", campaign_body(template, segments), format="json").json()

    response = api.patch(
        f"/api/v1/campaigns/{created['id']}/", {"exclude_segments": [], "name": "Spring 2"}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json()["exclude_segments"] == [] and response.json()["name"] == "Spring 2"
    assert response.json()["segments"] == [segments[0].pk]


def test_a_campaign_being_sent_cannot_change(api, template, segments):
    created = api.post("/api/v1/campaigns/", campaign_body(template, segments), format="json").json()
    Campaign.objects.filter(pk=created["id"]).update(status=Campaign.Status.SENDING)

    response = api.patch(f"/api/v1/campaigns/{created['id']}/", {"name": "Too late"}, format="json")

    assert response.status_code == 400
    assert Campaign.objects.get(pk=created["id"]).name == "Spring"


def test_send_answers_202_and_mails_the_segment_minus_the_exclusion(
    api, template, segments, mailoutbox, django_capture_on_commit_callbacks
):
    haifa, vip = segments
    keep = ContactFactory(city="Haifa", email="keep@example.com")
    dropped = ContactFactory(city="Haifa", email="dropped@example.com")
    ContactFactory(city="Eilat")
    from segments.services import segment_refresh, static_add

    segment_refresh(segment=haifa)
    static_add(segment=vip, contact_ids=[dropped.pk])
    created = api.post("/api/v1/campaigns/", campaign_body(template, segments), format="json").json()

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/campaigns/{created['id']}/send/")

    assert response.status_code == 202, response.json()
    assert response.json()["status"] in ("sending", "sent")
    assert [m.to for m in mailoutbox] == [[keep.email]]
    stats = api.get(f"/api/v1/campaigns/{created['id']}/stats/").json()
    assert stats["recipients"] == 1 and stats["sent"] == 1


def test_sending_twice_is_a_400(api, template, segments):
    created = api.post("/api/v1/campaigns/", campaign_body(template, segments), format="json").json()
    Campaign.objects.filter(pk=created["id"]).update(status=Campaign.Status.SENT)

    response = api.post(f"/api/v1/campaigns/{created['id']}/send/")

    assert response.status_code == 400


def test_recipient_count_before_sending(api, template, segments):
    ContactFactory(city="Haifa")
    ContactFactory(city="Haifa", email_opt_in=False)
    from segments.services import segment_refresh

    segment_refresh(segment=segments[0])
    created = api.post("/api/v1/campaigns/", campaign_body(template, segments), format="json").json()

    response = api.get(f"/api/v1/campaigns/{created['id']}/recipient-count/")

    assert response.json() == {"total": 2, "eligible": 1}


def test_stats_have_exactly_the_contract_fields(api, template, segments):
    created = api.post("/api/v1/campaigns/", campaign_body(template, segments), format="json").json()
    campaign = Campaign.objects.get(pk=created["id"])
    msg = Message.objects.create(
        campaign=campaign, contact=ContactFactory(), status=Message.Status.SENT, sent_at=timezone.now()
    )
    tracked(msg, "open")
    tracked(msg, "open", machine=True)

    stats = api.get(f"/api/v1/campaigns/{campaign.pk}/stats/").json()

    assert set(stats) == set(STATS_FIELDS)
    assert (stats["opens"], stats["unique_opens"], stats["machine_opens"]) == (1, 1, 1)
    assert stats["open_rate"] == 1.0 and stats["click_to_open_rate"] == 0.0


def test_stats_of_an_unknown_campaign_are_a_json_404(api):
    response = api.get("/api/v1/campaigns/999999/stats/")

    assert response.status_code == 404
    assert "detail" in response.json()


def test_campaigns_are_filtered_by_status(api, template, segments):
    api.post("/api/v1/campaigns/", campaign_body(template, segments), format="json")
    sent = api.post("/api/v1/campaigns/", campaign_body(template, segments, name="Old"), format="json").json()
    Campaign.objects.filter(pk=sent["id"]).update(status=Campaign.Status.SENT)

    results = api.get("/api/v1/campaigns/?status=sent").json()["results"]

    assert [c["id"] for c in results] == [sent["id"]]


def test_the_schema_documents_templates_and_campaigns():
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()

    for path in (
        "/api/v1/templates/",
        "/api/v1/templates/{id}/",
        "/api/v1/campaigns/",
        "/api/v1/campaigns/{id}/",
        "/api/v1/campaigns/{id}/send/",
        "/api/v1/campaigns/{id}/stats/",
    ):
        assert path in schema["paths"], path
    assert "202" in schema["paths"]["/api/v1/campaigns/{id}/send/"]["post"]["responses"]
    stats = schema["components"]["schemas"]["CampaignStats"]["properties"]
    assert set(stats) == set(STATS_FIELDS)
    assert stats["open_rate"].get("nullable") is True
