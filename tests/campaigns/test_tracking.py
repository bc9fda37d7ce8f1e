"""Public tracking endpoints: open pixel, click redirect, unsubscribe (RFC 8058) and view in browser."""

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from campaigns import links, tracking
from campaigns.models import Campaign, EmailTemplate, Link, Message, TrackingEvent
from campaigns.tokens import message_token
from contacts.models import ConsentEvent, EmailStatus
from segments.models import Segment, SegmentMembership
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db
HUMAN_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


def make_campaign(name="Summer sale", language="en") -> Campaign:
    template = EmailTemplate.objects.create(
        name=name,
        subject="Hello {{ contact.first_name }}",
        language=language,
        html='<p>Hi {{ contact.first_name|default:"friend" }}</p><a href="https://shop.example.com/sale">Sale</a>'
        '<a href="{{ unsubscribe_url }}">Unsubscribe</a>',
    )
    return Campaign.objects.create(name=name, template=template, status=Campaign.Status.SENT)


def make_message(campaign=None, contact=None, *, sent_ago=dt.timedelta(hours=1), **contact_fields) -> Message:
    campaign = campaign or make_campaign()
    contact = contact or ContactFactory(**contact_fields)
    return Message.objects.create(
        campaign=campaign, contact=contact, status=Message.Status.SENT, sent_at=timezone.now() - sent_ago
    )


def link_for(campaign: Campaign, url="https://shop.example.com/sale?utm_source=crm") -> Link:
    return Link.objects.get(pk=links.link_register(campaign, url))


@pytest.fixture(autouse=True)
def _no_engagement_segments_cached():
    tracking.engagement_check_reset()
    yield
    tracking.engagement_check_reset()


# ------------------------------------------------------------------ open pixel


def assert_gif(response):
    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    assert response.content == tracking.PIXEL_GIF
    assert "no-store" in response["Cache-Control"]


def test_pixel_returns_a_gif_and_records_a_human_open(client):
    message = make_message()
    response = client.get(
        links.open_url(message_token(message.pk)).replace(links._base(), ""), HTTP_USER_AGENT=HUMAN_UA
    )
    assert_gif(response)
    message.refresh_from_db()
    assert (message.open_count, message.machine_open_count) == (1, 0)
    assert message.first_opened_at is not None
    event = TrackingEvent.objects.get(message=message)
    assert (event.kind, event.is_machine, event.machine_reason) == ("open", False, "")
    assert (event.campaign_id, event.contact_id, event.user_agent) == (
        message.campaign_id,
        message.contact_id,
        HUMAN_UA,
    )


@pytest.mark.parametrize("token", ["garbage", "", "1.abc", "zz" * 70, "%00", "1%2F2", "🙂"])
def test_pixel_returns_a_gif_for_garbage_tokens_and_records_nothing(client, token):
    make_message()
    assert_gif(client.get(f"/t/o/{token}.gif"))
    assert not TrackingEvent.objects.exists()
    assert Message.objects.get().open_count == 0


def test_pixel_ignores_a_forged_token_and_a_token_of_a_deleted_message(client):
    message = make_message()
    token = message_token(message.pk)
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert_gif(client.get(f"/t/o/{forged}.gif"))
    assert_gif(client.get(f"/t/o/{message_token(message.pk + 1000)}.gif"))
    assert not TrackingEvent.objects.exists()


def test_every_open_is_counted_but_the_first_open_time_stays(client):
    message = make_message()
    url = f"/t/o/{message_token(message.pk)}.gif"
    client.get(url, HTTP_USER_AGENT=HUMAN_UA)
    first = Message.objects.get().first_opened_at
    client.get(url, HTTP_USER_AGENT=HUMAN_UA)
    client.get(url, HTTP_USER_AGENT=HUMAN_UA)
    message.refresh_from_db()
    assert message.open_count == 3
    assert message.first_opened_at == first
    assert TrackingEvent.objects.filter(kind="open").count() == 3


