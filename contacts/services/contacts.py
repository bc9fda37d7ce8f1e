"""Contacts: find, create, update and upsert with dedupe on the natural keys (email, phone, external id,
club card), with the database constraints as the last word."""
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import normalize
from ..models import ConsentEvent, Contact, LoyaltyMember
from .base import contact_changed, ensure_not_erased, tags_get_or_create
from .consent import consent_change

IDENTITY_FIELDS = ("email", "phone", "external_id")
PROFILE_FIELDS = (
    "first_name", "last_name", "gender", "birth_date", "wedding_date", "marital_status", "city", "region",
    "country", "language", "source", "source_detail", "signed_up_at", "attributes",
)



def contact_find(*, email: str | None = None, phone: str | None = None, external_id: str | None = None,
                 card_number: str | None = None, lock: bool = False) -> Contact | None:
    """The contact matching the first given key, in dedupe order: email, phone, external id, card."""
    qs = Contact.objects.select_for_update() if lock else Contact.objects.all()
    for field, value in (("email", email), ("phone", phone), ("external_id", external_id),
                         ("club__card_number", card_number)):
        if value:
            found = qs.filter(**{field: value}).first()
            if found:
                return found
    return None


class IdentityConflict(ValidationError):
    """An email, phone or external id given for one contact already belongs to another: the two are
    probably one person, and `contact_ids` (the contact being written first) says which to merge."""

    def __init__(self, errors: dict, *, contact_ids: list[int]):
        super().__init__(errors)
        self.contact_ids = contact_ids


def _check_identity_free(contact: Contact | None, data: dict) -> None:
    errors = {}
    others: list[int] = []
    for field in IDENTITY_FIELDS:
        value = data.get(field)
        if not value:
            continue
        other = Contact.objects.filter(**{field: value}).exclude(pk=getattr(contact, "pk", None)).first()
        if other:
            errors[field] = [_("%(value)s already belongs to contact #%(id)d.") % {"value": value, "id": other.pk}]
            others.append(other.pk)
    if errors and contact is not None:
        raise IdentityConflict(errors, contact_ids=[contact.pk, *dict.fromkeys(others)])
    if errors:
        raise ValidationError(errors)



def _apply(contact: Contact, data: dict, *, overwrite: bool) -> None:
    for field in IDENTITY_FIELDS + PROFILE_FIELDS:
        if field not in data:
            continue
        value = data[field]
        if field == "attributes":
            if not overwrite:
                value = {**contact.attributes, **{k: v for k, v in value.items() if not normalize.blank(v)}}
            value = {k: v for k, v in value.items() if v is not None}
        elif not overwrite and normalize.blank(value):
            continue
        setattr(contact, field, value)


def _save_profile(contact: Contact, clean: dict) -> None:
    """Save only what the caller sent: derived fields are kept by other services, and an
    instance loaded earlier must not put back stale purchase stats or funnel stage."""
    fields = [f for f in IDENTITY_FIELDS + PROFILE_FIELDS if f in clean]
    contact.save(update_fields=fields + ["updated_at"])


def _apply_consent(contact: Contact, data: dict, source: str) -> None:
    for field, channel in (("email_opt_in", ConsentEvent.ConsentChannel.EMAIL),
                           ("sms_opt_in", ConsentEvent.ConsentChannel.SMS)):
        if field in data and data[field] != getattr(contact, field):
            consent_change(contact=contact, channel=channel, granted=data[field], source=source)


@transaction.atomic
def contact_upsert(*, data: dict, source: str = "api", card_number: str | None = None) -> tuple[Contact, bool]:
    """Create or update the contact matching email, then phone, then external id, then card number.

    Blank values never wipe stored ones; tags are added, attributes merged. Concurrent calls with
    the same key end in one row: the unique constraints decide, and the loser updates the winner.
    """
    clean = normalize.contact_fields({k: v for k, v in data.items() if not normalize.blank(v)})
    card_number = normalize.identifier(card_number, "card_number", 50)
    keys = {k: clean.get(k) for k in IDENTITY_FIELDS}
    if not any(keys.values()) and not card_number:
        raise ValidationError({"email": [_("Give at least an email, phone, external id or card number.")]})
    contact = contact_find(**keys, card_number=card_number, lock=True)
    if contact is not None and contact.erased_at:
        ensure_not_erased(contact.pk)
    created = contact is None
    if created:
        try:
            with transaction.atomic():
                contact = _contact_create(clean, source)
        except IntegrityError:
            contact = contact_find(**keys, card_number=card_number, lock=True)
            if contact is None:
                raise
            created = False
    if not created:
        _check_identity_free(contact, clean)
        _apply(contact, clean, overwrite=False)
        _save_profile(contact, clean)
        _apply_consent(contact, clean, source)
    if clean.get("tags"):
        contact.tags.add(*tags_get_or_create(clean["tags"]))
    contact_changed([contact.pk])
    return contact, created


