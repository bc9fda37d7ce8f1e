"""Every write to the audience goes through here.

The services validate and normalize input (see `normalize`), dedupe on the natural keys
(email, phone, external id, club card) with database constraints as the last word, and keep
the derived fields of Contact — funnel stage, purchase aggregates, RFM — right
whichever door the data came in by.
"""
import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, IntegerField, Max, Min, OuterRef, QuerySet, Value
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from . import normalize
from .models import (
    Activity,
    ConsentEvent,
    Contact,
    EmailStatus,
    FunnelStage,
    LoyaltyMember,
    PointsEntry,
    Product,
    Purchase,
    PurchaseItem,
    RfmBreakpoints,
    Store,
    Tag,
    VisitorIdentity,
)

IDENTITY_FIELDS = ("email", "phone", "external_id")
PROFILE_FIELDS = (
    "first_name", "last_name", "gender", "birth_date", "wedding_date", "marital_status", "city", "region",
    "country", "language", "source", "source_detail", "signed_up_at", "attributes",
)
MAX_UNIT_PRICE = Decimal("1e10")  # PurchaseItem.unit_price holds 12 digits, 2 of them decimals
STAGE_BY_EVENT = {
    Activity.Type.PRODUCT_VIEW: FunnelStage.INTERESTED,
    Activity.Type.DOWNLOAD: FunnelStage.INTERESTED,
    Activity.Type.REVIEW: FunnelStage.INTERESTED,
    Activity.Type.ADD_TO_CART: FunnelStage.CART,
}


def contact_changed(contact_ids: Iterable[int]) -> None:
    """Hook for whatever depends on contact data (segment membership); runs after commit."""
    from .signals import contacts_changed

    ids = sorted(set(contact_ids))
    if ids:
        transaction.on_commit(lambda: contacts_changed.send(sender=Contact, contact_ids=ids))


# ---------------------------------------------------------------- tags

BULK_BATCH = 5000


def id_batches(contacts: Any, size: int | None = None):
    """Contact ids in lists of at most `size`: a queryset is walked by primary key (memory stays
    flat for "all matching" selections of any size), an iterable of ids is sliced."""
    size = size or BULK_BATCH
    if isinstance(contacts, QuerySet):
        last = 0
        while True:
            batch = list(contacts.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:size])
            if not batch:
                return
            yield batch
            last = batch[-1]
    ids = sorted(set(contacts))
    for start in range(0, len(ids), size):
        yield ids[start:start + size]

def tags_get_or_create(names: Iterable[str]) -> list[Tag]:
    names = normalize.tag_names(list(names))
    if not names:
        return []
    existing = {t.name.lower(): t for t in Tag.objects.annotate(lname=Lower("name")).filter(
        lname__in=[n.lower() for n in names])}
    missing = [Tag(name=n) for n in names if n.lower() not in existing]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {t.name.lower(): t for t in Tag.objects.annotate(lname=Lower("name")).filter(
            lname__in=[n.lower() for n in names])}
    return [existing[n.lower()] for n in names]


def contacts_add_tag(*, contact_ids: Any, name: str) -> int:
    """Tag many contacts (ids or a queryset), a batch per statement; returns how many got the tag newly."""
    tags = tags_get_or_create([name])
    if not tags:
        raise normalize.field_error("name", _("Enter a tag name."))
    tag = tags[0]
    through = Contact.tags.through
    added = 0
    for batch in id_batches(contact_ids):
        batch = list(Contact.objects.filter(pk__in=batch, erased_at__isnull=True).values_list("pk", flat=True))
        ids = set(batch) - set(through.objects.filter(tag=tag, contact_id__in=batch).values_list("contact_id",
                                                                                               flat=True))
        through.objects.bulk_create([through(contact_id=i, tag=tag) for i in ids], ignore_conflicts=True)
        contact_changed(ids)
        added += len(ids)
    return added


# ---------------------------------------------------------------- contacts

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


def ensure_not_erased(contact_id: int | None, field: str = "contact") -> None:
    """Writes to an erased contact are refused: erasure must not be undone by the next sync."""
    if contact_id is not None and Contact.objects.filter(pk=contact_id, erased_at__isnull=False).exists():
        raise normalize.field_error(field, _("Contact %(id)s has been erased and can no longer be changed.") % {
            "id": contact_id})


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


