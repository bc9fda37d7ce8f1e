"""Consent: every change is logged (ConsentEvent) and applied in SQL from the stored value."""

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import (
    Case,
    F,
    Value,
    When,
)
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import normalize
from ..models import CONSENT_TEXT_MAX_LENGTH, ConsentEvent, Contact, EmailStatus, MailFrequency
from .base import contact_changed, ensure_not_erased, id_batches


@transaction.atomic
def consent_change(
    *,
    contact: Contact,
    channel: str,
    granted: bool,
    source: str,
    text_shown: str = "",
    occurred_at: dt.datetime | None = None,
    unsubscribe: bool = False,
    mail_frequency: str | None = None,
) -> ConsentEvent:
    """Record a consent change and apply it. An unsubscribe also sets the email status; an email grant
    with a `mail_frequency` (from the preference centre) also sets how often the contact is mailed.

    The status moves in SQL from the stored value, so a caller holding an older copy of the
    contact can never lift a bounce or complaint that arrived in the meantime."""
    ensure_not_erased(contact.pk)
    channel = normalize.choice(channel, "channel", ConsentEvent.ConsentChannel)
    if not channel:
        raise normalize.field_error("channel", _("This field is required."))
    if len(text_shown) > CONSENT_TEXT_MAX_LENGTH:
        raise normalize.field_error("consent_text", _("At most %(n)d characters.") % {"n": CONSENT_TEXT_MAX_LENGTH})
    if mail_frequency is not None:
        mail_frequency = normalize.choice(mail_frequency, "mail_frequency", MailFrequency)
    event = ConsentEvent.objects.create(
        contact=contact,
        channel=channel,
        granted=granted,
        source=source[:100],
        text_shown=text_shown,
        mail_frequency=mail_frequency or "",
        occurred_at=occurred_at or timezone.now(),
    )
    updates: dict[str, Any] = {}
    if channel == ConsentEvent.ConsentChannel.EMAIL:
        updates["email_opt_in"] = granted
        if mail_frequency is not None:
            updates["mail_frequency"] = mail_frequency
        if unsubscribe and not granted:
            updates["email_status"] = Case(
                When(email_status=EmailStatus.ACTIVE, then=Value(EmailStatus.UNSUBSCRIBED)), default=F("email_status")
            )
        if granted:
            updates["email_status"] = Case(
                When(email_status=EmailStatus.UNSUBSCRIBED, then=Value(EmailStatus.ACTIVE)), default=F("email_status")
            )
    else:
        updates["sms_opt_in"] = granted
    Contact.objects.filter(pk=contact.pk).update(**updates, updated_at=timezone.now())
    contact.refresh_from_db(fields=[*updates, "updated_at"])
    contact_changed([contact.pk])
    return event


def contacts_revoke_consent(*, contact_ids: Any, channel: str, source: str) -> int:
    """Bulk revoke (ids or a queryset): a log row per contact whose consent was on, then one UPDATE per batch."""
    field = "email_opt_in" if channel == ConsentEvent.ConsentChannel.EMAIL else "sms_opt_in"
    revoked = 0
    for batch in id_batches(contact_ids):
        ids = list(Contact.objects.filter(pk__in=batch, **{field: True}).values_list("pk", flat=True))
        now = timezone.now()
        ConsentEvent.objects.bulk_create(
            [ConsentEvent(contact_id=i, channel=channel, granted=False, source=source, occurred_at=now) for i in ids],
            batch_size=1000,
        )
        Contact.objects.filter(pk__in=ids).update(**{field: False}, updated_at=now)
        contact_changed(ids)
        revoked += len(ids)
    return revoked
