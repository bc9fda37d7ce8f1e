"""Provider webhooks through django-anymail: each provider's documented payload, POSTed to anymail's
tracking URL with the basic-auth secret, ends up on the Message, the contact and its timeline."""

import base64
import datetime as dt
import hashlib
import hmac
import json
import socket
import uuid

import pytest
from django.utils import timezone

from campaigns import webhooks
from campaigns.models import Campaign, EmailTemplate, Message, TrackingEvent
from contacts import selectors
from contacts.models import ConsentEvent, EmailStatus
from tests.factories import ContactFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning"),
]
SECRET = "anymail-user:s3cret-Passw0rd"
MAILGUN_KEY = "key-0123456789abcdef"
AUTH = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(SECRET.encode()).decode()}


@pytest.fixture(autouse=True)
def _webhook_settings(settings):
    settings.ANYMAIL = {
        "WEBHOOK_SECRET": SECRET,
        "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY,
        "AMAZON_SES_AUTO_CONFIRM_SNS_SUBSCRIPTIONS": False,
    }
    settings.SOFT_BOUNCE_LIMIT = 3


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """Nothing here may leave the machine (an SNS subscription confirmation least of all)."""
    real_connect = socket.socket.connect

    def connect(sock, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and host not in ("127.0.0.1", "::1", "localhost") and not host.startswith("/"):
            raise AssertionError(f"network access to {address!r}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


def make_message(*, esp_id=None, header_id=None, email=None, **contact_fields) -> Message:
    template = EmailTemplate.objects.create(name="T", subject="Hi", html="<p>Hi</p>", language="en")
    campaign = Campaign.objects.create(name="Spring", template=template, status=Campaign.Status.SENT)
    contact = ContactFactory(email=email or f"{uuid.uuid4().hex[:10]}@example.com", **contact_fields)
    return Message.objects.create(
        campaign=campaign,
        contact=contact,
        status=Message.Status.SENT,
        sent_at=timezone.now() - dt.timedelta(hours=2),
        esp_message_id=esp_id,
        message_id=header_id or f"<{uuid.uuid4().hex}@club.example.com>",
    )


def status_of(message: Message) -> str:
    message.contact.refresh_from_db()
    return message.contact.email_status


# ------------------------------------------------------------------ Amazon SES (SNS notifications)


def ses_mail(message: Message) -> dict:
    email = message.contact.email
    return {
        "timestamp": "2026-05-01T10:00:00.000Z",
        "source": "club@example.com",
        "sourceArn": "arn:aws:ses:us-east-1:123456789012:identity/example.com",
        "sourceIp": "127.0.3.0",
        "sendingAccountId": "123456789012",
        "messageId": message.esp_message_id or "0100018f2a5e6b7c-unknown-000000",
        "destination": [email],
        "headersTruncated": False,
        "headers": [
            {"name": "From", "value": "Club <club@example.com>"},
            {"name": "To", "value": email},
            {"name": "Message-ID", "value": message.message_id},
            {"name": "Subject", "value": "Hi"},
        ],
        "commonHeaders": {
            "from": ["Club <club@example.com>"],
            "to": [email],
            "messageId": message.message_id,
            "subject": "Hi",
        },
    }


def ses_post(client, ses_event: dict, sns_type="Notification"):
    sns_id = str(uuid.uuid4())
    body = {
        "Type": sns_type,
        "MessageId": sns_id,
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:ses-feedback",
        "Message": json.dumps(ses_event),
        "Timestamp": "2026-05-01T10:00:01.000Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLEpH+DcEwjAPg8O9mY8dReBSwksfg2S7WKQcikcNKWLQjwu6A4VbeS0QHVCkhRS7fUQvi2egU3N858fiTDN6bkk"
        "OxYDVrY0Ad8L10Hs3zH81mtnPk5uvvolIC1CXGu43obcgFxeL3khZl8IKvO61GWB6jI9b5+gLPoBc1Q=",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:"
        "us-east-1:123456789012:ses-feedback:9e8e2b8c",
    }
    if sns_type == "SubscriptionConfirmation":
        body["SubscribeURL"] = "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=2336412f37"
        body["Token"] = "2336412f37"
    return client.post(
        "/anymail/amazon_ses/tracking/",
        data=json.dumps(body),
        content_type="text/plain; charset=UTF-8",
        HTTP_X_AMZ_SNS_MESSAGE_TYPE=sns_type,
        HTTP_X_AMZ_SNS_MESSAGE_ID=sns_id,
        **AUTH,
    )


def ses_bounce(message: Message, bounce_type="Permanent", sub_type="General") -> dict:
    return {
        "notificationType": "Bounce",
        "mail": ses_mail(message),
        "bounce": {
            "bounceType": bounce_type,
            "bounceSubType": sub_type,
            "timestamp": "2026-05-01T10:00:00.500Z",
            "feedbackId": "0100018f2a5e6b7c-bounce-000000",
            "reportingMTA": "dsn; a8-70.smtp-out.amazonses.com",
            "bouncedRecipients": [
                {
                    "emailAddress": message.contact.email,
                    "action": "failed",
                    "status": "5.1.1",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                }
            ],
        },
    }


def test_ses_permanent_bounce_suppresses_the_contact(client):
    message = make_message(esp_id="0100018f2a5e6b7c-aaaa-000000")
    assert ses_post(client, ses_bounce(message)).status_code == 200
    message.refresh_from_db()
    assert message.bounced_at is not None and message.bounce_type == "hard"
    assert status_of(message) == EmailStatus.BOUNCED
    event = TrackingEvent.objects.get(message=message)
    assert event.kind == "bounce" and event.detail["bounce_type"] == "hard" and event.detail["esp"] == "Amazon SES"


def test_ses_bounce_is_matched_by_our_message_id_header_too(client):
    message = make_message(esp_id=None)
    ses_post(client, ses_bounce(message))
    assert status_of(message) == EmailStatus.BOUNCED


def test_ses_transient_bounce_is_soft(client):
    message = make_message(esp_id="0100018f2a5e6b7c-bbbb-000000")
    ses_post(client, ses_bounce(message, "Transient", "MailboxFull"))
    message.refresh_from_db()
    assert message.bounced_at is None and message.bounce_type == "soft"
    assert status_of(message) == EmailStatus.ACTIVE


def test_ses_complaint_marks_the_contact_complained(client):
    message = make_message(esp_id="0100018f2a5e6b7c-cccc-000000")
    ses_event = {
        "notificationType": "Complaint",
        "mail": ses_mail(message),
        "complaint": {
            "complainedRecipients": [{"emailAddress": message.contact.email}],
            "timestamp": "2026-05-01T11:00:00.000Z",
            "feedbackId": "0100018f-complaint-000000",
            "userAgent": "Yahoo!-Mail-Feedback/2.0",
            "complaintFeedbackType": "abuse",
            "arrivalDate": "2026-05-01T10:59:00.000Z",
        },
    }
    assert ses_post(client, ses_event).status_code == 200
    message.refresh_from_db()
    assert message.complained_at is not None
    assert status_of(message) == EmailStatus.COMPLAINED
    assert TrackingEvent.objects.get().kind == "complaint"


def test_ses_subscription_confirmation_is_not_fetched(client, monkeypatch):
    import boto3

    monkeypatch.setattr(boto3.session, "Session", lambda *a, **k: pytest.fail("SNS confirmation attempted"))
    message = make_message()
    assert ses_post(client, ses_bounce(message), sns_type="SubscriptionConfirmation").status_code == 200
    assert not TrackingEvent.objects.exists()


def test_ses_webhook_without_the_secret_is_refused(client):
    message = make_message(esp_id="0100018f2a5e6b7c-dddd-000000")
    body = json.dumps({"Type": "Notification", "MessageId": "x", "Message": json.dumps(ses_bounce(message))})
    response = client.post(
        "/anymail/amazon_ses/tracking/",
        data=body,
        content_type="text/plain",
        HTTP_X_AMZ_SNS_MESSAGE_TYPE="Notification",
        HTTP_X_AMZ_SNS_MESSAGE_ID="x",
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"anymail-user:wrong").decode(),
    )
    assert response.status_code == 400
    assert status_of(message) == EmailStatus.ACTIVE


# ------------------------------------------------------------------ SendGrid (event webhook array)


def sendgrid_event(message: Message, event: str, **fields) -> dict:
    return {
        "email": message.contact.email,
        "timestamp": 1777629600,
        "smtp-id": message.message_id,
        "event": event,
        "category": ["campaign"],
        "sg_event_id": base64.b64encode(uuid.uuid4().bytes).decode(),
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        **fields,
    }


def sendgrid_post(client, events: list):
    return client.post("/anymail/sendgrid/tracking/", data=json.dumps(events), content_type="application/json", **AUTH)


def test_sendgrid_bounce_blocked_deferred_and_spamreport(client):
    hard = make_message()
    soft = make_message()
    deferred = make_message()
    complained = make_message()
    response = sendgrid_post(
        client,
        [
            sendgrid_event(
                hard,
                "bounce",
                reason="550 5.1.1 unknown recipient",
                status="5.1.1",
                type="bounce",
                bounce_classification="Invalid Address",
            ),
            sendgrid_event(
                soft,
                "bounce",
                reason="550 blocked by policy",
                status="5.7.1",
                type="blocked",
                bounce_classification="Reputation",
            ),
            sendgrid_event(deferred, "deferred", response="400 try again later", attempt="5"),
            sendgrid_event(complained, "spamreport"),
        ],
    )
    assert response.status_code == 200
    assert status_of(hard) == EmailStatus.BOUNCED
    assert Message.objects.get(pk=hard.pk).bounce_type == "hard"
    assert status_of(soft) == EmailStatus.ACTIVE and Message.objects.get(pk=soft.pk).bounce_type == "soft"
    assert TrackingEvent.objects.get(message=deferred).kind == "deferred"
    assert status_of(complained) == EmailStatus.COMPLAINED


def test_sendgrid_unsubscribe_writes_the_consent_log(client):
    message = make_message()
    sendgrid_post(client, [sendgrid_event(message, "unsubscribe")])
    consent = ConsentEvent.objects.get()
    assert (consent.granted, consent.source) == (False, f"campaign:{message.campaign_id}")
    assert status_of(message) == EmailStatus.UNSUBSCRIBED
    assert Message.objects.get().unsubscribed_at is not None
    assert TrackingEvent.objects.get().kind == "unsubscribe"


def test_a_retried_webhook_is_recorded_once(client):
    message = make_message()
    event = sendgrid_event(message, "bounce", reason="550 unknown", type="bounce")
    sendgrid_post(client, [event])
    sendgrid_post(client, [event])
    assert TrackingEvent.objects.count() == 1


# ------------------------------------------------------------------ Mailgun (signed event-data)


def mailgun_post(client, event_data: dict, key=MAILGUN_KEY):
    token = uuid.uuid4().hex + uuid.uuid4().hex[:18]
    timestamp = str(int(timezone.now().timestamp()))
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    body = {"signature": {"timestamp": timestamp, "token": token, "signature": signature}, "event-data": event_data}
    return client.post("/anymail/mailgun/tracking/", data=json.dumps(body), content_type="application/json", **AUTH)


def mailgun_failed(message: Message, severity: str) -> dict:
    return {
        "event": "failed",
        "id": uuid.uuid4().hex[:22],
        "timestamp": timezone.now().timestamp(),
        "severity": severity,
        "reason": "bounce" if severity == "permanent" else "generic",
        "recipient": message.contact.email,
        "log-level": "error",
        "delivery-status": {
            "attempt-no": 1,
            "message": "No such mailbox" if severity == "permanent" else "Try later",
            "code": 550 if severity == "permanent" else 452,
            "description": "",
            "session-seconds": 0.4,
        },
        "message": {
            "headers": {
                "to": message.contact.email,
                "message-id": message.message_id.strip("<>"),
                "from": "Club <club@example.com>",
                "subject": "Hi",
            },
            "attachments": [],
            "size": 2048,
        },
        "flags": {"is-routed": False, "is-authenticated": True, "is-system-test": False, "is-test-mode": False},
        "envelope": {
            "transport": "smtp",
            "sender": "club@example.com",
            "sending-ip": "209.61.154.250",
            "targets": message.contact.email,
        },
        "user-variables": {},
        "tags": [],
    }


def test_mailgun_permanent_failure_is_a_hard_bounce(client):
    message = make_message()
    assert mailgun_post(client, mailgun_failed(message, "permanent")).status_code == 200
    assert status_of(message) == EmailStatus.BOUNCED
    assert Message.objects.get().bounce_type == "hard"


def test_mailgun_complaint(client):
    message = make_message()
    event = {
        "event": "complained",
        "id": "-Agny091SquKnsrW2NEKUA",
        "timestamp": timezone.now().timestamp(),
        "recipient": message.contact.email,
        "log-level": "warn",
        "message": {
            "headers": {
                "to": message.contact.email,
                "message-id": message.message_id.strip("<>"),
                "from": "club@example.com",
                "subject": "Hi",
            },
            "attachments": [],
            "size": 111,
        },
        "envelope": {"sending-ip": "173.193.210.33"},
        "user-variables": {},
        "tags": [],
    }
    mailgun_post(client, event)
    assert status_of(message) == EmailStatus.COMPLAINED


def test_mailgun_webhook_with_a_bad_signature_is_refused(client):
    message = make_message()
    assert mailgun_post(client, mailgun_failed(message, "permanent"), key="key-wrong").status_code == 400
    assert status_of(message) == EmailStatus.ACTIVE


def test_soft_bounces_on_enough_different_messages_suppress_the_contact(client):
    contact = ContactFactory()
    messages = [make_message(email=None) for _ in range(3)]
    for message in messages:
        Message.objects.filter(pk=message.pk).update(contact=contact)
        message.refresh_from_db()
    mailgun_post(client, mailgun_failed(messages[0], "temporary"))
    mailgun_post(client, mailgun_failed(messages[0], "temporary"))  # the provider retrying one mail counts once
    mailgun_post(client, mailgun_failed(messages[1], "temporary"))
    contact.refresh_from_db()
    assert contact.email_status == EmailStatus.ACTIVE
    assert webhooks.soft_bounced_messages(contact.pk) == 2
    mailgun_post(client, mailgun_failed(messages[2], "temporary"))
    contact.refresh_from_db()
    assert contact.email_status == EmailStatus.BOUNCED


# ------------------------------------------------------------------ Postmark


def postmark_post(client, record: dict):
    return client.post("/anymail/postmark/tracking/", data=json.dumps(record), content_type="application/json", **AUTH)


def postmark_record(message: Message, record_type: str, type_: str, type_code: int, name: str) -> dict:
    return {
        "RecordType": record_type,
        "MessageStream": "outbound",
        "ID": 4323372036854775807,
        "Type": type_,
        "TypeCode": type_code,
        "Name": name,
        "Tag": "campaign",
        "MessageID": message.esp_message_id,
        "Metadata": {},
        "ServerID": 23,
        "Description": "The server was unable to deliver your message.",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": message.contact.email,
        "From": "club@example.com",
        "BouncedAt": "2026-05-01T16:33:54.9070259Z",
        "DumpAvailable": True,
        "Inactive": True,
        "CanActivate": True,
        "Subject": "Hi",
        "Content": "",
    }


def test_postmark_hard_bounce_and_soft_bounce(client):
    hard = make_message(esp_id="883953f4-6105-42a2-a16a-77a8eac79483")
    soft = make_message(esp_id="883953f4-6105-42a2-a16a-77a8eac79484")
    assert postmark_post(client, postmark_record(hard, "Bounce", "HardBounce", 1, "Hard bounce")).status_code == 200
    postmark_post(client, postmark_record(soft, "Bounce", "SoftBounce", 4096, "Soft bounce"))
    assert status_of(hard) == EmailStatus.BOUNCED
    assert status_of(soft) == EmailStatus.ACTIVE
    assert Message.objects.get(pk=soft.pk).bounce_type == "soft"


def test_postmark_spam_complaint(client):
    message = make_message(esp_id="00000000-0000-0000-0000-000000000042")
    postmark_post(client, postmark_record(message, "SpamComplaint", "SpamComplaint", 512, "Spam complaint"))
    assert status_of(message) == EmailStatus.COMPLAINED
    assert Message.objects.get().complained_at is not None


def test_a_complaint_is_not_downgraded_by_a_later_bounce(client):
    message = make_message(esp_id="00000000-0000-0000-0000-000000000043")
    postmark_post(client, postmark_record(message, "SpamComplaint", "SpamComplaint", 512, "Spam complaint"))
    record = postmark_record(message, "Bounce", "HardBounce", 1, "Hard bounce")
    record["ID"] = 99
    postmark_post(client, record)
    assert status_of(message) == EmailStatus.COMPLAINED


def test_an_event_for_an_unknown_message_changes_nothing(client):
    message = make_message(esp_id="known-id")
    record = postmark_record(message, "Bounce", "HardBounce", 1, "Hard bounce")
    record["MessageID"] = "someone-elses-id"
    assert postmark_post(client, record).status_code == 200
    assert status_of(message) == EmailStatus.ACTIVE
    assert not TrackingEvent.objects.exists()


# ------------------------------------------------------------------ timeline


def test_bounces_and_complaints_show_in_the_contact_timeline(client, admin_client):
    message = make_message(esp_id="timeline-1")
    postmark_post(client, postmark_record(message, "Bounce", "HardBounce", 1, "Hard bounce"))
    entries = selectors.contact_timeline(contact=message.contact)
    assert [(e.kind, e.title, e.detail) for e in entries] == [("email", "bounce", "Spring")]
    assert selectors.describe_timeline_entry(entries[0]) == "Email · Bounce"
    page = admin_client.get(f"/admin/contacts/contact/{message.contact_id}/change/").content.decode()
    assert "Email · Bounce" in page[page.index('id="timeline"') :]


# ------------------------------------------------------------------ credentials


def test_outside_debug_webhooks_without_a_secret_are_refused_and_change_nothing(client, settings):
    settings.DEBUG = False
    settings.ANYMAIL = {"WEBHOOK_SECRET": "", "AMAZON_SES_AUTO_CONFIRM_SNS_SUBSCRIPTIONS": False}
    message = make_message(esp_id="unsecured-1")
    assert sendgrid_post(client, [sendgrid_event(message, "spamreport")]).status_code == 403
    assert postmark_post(client, postmark_record(message, "Bounce", "HardBounce", 1, "Hard bounce")).status_code == 403
    assert ses_post(client, ses_bounce(message)).status_code == 403
    assert status_of(message) == EmailStatus.ACTIVE
    assert not TrackingEvent.objects.exists()


def test_outside_debug_mailgun_without_a_signing_key_is_refused(client, settings):
    settings.DEBUG = False
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET, "MAILGUN_WEBHOOK_SIGNING_KEY": ""}
    message = make_message()
    assert mailgun_post(client, mailgun_failed(message, "permanent"), key="").status_code == 403
    assert status_of(message) == EmailStatus.ACTIVE


