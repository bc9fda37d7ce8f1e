"""The campaign form: segments with their stored sizes, how many the picked segments reach before saving
(the send's own rules), plain help, and no "Cancel" beside "Send now" on a draft."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaigns.services import campaign_create, template_create
from segments.models import Segment
from segments.services import segment_create, static_add
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db
COUNT = reverse("admin:campaigns_campaign_audience_count")


@pytest.fixture
def haifa():
    return segment_create(name="Haifa", rules={"field": "city", "op": "eq", "value": "Haifa"})


def test_segments_are_listed_with_their_stored_size(admin_client, haifa):
    Segment.objects.filter(pk=haifa.pk).update(member_count=12345)

    with CaptureQueriesContext(connection) as queries:
        page = admin_client.get(reverse("admin:campaigns_campaign_add")).content.decode()

    assert "Haifa (12,345)" in page
    assert not any("city" in query["sql"] for query in queries.captured_queries)  # no live count per option
    assert "recipients never see it" in page  # plain-language help
    assert COUNT in page


def test_the_count_before_saving_is_the_sends_audience(admin_client, haifa):
    in_haifa = [ContactFactory(city="Haifa") for _ in range(3)]
    ContactFactory(city="Haifa", email_opt_in=False)
    ContactFactory(city="Eilat")
    vip = segment_create(name="VIP", kind=Segment.Kind.STATIC)
    static_add(segment=vip, contact_ids=[in_haifa[0].pk])

    body = admin_client.get(COUNT, {"segments": [haifa.pk], "exclude_segments": [vip.pk]}).json()

    assert (body["total"], body["eligible"]) == (3, 2)
    assert body["message"].startswith("This campaign will go to 2 contacts (3 in the segments")


def test_no_segment_picked_yet(admin_client):
    body = admin_client.get(COUNT).json()
    assert body["eligible"] == 0 and "Pick a segment" in body["message"]


@pytest.mark.parametrize(
    "query, field",
    [
        ({"segments": ["abc"]}, "segments"),
        ({"segments": ["999999"]}, "segments"),
        ({"exclude_segments": [str(n) for n in range(1, 500)]}, "exclude_segments"),
    ],
)
def test_a_bad_count_request_is_a_400_naming_the_field(admin_client, query, field):
    response = admin_client.get(COUNT, query)

    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_counting_needs_the_right_to_edit_campaigns(login, haifa):
    assert login("Analyst").get(COUNT, {"segments": [haifa.pk]}).status_code == 403


def test_a_draft_offers_send_now_without_cancel_beside_it(admin_client, haifa):
    template = template_create(name="Sale", subject="Sale", html="<p>Hi</p>", language="en")
    campaign = campaign_create(name="Spring", template=template, segments=[haifa])

    page = admin_client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).content.decode()

    assert reverse("admin:campaigns_campaign_verb", args=[campaign.pk, "send"]) in page
    assert reverse("admin:campaigns_campaign_verb", args=[campaign.pk, "cancel"]) not in page
    assert 'id="campaign-audience-count"' in page
