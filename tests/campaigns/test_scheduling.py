"""A scheduled campaign can be sent now, moved back to draft or to another time, says when it is overdue,
and any campaign can be duplicated — in the admin and over the API."""

import datetime as dt

import pytest
from django.utils import timezone

from campaigns import services
from campaigns.models import Campaign, EmailTemplate, Message
from segments.models import Segment
from segments.services import segment_create, static_add
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign():
    template = EmailTemplate.objects.create(name="Sale", subject="Sale", html="<p>Hi {{ contact.first_name }}</p>")
    audience = segment_create(name="VIP", kind=Segment.Kind.STATIC)
    excluded = segment_create(name="Staff", kind=Segment.Kind.STATIC)
    static_add(segment=audience, contact_ids=[ContactFactory(email="dana@example.com", email_opt_in=True).pk])
    campaign = services.campaign_create(
        name="Spring",
        template=template,
        from_email="club@example.com",
        cost="50",
        scheduled_at=timezone.now() + dt.timedelta(hours=2),
        segments=[audience.pk],
        exclude_segments=[excluded.pk],
    )
    return services.campaign_start(campaign=campaign)


def later(monkeypatch, **delta):
    moment = timezone.now() + dt.timedelta(**delta)
    monkeypatch.setattr(timezone, "now", lambda: moment)


@pytest.fixture
def api(make_client):
    return make_client("campaigns:read", "campaigns:write")


def test_a_scheduled_campaign_waits_for_its_time(campaign):
    assert campaign.status == Campaign.Status.SCHEDULED
    assert services.campaigns_start_due() == 0