def test_outside_debug_configured_webhooks_still_work(client, settings):
    settings.DEBUG = False
    message = make_message(esp_id="secured-1")
    assert postmark_post(client, postmark_record(message, "Bounce", "HardBounce", 1, "Hard bounce")).status_code == 200
    assert status_of(message) == EmailStatus.BOUNCED


@pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailInsecureWebhookWarning")
def test_in_debug_a_webhook_without_a_secret_is_accepted_for_local_testing(client, settings):
    settings.DEBUG = True
    settings.ANYMAIL = {"WEBHOOK_SECRET": ""}
    message = make_message(esp_id="local-1")
    response = client.post(
        "/anymail/postmark/tracking/",
        content_type="application/json",
        data=json.dumps(postmark_record(message, "Bounce", "HardBounce", 1, "Hard bounce")),
    )
    assert response.status_code == 200
    assert status_of(message) == EmailStatus.BOUNCED


def test_system_checks_tell_the_operator_about_a_missing_webhook_secret(settings):
    from django.core import checks

    settings.ANYMAIL = {"WEBHOOK_SECRET": ""}
    settings.DEBUG = True
    assert "campaigns.W001" in {m.id for m in checks.run_checks(tags=[checks.Tags.security])}
    settings.DEBUG = False
    assert "campaigns.W002" in {m.id for m in checks.run_checks(tags=[checks.Tags.security])}
    deploy = {m.id: m for m in checks.run_checks(tags=[checks.Tags.security], include_deployment_checks=True)}
    assert deploy["campaigns.E001"].is_serious()
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}
    found = {m.id for m in checks.run_checks(tags=[checks.Tags.security], include_deployment_checks=True)}
    assert not found & {"campaigns.W001", "campaigns.W002", "campaigns.E001"}