@pytest.mark.parametrize(
    "headers, reason",
    [
        ({"HTTP_USER_AGENT": "Mozilla/5.0"}, "apple_privacy"),
        ({"REMOTE_ADDR": "17.58.101.12"}, "apple_privacy"),
        ({"HTTP_X_FORWARDED_FOR": "17.120.3.4, 10.0.0.1", "REMOTE_ADDR": "10.0.0.1"}, "apple_privacy"),
        ({"HTTP_USER_AGENT": "Barracuda Sentinel (EE)"}, "scanner"),
        ({"HTTP_USER_AGENT": "Mozilla/5.0 (compatible; Mimecast Security)"}, "scanner"),
        ({"HTTP_USER_AGENT": "Proofpoint URL Defense"}, "scanner"),
        ({"HTTP_USER_AGENT": "Mozilla/5.0 Microsoft SafeLinks"}, "scanner"),
        ({"HTTP_USER_AGENT": "python-requests/2.31"}, "scanner"),
    ],
)
def test_machine_opens_are_flagged_and_counted_apart(client, headers, reason):
    message = make_message()
    assert_gif(client.get(f"/t/o/{message_token(message.pk)}.gif", **headers))
    message.refresh_from_db()
    assert (message.open_count, message.machine_open_count, message.first_opened_at) == (1, 1, None)
    event = TrackingEvent.objects.get()
    assert event.is_machine and event.machine_reason == reason


def test_an_open_seconds_after_sending_is_a_machine(client, settings):
    settings.MACHINE_OPEN_SECONDS = 5
    message = make_message(sent_ago=dt.timedelta(seconds=1))
    client.get(f"/t/o/{message_token(message.pk)}.gif", HTTP_USER_AGENT=HUMAN_UA)
    assert TrackingEvent.objects.get().machine_reason == "too_fast"
    assert Message.objects.get().first_opened_at is None


def test_a_person_opening_after_the_proxy_sets_the_first_human_open(client):
    message = make_message()
    url = f"/t/o/{message_token(message.pk)}.gif"
    client.get(url, HTTP_USER_AGENT="Mozilla/5.0")
    client.get(url, HTTP_USER_AGENT=HUMAN_UA)
    message.refresh_from_db()
    assert (message.open_count, message.machine_open_count) == (2, 1)
    human = TrackingEvent.objects.get(is_machine=False)
    assert message.first_opened_at == human.occurred_at


def test_the_pixel_and_the_redirect_cost_one_statement_on_postgresql(client, django_assert_num_queries):
    message = make_message()
    link = link_for(message.campaign)
    tracking.engagement_rules_in_use()  # the once-a-minute check is warm, as in a running server
    # elsewhere: SELECT, then UPDATE and INSERT inside SAVEPOINT … RELEASE
    expected = 1 if connection.vendor == "postgresql" else 5
    with django_assert_num_queries(expected):
        client.get(f"/t/o/{message_token(message.pk)}.gif", HTTP_USER_AGENT=HUMAN_UA)
    with django_assert_num_queries(expected):
        assert client.get(f"/t/c/{message_token(message.pk)}/{link.pk}/").status_code == 302
    message.refresh_from_db()
    assert (message.open_count, message.click_count) == (1, 1)
    assert TrackingEvent.objects.count() == 2


# ------------------------------------------------------------------ click redirect


def test_click_records_and_redirects_to_the_campaign_link(client):
    message = make_message()
    link = link_for(message.campaign)
    response = client.get(f"/t/c/{message_token(message.pk)}/{link.pk}/", HTTP_USER_AGENT=HUMAN_UA)
    assert response.status_code == 302
    assert response["Location"] == link.url
    message.refresh_from_db()
    assert message.click_count == 1 and message.first_clicked_at is not None
    event = TrackingEvent.objects.get()
    assert (event.kind, event.link_id, event.is_machine) == ("click", link.pk, False)


def test_a_link_of_another_campaign_is_not_found_and_never_redirected(client):
    message = make_message()
    other = link_for(make_campaign("Other"), "https://evil.example.net/")
    response = client.get(f"/t/c/{message_token(message.pk)}/{other.pk}/")
    assert response.status_code == 404
    assert "Location" not in response
    assert not TrackingEvent.objects.exists()
    assert Message.objects.get().click_count == 0


@pytest.mark.parametrize(
    "path",
    [
        "/t/c/garbage/1/",
        "/t/c/{token}/abc/",
        "/t/c/{token}/99999999/",
        "/t/c/{token}/%C2%B2/",
        "/t/c/{forged}/{link}/",
        "/t/c/{token}/{link}0000000000000000000/",
    ],
)
def test_garbage_clicks_get_the_not_found_page(client, path):
    message = make_message()
    link = link_for(message.campaign)
    token = message_token(message.pk)
    response = client.get(
        path.format(token=token, forged=token[:-1] + ("x" if token[-1] != "x" else "y"), link=link.pk)
    )
    assert response.status_code == 404
    assert b"This link does not work" in response.content
    assert not TrackingEvent.objects.exists()


