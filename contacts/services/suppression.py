"""Suppression: a contact's address stops receiving mail because it bounced or its owner complained.

Higher apps (campaigns, from provider webhooks) report what happened here instead of writing
`Contact.email_status` themselves, so the rule "a complaint is never downgraded to a bounce" has one
owner and every change of the status reaches the `contact_changed` hook.
"""

from django.db.models import Case, F, Value, When
from django.utils import timezone

from ..models import Contact, EmailStatus
from .base import contact_changed

SUPPRESSED = (EmailStatus.BOUNCED, EmailStatus.COMPLAINED)


def contact_suppress(*, contact_id: int, status: str) -> bool:
    """Move the contact's email status to `status` ("bounced" or "complained") in one UPDATE; a
    complaint wins over a bounce and is never replaced by one. False when there is no such contact.

    The status moves in SQL from the stored value, so a caller holding an older copy of the contact
    can never downgrade a complaint that arrived in the meantime."""
    if status not in SUPPRESSED:
        raise ValueError(f"contact_suppress: {status!r} is not one of {SUPPRESSED}")
    new: Value | Case
    if status == EmailStatus.COMPLAINED:
        new = Value(EmailStatus.COMPLAINED)
    else:
        new = Case(When(email_status=EmailStatus.COMPLAINED, then=F("email_status")), default=Value(status))
    updated = Contact.objects.filter(pk=contact_id).update(email_status=new, updated_at=timezone.now()) == 1
    if updated:
        contact_changed([contact_id])
    return updated
