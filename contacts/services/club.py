"""The customer club: membership and the append-only points ledger."""

import datetime as dt
import secrets
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.model_update import model_update

from .. import normalize
from ..models import Contact, LoyaltyMember, PointsEntry, Store
from .base import contact_changed, ensure_not_erased


def _generate_card_number() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(12))


@transaction.atomic
def member_create(
    *,
    contact: Contact,
    card_number: str | None = None,
    tier: str = LoyaltyMember.Tier.BASIC,
    joined_at: dt.datetime | None = None,
    home_store: Store | None = None,
    status: str = LoyaltyMember.Status.ACTIVE,
) -> LoyaltyMember:
    ensure_not_erased(contact.pk)
    if LoyaltyMember.objects.filter(contact=contact).exists():
        raise normalize.field_error("contact", _("This contact is already a club member."), "unique")
    card_number = normalize.identifier(card_number, "card_number", 50) or _generate_card_number()
    if LoyaltyMember.objects.filter(card_number=card_number).exists():
        raise normalize.field_error(
            "card_number", _("Card %(card)s is already in use.") % {"card": card_number}, "unique"
        )
    tier = normalize.choice(tier, "tier", LoyaltyMember.Tier, "basic")
    status = normalize.choice(status, "status", LoyaltyMember.Status, "active")
    try:
        with transaction.atomic():
            member = LoyaltyMember.objects.create(
                contact=contact,
                card_number=card_number,
                tier=tier,
                status=status,
                joined_at=joined_at or timezone.now(),
                home_store=home_store,
            )
    except IntegrityError:
        if LoyaltyMember.objects.filter(card_number=card_number).exists():
            raise normalize.field_error(
                "card_number", _("Card %(card)s is already in use.") % {"card": card_number}, "unique"
            ) from None
        if LoyaltyMember.objects.filter(contact=contact).exists():
            raise normalize.field_error("contact", _("This contact is already a club member."), "unique") from None
        raise
    contact_changed([contact.pk])
    return member


MEMBER_FIELDS = ("card_number", "tier", "status", "joined_at", "home_store")


@transaction.atomic
def member_update(*, member: LoyaltyMember, **fields: Any) -> LoyaltyMember:
    """Tier, status, home store, joined_at, card number (validated values); points change only through
    the ledger. A card number in use by another member is refused."""
    unknown = set(fields) - set(MEMBER_FIELDS)
    if unknown:
        raise TypeError(f"unknown member fields: {', '.join(sorted(unknown))}")
    ensure_not_erased(member.contact_id)
    card = fields.get("card_number")
    if card and LoyaltyMember.objects.filter(card_number=card).exclude(pk=member.pk).exists():
        raise normalize.field_error("card_number", _("Card %(card)s is already in use.") % {"card": card}, "unique")
    model_update(instance=member, fields=MEMBER_FIELDS, data=fields)
    contact_changed([member.contact_id])
    return member


@transaction.atomic
def points_adjust(*, member: LoyaltyMember, delta: int, reason: str, reference: str | None = None) -> PointsEntry:
    """Add or spend points. The member row is locked, so ledger and balance move together;
    a repeated reference returns the entry it made the first time."""
    if not isinstance(delta, int) or isinstance(delta, bool) or delta == 0:
        raise normalize.field_error("delta", _("Must be a non-zero whole number."))
    if not reason or not str(reason).strip():
        raise normalize.field_error("reason", _("This field is required."))
    reference = normalize.identifier(reference, "reference")
    locked = LoyaltyMember.objects.select_for_update().get(pk=member.pk)
    ensure_not_erased(locked.contact_id)
    if reference:
        existing = PointsEntry.objects.filter(member=locked, reference=reference).first()
        if existing:
            return existing
    balance = locked.points + delta
    if balance < 0:
        raise normalize.field_error(
            "delta",
            _("Not enough points: the balance is %(points)d.") % {"points": locked.points},
            "insufficient_points",
        )
    entry = PointsEntry.objects.create(
        member=locked, delta=delta, balance_after=balance, reason=str(reason).strip()[:200], reference=reference
    )
    LoyaltyMember.objects.filter(pk=locked.pk).update(points=F("points") + delta)
    member.points = balance
    contact_changed([member.contact_id])
    return entry