def test_send_now_starts_a_scheduled_campaign_at_once(campaign, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_send_now(campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT
    assert campaign.frozen_template is not None
    assert Message.objects.filter(campaign=campaign, status=Message.Status.SENT).count() == 1


def test_back_to_draft_keeps_it_from_going_out_when_its_time_comes(campaign, monkeypatch):
    services.campaign_unschedule(campaign=campaign)
    later(monkeypatch, hours=3)
    assert services.campaigns_start_due() == 0
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT and campaign.scheduled_at is not None


def test_rescheduling_moves_the_start_and_the_old_time_starts_nothing(campaign, monkeypatch):
    services.campaign_reschedule(campaign=campaign, scheduled_at=timezone.now() + dt.timedelta(hours=5))
    later(monkeypatch, hours=3)
    assert services.campaigns_start_due() == 0
    later(monkeypatch, hours=5, minutes=1)
    assert services.campaigns_start_due() == 1


def test_rescheduling_to_the_past_names_the_field(campaign):
    with pytest.raises(Exception) as caught:
        services.campaign_reschedule(campaign=campaign, scheduled_at=timezone.now() - dt.timedelta(minutes=1))
    assert "scheduled_at" in caught.value.message_dict


def test_a_scheduled_campaign_cannot_be_edited_to_a_time_that_has_passed(campaign):
    with pytest.raises(Exception) as caught:
        services.campaign_update(campaign=campaign, scheduled_at=timezone.now() - dt.timedelta(hours=1))
    assert "scheduled_at" in caught.value.message_dict


def test_a_missed_schedule_is_overdue(campaign, monkeypatch):
    assert campaign.is_overdue is False
    later(monkeypatch, hours=2, minutes=5)
    assert campaign.is_overdue is True


def test_duplicate_is_a_new_draft_with_the_same_audience_and_no_time(campaign):
    services.campaign_send_now(campaign=campaign)
    copy = services.campaign_duplicate(campaign=campaign)
    assert copy.pk != campaign.pk and copy.status == Campaign.Status.DRAFT
    assert copy.name == "Copy of Spring" and copy.scheduled_at is None and copy.frozen_template is None
    assert list(copy.segments.all()) == list(campaign.segments.all())
    assert list(copy.exclude_segments.all()) == list(campaign.exclude_segments.all())
    assert (copy.template_id, copy.from_email, copy.cost) == (campaign.template_id, campaign.from_email, campaign.cost)


# ------------------------------------------------------------------ API


def test_the_api_sends_a_scheduled_campaign_now(api, campaign, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/campaigns/{campaign.pk}/send/")
    assert response.status_code == 202
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.SENT


def test_the_api_moves_a_campaign_back_to_draft_and_reschedules_it(api, campaign):
    body = api.post(f"/api/v1/campaigns/{campaign.pk}/unschedule/").json()
    assert body["status"] == "draft"
    assert api.post(f"/api/v1/campaigns/{campaign.pk}/unschedule/").status_code == 400
    when = (timezone.now() + dt.timedelta(days=1)).replace(microsecond=0)
    body = api.post(
        f"/api/v1/campaigns/{campaign.pk}/reschedule/", {"scheduled_at": when.isoformat()}, format="json"
    ).json()
    assert body["status"] == "scheduled" and body["scheduled_at"].startswith(timezone.localtime(when).isoformat()[:16])
    response = api.post(
        f"/api/v1/campaigns/{campaign.pk}/reschedule/", {"scheduled_at": "2001-01-01T00:00:00Z"}, format="json"
    )
    assert response.status_code == 400 and "scheduled_at" in response.json()


def test_the_api_says_when_a_campaign_is_overdue(api, campaign, monkeypatch):
    assert api.get(f"/api/v1/campaigns/{campaign.pk}/").json()["overdue"] is False
    later(monkeypatch, hours=3)
    assert api.get(f"/api/v1/campaigns/{campaign.pk}/").json()["overdue"] is True


def test_the_api_duplicates_a_campaign(api, campaign):
    response = api.post(f"/api/v1/campaigns/{campaign.pk}/duplicate/")
    assert response.status_code == 201
    assert response.json()["status"] == "draft" and response.json()["id"] != campaign.pk


def test_a_read_only_key_cannot_change_the_schedule(make_client, campaign):
    reader = make_client("campaigns:read")
    for verb in ("unschedule", "reschedule", "duplicate"):
        assert reader.post(f"/api/v1/campaigns/{campaign.pk}/{verb}/").status_code == 403


# ------------------------------------------------------------------ admin


def test_the_admin_offers_send_now_reschedule_and_back_to_draft_for_a_scheduled_campaign(admin_client, campaign):
    page = admin_client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()
    for verb in ("send", "reschedule", "unschedule", "cancel"):
        assert f"campaign-verb-{verb}" in page
    assert "campaign-verb-schedule" not in page


def test_the_admin_reschedules_with_a_date_and_time(admin_client, campaign):
    url = f"/admin/campaigns/campaign/{campaign.pk}/do/reschedule/"
    assert 'name="scheduled_at_0"' in admin_client.get(url).content.decode()
    when = timezone.localtime() + dt.timedelta(days=2)
    admin_client.post(url, {"scheduled_at_0": when.strftime("%Y-%m-%d"), "scheduled_at_1": "10:30:00"})
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SCHEDULED
    assert timezone.localtime(campaign.scheduled_at).strftime("%H:%M") == "10:30"


def test_the_admin_moves_it_back_to_draft(admin_client, campaign):
    admin_client.post(f"/admin/campaigns/campaign/{campaign.pk}/do/unschedule/")
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.DRAFT


def test_the_admin_shows_an_overdue_campaign_in_the_list_and_on_its_page(admin_client, campaign):
    Campaign.objects.filter(pk=campaign.pk).update(scheduled_at=timezone.now() - dt.timedelta(minutes=10))
    assert "overdue" in admin_client.get("/admin/campaigns/campaign/").content.decode()
    page = admin_client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()
    assert "campaign-overdue" in page and "/admin/health/" in page


def test_the_admin_duplicates_a_campaign_from_its_page_and_from_the_list(admin_client, campaign):
    response = admin_client.post(f"/admin/campaigns/campaign/{campaign.pk}/duplicate/")
    copy = Campaign.objects.exclude(pk=campaign.pk).get()
    assert response.url == f"/admin/campaigns/campaign/{copy.pk}/change/"
    admin_client.post("/admin/campaigns/campaign/", {"action": "duplicate_selected", "_selected_action": [campaign.pk]})
    assert Campaign.objects.count() == 3


def test_duplicating_needs_a_post(admin_client, campaign):
    assert admin_client.get(f"/admin/campaigns/campaign/{campaign.pk}/duplicate/").status_code == 403


def test_an_update_that_only_changes_the_audience_is_a_change_and_one_that_changes_nothing_is_not(campaign):
    before = campaign.updated_at
    services.campaign_update(campaign=campaign, segments=list(campaign.segments.all()))
    campaign.refresh_from_db()
    assert campaign.updated_at == before

    other = segment_create(name="Newsletter", kind=Segment.Kind.STATIC)
    services.campaign_update(campaign=campaign, segments=[other.pk])
    campaign.refresh_from_db()
    assert list(campaign.segments.all()) == [other]
    assert campaign.updated_at > before