# ---------------------------------------------------------------- consent

@transaction.atomic
def consent_change(*, contact: Contact, channel: str, granted: bool, source: str, text_shown: str = "",
                   occurred_at: dt.datetime | None = None, unsubscribe: bool = False) -> ConsentEvent:
    """Record a consent change and apply it. An unsubscribe also sets the email status.

    The status moves in SQL from the stored value, so a caller holding an older copy of the
    contact can never lift a bounce or complaint that arrived in the meantime."""
    from django.db.models import Case, When

    ensure_not_erased(contact.pk)
    channel = normalize.choice(channel, "channel", ConsentEvent.ConsentChannel)
    if not channel:
        raise normalize.field_error("channel", _("This field is required."))
    event = ConsentEvent.objects.create(contact=contact, channel=channel, granted=granted, source=source[:100],
                                        text_shown=text_shown, occurred_at=occurred_at or timezone.now())
    updates: dict[str, Any] = {}
    if channel == ConsentEvent.ConsentChannel.EMAIL:
        updates["email_opt_in"] = granted
        if unsubscribe and not granted:
            updates["email_status"] = Case(When(email_status=EmailStatus.ACTIVE, then=Value(EmailStatus.UNSUBSCRIBED)),
                                           default=F("email_status"))
        if granted:
            updates["email_status"] = Case(When(email_status=EmailStatus.UNSUBSCRIBED, then=Value(EmailStatus.ACTIVE)),
                                           default=F("email_status"))
    else:
        updates["sms_opt_in"] = granted
    Contact.objects.filter(pk=contact.pk).update(**updates, updated_at=timezone.now())
    contact.refresh_from_db(fields=[f for f in updates] + ["updated_at"])
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
            [ConsentEvent(contact_id=i, channel=channel, granted=False, source=source, occurred_at=now)
             for i in ids], batch_size=1000)
        Contact.objects.filter(pk__in=ids).update(**{field: False}, updated_at=now)
        contact_changed(ids)
        revoked += len(ids)
    return revoked


# ---------------------------------------------------------------- derived state

def funnel_stage_case() -> Any:
    """Funnel stage as one SQL CASE of EXISTS tests (CONTRACT.md §3)."""
    from django.db.models import Case, When

    events = Activity.objects.filter(contact=OuterRef("pk"))
    interested = [Activity.Type.PRODUCT_VIEW, Activity.Type.DOWNLOAD, Activity.Type.REVIEW]
    return Case(
        When(Exists(Purchase.objects.filter(contact=OuterRef("pk"))), then=Value(FunnelStage.PURCHASER)),
        When(Exists(events.filter(type=Activity.Type.ADD_TO_CART)), then=Value(FunnelStage.CART)),
        When(Exists(events.filter(type__in=interested)), then=Value(FunnelStage.INTERESTED)),
        When(Exists(events), then=Value(FunnelStage.VISITOR)),
        default=Value(FunnelStage.NONE),
        output_field=IntegerField(),
    )


def contacts_refresh_purchase_stats(*, contact_ids: Iterable[int]) -> None:
    """Recompute purchase aggregates, funnel stage and RFM of these contacts, set-based:
    one UPDATE for those with purchases, and a reset for any that no longer have one."""
    from .purchase_stats import refresh_buyers

    ids = sorted(set(contact_ids))
    if not ids:
        return
    buyers: set[int] = set()
    for start in range(0, len(ids), 5000):
        buyers |= refresh_buyers(ids[start:start + 5000])
    others = [i for i in ids if i not in buyers]
    if others:
        non_buyers = Contact.objects.filter(pk__in=others)
        non_buyers.filter(purchase_count__gt=0).update(
            purchase_count=0, total_spent=Decimal("0"), first_purchase_at=None, last_purchase_at=None,
            rfm_recency=None, rfm_frequency=None, rfm_monetary=None,
            updated_at=timezone.now())
        non_buyers.update(funnel_stage=funnel_stage_case())
    contact_changed(ids)


def contacts_refresh_funnel(*, contact_ids: Iterable[int]) -> None:
    ids = list(set(contact_ids))
    Contact.objects.filter(pk__in=ids).update(funnel_stage=funnel_stage_case())
    contact_changed(ids)


