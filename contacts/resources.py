"""CSV import and export of contacts and purchases (django-import-export).

Import rows never reach the database through a model save: each row is read by the same normalizers
as the API (a contact row by `normalize.contact_fields`, a purchase row by the API's purchase
serializer), so a bad email or date is reported naming its column, then written by `contact_upsert` /
`purchase_record`, which dedupe on their natural keys. Importing the same
file twice therefore updates contacts in place and skips purchases already recorded.
"""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from import_export import resources
from import_export.fields import Field

from crm.api_errors import flatten_errors
from crm.csv_safety import safe_row

from . import ingest, normalize, services
from .models import Contact, LoyaltyMember, Purchase
from .serializers import PurchaseInSerializer

CONTACT_INPUT = (
    services.IDENTITY_FIELDS
    + tuple(f for f in services.PROFILE_FIELDS if f != "attributes")
    + (
        "email_opt_in",
        "sms_opt_in",
        "tags",
    )
)
ATTRIBUTE_PREFIX = "attributes."
CONSENT_TEXT_COLUMN = "consent_text"  # import only: logged with the row's consent changes, never exported
PURCHASE_INPUT = (
    "source",
    "external_id",
    "contact",
    "email",
    "card_number",
    "channel",
    "store",
    "purchased_at",
    "total",
    "currency",
    "utm_source",
    "utm_medium",
    "utm_campaign",
)
EXPORT_CHUNK = 2000


def _present(row: dict, names: tuple) -> dict:
    """The row's non-blank cells among `names`: an empty cell never overwrites stored data."""
    return {k: v for k, v in row.items() if k in names and not normalize.blank(v)}


def _adopt(instance: Any, saved: Any) -> None:
    """Copy the row the service wrote onto the instance the import framework reports on."""
    for field in saved._meta.concrete_fields:
        setattr(instance, field.attname, getattr(saved, field.attname))
    instance._state.adding = False


class ServiceResource(resources.ModelResource):
    """Validate in `import_instance`, write through a service in `save_instance`.

    Subclasses define `clean_row(row) -> dict` (raises ValidationError naming the columns) and
    `write_row(data, row) -> saved instance` (one service call).
    """

    def import_instance(self, instance, row, **kwargs):
        instance.import_data = self.clean_row(row)

    def save_instance(self, instance, is_create, row, **kwargs):
        with transaction.atomic():
            saved = self.write_row(instance.import_data, row)
        _adopt(instance, saved)

    def save_m2m(self, instance, row, **kwargs):
        """Relations are written by the service together with the row."""

    def iter_queryset(self, queryset):
        """Stream the export in chunks (prefetches included) instead of OFFSET pages."""
        yield from queryset.iterator(chunk_size=EXPORT_CHUNK)

    def export_resource(self, instance, selected_fields=None, **kwargs):
        """Cells that a spreadsheet would run as formulas are exported as text."""
        return safe_row(super().export_resource(instance, selected_fields, **kwargs))


class ContactResource(ServiceResource):
    tags = Field(column_name="tags")
    card_number = Field(column_name="card_number")
    tier = Field(column_name="tier")
    lifecycle = Field(attribute="lifecycle", column_name="lifecycle", readonly=True)  # as of the export

    class Meta:
        model = Contact
        fields = (
            ("id",)
            + CONTACT_INPUT
            + (
                "card_number",
                "tier",
                "email_status",
                "funnel_stage",
                "lifecycle",
                "purchase_count",
                "total_spent",
                "last_purchase_at",
                "created_at",
            )
        )
        export_order = fields
        import_id_fields: list[str] = []  # rows are matched like contact_upsert matches them (get_instance)
        skip_unchanged = False
        report_skipped = True

    def get_instance(self, instance_loader, row):
        """The contact this row would update, found the way `contact_upsert` finds it."""
        keys = {}
        for field, clean in (("email", normalize.email), ("phone", normalize.phone)):
            try:
                keys[field] = clean(row.get(field))
            except ValidationError:
                keys[field] = None
        keys["external_id"] = str(row.get("external_id") or "").strip() or None
        card = str(row.get("card_number") or "").strip() or None
        if not (any(keys.values()) or card):
            return None
        return services.contact_find(
            email=keys["email"], phone=keys["phone"], external_id=keys["external_id"], card_number=card
        )

    def clean_row(self, row: dict) -> dict:
        data = _present(row, CONTACT_INPUT)
        attributes = {
            k[len(ATTRIBUTE_PREFIX) :]: v
            for k, v in row.items()
            if k and k.startswith(ATTRIBUTE_PREFIX) and not normalize.blank(v)
        }
        if attributes:
            data["attributes"] = attributes
        if not normalize.blank(row.get(CONSENT_TEXT_COLUMN)):
            data[CONSENT_TEXT_COLUMN] = row[CONSENT_TEXT_COLUMN]
        errors = {}
        try:
            data = normalize.contact_fields(data)
        except ValidationError as exc:
            errors.update(exc.message_dict)
        try:
            card = normalize.identifier(row.get("card_number"), "card_number", 50)
            tier = normalize.choice(row.get("tier"), "tier", LoyaltyMember.Tier, LoyaltyMember.Tier.BASIC)
        except ValidationError as exc:
            errors.update(exc.message_dict)
            card = tier = None
        if errors:
            raise ValidationError(errors)
        return {"contact": data, "card_number": card, "tier": tier}

    def write_row(self, data: dict, row: dict) -> Contact:
        contact, _created = services.contact_upsert(origin="import", card_number=data["card_number"], **data["contact"])
        if data["card_number"] and not LoyaltyMember.objects.filter(contact=contact).exists():
            services.member_create(contact=contact, card_number=data["card_number"], tier=data["tier"])
        return contact

    def dehydrate_tags(self, contact: Contact) -> str:
        if contact.pk is None:
            return ""
        return ", ".join(tag.name for tag in contact.tags.all())

    def dehydrate_card_number(self, contact: Contact) -> str:
        member = getattr(contact, "club", None) if contact.pk else None
        return member.card_number if member else ""

    def dehydrate_tier(self, contact: Contact) -> str:
        member = getattr(contact, "club", None) if contact.pk else None
        return member.tier if member else ""


