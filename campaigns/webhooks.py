"""Bounces, complaints and unsubscribes reported by the mail provider, through django-anymail.

Anymail receives each provider's webhook at /anymail/<esp>/tracking/ (basic auth with
ANYMAIL["WEBHOOK_SECRET"]; Mailgun also checks its signing key), normalizes it and sends the
`anymail.signals.tracking` signal; `tracking_received` below turns that into our records:

- the Message is found by the provider's message id (Message.esp_message_id) or by our own
  Message-ID header, which Amazon SES, SendGrid and Mailgun echo back;
- a hard bounce (a permanent "bounced", or "rejected" because the address is invalid or bounced
  before) sets Message.bounced_at/bounce_type="hard" and the contact's email_status "bounced";
- a complaint sets Message.complained_at and email_status "complained" (it wins over a bounce);
- a soft bounce ("deferred", or a temporary bounce) sets bounce_type="soft" on the message; once
  the contact has soft bounces on SOFT_BOUNCE_LIMIT different messages, it is suppressed as
  bounced (one message retried many times by the provider counts once);
- an unsubscribe at the provider unsubscribes like our own link (consent log, campaign source);
- a delivery is recorded as an event. Provider open and click tracking is ignored: our own
  pixel and redirect count those, with machine detection.

Every case writes a TrackingEvent (so it shows in the contact's timeline). Providers retry
webhooks: an event whose provider event id was already recorded for the message is skipped.
An event whose Message-ID is empty or unknown, or whose recipient is not the address of the
message's contact, changes nothing (a forged or misrouted event must not suppress anyone).

Outside DEBUG a webhook without credentials (no WEBHOOK_SECRET for basic auth; for Mailgun, no
signing key) is refused with 403 before anymail sees it: anymail itself would only warn.
"""

import functools
import logging
import warnings

from anymail.exceptions import AnymailInsecureWebhookWarning
from anymail.signals import EventType, RejectReason
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.http import HttpResponseForbidden
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts import normalize
from contacts.models import EmailStatus
from contacts.services.suppression import contact_suppress

from . import tracking
from .machine import USER_AGENT_MAX
from .models import Message, TrackingEvent

logger = logging.getLogger(__name__)

HARD, SOFT = "hard", "soft"
POSTMARK_SOFT = {
    "SoftBounce",
    "Transient",
    "DnsError",
    "VirusNotification",
    "AutoResponder",
    "OpenRelayTest",
    "ChallengeVerification",
}
PERMANENT_REASONS = {RejectReason.BOUNCED, RejectReason.INVALID}


# ------------------------------------------------------------------ credentials


def webhook_credentials_missing(view_class, initkwargs: dict | None = None) -> str | None:
    """What the webhook lacks to tell the provider from anyone else, or None when it is secured."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AnymailInsecureWebhookWarning)
            view = view_class(**(initkwargs or {}))
    except ImproperlyConfigured as exc:
        return str(exc)
    if getattr(view, "warn_if_no_basic_auth", False) and not getattr(view, "basic_auth", None):
        return "ANYMAIL WEBHOOK_SECRET"
    if hasattr(view, "webhook_signing_key") and not view.webhook_signing_key:
        return f"{view.esp_name} webhook signing key"
    return None


def refuse_unsecured(view):
    """Wrap an anymail webhook view: 403 outside DEBUG while it has no credentials configured."""
    view_class, initkwargs = getattr(view, "view_class", None), getattr(view, "view_initkwargs", {})

    @functools.wraps(view)
    def guarded(request, *args, **kwargs):
        missing = webhook_credentials_missing(view_class, initkwargs) if view_class else None
        if missing and not settings.DEBUG:
            logger.warning("Refused a provider webhook at %s: no %s configured", request.path, missing)
            return HttpResponseForbidden(
                _("This webhook is not configured on this server."), content_type="text/plain; charset=utf-8"
            )
        return view(request, *args, **kwargs)

    return guarded


# ------------------------------------------------------------------ matching


def _header_message_ids(esp_event, esp_name: str) -> list:
    """Our Message-ID as the provider echoes it back, where it does."""
    if not isinstance(esp_event, dict):
        return []
    if esp_name == "Amazon SES":
        return [((esp_event.get("mail") or {}).get("commonHeaders") or {}).get("messageId")]
    if esp_name == "SendGrid":
        sg_id = esp_event.get("sg_message_id") or ""
        return [esp_event.get("smtp-id"), sg_id, sg_id.split(".")[0]]
    return []


def _id_forms(values) -> set[str]:
    forms = set()
    for value in values:
        bare = value.strip().strip("<>").strip() if isinstance(value, str) else ""
        if bare:
            forms |= {value.strip(), bare, f"<{bare}>"}
    return forms


def _same_address(recipient, contact_email) -> bool:
    try:
        wanted = normalize.email(recipient)
    except ValidationError:
        return False
    return bool(wanted) and wanted == (contact_email or "").strip().lower()


def message_for_event(event, esp_name: str) -> Message | None:
    """The message the event is about: its id must be known AND its recipient the contact's address."""
    ids = _id_forms([event.message_id, *_header_message_ids(event.esp_event, esp_name)])
    if not ids:
        return None
    found = (
        Message.objects.select_related("contact")
        .filter(Q(esp_message_id__in=ids) | Q(message_id__in=ids))
        .filter(contact__erased_at__isnull=True)
        .order_by("-pk")
    )
    messages = list(found[:5])
    for message in messages:
        if _same_address(event.recipient, message.contact.email):
            return message
    if messages:
        logger.warning(
            "%s %s event for message %s names recipient %r, not its contact: ignored",
            esp_name,
            event.event_type,
            messages[0].pk,
            event.recipient,
        )
    return None