def test_a_click_right_after_delivery_before_any_open_is_a_scanner(client, settings):
    settings.MACHINE_OPEN_SECONDS = 30
    message = make_message(sent_ago=dt.timedelta(seconds=3))
    link = link_for(message.campaign)
    response = client.get(f"/t/c/{message_token(message.pk)}/{link.pk}/", HTTP_USER_AGENT=HUMAN_UA)
    assert response.status_code == 302  # the scanner still gets its redirect
    event = TrackingEvent.objects.get()
    assert event.is_machine and event.machine_reason == "click_before_open"
    message.refresh_from_db()
    assert message.click_count == 1 and message.first_clicked_at is None


def test_a_scanner_click_is_flagged(client):
    message = make_message()
    link = link_for(message.campaign)
    client.get(f"/t/c/{message_token(message.pk)}/{link.pk}/", HTTP_USER_AGENT="Mimecast URL Protect")
    assert TrackingEvent.objects.get().machine_reason == "scanner"
    assert Message.objects.get().first_clicked_at is None


# ------------------------------------------------------------------ segments follow engagement


def test_a_human_open_re_evaluates_the_contacts_segments(client, django_capture_on_commit_callbacks):
    message = make_message()
    segment = Segment.objects.create(
        name="Opened",
        kind=Segment.Kind.DYNAMIC,
        rules={"field": "email_opened", "op": "campaign", "value": message.campaign_id},
    )
    with django_capture_on_commit_callbacks(execute=True):
        client.get(f"/t/o/{message_token(message.pk)}.gif", HTTP_USER_AGENT=HUMAN_UA)
    assert SegmentMembership.objects.filter(segment=segment, contact=message.contact, left_at__isnull=True).exists()


def test_a_human_click_re_evaluates_the_contacts_segments(client, django_capture_on_commit_callbacks):
    message = make_message()
    link = link_for(message.campaign)
    segment = Segment.objects.create(
        name="Clicked",
        kind=Segment.Kind.DYNAMIC,
        rules={"field": "email_clicked", "op": "within_last_days", "value": 7},
    )
    with django_capture_on_commit_callbacks(execute=True):
        client.get(f"/t/c/{message_token(message.pk)}/{link.pk}/", HTTP_USER_AGENT=HUMAN_UA)
    assert SegmentMembership.objects.filter(segment=segment, contact=message.contact, left_at__isnull=True).exists()


def test_a_machine_open_changes_no_segment(client, django_capture_on_commit_callbacks):
    message = make_message()
    Segment.objects.create(
        name="Opened", kind=Segment.Kind.DYNAMIC, rules={"field": "email_opened", "op": "within_last_days", "value": 7}
    )
    with django_capture_on_commit_callbacks() as callbacks:
        client.get(f"/t/o/{message_token(message.pk)}.gif", HTTP_USER_AGENT="Mozilla/5.0")
    assert callbacks == []
    assert not SegmentMembership.objects.exists()


def is_member(segment, contact) -> bool:
    return SegmentMembership.objects.filter(segment=segment, contact=contact, left_at__isnull=True).exists()


def test_a_human_open_right_after_an_engagement_segment_is_created_makes_the_contact_a_member(
    client, django_capture_on_commit_callbacks
):
    from segments.services import segment_create

    message = make_message()
    assert not tracking.engagement_rules_in_use()  # warm, as in a running server: nothing looks at opens yet
    with django_capture_on_commit_callbacks(execute=True):
        segment = segment_create(
            name="Opened today", rules={"field": "email_opened", "op": "within_last_days", "value": 1}
        )
    assert not is_member(segment, message.contact)
    with django_capture_on_commit_callbacks(execute=True):
        client.get(f"/t/o/{message_token(message.pk)}.gif", HTTP_USER_AGENT=HUMAN_UA)
    assert is_member(segment, message.contact)


def test_a_human_click_right_after_a_segment_is_edited_to_look_at_clicks_makes_the_contact_a_member(
    client, django_capture_on_commit_callbacks
):
    from segments.services import segment_create, segment_update

    message = make_message()
    link = link_for(message.campaign)
    with django_capture_on_commit_callbacks(execute=True):
        segment = segment_create(name="Haifa", rules={"field": "city", "op": "eq", "value": "haifa"})
    assert not tracking.engagement_rules_in_use()
    with django_capture_on_commit_callbacks(execute=True):
        segment_update(segment=segment, rules={"field": "email_clicked", "op": "within_last_days", "value": 1})
    with django_capture_on_commit_callbacks(execute=True):
        client.get(f"/t/c/{message_token(message.pk)}/{link.pk}/", HTTP_USER_AGENT=HUMAN_UA)
    assert is_member(segment, message.contact)


