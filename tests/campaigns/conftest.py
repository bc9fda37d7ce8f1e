"""A real SMTP server on loopback (aiosmtpd) for campaign tests.

`smtp_sink.messages` holds every accepted mail, parsed with the modern email policy;
`smtp_sink.envelopes` the (MAIL FROM, RCPT TO) pairs. `smtp_sink.rcpt_replies` makes the server
answer chosen recipients with an error: a string answers every time, a list answers once per
attempt and then accepts.
"""

import email
import email.policy
import socket
import threading

import pytest
from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SinkHandler:
    def __init__(self):
        self.messages: list = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.rcpt_replies: dict = {}
        self.lock = threading.Lock()

    def _reply_for(self, address: str) -> str | None:
        with self.lock:
            reply = self.rcpt_replies.get(address.lower())
            if isinstance(reply, list):
                return reply.pop(0) if reply else None
            return reply

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self._reply_for(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(parsed)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


class SmtpSink:
    def __init__(self, host: str = "127.0.0.1"):
        self.handler = SinkHandler()
        self.host = host
        self.port = free_port()
        self.controller = Controller(self.handler, hostname=host, port=self.port, data_size_limit=0)

    @property
    def messages(self) -> list:
        return self.handler.messages

    @property
    def envelopes(self) -> list:
        return self.handler.envelopes

    @property
    def rcpt_replies(self) -> dict:
        return self.handler.rcpt_replies

    def recipients(self) -> list[str]:
        return [rcpt.lower() for _sender, rcpts in self.envelopes for rcpt in rcpts]

    def start(self) -> "SmtpSink":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


@pytest.fixture
def smtp_sink():
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def smtp_settings(settings, smtp_sink):
    """Django's SMTP backend pointed at the sink."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = smtp_sink.host
    settings.EMAIL_PORT = smtp_sink.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 10
    return settings


HEBREW_HTML = (
    '<p>שלום {{ contact.first_name|default:"חבר" }},</p>'
    "<p>יש לך {{ club.points|default:0 }} נקודות.</p>"
    '<p><a href="https://shop.example.com/sale?x=1">למבצע</a></p>'
)


@pytest.fixture
def make_template(db):
    from campaigns.services import template_create

    def make(**data):
        values = {
            "name": "Weekly",
            "subject": "Hello {{ contact.first_name|default:'friend' }}",
            "html": '<p>Hi {{ contact.first_name|default:"friend" }}</p>'
            '<p><a href="https://shop.example.com/new">New in</a></p>',
            "language": "en",
            **data,
        }
        return template_create(**values)

    return make


@pytest.fixture
def static_segment(db):
    from segments.services import segment_create, static_add

    def make(contacts, name="List"):
        segment = segment_create(name=name, kind="static")
        static_add(segment=segment, contact_ids=[c.pk for c in contacts])
        return segment

    return make


@pytest.fixture
def make_campaign(db, make_template, static_segment):
    from campaigns.services import campaign_create

    def make(contacts, *, exclude=(), template=None, **data):
        values = {
            "name": "Spring sale",
            "template": template or make_template(),
            "from_email": "club@shop.example",
            "from_name": "Shop Club",
            **data,
        }
        excluded = [static_segment(exclude, name="Excluded")] if exclude else []
        return campaign_create(**values, segments=[static_segment(contacts)], exclude_segments=excluded)

    return make


@pytest.fixture
def run_campaign(django_capture_on_commit_callbacks):
    """Start (or resume) a campaign and let the in-process tasks run to the end."""
    from campaigns import services

    def run(campaign, action=services.campaign_start):
        with django_capture_on_commit_callbacks(execute=True):
            action(campaign=campaign)
        campaign.refresh_from_db()
        return campaign

    return run
