"""Contacts: find, create, update and upsert with dedupe on the natural keys (email, phone, external id,
club card), with the database constraints as the last word."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.model_update import model_update

from .. import normalize
from ..models import ConsentEvent, Contact, LoyaltyMember
from .base import contact_changed, ensure_not_erased, tags_get_or_create
from .consent import consent_change

IDENTITY_FIELDS = ("email", "phone", "external_id")
PROFILE_FIELDS = (
    "first_name",
    "last_name",
    "gender",
    "birth_date",
    "wedding_date",
    "marital_status",
    "city",
    "region",
    "country",
    "language",
    "source",
    "source_detail",
    "signed_up_at",
    "attributes",
)


def contact_find(
    *,
    email: str | None = None,
    phone: str | None = None,
    external_id: str | None = None,
    card_number: str | None = None,
    lock: bool = False,
) -> Contact | None:
    """The contact matching the first given key, in dedupe order: email, phone, external id, card."""
    qs = Contact.objects.select_for_update() if lock else Contact.objects.all()
    for field, value in (
        ("email", email),
        ("phone", phone),
        ("external_id", external_id),
        ("club__card_number", card_number),
    ):
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
    errors: dict[str, list[ValidationError]] = {}
    others: list[int] = []
    rivals = Contact.objects.all() if contact is None else Contact.objects.exclude(pk=contact.pk)
    for field in IDENTITY_FIELDS:
        value = data.get(field)
        if not value:
            continue
        other = rivals.filter(**{field: value}).first()
        if other:
            errors[field] = [
                ValidationError(
                    _("%(value)s already belongs to contact #%(id)d.") % {"value": value, "id": other.pk}, code="unique"
                )
            ]
            others.append(other.pk)
    if errors and contact is not None:
        raise IdentityConflict(errors, contact_ids=[contact.pk, *dict.fromkeys(others)])
    if errors:
        raise ValidationError(errors)


CONSENT_FIELDS = ("email_opt_in", "sms_opt_in")
# The wording shown when consent was asked: logged with each consent change the same call makes.
CONSENT_TEXT_FIELD = "consent_text"
INPUT_FIELDS = IDENTITY_FIELDS + PROFILE_FIELDS + CONSENT_FIELDS + (CONSENT_TEXT_FIELD, "tags")


def _check_names(fields: dict) -> None:
    unknown = set(fields) - set(INPUT_FIELDS)
    if unknown:
        raise TypeError(f"unknown contact fields: {', '.join(sorted(unknown))}")


def _profile_values(contact: Contact, fields: dict, *, overwrite: bool) -> dict:
    """The stored values the given fields lead to. Without `overwrite` (upsert) blanks are skipped and
    attributes merged into the stored ones; attributes set to None are removed either way."""
    values = {}
    for name in IDENTITY_FIELDS + PROFILE_FIELDS:
        if name not in fields:
            continue
        value = fields[name]
        if name == "attributes":
            if not overwrite:
                value = {**contact.attributes, **{k: v for k, v in value.items() if not normalize.blank(v)}}
            value = {k: v for k, v in value.items() if v is not None}
        elif not overwrite and normalize.blank(value):
            continue
        values[name] = value
    return values


def _apply_consent(contact: Contact, fields: dict, source: str) -> None:
    """A log entry per channel whose consent the fields change, each with the consent text given."""
    text_shown = fields.get(CONSENT_TEXT_FIELD) or ""
    for field, channel in (
        ("email_opt_in", ConsentEvent.ConsentChannel.EMAIL),
        ("sms_opt_in", ConsentEvent.ConsentChannel.SMS),
    ):
        if field in fields and fields[field] != getattr(contact, field):
            consent_change(
                contact=contact, channel=channel, granted=fields[field], source=source, text_shown=text_shown
            )


@transaction.atomic
def contact_upsert(*, origin: str = "api", card_number: str | None = None, **fields: Any) -> tuple[Contact, bool]:
    """Create or update the contact matching email, then phone, then external id, then card number.

    `fields` are normalized contact fields (see `INPUT_FIELDS`); `origin` is the door the data came in by
    (api, admin, import, web_form): the contact's source when it has none, and that of consent changes.
    Blank values never wipe stored ones;
    tags are added, attributes merged. Concurrent calls with the same key end in one row: the unique
    constraints decide, and the loser updates the winner.
    """
    _check_names(fields)
    clean = {name: value for name, value in fields.items() if not normalize.blank(value)}
    keys = {k: clean.get(k) for k in IDENTITY_FIELDS}
    if not any(keys.values()) and not card_number:
        raise ValidationError(
            {
                "email": [
                    ValidationError(
                        _("Give at least an email, phone, external id or card number."), code="identity_required"
                    )
                ]
            }
        )
    contact = contact_find(**keys, card_number=card_number, lock=True)
    if contact is not None and contact.erased_at:
        ensure_not_erased(contact.pk)
    created = contact is None
    if contact is None:
        try:
            with transaction.atomic():
                contact = _contact_create(clean, origin)
        except IntegrityError:
            contact = contact_find(**keys, card_number=card_number, lock=True)
            if contact is None:
                raise
            created = False
    if not created:
        _check_identity_free(contact, clean)
        model_update(
            instance=contact,
            fields=IDENTITY_FIELDS + PROFILE_FIELDS,
            data=_profile_values(contact, clean, overwrite=False),
        )
        _apply_consent(contact, clean, origin)
    if clean.get("tags"):
        contact.tags.add(*tags_get_or_create(clean["tags"]))
    contact_changed([contact.pk])
    return contact, created


def _contact_create(fields: dict, origin: str) -> Contact:
    contact = Contact(**_profile_values(Contact(), fields, overwrite=True))
    if not contact.source and origin in normalize.Source.values:
        contact.source = origin
    contact.signed_up_at = contact.signed_up_at or timezone.now()
    contact.save()
    _apply_consent(contact, fields, contact.source or origin)
    return contact


@transaction.atomic
def contact_create(*, origin: str = "api", **fields: Any) -> Contact:
    """Create a new contact from normalized fields; an identity already in use is an error naming the field."""
    _check_names(fields)
    _check_identity_free(None, fields)
    try:
        with transaction.atomic():
            contact = _contact_create(fields, origin)
    except IntegrityError:
        _check_identity_free(None, fields)
        raise
    if fields.get("tags"):
        contact.tags.add(*tags_get_or_create(fields["tags"]))
    contact_changed([contact.pk])
    return contact


@transaction.atomic
def contact_update(*, contact: Contact, origin: str = "api", **fields: Any) -> Contact:
    """Partial update from normalized fields: the given ones replace stored ones (tags replace the set)."""
    _check_names(fields)
    ensure_not_erased(contact.pk)
    _check_identity_free(contact, fields)
    try:
        with transaction.atomic():
            model_update(
                instance=contact,
                fields=IDENTITY_FIELDS + PROFILE_FIELDS,
                data=_profile_values(contact, fields, overwrite=True),
            )
    except IntegrityError:
        _check_identity_free(contact, fields)
        raise
    _apply_consent(contact, fields, origin)
    if "tags" in fields:
        contact.tags.set(tags_get_or_create(fields["tags"]))
    contact_changed([contact.pk])
    return contact


def contact_resolve(
    *,
    contact_id: int | None = None,
    email: str | None = None,
    card_number: str | None = None,
    create_source: str = "api",
) -> Contact:
    """The contact a purchase or event points at: by id, by club card or by email (created if new).

    Every identifier given must name the same contact: a card of one person with the email of
    another is refused (naming both fields) rather than silently credited to one of them."""
    found: dict[str, Contact] = {}
    if contact_id is not None:
        found["contact"] = _contact_by_id(contact_id)
    if card_number:
        member = (
            LoyaltyMember.objects.filter(card_number=card_number, contact__erased_at__isnull=True)
            .select_related("contact")
            .first()
        )
        if member is None:
            raise normalize.field_error(
                "card_number", _("No club member has card %(card)s.") % {"card": card_number}, "does_not_exist"
            )
        found["card_number"] = member.contact
    if email:
        if not found:
            return contact_upsert(email=email, origin=create_source)[0]
        owner = Contact.objects.filter(email=email).first()
        if owner is not None:
            found["email"] = owner
    if not found:
        raise normalize.field_error("contact", _("Give a contact id, email or card number."))
    conflict = identifiers_conflict({field: contact.pk for field, contact in found.items()})
    if conflict:
        raise ValidationError(conflict)
    return next(iter(found.values()))


def _contact_by_id(contact_id: int) -> Contact:
    contact = Contact.objects.filter(pk=contact_id).first()
    if contact is None:
        raise normalize.field_error(
            "contact", _("Contact %(id)s does not exist.") % {"id": contact_id}, "does_not_exist"
        )
    if contact.erased_at:
        ensure_not_erased(contact.pk)
    return contact


def identifiers_conflict(owners: dict[str, int | None]) -> dict[str, list]:
    """Errors for contact identifiers (field → the contact it names, None if none) that name different
    contacts, one per field involved; {} when they agree. Contact ids are not revealed."""
    known = {field: pk for field, pk in owners.items() if pk is not None}
    if len(set(known.values())) < 2:
        return {}
    return {
        field: [
            ValidationError(
                _("Belongs to a different contact than %(fields)s.")
                % {"fields": ", ".join(other for other, other_pk in known.items() if other_pk != pk)},
                code="conflict",
            )
        ]
        for field, pk in known.items()
    }
