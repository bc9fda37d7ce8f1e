"""Merging two contacts that are one person, losing nothing.

The rule (also in README, "Merging contacts"):

- Every row of the duplicate moves to the survivor: purchases, site events, visitor ids, the
  consent log, referrals, admin history, and through `contacts.hooks` what the apps above keep
  (campaign messages and their tracking, segment memberships).
- Profile: the survivor's non-empty values win; its empty ones are filled from the duplicate
  (identities, name, dates, address, custom fields key by key). Tags are the union.
- Consent, per channel: the side with the most recent consent event decides the opt-in (both logs
  are kept). Without an event on either side the opt-in goes with the address. An address's
  email status (unsubscribed, bounced, complained) always moves with it.
- Club: a lone membership moves over. When both are members the survivor keeps its card, the
  duplicate's ledger entries move to it (points add up, every `balance_after` is recomputed in the
  order the entries were written), the higher tier and the earlier joining date are kept; the
  duplicate's membership ends with it (its card number no longer resolves).
- Then the duplicate is deleted and the survivor's derived fields (purchase totals, funnel stage,
  lifecycle, RFM) and segment memberships are recomputed.
"""

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Sum
from django.utils.translation import gettext as _

from . import hooks, normalize
from .models import (
    Activity,
    ConsentEvent,
    Contact,
    LoyaltyMember,
    PointsEntry,
    Purchase,
    QueuedActivity,
    VisitorIdentity,
)
from .services import IDENTITY_FIELDS, PROFILE_FIELDS, contacts_refresh_purchase_stats, ensure_not_erased

EMPTY = (None, "", "unknown")
TIER_ORDER = list(LoyaltyMember.Tier.values)
CONSENT = (
    ("email_opt_in", ConsentEvent.ConsentChannel.EMAIL, "email"),
    ("sms_opt_in", ConsentEvent.ConsentChannel.SMS, "phone"),
)


@transaction.atomic
def merge(*, survivor: Contact, duplicate: Contact, merged_by: str = "") -> Contact:
    if survivor.pk == duplicate.pk:
        raise normalize.field_error("duplicate", _("A contact cannot be merged into itself."), "same_contact")
    ensure_not_erased(survivor.pk)
    ensure_not_erased(duplicate.pk, field="duplicate")
    locked = {
        c.pk: c for c in Contact.objects.select_for_update().filter(pk__in=[survivor.pk, duplicate.pk]).order_by("pk")
    }
    survivor, duplicate = locked[survivor.pk], locked[duplicate.pk]
    identities = {
        f: getattr(duplicate, f) for f in IDENTITY_FIELDS if getattr(duplicate, f) and not getattr(survivor, f)
    }
    consent = _consent(survivor, duplicate, identities)
    _move_history(survivor, duplicate)
    _merge_club(survivor, duplicate)
    survivor.tags.add(*duplicate.tags.all())
    _fill_profile(survivor, duplicate)
    hooks.contacts_merged(survivor.pk, duplicate.pk)
    duplicate.delete()
    for field, value in {**identities, **consent}.items():
        setattr(survivor, field, value)
    survivor.save()
    contacts_refresh_purchase_stats(contact_ids=[survivor.pk])
    return survivor


def _move_history(survivor: Contact, duplicate: Contact) -> None:
    Purchase.objects.filter(contact=duplicate).update(contact=survivor)
    Activity.objects.filter(contact=duplicate).update(contact=survivor)
    QueuedActivity.objects.filter(contact_id=duplicate.pk).update(contact_id=survivor.pk)
    VisitorIdentity.objects.filter(contact=duplicate).update(contact=survivor)
    ConsentEvent.objects.filter(contact=duplicate).update(contact=survivor)
    Contact.objects.filter(referred_by=duplicate).exclude(pk=survivor.pk).update(referred_by=survivor)
    LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Contact), object_id=str(duplicate.pk)
    ).update(object_id=str(survivor.pk))


def _fill_profile(survivor: Contact, duplicate: Contact) -> None:
    for field in PROFILE_FIELDS + ("referred_by_id",):
        if field == "attributes":
            survivor.attributes = {
                **duplicate.attributes,
                **{k: v for k, v in survivor.attributes.items() if not normalize.blank(v)},
            }
        elif getattr(survivor, field) in EMPTY and getattr(duplicate, field) not in EMPTY:
            setattr(survivor, field, getattr(duplicate, field))
    if survivor.referred_by_id in (survivor.pk, duplicate.pk):
        survivor.referred_by = None


def _latest_consent(contact: Contact, channel: str) -> tuple | None:
    return (
        ConsentEvent.objects.filter(contact=contact, channel=channel)
        .order_by("-occurred_at", "-pk")
        .values_list("occurred_at", "pk")
        .first()
    )


def _consent(survivor: Contact, duplicate: Contact, identities: dict) -> dict:
    """The consent fields the survivor ends with (read before the logs are joined)."""
    result: dict = {}
    for field, channel, address in CONSENT:
        mine, theirs = _latest_consent(survivor, channel), _latest_consent(duplicate, channel)
        if mine or theirs:
            duplicate_wins = theirs is not None and (mine is None or theirs > mine)
        else:
            duplicate_wins = address in identities
        result[field] = getattr(duplicate if duplicate_wins else survivor, field)
    if "email" in identities:
        result["email_status"] = duplicate.email_status
    return result


def _merge_club(survivor: Contact, duplicate: Contact) -> None:
    theirs = LoyaltyMember.objects.select_for_update().filter(contact=duplicate).first()
    if theirs is None:
        return
    mine = LoyaltyMember.objects.select_for_update().filter(contact=survivor).first()
    if mine is None:
        LoyaltyMember.objects.filter(pk=theirs.pk).update(contact=survivor)
        return
    taken = set(PointsEntry.objects.filter(member=mine, reference__isnull=False).values_list("reference", flat=True))
    for entry in PointsEntry.objects.filter(member=theirs, reference__in=taken):
        entry.reference = f"{theirs.card_number}:{entry.reference}"[:100]
        entry.save(update_fields=["reference"])
    PointsEntry.objects.filter(member=theirs).update(member=mine)
    _rebuild_balances(mine)
    mine.tier = max(mine.tier, theirs.tier, key=TIER_ORDER.index)
    mine.joined_at = min(mine.joined_at, theirs.joined_at)
    mine.points = PointsEntry.objects.filter(member=mine).aggregate(total=Sum("delta"))["total"] or 0
    mine.save(update_fields=["tier", "joined_at", "points"])


def _rebuild_balances(member: LoyaltyMember, batch: int = 1000) -> None:
    """Running balance over the joined ledger in write order (ids): each side never went below
    zero in that order, so neither does their sum."""
    balance = 0
    changed = []
    for entry in PointsEntry.objects.filter(member=member).order_by("pk").only("pk", "delta", "balance_after"):
        balance += entry.delta
        if entry.balance_after != balance:
            entry.balance_after = balance
            changed.append(entry)
    PointsEntry.objects.bulk_update(changed, ["balance_after"], batch_size=batch)