def contacts_recompute_all(*, batch_size: int = 50_000) -> dict[str, int]:
    """RFM scores drift as days pass and the quintiles move: recomputed in id-range batches (lifecycle
    needs nothing: it is computed whenever it is read, see contacts.lifecycle)."""
    bounds = Contact.objects.aggregate(lo=Min("pk"), hi=Max("pk"))
    batches = 0
    if bounds["lo"] is not None:
        rfm_breakpoints_compute()
        for start in range(bounds["lo"], bounds["hi"] + 1, batch_size):
            chunk = Contact.objects.filter(pk__gte=start, pk__lt=start + batch_size)
            rfm_apply(chunk)
            batches += 1
    return {"batches": batches}


def _quintiles(qs: Any, field: str) -> list:
    """Four cut points splitting the non-null values of `field` into five equal groups."""
    values = qs.exclude(**{f"{field}__isnull": True}).order_by(field).values_list(field, flat=True)
    total = values.count()
    if not total:
        return []
    return [values[min(total - 1, total * k // 5)] for k in range(1, 5)]


def rfm_breakpoints_compute() -> RfmBreakpoints:
    buyers = Contact.objects.filter(purchase_count__gt=0)
    last = [v.isoformat() for v in _quintiles(buyers, "last_purchase_at")]
    breakpoints = RfmBreakpoints.objects.order_by("-pk").first() or RfmBreakpoints()
    breakpoints.recency_days = last
    breakpoints.frequency = [int(v) for v in _quintiles(buyers, "purchase_count")]
    breakpoints.monetary = [str(v) for v in _quintiles(buyers, "total_spent")]
    breakpoints.computed_at = timezone.now()
    breakpoints.save()
    return breakpoints


def _score_case(field: str, cuts: list) -> Any:
    from django.db.models import Case, When

    whens = [When(**{f"{field}__lt": cut}, then=Value(score)) for score, cut in enumerate(cuts, start=1)]
    return Case(When(**{f"{field}__isnull": True}, then=Value(None)), *whens, default=Value(len(cuts) + 1),
                output_field=IntegerField())


def rfm_apply(qs: Any) -> None:
    """Score R, F and M 1–5 against the stored quintile cut points (5 = best)."""
    breakpoints = RfmBreakpoints.objects.order_by("-pk").first()
    if breakpoints is None or not breakpoints.frequency:
        return
    recency_cuts = [dt.datetime.fromisoformat(v) for v in breakpoints.recency_days]
    qs.filter(purchase_count__gt=0).update(
        rfm_recency=_score_case("last_purchase_at", recency_cuts),
        rfm_frequency=_score_case("purchase_count", breakpoints.frequency),
        rfm_monetary=_score_case("total_spent", [Decimal(v) for v in breakpoints.monetary]),
    )
    qs.filter(purchase_count=0).exclude(rfm_recency__isnull=True, rfm_frequency__isnull=True,
                                        rfm_monetary__isnull=True).update(
        rfm_recency=None, rfm_frequency=None, rfm_monetary=None)


# ---------------------------------------------------------------- purchases

def purchase_clean(data: dict) -> dict:
    """Validate one purchase payload; every error names its field (items as items.N.field)."""
    errors: dict[str, list] = {}
    clean: dict[str, Any] = {}

    def run(field: str, fn: Any) -> None:
        try:
            clean[field] = fn()
        except ValidationError as exc:
            errors.update(exc.message_dict)

    run("source", lambda: normalize.identifier(data.get("source"), "source", 50) or "api")
    run("external_id", lambda: normalize.identifier(data.get("external_id"), "external_id"))
    run("channel", lambda: normalize.channel(data.get("channel")))
    run("purchased_at", lambda: normalize.datetime(data.get("purchased_at"), "purchased_at") or timezone.now())
    run("total", lambda: normalize.money(data.get("total"), "total"))
    run("currency", lambda: (normalize.text(data.get("currency"), "currency", 3) or "ILS").upper())
    clean["store_code"] = normalize.identifier(data.get("store"), "store", 50)
    items = data.get("items") or []
    if not isinstance(items, list):
        errors["items"] = [_("Must be a list.")]
        items = []
    clean["items"] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            errors[f"items.{index}"] = [_("Must be an object with sku, quantity and unit_price.")]
            continue
        sku = normalize.identifier(item.get("sku"), "sku", 64)
        if not sku:
            errors[f"items.{index}.sku"] = [_("This field is required.")]
        try:
            quantity = int(item.get("quantity", 1))
            if quantity < 1 or quantity > 1_000_000:
                raise ValueError
        except (TypeError, ValueError):
            errors[f"items.{index}.quantity"] = [_("Must be a whole number of at least 1.")]
            quantity = 1
        try:
            price = normalize.money(item.get("unit_price"), f"items.{index}.unit_price")
            if abs(price) >= MAX_UNIT_PRICE:
                raise normalize.field_error(f"items.{index}.unit_price", _("“%(value)s” is out of range.") % {
                    "value": price})
        except ValidationError as exc:
            errors.update(exc.message_dict)
            price = Decimal("0")
        clean["items"].append({"sku": sku, "quantity": quantity, "unit_price": price})
    if clean.get("total") is not None and clean["total"] < 0:
        errors["total"] = [_("Must not be negative.")]
    if errors:
        raise ValidationError(errors)
    return clean


def _purchase_refs(clean: dict, stores: dict, products: dict) -> None:
    errors = {}
    if clean["store_code"] and clean["store_code"] not in stores:
        errors["store"] = [_("Unknown store %(code)s.") % {"code": clean["store_code"]}]
    for index, item in enumerate(clean["items"]):
        if item["sku"] and item["sku"] not in products:
            errors[f"items.{index}.sku"] = [_("Unknown product %(sku)s.") % {"sku": item["sku"]}]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def purchase_record(*, data: dict) -> tuple[Purchase, bool]:
    """Record one purchase; the same (source, external_id) twice returns the first one, created=False."""
    clean = purchase_clean(data)
    stores = {s.code: s for s in Store.objects.filter(code=clean["store_code"])} if clean["store_code"] else {}
    products = {p.sku: p for p in Product.objects.filter(sku__in=[i["sku"] for i in clean["items"]])}
    _purchase_refs(clean, stores, products)
    if clean["external_id"]:
        existing = Purchase.objects.filter(source=clean["source"], external_id=clean["external_id"]).first()
        if existing:
            return existing, False
    contact = contact_resolve(contact_id=data.get("contact"), email=data.get("email"),
                              card_number=data.get("card_number"))
    try:
        with transaction.atomic():
            purchase = Purchase.objects.create(
                contact=contact, source=clean["source"], external_id=clean["external_id"],
                channel=clean["channel"], store=stores.get(clean["store_code"]),
                purchased_at=clean["purchased_at"], total=clean["total"], currency=clean["currency"],
            )
    except IntegrityError:
        if not clean["external_id"]:
            raise
        return Purchase.objects.get(source=clean["source"], external_id=clean["external_id"]), False
    PurchaseItem.objects.bulk_create([
        PurchaseItem(purchase=purchase, product=products[i["sku"]], quantity=i["quantity"],
                     unit_price=i["unit_price"]) for i in clean["items"]
    ])
    contacts_refresh_purchase_stats(contact_ids=[contact.pk])
    return purchase, True


# ---------------------------------------------------------------- activity

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


# ---------------------------------------------------------------- club

def _generate_card_number() -> str:
    import secrets

    return "".join(secrets.choice("0123456789") for _ in range(12))


@transaction.atomic
def member_create(*, contact: Contact, card_number: str | None = None, tier: str = LoyaltyMember.Tier.BASIC,
                  joined_at: dt.datetime | None = None, home_store: Store | None = None,
                  status: str = LoyaltyMember.Status.ACTIVE) -> LoyaltyMember:
    ensure_not_erased(contact.pk)
    if LoyaltyMember.objects.filter(contact=contact).exists():
        raise normalize.field_error("contact", _("This contact is already a club member."))
    card_number = normalize.identifier(card_number, "card_number", 50) or _generate_card_number()
    if LoyaltyMember.objects.filter(card_number=card_number).exists():
        raise normalize.field_error("card_number", _("Card %(card)s is already in use.") % {"card": card_number})
    tier = normalize.choice(tier, "tier", LoyaltyMember.Tier, "basic")
    status = normalize.choice(status, "status", LoyaltyMember.Status, "active")
    try:
        with transaction.atomic():
            member = LoyaltyMember.objects.create(contact=contact, card_number=card_number, tier=tier, status=status,
                                                  joined_at=joined_at or timezone.now(), home_store=home_store)
    except IntegrityError:
        if LoyaltyMember.objects.filter(card_number=card_number).exists():
            raise normalize.field_error("card_number", _("Card %(card)s is already in use.") % {
                "card": card_number}) from None
        if LoyaltyMember.objects.filter(contact=contact).exists():
            raise normalize.field_error("contact", _("This contact is already a club member.")) from None
        raise
    contact_changed([contact.pk])
    return member


@transaction.atomic
def member_update(*, member: LoyaltyMember, data: dict) -> LoyaltyMember:
    """Tier, status, home store, joined_at, card number; points change only through the ledger."""
    ensure_not_erased(member.contact_id)
    if "tier" in data:
        member.tier = normalize.choice(data["tier"], "tier", LoyaltyMember.Tier, member.tier)
    if "status" in data:
        member.status = normalize.choice(data["status"], "status", LoyaltyMember.Status, member.status)
    if "joined_at" in data:
        member.joined_at = normalize.datetime(data["joined_at"], "joined_at") or member.joined_at
    if "home_store" in data:
        member.home_store = data["home_store"]
    if "card_number" in data:
        card = normalize.identifier(data["card_number"], "card_number", 50)
        if not card:
            raise normalize.field_error("card_number", _("This field is required."))
        if LoyaltyMember.objects.filter(card_number=card).exclude(pk=member.pk).exists():
            raise normalize.field_error("card_number", _("Card %(card)s is already in use.") % {"card": card})
        member.card_number = card
    member.save()
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
        raise normalize.field_error("delta", _("Not enough points: the balance is %(points)d.") % {
            "points": locked.points})
    entry = PointsEntry.objects.create(member=locked, delta=delta, balance_after=balance,
                                       reason=str(reason).strip()[:200], reference=reference)
    LoyaltyMember.objects.filter(pk=locked.pk).update(points=F("points") + delta)
    member.points = balance
    contact_changed([member.contact_id])
    return entry


# ---------------------------------------------------------------- merge and erase

def contact_merge(*, target: Contact, source: Contact, merged_by: str = "") -> Contact:
    """Fold the duplicate `source` into the survivor `target`, losing nothing (see `contacts.merging`)."""
    from .merging import merge

    return merge(survivor=target, duplicate=source, merged_by=merged_by)


@transaction.atomic
def contact_erase(*, contact: Contact) -> Contact:
    """Anonymize on request (right to erasure): personal data goes everywhere, aggregates stay
    (see `contacts.erasure`)."""
    _erase([contact.pk])
    contact.refresh_from_db()
    return contact


def contacts_erase(*, contact_ids: Any) -> int:
    """Erase many contacts (ids or a queryset), set-based, a batch per transaction."""
    erased = 0
    for batch in id_batches(Contact.objects.filter(pk__in=contact_ids, erased_at__isnull=True)
                            if not isinstance(contact_ids, QuerySet)
                            else contact_ids.filter(erased_at__isnull=True)):
        with transaction.atomic():
            _erase(batch)
        erased += len(batch)
    return erased


def _erase(ids: list[int]) -> None:
    from .erasure import erase_ids

    erase_ids(ids)
    contact_changed(ids)


# ---------------------------------------------------------------- catalogue and deletion

def product_save(*, data: dict, product: Product | None = None) -> Product:
    """Create or change a product from a shop's catalogue; a SKU in use by another product is an error."""
    return _save_unique(product or Product(), data, "sku", _("Product %(value)s already exists."))


def store_save(*, data: dict, store: Store | None = None) -> Store:
    return _save_unique(store or Store(), data, "code", _("Store %(value)s already exists."))


def _save_unique(obj: Any, data: dict, key: str, message: str) -> Any:
    for field, value in data.items():
        setattr(obj, field, value)
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError:
        raise normalize.field_error(key, message % {"value": getattr(obj, key)}) from None
    return obj


@transaction.atomic
def contact_delete(*, contact: Contact) -> None:
    """Delete a contact with its whole history (purchases, events, membership). To keep revenue figures
    and only remove personal data, erase instead (`contact_erase`)."""
    contact_id = contact.pk
    contact.delete()
    contact_changed([contact_id])