# ------------------------------------------------------------------ matching


def test_an_event_with_an_empty_message_id_changes_nothing(client):
    message = make_message(esp_id="", header_id="")
    for empty in ("", "<>", " < > "):
        record = postmark_record(message, "Bounce", "HardBounce", 1, "Hard bounce")
        record["MessageID"] = empty
        assert postmark_post(client, record).status_code == 200
    sendgrid_post(client, [sendgrid_event(message, "spamreport", **{"smtp-id": "<>", "sg_message_id": ""})])
    assert status_of(message) == EmailStatus.ACTIVE
    assert not TrackingEvent.objects.exists()


def test_an_event_for_another_recipient_changes_nothing_and_is_logged(client, caplog):
    message = make_message(esp_id="victim-1")
    record = postmark_record(message, "SpamComplaint", "SpamComplaint", 512, "Spam complaint")
    record["Email"] = "attacker@example.net"
    with caplog.at_level("WARNING", logger="campaigns.webhooks"):
        assert postmark_post(client, record).status_code == 200
    assert status_of(message) == EmailStatus.ACTIVE
    assert not TrackingEvent.objects.exists()
    assert "attacker@example.net" in caplog.text


def test_the_recipient_is_compared_ignoring_case_and_spaces(client):
    message = make_message(esp_id="case-1", email="dana.cohen@example.com")
    record = postmark_record(message, "Bounce", "HardBounce", 1, "Hard bounce")
    record["Email"] = "  Dana.Cohen@EXAMPLE.com "
    postmark_post(client, record)
    assert status_of(message) == EmailStatus.BOUNCED
