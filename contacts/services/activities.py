"""Site and app events, and the anonymous visitors they come from."""
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import normalize
from ..models import Activity, Contact, FunnelStage, Product, VisitorIdentity
from .base import contact_changed, ensure_not_erased
from .contacts import contact_resolve
from .derived import contacts_refresh_funnel

STAGE_BY_EVENT = {
    Activity.Type.PRODUCT_VIEW: FunnelStage.INTERESTED,
    Activity.Type.DOWNLOAD: FunnelStage.INTERESTED,
    Activity.Type.REVIEW: FunnelStage.INTERESTED,
    Activity.Type.ADD_TO_CART: FunnelStage.CART,
}



def stage_for_event(event_type: str) -> int:
    return STAGE_BY_EVENT.get(event_type, FunnelStage.VISITOR)


def contacts_raise_stage(*, contact_ids: Iterable[int], stage: int) -> None:
    """Move contacts up to `stage` (never down): one UPDATE."""
    ids = list(set(contact_ids))
    changed = Contact.objects.filter(pk__in=ids, funnel_stage__lt=stage).update(funnel_stage=stage)
    if changed:
        contact_changed(ids)


def activity_clean(data: dict) -> dict:
    errors: dict[str, list] = {}
    clean: dict[str, Any] = {}
    try:
        clean["type"] = normalize.choice(data.get("type"), "type", Activity.Type)
        if not clean["type"]:
            errors["type"] = [_("This field is required.")]
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        clean["occurred_at"] = normalize.datetime(data.get("occurred_at"), "occurred_at") or timezone.now()
    except ValidationError as exc:
        errors.update(exc.message_dict)
    clean["anonymous_id"] = normalize.identifier(data.get("anonymous_id"), "anonymous_id")
    clean["event_id"] = normalize.identifier(data.get("event_id"), "event_id")
    clean["sku"] = normalize.identifier(data.get("product"), "product", 64)
    url = data.get("url") or ""
    if url and (not isinstance(url, str) or len(url) > 2000 or not url.startswith(("http://", "https://"))):
        errors["url"] = [_("Must be an http(s) URL of at most 2000 characters.")]
    clean["url"] = url
    properties = data.get("properties") or {}
    if not isinstance(properties, dict):
        errors["properties"] = [_("Must be an object.")]
    clean["properties"] = properties
    if errors:
        raise ValidationError(errors)
    return clean


@transaction.atomic
def activity_track(*, data: dict) -> tuple[Activity, bool]:
    """Store one site/app event and raise the contact's funnel stage; an event_id is stored once."""
    clean = activity_clean(data)
    product = None
    if clean["sku"]:
        product = Product.objects.filter(sku=clean["sku"]).first()
        if product is None:
            raise normalize.field_error("product", _("Unknown product %(sku)s.") % {"sku": clean["sku"]})
    contact = None
    if any(not normalize.blank(data.get(k)) for k in ("contact", "email", "card_number")):
        contact = contact_resolve(contact_id=data.get("contact"), email=data.get("email"),
                                  card_number=data.get("card_number"), create_source="web_form")
    elif not clean["anonymous_id"]:
        raise normalize.field_error("contact", _("Give a contact id, email or anonymous_id."))
    else:
        known = visitors_resolve([clean["anonymous_id"]]).get(clean["anonymous_id"])
        contact = Contact.objects.filter(pk=known).first() if known else None
    if clean["event_id"]:
        existing = Activity.objects.filter(event_id=clean["event_id"]).first()
        if existing:
            return existing, False
    try:
        with transaction.atomic():
            activity = Activity.objects.create(
                contact=contact, anonymous_id=clean["anonymous_id"], event_id=clean["event_id"],
                type=clean["type"], occurred_at=clean["occurred_at"], product=product, url=clean["url"],
                properties=clean["properties"],
            )
    except IntegrityError:
        if not clean["event_id"]:
            raise
        return Activity.objects.get(event_id=clean["event_id"]), False
    if contact is not None:
        contacts_raise_stage(contact_ids=[contact.pk], stage=stage_for_event(clean["type"]))
    return activity, True


@transaction.atomic
def identify(*, anonymous_id: str, contact: Contact) -> int:
    """Link an anonymous visitor to a known contact: re-home its events, recolor the contact, and
    remember the link so events that still arrive with only the anonymous id land on the contact."""
    ensure_not_erased(contact.pk)
    anonymous_id = normalize.identifier(anonymous_id, "anonymous_id")
    if not anonymous_id:
        raise normalize.field_error("anonymous_id", _("This field is required."))
    VisitorIdentity.objects.update_or_create(anonymous_id=anonymous_id, defaults={
        "contact": contact, "identified_at": timezone.now()})
    moved = Activity.objects.filter(anonymous_id=anonymous_id, contact__isnull=True).update(contact=contact)
    if moved:
        contacts_refresh_funnel(contact_ids=[contact.pk])
    return moved


def visitors_resolve(anonymous_ids: Iterable[str]) -> dict[str, int]:
    """Contact ids of the anonymous visitors already identified (one query)."""
    ids = {a for a in anonymous_ids if a}
    if not ids:
        return {}
    return dict(VisitorIdentity.objects.filter(anonymous_id__in=ids).values_list("anonymous_id", "contact_id"))
