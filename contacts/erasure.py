"""Right to erasure: after an erase no personal data of the contact remains anywhere.

The contact row stays (anonymous) so purchase totals, campaign counts and segment history keep
adding up. Everything that can carry something the person typed or that names them goes: profile
and identities, tags only they carried, event URLs, properties and ids, consent texts, points
ledger reasons and references, purchase external ids (a shop may build them from an email), the
admin history's object names and change messages, the sent-mail copies in the local outbox, and
whatever the apps above keep (they scrub their own rows through `contacts.hooks`).

Set-based: each statement covers a batch of ids, so erasing a million contacts keeps memory flat.
"""

from typing import cast

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db.models import CharField, Q, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.mail import outbox_forget

from . import hooks
from .models import (
    Activity,
    ConsentEvent,
    Contact,
    LoyaltyMember,
    PointsEntry,
    Purchase,
    QueuedActivity,
    Tag,
    VisitorIdentity,
)


def erase_ids(ids: list[int]) -> None:
    """Erase one batch of contacts; the caller holds the transaction."""
    emails = Contact.objects.filter(pk__in=ids, email__isnull=False).values_list("email", flat=True)
    addresses = cast(list[str], list(emails))  # the filter leaves no None
    _scrub_admin_history(ids)
    _scrub_contacts(ids)
    _scrub_tags(ids)
    _scrub_history(ids)
    hooks.contacts_erased(ids)
    outbox_forget(addresses)


def _scrub_contacts(ids: list[int]) -> None:
    now = timezone.now()
    Contact.objects.filter(pk__in=ids).update(
        email=None,
        phone=None,
        external_id=None,
        first_name="",
        last_name="",
        birth_date=None,
        wedding_date=None,
        marital_status="unknown",
        gender="unknown",
        city="",
        region="",
        source_detail="",
        attributes={},
        email_opt_in=False,
        sms_opt_in=False,
        referred_by=None,
        erased_at=now,
        updated_at=now,
    )


def _scrub_tags(ids: list[int]) -> None:
    """Unlink the tags; a tag nobody else carries may name the person ("gift-for-dana"), so it goes."""
    through = Contact.tags.through
    tag_ids = list(through.objects.filter(contact_id__in=ids).values_list("tag_id", flat=True).distinct())
    through.objects.filter(contact_id__in=ids).delete()
    still_used = through.objects.filter(tag_id__in=tag_ids).values("tag_id")
    Tag.objects.filter(pk__in=tag_ids).exclude(pk__in=still_used).delete()


def _scrub_history(ids: list[int]) -> None:
    for events in (Activity.objects.filter(contact_id__in=ids), QueuedActivity.objects.filter(contact_id__in=ids)):
        events.update(url="", properties={}, anonymous_id=None, event_id=None)
    VisitorIdentity.objects.filter(contact_id__in=ids).delete()
    ConsentEvent.objects.filter(contact_id__in=ids).update(text_shown="")
    Purchase.objects.filter(contact_id__in=ids, external_id__isnull=False).update(
        external_id=Concat(Value("erased-"), Cast("pk", CharField()))
    )
    PointsEntry.objects.filter(member__contact_id__in=ids).update(reason=_("(erased)"), reference=None)
    LoyaltyMember.objects.filter(contact_id__in=ids).update(
        card_number=Concat(Value("erased-"), Cast("contact_id", CharField())), status=LoyaltyMember.Status.CANCELLED
    )


def _scrub_admin_history(ids: list[int]) -> None:
    """Admin history names objects by their str() ("Dana Levi <dana@…>", a card number) and its change
    messages may quote them: both are replaced, the who-did-what-when stays."""
    owned = {
        Contact: Contact.objects.filter(pk__in=ids),
        LoyaltyMember: LoyaltyMember.objects.filter(contact_id__in=ids),
        Purchase: Purchase.objects.filter(contact_id__in=ids),
        Activity: Activity.objects.filter(contact_id__in=ids),
        ConsentEvent: ConsentEvent.objects.filter(contact_id__in=ids),
        PointsEntry: PointsEntry.objects.filter(member__contact_id__in=ids),
        VisitorIdentity: VisitorIdentity.objects.filter(contact_id__in=ids),
    }
    types = ContentType.objects.get_for_models(*owned)
    match = Q()
    for model, rows in owned.items():
        keys = rows.annotate(key=Cast("pk", CharField())).values("key")
        match |= Q(content_type=types[model], object_id__in=keys)
    LogEntry.objects.filter(match).update(object_repr=_("(erased)"), change_message="")