class PurchaseResource(ServiceResource):
    """One purchase per line; `items` lists `sku:quantity:unit_price` separated by semicolons."""

    contact = Field(attribute="contact_id", column_name="contact")
    email = Field(column_name="email")
    store = Field(column_name="store")
    items = Field(column_name="items")

    class Meta:
        model = Purchase
        fields = (
            "source",
            "external_id",
            "contact",
            "email",
            "channel",
            "store",
            "purchased_at",
            "total",
            "currency",
            "items",
            "utm_source",
            "utm_medium",
            "utm_campaign",
        )
        export_order = fields
        import_id_fields = ("external_id",)
        skip_unchanged = False
        report_skipped = True

    def get_instance(self, instance_loader, row):
        """Purchases are keyed by (source, external id), as `purchase_record` keys them."""
        source = str(row.get("source") or "").strip() or "import"
        external_id = str(row.get("external_id") or "").strip()
        if not external_id:
            return None
        return Purchase.objects.filter(source=source, external_id=external_id).first()

    def skip_row(self, instance, original, row, import_validation_errors=None):
        """A purchase already recorded is left as it is: re-importing a file adds nothing."""
        return instance.pk is not None and not import_validation_errors

    def clean_row(self, row: dict) -> dict:
        """The row read by the API's purchase serializer (a file's line is one more door to the same input),
        with an external id required so that a re-import adds nothing twice."""
        data = _present(row, PURCHASE_INPUT)
        data.setdefault("source", "import")
        errors = {}
        if normalize.blank(data.get("external_id")):
            errors["external_id"] = [_("This field is required: it keeps a re-import from adding the purchase twice.")]
        try:
            data["items"] = parse_items(row.get("items"))
        except ValidationError as exc:
            errors.update(exc.message_dict)
        serializer = PurchaseInSerializer(data=data)
        if not serializer.is_valid():
            for field, messages in flatten_errors(serializer.errors).items():
                errors.setdefault(field, [str(message) for message in messages])
        if errors:
            raise ValidationError(errors)
        return serializer.validated_data

    def write_row(self, data: dict, row: dict) -> Purchase:
        return ingest.purchase_submit(item=data)[0]

    def dehydrate_email(self, purchase: Purchase) -> str:
        return purchase.contact.email or "" if purchase.contact_id else ""

    def dehydrate_store(self, purchase: Purchase) -> str:
        return purchase.store.code if purchase.store else ""

    def dehydrate_items(self, purchase: Purchase) -> str:
        if purchase.pk is None:
            return ""
        return "; ".join(f"{i.product.sku}:{i.quantity}:{i.unit_price}" for i in purchase.items.all())


def parse_items(value: Any) -> list[dict]:
    """`SKU-1:2:49.90; SKU-2:1:10` → item dicts for `purchase_record` (quantity and price optional)."""
    if normalize.blank(value):
        return []
    items = []
    for part in str(value).split(";"):
        if not part.strip():
            continue
        pieces = [p.strip() for p in part.split(":")]
        if len(pieces) > 3 or not pieces[0]:
            raise normalize.field_error("items", _("“%(item)s” is not sku:quantity:unit_price.") % {"item": part})
        quantity = pieces[1] if len(pieces) > 1 and pieces[1] else 1
        price = pieces[2] if len(pieces) > 2 and pieces[2] else "0"
        items.append({"sku": pieces[0], "quantity": quantity, "unit_price": price})
    return items