def test_opens_skip_segment_work_while_no_segment_looks_at_engagement(client, django_capture_on_commit_callbacks):
    message = make_message()
    Segment.objects.create(
        name="Haifa", kind=Segment.Kind.DYNAMIC, rules={"field": "city", "op": "eq", "value": "haifa"}
    )
    with django_capture_on_commit_callbacks() as callbacks:
        client.get(f"/t/o/{message_token(message.pk)}.gif", HTTP_USER_AGENT=HUMAN_UA)
    assert callbacks == []


# ------------------------------------------------------------------ unsubscribe


def test_unsubscribe_get_asks_and_changes_nothing(client):
    message = make_message(language="en")
    response = client.get(f"/u/{message_token(message.pk)}/")
    assert response.status_code == 200
    assert b'<form method="post"' in response.content
    assert b'lang="en" dir="ltr"' in response.content
    contact = message.contact
    contact.refresh_from_db()
    assert contact.email_opt_in and contact.email_status == EmailStatus.ACTIVE
    assert not ConsentEvent.objects.exists() and not TrackingEvent.objects.exists()
    assert Message.objects.get().unsubscribed_at is None


def test_unsubscribe_page_is_hebrew_right_to_left_for_a_hebrew_contact(client):
    message = make_message(language="he")
    response = client.get(f"/u/{message_token(message.pk)}/")
    assert b'lang="he" dir="rtl"' in response.content


@pytest.mark.parametrize(
    "body, content_type, one_click",
    [
        ("List-Unsubscribe=One-Click", "application/x-www-form-urlencoded", True),
        ("", "application/x-www-form-urlencoded", False),
        ("", "text/plain", False),
    ],
)
def test_one_click_post_unsubscribes_without_cookie_or_csrf_token(body, content_type, one_click):
    message = make_message()
    client = Client(enforce_csrf_checks=True)
    response = client.post(f"/u/{message_token(message.pk)}/", data=body, content_type=content_type)
    assert response.status_code == 200
    contact = message.contact
    contact.refresh_from_db()
    assert not contact.email_opt_in and contact.email_status == EmailStatus.UNSUBSCRIBED
    consent = ConsentEvent.objects.get()
    assert (consent.channel, consent.granted, consent.source) == ("email", False, f"campaign:{message.campaign_id}")
    assert Message.objects.get().unsubscribed_at is not None
    event = TrackingEvent.objects.get()
    assert event.kind == "unsubscribe" and event.detail["one_click"] is one_click


def test_a_repeated_unsubscribe_logs_once(client):
    message = make_message()
    url = f"/u/{message_token(message.pk)}/"
    client.post(url, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    response = client.post(url)
    assert response.status_code == 200 and b"unsubscribe-done" in response.content
    assert ConsentEvent.objects.count() == 1 and TrackingEvent.objects.count() == 1


def test_unsubscribing_keeps_a_bounce(client):
    message = make_message(email_status=EmailStatus.BOUNCED)
    client.post(f"/u/{message_token(message.pk)}/")
    contact = message.contact
    contact.refresh_from_db()
    assert contact.email_status == EmailStatus.BOUNCED and not contact.email_opt_in
    assert ConsentEvent.objects.count() == 1


@pytest.mark.parametrize("method", ["get", "post"])
def test_unsubscribe_with_a_bad_token_is_not_found(client, method):
    message = make_message()
    token = message_token(message.pk)
    for bad in ("garbage", token[:-3] + "abc", message_token(message.pk + 50)):
        response = getattr(client, method)(f"/u/{bad}/")
        assert response.status_code == 404
    assert not ConsentEvent.objects.exists()


def test_unsubscribe_of_an_erased_contact_is_not_found(client):
    message = make_message(erased_at=timezone.now())
    assert client.get(f"/u/{message_token(message.pk)}/").status_code == 404


# ------------------------------------------------------------------ view in browser


def test_view_in_browser_renders_the_mail_for_its_contact_with_tracked_links(client):
    message = make_message(first_name="Dana")
    token = message_token(message.pk)
    response = client.get(f"/m/{token}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Hi Dana" in html
    assert f"/t/c/{token}/" in html
    assert "https://shop.example.com/sale" not in html  # only through the redirect
    assert f"/u/{token}/" in html
    assert "/t/o/" not in html  # no pixel: viewing the page is not an open
    assert not TrackingEvent.objects.exists()
    link_id = int(html.split(f"/t/c/{token}/")[1].split("/")[0])
    assert client.get(f"/t/c/{token}/{link_id}/")["Location"].startswith("https://shop.example.com/sale?utm_")


def test_view_in_browser_with_a_bad_token_is_not_found(client):
    make_message()
    assert client.get("/m/nope.nope/").status_code == 404
