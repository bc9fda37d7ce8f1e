"""Audience exports hand people to ad platforms: in the back office they take the export permission, and an
analyst, who only looks, can neither export nor refresh."""

import pytest
from django.urls import reverse

from segments import services
from segments.models import Segment
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:segments_segment_changelist")
EXPORT_ACTIONS = ("export_meta", "export_google", "export_csv")


@pytest.fixture
def segment():
    ContactFactory(email="dana@example.com", email_opt_in=True)
    return services.segment_create(name="All", rules={"all": []})


def action_names(client) -> set[str]:
    response = client.get(CHANGELIST)
    form = response.context.get("action_form")
    return {name for name, _label in form.fields["action"].choices if name} if form else set()


def test_a_marketer_may_export_and_refresh(login, segment):
    client = login("Marketer")
    assert {*EXPORT_ACTIONS, "refresh_selected"} <= action_names(client)
    page = client.get(reverse("admin:segments_segment_change", args=[segment.pk])).content.decode()
    assert reverse("admin:segments_segment_export", args=[segment.pk, "meta"]) in page
    response = client.get(reverse("admin:segments_segment_export", args=[segment.pk, "csv"]))
    assert response.status_code == 200
    assert b"dana@example.com" in b"".join(response.streaming_content)


def test_an_analyst_gets_no_export_or_refresh_and_the_export_url_is_refused(login, segment):
    client = login("Analyst")
    assert not ({*EXPORT_ACTIONS, "refresh_selected"} & action_names(client))
    page = client.get(reverse("admin:segments_segment_change", args=[segment.pk])).content.decode()
    assert reverse("admin:segments_segment_export", args=[segment.pk, "meta"]) not in page
    for fmt in ("meta", "google", "csv"):
        assert client.get(reverse("admin:segments_segment_export", args=[segment.pk, fmt])).status_code == 403


def test_an_analyst_posting_an_export_action_gets_no_file(login, segment):
    response = login("Analyst").post(CHANGELIST, {"action": "export_csv", "_selected_action": [segment.pk]})
    assert not response.get("Content-Disposition")
    assert not response.has_header("Content-Type") or "text/csv" not in response["Content-Type"]


def test_an_analyst_posting_refresh_changes_nothing(login, segment):
    ContactFactory()
    before = Segment.objects.values("member_count", "last_refreshed_at").get(pk=segment.pk)
    login("Analyst").post(CHANGELIST, {"action": "refresh_selected", "_selected_action": [segment.pk]})
    assert Segment.objects.values("member_count", "last_refreshed_at").get(pk=segment.pk) == before
