"""Campaign mail as a real SMTP server on loopback receives it (CONTRACT.md §5)."""

import re

import pytest
from django.core.exceptions import ValidationError

from campaigns import audience, sending, services
from campaigns.models import Campaign, Link, Message
from campaigns.outbox import Outbox, TransientSendError
from campaigns.tokens import message_id_from_token
from tests.campaigns.conftest import HEBREW_HTML
from tests.factories import ContactFactory, MemberFactory

pytestmark = pytest.mark.django_db

CLICK = re.compile(r'href="(http://[^"]+/t/c/([^/"]+)/(\d+)/)"')
PIXEL = re.compile(r'<img src="http://[^"]+/t/o/([^"]+)\.gif" width="1" height="1"')


def parts(message):
    return (message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content())


def test_the_received_mail_is_multipart_with_unsubscribe_headers_and_message_id(
    smtp_settings, smtp_sink, make_campaign, run_campaign
):
    contact = ContactFactory(first_name="Dana")
    campaign = run_campaign(make_campaign([contact], reply_to="help@shop.example"))
    [received] = smtp_sink.messages
    message = Message.objects.get(campaign=campaign)

    assert received.get_content_type() == "multipart/alternative"
    assert received["Message-ID"] == message.message_id
    assert received["From"] == "Shop Club <club@shop.example>"
    assert received["Reply-To"] == "help@shop.example"
    assert received["To"] == contact.email
    assert received["Subject"] == "Hello Dana"
    unsubscribe = re.fullmatch(r"<(http://\S+/u/(\S+)/)>", received["List-Unsubscribe"].strip())
    assert message_id_from_token(unsubscribe.group(2)) == message.pk
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text, html = parts(received)
    assert unsubscribe.group(1) in html and "Hi Dana" in text


def test_unsubscribe_mailto_is_offered_when_configured(smtp_settings, smtp_sink, make_campaign, run_campaign):
    smtp_settings.UNSUBSCRIBE_MAILTO = "unsubscribe@shop.example"
    run_campaign(make_campaign([ContactFactory()]))
    header = smtp_sink.messages[0]["List-Unsubscribe"].strip()
    assert re.fullmatch(r"<http://\S+/u/\S+/>, <mailto:unsubscribe@shop\.example\?subject=unsubscribe%20\S+>", header)


def test_links_point_at_the_click_redirect_with_valid_tokens_and_utm(
    smtp_settings, smtp_sink, make_campaign, run_campaign
):
    campaign = run_campaign(make_campaign([ContactFactory()]))
    message = Message.objects.get(campaign=campaign)
    _text, html = parts(smtp_sink.messages[0])

    clicks = CLICK.findall(html)
    assert len(clicks) == 1 and "https://shop.example.com/new" not in html
    _url, token, link_id = clicks[0]
    assert message_id_from_token(token) == message.pk
    link = Link.objects.get(pk=link_id, campaign=campaign)
    assert link.url == "https://shop.example.com/new?utm_source=crm&utm_medium=email&utm_campaign=spring-sale"
    pixels = PIXEL.findall(html)
    assert len(pixels) == 1 and message_id_from_token(pixels[0]) == message.pk


def test_a_hebrew_mail_arrives_right_to_left_in_utf8(
    smtp_settings, smtp_sink, make_template, make_campaign, run_campaign
):
    member = MemberFactory(contact=ContactFactory(first_name="נועה"), points=120)
    template = make_template(subject="{{ contact.first_name }}, מבצע חורף", html=HEBREW_HTML, language="he")
    run_campaign(make_campaign([member.contact], template=template, from_name="מועדון החנות"))
    received = smtp_sink.messages[0]
    text, html = parts(received)

    assert received["Subject"] == "נועה, מבצע חורף"
    assert received["From"].addresses[0].display_name == "מועדון החנות"
    assert 'dir="rtl"' in html and "שלום נועה" in html and "120 נקודות" in html
    assert "שלום נועה" in text
    assert re.search(r"<(\S+)>", received["List-Unsubscribe"]).group(1) in html


def test_a_bare_template_gets_an_unsubscribe_footer(
    smtp_settings, smtp_sink, make_template, make_campaign, run_campaign
):
    template = make_template(html="<html><body><p>Only this</p></body></html>", layout="none")
    campaign = run_campaign(make_campaign([ContactFactory()], template=template))
    _text, html = parts(smtp_sink.messages[0])
    url = re.search(r"<(\S+)>", smtp_sink.messages[0]["List-Unsubscribe"].strip()).group(1)
    assert f'<a href="{url}" data-no-track="1">Unsubscribe</a>' in html
    assert html.index("Unsubscribe") < html.index("</body>")
    assert campaign.status == Campaign.Status.SENT


def test_temporary_smtp_failures_are_retried_until_accepted(smtp_settings, smtp_sink, make_campaign, run_campaign):
    smtp_settings.CAMPAIGN_RETRY_SECONDS = 0
    busy, fine = ContactFactory(), ContactFactory()
    smtp_sink.rcpt_replies[busy.email] = ["451 4.7.1 Try again later", "421 4.4.2 Busy"]
    campaign = run_campaign(make_campaign([busy, fine]))

    assert sorted(smtp_sink.recipients()) == sorted([busy.email, fine.email])
    retried = Message.objects.get(campaign=campaign, contact=busy)
    assert (retried.status, retried.attempts) == (Message.Status.SENT, 3)
    assert campaign.status == Campaign.Status.SENT


