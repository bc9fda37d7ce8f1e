"""Who a campaign reaches: its recipients, who may be mailed now, and the snapshot of one message each.

"May receive marketing email" is owned by `contacts.marketing`; this module adds the campaigns' own
rules on top (the frequency cap, and each contact's own mail frequency from the preference centre) and
turns the reason a contact is left out into a Message skip reason.
"""

import datetime as dt
import functools
import operator
from collections import defaultdict
from collections.abc import Iterable

from django.conf import settings
from django.db import connection
from django.db.models import Count, Exists, Expression, F, Field, OuterRef, Q, QuerySet
from django.db.models.functions import Mod
from django.utils import timezone

from contacts.marketing import marketable_q, not_marketable_reason
from contacts.models import Contact, EmailStatus, MailFrequency
from segments.models import Segment
from segments.selectors import audience, segment_contacts

from .models import Campaign, Message

# The holdout draw: a multiplicative hash of the contact id, offset by the campaign or flow, so the same contact
# is in or out of one mailing's holdout every time, and independently of other mailings'.
HOLDOUT_MULTIPLIER = 2654435761
HOLDOUT_OFFSET = 40503


def holdout_bucket(contact_id: str, owner_id: int) -> Expression:
    """0..99 for the contact in the column `contact_id`, fixed per (campaign or flow, contact): those below the
    holdout percent are held out. The one draw campaigns and flows share."""
    return Mod(F(contact_id) * HOLDOUT_MULTIPLIER + owner_id * HOLDOUT_OFFSET, 100)


# contacts.marketing's reasons, as skip reasons; "status" is told apart by the email status itself.
MARKETING_REASONS = {
    "erased": Message.SkipReason.ERASED,
    "no_email": Message.SkipReason.NO_EMAIL,
    "no_consent": Message.SkipReason.NO_CONSENT,
}
STATUS_REASONS: dict[str, str] = {
    EmailStatus.UNSUBSCRIBED: Message.SkipReason.UNSUBSCRIBED,
    EmailStatus.BOUNCED: Message.SkipReason.BOUNCED,
    EmailStatus.COMPLAINED: Message.SkipReason.COMPLAINED,
}


def recipients(campaign: Campaign) -> QuerySet:
    """Contacts of the included segments minus those of the excluded ones, as one query."""
    return segments_recipients(segments=campaign.segments.all(), exclude_segments=campaign.exclude_segments.all())


def segments_recipients(*, segments: Iterable[Segment], exclude_segments: Iterable[Segment]) -> QuerySet:
    """The same audience for segments not saved on a campaign yet: what the campaign form counts while
    the marketer picks them."""
    included = Q()
    for segment in segments:
        included |= Q(pk__in=segment_contacts(segment).values("pk"))
    if not included:
        return Contact.objects.none()
    contacts = audience().filter(included)
    for segment in exclude_segments:
        contacts = contacts.exclude(pk__in=segment_contacts(segment).values("pk"))
    return contacts


def capped_contacts(*, contact_ids=None, exclude_campaign_id: int | None = None) -> QuerySet:
    """Contact ids that already got FREQUENCY_CAP_COUNT mails in the last FREQUENCY_CAP_DAYS."""
    since = timezone.now() - dt.timedelta(days=settings.FREQUENCY_CAP_DAYS)
    sent = Message.objects.filter(status=Message.Status.SENT, sent_at__gte=since)
    if contact_ids is not None:
        sent = sent.filter(contact_id__in=contact_ids)
    if exclude_campaign_id is not None:
        sent = sent.exclude(campaign_id=exclude_campaign_id)
    return (
        sent.values("contact_id")
        .annotate(n=Count("id"))
        .filter(n__gte=settings.FREQUENCY_CAP_COUNT)
        .values("contact_id")
    )


def self_capped_q(*, exclude_campaign_id: int | None = None) -> Q:
    """Contacts whose own mail frequency (chosen in the preference centre) allows no mail now: one was sent
    to them within its window. Only contacts with a choice are probed (found by contact_mail_frequency_idx),
    each by the (contact, sent_at) index; asked as "the contact is among those", so excluding them from a
    million contacts costs what the few with a choice cost. Unlike the frequency cap, no campaign or flow
    bypasses this: it is what the person asked for."""
    now = timezone.now()
    capped = []
    for frequency in MailFrequency:
        if frequency.window_days:
            sent = Message.objects.filter(
                contact=OuterRef("pk"),
                status=Message.Status.SENT,
                sent_at__gte=now - dt.timedelta(days=frequency.window_days),
            )
            if exclude_campaign_id is not None:
                sent = sent.exclude(campaign_id=exclude_campaign_id)
            capped.append(Q(mail_frequency=frequency.value) & Q(Exists(sent)))
    chosen = Contact.objects.exclude(mail_frequency=MailFrequency.ANY)
    return Q(pk__in=chosen.filter(functools.reduce(operator.or_, capped)).values("pk"))