def _contact_create(clean: dict, source: str) -> Contact:
    contact = Contact()
    _apply(contact, clean, overwrite=True)
    if not contact.source and source in normalize.Source.values:
        contact.source = source
    contact.signed_up_at = contact.signed_up_at or timezone.now()
    contact.save()
    _apply_consent(contact, clean, contact.source or source)
    return contact


@transaction.atomic
def contact_create(*, data: dict, source: str = "api") -> Contact:
    """Create a new contact; an identity already in use is an error naming the field."""
    clean = normalize.contact_fields(data)
    _check_identity_free(None, clean)
    try:
        with transaction.atomic():
            contact = _contact_create(clean, source)
    except IntegrityError:
        _check_identity_free(None, clean)
        raise
    if clean.get("tags"):
        contact.tags.add(*tags_get_or_create(clean["tags"]))
    contact_changed([contact.pk])
    return contact


@transaction.atomic
def contact_update(*, contact: Contact, data: dict, source: str = "api") -> Contact:
    """Partial update: the given fields replace stored ones (tags replace the set)."""
    ensure_not_erased(contact.pk)
    clean = normalize.contact_fields(data)
    _check_identity_free(contact, clean)
    _apply(contact, clean, overwrite=True)
    try:
        with transaction.atomic():
            _save_profile(contact, clean)
    except IntegrityError:
        _check_identity_free(contact, clean)
        raise
    _apply_consent(contact, clean, source)
    if "tags" in clean:
        contact.tags.set(tags_get_or_create(clean["tags"]))
    contact_changed([contact.pk])
    return contact


def contact_resolve(*, contact_id: Any = None, email: Any = None, card_number: Any = None,
                    create_source: str = "api") -> Contact:
    """The contact a purchase or event points at: by id, by club card or by email (created if new).

    Every identifier given must name the same contact: a card of one person with the email of
    another is refused (naming both fields) rather than silently credited to one of them."""
    found: dict[str, Contact] = {}
    if not normalize.blank(contact_id):
        found["contact"] = _contact_by_id(contact_id)
    if not normalize.blank(card_number):
        member = (LoyaltyMember.objects.filter(card_number=str(card_number).strip(), contact__erased_at__isnull=True)
                  .select_related("contact").first())
        if member is None:
            raise normalize.field_error("card_number", _("No club member has card %(card)s.") % {"card": card_number})
        found["card_number"] = member.contact
    if not normalize.blank(email):
        if not found:
            return contact_upsert(data={"email": email}, source=create_source)[0]
        owner = Contact.objects.filter(email=normalize.email(email)).first()
        if owner is not None:
            found["email"] = owner
    if not found:
        raise normalize.field_error("contact", _("Give a contact id, email or card number."))
    conflict = identifiers_conflict({field: contact.pk for field, contact in found.items()})
    if conflict:
        raise ValidationError(conflict)
    return next(iter(found.values()))


def _contact_by_id(contact_id: Any) -> Contact:
    try:
        contact = Contact.objects.get(pk=int(contact_id))
    except (Contact.DoesNotExist, ValueError, TypeError, OverflowError):
        raise normalize.field_error("contact", _("Contact %(id)s does not exist.") % {"id": contact_id}) from None
    if contact.erased_at:
        ensure_not_erased(contact.pk)
    return contact


def identifiers_conflict(owners: dict[str, int | None]) -> dict[str, list]:
    """Errors for contact identifiers (field → the contact it names, None if none) that name different
    contacts, one per field involved; {} when they agree. Contact ids are not revealed."""
    known = {field: pk for field, pk in owners.items() if pk is not None}
    if len(set(known.values())) < 2:
        return {}
    return {field: [_("Belongs to a different contact than %(fields)s.") % {
        "fields": ", ".join(other for other, other_pk in known.items() if other_pk != pk)}]
        for field, pk in known.items()}