def test_a_permanent_smtp_failure_fails_the_message_with_the_reason(
    smtp_settings, smtp_sink, make_campaign, run_campaign
):
    gone, fine = ContactFactory(), ContactFactory()
    smtp_sink.rcpt_replies[gone.email] = "550 5.1.1 No such user"
    campaign = run_campaign(make_campaign([gone, fine]))

    assert smtp_sink.recipients() == [fine.email]
    failed = Message.objects.get(campaign=campaign, contact=gone)
    assert failed.status == Message.Status.FAILED and failed.error == "550 5.1.1 No such user"
    assert failed.attempts == 1


def test_a_message_always_deferred_fails_after_the_last_attempt(smtp_settings, smtp_sink, make_campaign, run_campaign):
    smtp_settings.CAMPAIGN_RETRY_SECONDS, smtp_settings.CAMPAIGN_MAX_ATTEMPTS = 0, 3
    contact = ContactFactory()
    smtp_sink.rcpt_replies[contact.email] = "451 4.3.0 Mailbox busy"
    campaign = run_campaign(make_campaign([contact]))
    message = Message.objects.get(campaign=campaign)
    assert (message.status, message.attempts, message.error) == (Message.Status.FAILED, 3, "451 4.3.0 Mailbox busy")
    assert smtp_sink.messages == []


def test_a_worker_that_dies_before_the_end_of_data_is_resent_once_on_resume(
    smtp_settings, smtp_sink, make_campaign, run_campaign, django_capture_on_commit_callbacks
):
    contacts = ContactFactory.create_batch(4)
    campaign = make_campaign(contacts)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SENDING)
    audience.snapshot(campaign)
    outbox = Outbox()
    ids, _stamp = sending.claim(campaign.pk, after=0, size=2)
    [(_message, email)] = sending.batch_mails(
        campaign, list(Message.objects.filter(pk=ids[0]).select_related("contact"))
    )

    def die():
        raise KeyboardInterrupt  # the process is killed between DATA and the commit

    with pytest.raises(KeyboardInterrupt):
        outbox.send(email, die)
    outbox.abort()

    run_campaign(campaign, action=services.campaign_resume)
    assert sorted(smtp_sink.recipients()) == sorted(c.email for c in contacts)
    assert campaign.status == Campaign.Status.SENT


def test_a_test_send_is_marked_and_recorded_nowhere(smtp_settings, smtp_sink, make_campaign):
    contact = ContactFactory(first_name="Avi")
    campaign = make_campaign([contact])
    sent = services.campaign_test_send(
        campaign=campaign, emails=["boss@shop.example", "Team@Shop.example"], contact=contact
    )
    assert sent == 2
    assert sorted(smtp_sink.recipients()) == ["boss@shop.example", "team@shop.example"]
    assert all(m["Subject"] == "[TEST] Hello Avi" for m in smtp_sink.messages)
    assert Message.objects.count() == 0 and Link.objects.count() == 0


def test_a_test_send_refuses_bad_addresses_by_name(smtp_settings, smtp_sink, make_template):
    with pytest.raises(ValidationError) as error:
        services.campaign_test_send(template=make_template(), emails=["ok@shop.example", "not-an-address"])
    assert "not-an-address" in str(error.value.message_dict["emails"])
    assert smtp_sink.messages == []


def test_a_group_completes_together_and_a_refusal_in_it_spares_the_others(
    smtp_settings, smtp_sink, make_campaign, run_campaign, django_assert_max_num_queries
):
    smtp_settings.CAMPAIGN_SMTP_CONNECTIONS = 8
    contacts = ContactFactory.create_batch(8)
    smtp_sink.rcpt_replies[contacts[2].email] = "550 5.1.1 No such user"
    campaign = make_campaign(contacts)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SENDING)
    audience.snapshot(campaign)
    ids, stamp = sending.claim(campaign.pk, after=0, size=8)
    pairs = sending.batch_mails(
        campaign, list(Message.objects.filter(pk__in=ids).select_related("contact").order_by("pk"))
    )
    outbox = Outbox()
    try:
        with django_assert_max_num_queries(6):  # one failure mark, then lock + mark the group sent
            sent = sending.deliver_group(outbox.lanes(8), pairs, stamp)
    finally:
        outbox.close()
    assert sent == 7
    assert sorted(smtp_sink.recipients()) == sorted(c.email for i, c in enumerate(contacts) if i != 2)
    statuses = dict(Message.objects.filter(campaign=campaign).values_list("contact_id", "status"))
    assert statuses.pop(contacts[2].pk) == Message.Status.FAILED
    assert set(statuses.values()) == {Message.Status.SENT}
    assert len(set(Message.objects.filter(status=Message.Status.SENT).values_list("message_id", flat=True))) == 7


def test_a_server_that_takes_fewer_connections_still_gets_every_mail_once(
    smtp_settings, smtp_sink, make_campaign, run_campaign, monkeypatch
):
    smtp_settings.CAMPAIGN_SMTP_CONNECTIONS = 8
    opened = []
    real_open = Outbox.open

    def open_at_most_three(self):
        if not self.is_open and self not in opened:
            if len(opened) >= 3:
                raise TransientSendError("too many connections from your host")
            opened.append(self)
        real_open(self)

    monkeypatch.setattr(Outbox, "open", open_at_most_three)
    contacts = ContactFactory.create_batch(12)
    campaign = run_campaign(make_campaign(contacts))
    assert sorted(smtp_sink.recipients()) == sorted(c.email for c in contacts)
    assert campaign.status == Campaign.Status.SENT
    assert len(opened) == 3