def eligible(contacts: QuerySet) -> QuerySet:
    """Those who may get a marketing mail right now (the same rules the sender applies per batch)."""
    contacts = contacts.filter(marketable_q())
    if settings.FREQUENCY_CAP_COUNT > 0:
        contacts = contacts.exclude(pk__in=capped_contacts())
    return contacts.exclude(self_capped_q())


# The columns a snapshot writes, with their SQL value: "%s" takes a parameter, in this order.
SNAPSHOT_VALUES = {
    "campaign": "%s",
    "contact": "r.recipient_id",
    "status": "%s",
    "skip_reason": "''",
    "error": "''",
    "attempts": "0",
    "message_id": "''",
    "queued_at": "%s",
    "open_count": "0",
    "machine_open_count": "0",
    "click_count": "0",
    "bounce_type": "''",
    "occurrence": "0",
}


def _column(name: str) -> str:
    field = Message._meta.get_field(name)
    assert isinstance(field, Field) and field.column is not None, f"{name} is not a concrete field"
    return field.column


def snapshot(campaign: Campaign) -> int:
    """One queued Message per recipient, written by the database; existing rows are kept."""
    sql, params = recipients(campaign).order_by("pk").values(recipient_id=F("pk")).query.sql_with_params()
    columns = ", ".join(_column(name) for name in SNAPSHOT_VALUES)
    insert = (
        f"INSERT INTO {Message._meta.db_table} ({columns}) "
        f"SELECT {', '.join(SNAPSHOT_VALUES.values())} FROM ({sql}) AS r WHERE 1 = 1 "
        f"ON CONFLICT ({_column('campaign')}, {_column('contact')}, {_column('occurrence')}) DO NOTHING"
    )
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(insert, (campaign.pk, Message.Status.QUEUED, now, *params))
        return cursor.rowcount


def skip_reason(contact: Contact, capped: set) -> str | None:
    """Why this contact's message is skipped now, or None to send it. The marketing rule comes first,
    in its own order (erased, no address, email status, consent), then the frequency caps (the shop's and
    the contact's own, both told as FREQUENCY_CAP)."""
    reason = not_marketable_reason(contact)
    if reason == "status":
        return STATUS_REASONS.get(contact.email_status, Message.SkipReason.NO_CONSENT)
    if reason is not None:
        return MARKETING_REASONS[reason]
    if contact.pk in capped:
        return Message.SkipReason.FREQUENCY_CAP
    return None


def _capped_now(messages: list[Message], campaign: Campaign) -> set:
    """Contact ids of these messages over the frequency cap (unless the campaign bypasses it) or over their
    own mail frequency."""
    contact_ids = [m.contact_id for m in messages]
    capped = set(
        Contact.objects.filter(self_capped_q(exclude_campaign_id=campaign.pk), pk__in=contact_ids).values_list(
            "pk", flat=True
        )
    )
    if settings.FREQUENCY_CAP_COUNT > 0 and not campaign.bypass_frequency_cap:
        capped.update(
            capped_contacts(contact_ids=contact_ids, exclude_campaign_id=campaign.pk).values_list(
                "contact_id", flat=True
            )
        )
    return capped


def skip_ineligible(messages: list[Message], stamp: dt.datetime, campaign: Campaign) -> list[Message]:
    """Consent, the frequency cap (unless the campaign bypasses it) and the contact's own mail frequency
    checked now, one query each; the rest is returned to be sent."""
    capped = _capped_now(messages, campaign)
    by_reason: dict[str, list[int]] = defaultdict(list)
    sendable = []
    for message in messages:
        reason = skip_reason(message.contact, capped)
        if reason:
            by_reason[reason].append(message.pk)
        else:
            sendable.append(message)
    for reason, ids in by_reason.items():
        Message.objects.filter(id__in=ids, status=Message.Status.CLAIMED, claimed_at=stamp).update(
            status=Message.Status.SKIPPED, skip_reason=reason
        )
    return hold_out(sendable, stamp, campaign)


def hold_out(messages: list[Message], stamp: dt.datetime, campaign: Campaign) -> list[Message]:
    """The campaign's holdout among those who would be mailed now: recorded as held out, never sent (CONTRACT
    §7). One query picks them by `holdout_bucket`, one marks them; the rest is returned to be sent."""
    if not campaign.holdout_percent or not messages:
        return messages
    held = set(
        Message.objects.filter(id__in=[m.pk for m in messages])
        .alias(bucket=holdout_bucket("contact_id", campaign.pk))
        .filter(bucket__lt=campaign.holdout_percent)
        .values_list("pk", flat=True)
    )
    if held:
        Message.objects.filter(id__in=held, status=Message.Status.CLAIMED, claimed_at=stamp).update(
            status=Message.Status.HOLDOUT
        )
    return [m for m in messages if m.pk not in held]