# ------------------------------------------------------------------ classification


def bounce_severity(event, esp_name: str) -> str | None:
    """ "hard", "soft", or None when the event is no bounce at all."""
    esp = event.esp_event if isinstance(event.esp_event, dict) else {}
    if event.event_type == EventType.DEFERRED:
        return SOFT
    if event.event_type == EventType.REJECTED:
        return HARD if event.reject_reason in PERMANENT_REASONS else SOFT
    if event.event_type != EventType.BOUNCED:
        return None
    if esp_name == "Amazon SES":
        return HARD if (esp.get("bounce") or {}).get("bounceType") == "Permanent" else SOFT
    if esp_name == "Postmark":
        return SOFT if esp.get("Type") in POSTMARK_SOFT else HARD
    if esp_name == "SendGrid":
        return SOFT if str(esp.get("type", "")).lower() == "blocked" else HARD
    if esp_name == "Mailgun":
        return SOFT if (esp.get("event-data") or {}).get("severity") == "temporary" else HARD
    return HARD if event.reject_reason in PERMANENT_REASONS or event.reject_reason is None else SOFT


def _kind_and_severity(event, esp_name: str) -> tuple[str | None, str | None]:
    if event.event_type == EventType.COMPLAINED or (
        event.event_type == EventType.REJECTED and event.reject_reason == RejectReason.SPAM
    ):
        return TrackingEvent.Kind.COMPLAINT, None
    if event.event_type == EventType.UNSUBSCRIBED or (
        event.event_type == EventType.REJECTED and event.reject_reason == RejectReason.UNSUBSCRIBED
    ):
        return TrackingEvent.Kind.UNSUBSCRIBE, None
    if event.event_type == EventType.DELIVERED:
        return TrackingEvent.Kind.DELIVERED, None
    severity = bounce_severity(event, esp_name)
    if severity is None:
        return None, None
    kind = TrackingEvent.Kind.DEFERRED if event.event_type == EventType.DEFERRED else TrackingEvent.Kind.BOUNCE
    return kind, severity


# ------------------------------------------------------------------ recording


def soft_bounced_messages(contact_id: int) -> int:
    """On how many different messages the contact soft-bounced."""
    return (
        TrackingEvent.objects.filter(
            contact_id=contact_id,
            detail__bounce_type=SOFT,
            kind__in=[TrackingEvent.Kind.BOUNCE, TrackingEvent.Kind.DEFERRED],
        )
        .values("message_id")
        .distinct()
        .count()
    )


def _detail(event, esp_name: str, severity: str | None) -> dict:
    detail = {
        "esp": esp_name,
        "event_type": event.event_type,
        "event_id": event.event_id or "",
        "reject_reason": event.reject_reason or "",
        "description": (event.description or "")[:500],
        "mta_response": (event.mta_response or "")[:500],
    }
    if severity:
        detail["bounce_type"] = severity
    return detail


def _already_recorded(message: Message, kind: str, event_id: str | None) -> bool:
    return (
        bool(event_id) and TrackingEvent.objects.filter(message=message, kind=kind, detail__event_id=event_id).exists()
    )


def _apply_bounce(message: Message, severity: str, now) -> None:
    if severity == HARD:
        Message.objects.filter(pk=message.pk).update(bounced_at=Coalesce(F("bounced_at"), Value(now)), bounce_type=HARD)
        contact_suppress(contact_id=message.contact_id, status=EmailStatus.BOUNCED)
        return
    Message.objects.filter(pk=message.pk, bounce_type="").update(bounce_type=SOFT)
    if soft_bounced_messages(message.contact_id) >= settings.SOFT_BOUNCE_LIMIT:
        contact_suppress(contact_id=message.contact_id, status=EmailStatus.BOUNCED)


def provider_event_record(*, event, esp_name: str) -> TrackingEvent | None:
    """Record one normalized provider event; None when it is not ours or not one we keep."""
    kind, severity = _kind_and_severity(event, esp_name)
    if kind is None:
        return None
    message = message_for_event(event, esp_name)
    if message is None:
        logger.info("%s %s event for an unknown message %r", esp_name, event.event_type, event.message_id)
        return None
    if _already_recorded(message, kind, event.event_id):
        return None
    now = event.timestamp or timezone.now()
    detail = _detail(event, esp_name, severity)
    if kind == TrackingEvent.Kind.UNSUBSCRIBE:
        return tracking.unsubscribe(message=message, now=now, detail=detail)
    with transaction.atomic():
        recorded = TrackingEvent.objects.create(
            message=message,
            campaign_id=message.campaign_id,
            contact_id=message.contact_id,
            kind=kind,
            occurred_at=now,
            user_agent=(event.user_agent or "")[:USER_AGENT_MAX],
            detail=detail,
        )
        if kind == TrackingEvent.Kind.COMPLAINT:
            Message.objects.filter(pk=message.pk, complained_at__isnull=True).update(complained_at=now)
            contact_suppress(contact_id=message.contact_id, status=EmailStatus.COMPLAINED)
        elif severity:
            _apply_bounce(message, severity, now)
    return recorded


def tracking_received(sender, event, esp_name: str, **kwargs) -> None:
    """Receiver of anymail's `tracking` signal (connected in CampaignsConfig.ready)."""
    provider_event_record(event=event, esp_name=esp_name)
