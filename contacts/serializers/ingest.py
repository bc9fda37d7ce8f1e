"""Purchases, site events and identify in the partner API. One item serializer validates a single item
and, applied per item, every item of a batch (a `LeanSerializer`, so that a thousand items cost what their
fields cost); what needs the database (known contact, card, store, SKU, stored keys) is resolved
afterwards, one query per kind for a whole batch (`contacts.ingest`)."""

import re
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from crm.api_errors import flatten_errors

from .. import normalize
from ..models import Activity, Channel, Product, Purchase, Store
from . import fields
from .lean import LeanSerializer

MAX_BATCH = 1000
MAX_ID = 2**63 - 1
BUYER_FIELDS = ("contact", "email", "card_number")
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class ContactIdField(fields.NormalizedField):
    """A contact id as a number (or a string of digits); blank means none."""

    request_schema = {
        "oneOf": [
            {"type": "integer", "minimum": 1, "maximum": MAX_ID},
            {"type": "string", "pattern": r"^([1-9][0-9]{0,17})?$"},
        ]
    }
    response_schema = {"type": "integer"}
    default_error_messages = {"invalid": _("Must be a contact id (a whole number).")}

    def normalize(self, data: Any) -> int | None:
        if normalize.blank(data):
            return None
        try:
            value = int(data)
        except ValueError:
            self.fail("invalid")
        if not 0 < value <= MAX_ID:
            raise serializers.ValidationError(_("Contact %(id)s does not exist.") % {"id": data}, code="does_not_exist")
        return value


class CardNumberField(fields.IdentifierField):
    default_error_messages = {"invalid": _("Must be a card number.")}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=50, **kwargs)


class UrlField(fields.NormalizedField):
    """The page an event happened on: an http(s) URL, or blank."""

    accepts = (str,)
    request_schema = {"type": "string", "maxLength": 2000, "pattern": r"^(https?://\S*)?$"}
    response_schema = {"type": "string"}
    default_error_messages = {"invalid": _("Must be an http(s) URL of at most 2000 characters.")}

    def normalize(self, data: str) -> str:
        if data and (len(data) > 2000 or not data.startswith(("http://", "https://"))):
            self.fail("invalid")
        return data


class UtmField(fields.NormalizedField):
    """A UTM parameter of the landing URL the shop kept for the visit: at most 100 characters, surrounding
    spaces dropped, blank is "". Control characters (line breaks, tabs) are refused rather than cleaned:
    they would split a CSV line or a report label, and a value carrying one was not copied from a URL."""

    accepts = (str,)
    request_schema = {"type": "string", "maxLength": 100, "pattern": r"^[^\u0000-\u001f\u007f-\u009f]*$"}

    def normalize(self, data: str) -> str:
        name = {"field": self.field_name}
        if CONTROL_CHARACTERS.search(data):
            raise serializers.ValidationError(
                _("%(field)s must not contain control characters such as line breaks or tabs.") % name,
                code="control_characters",
            )
        if len(data) > 100:
            raise serializers.ValidationError(_("%(field)s must be at most 100 characters.") % name, code="max_length")
        return data.strip()


def utm_values(attrs: dict) -> dict[str, str]:
    return {name: attrs.get(name) or "" for name in UTM_FIELDS}


class BuyerFields(LeanSerializer):
    """The contact an item belongs to: by id, club card or email, resolved in that order; every one given
    must name the same contact."""

    contact = ContactIdField(allow_null=True, help_text=_("Contact id."))
    email = fields.EmailField(allow_null=True)
    card_number = CardNumberField(allow_null=True, help_text=_("Club card number."))
    default_error_messages = {"invalid": _("Must be an object.")}


@extend_schema_field(
    {
        "oneOf": [
            {"type": "integer", "minimum": 1, "maximum": 1_000_000, "default": 1},
            {"type": "string", "pattern": r"^([1-9][0-9]{0,5}|1000000)$"},
        ]
    }
)
class QuantityField(serializers.IntegerField):
    """A whole number, also as digits in a string (as the CSV import reads it)."""


class PurchaseItemSerializer(LeanSerializer):
    sku = fields.IdentifierField(max_length=64, required=True, help_text=_("A known product SKU."))
    quantity = QuantityField(
        min_value=1,
        max_value=1_000_000,
        default=1,
        error_messages={"invalid": _("Must be a whole number of at least 1.")},
    )
    unit_price = fields.UnitPriceField(required=True)
    default_error_messages = {"invalid": _("Must be an object with sku, quantity and unit_price.")}

    def validate_sku(self, value: str | None) -> str:
        if not value:
            raise serializers.ValidationError(_("This field is required."), code="required")
        return value


class PurchaseItemListField(serializers.ListField):
    child = PurchaseItemSerializer()
    default_error_messages = {"not_a_list": _("Must be a list.")}

    def to_internal_value(self, data: Any) -> list:
        return [] if data is None else super().to_internal_value(data)


class PurchaseInSerializer(BuyerFields):
    """A purchase sent by a shop or point of sale. Give one of contact, email (created if new) or card_number."""

    external_id = fields.IdentifierField(
        allow_null=True, help_text=_("Your order id: the same (source, external_id) is stored once.")
    )
    source = fields.IdentifierField(  # type: ignore[assignment]  # a declared field, not Field.source
        max_length=50, allow_null=True, help_text=_("The sending system, e.g. pos or shop (default api).")
    )
    email = fields.EmailField(allow_null=True, help_text=_("Buyer's email; a new contact is created if unknown."))
    channel = fields.ChoiceField(choices=Channel, blank_value=Channel.ONLINE, allow_null=True)
    store = fields.IdentifierField(max_length=50, allow_null=True, help_text=_("Store code."))
    purchased_at = fields.DateTimeField(allow_null=True, help_text=_("ISO 8601; default now."))
    total = fields.TotalField(required=True)
    currency = fields.TextField(max_length=3, allow_null=True, help_text=_("Default ILS."))
    items = PurchaseItemListField(required=False, allow_null=True)
    utm_source = UtmField(allow_null=True, help_text=_("The visit's utm_source, e.g. crm or facebook."))
    utm_medium = UtmField(allow_null=True, help_text=_("The visit's utm_medium, e.g. email or cpc."))
    utm_campaign = UtmField(allow_null=True, help_text=_("The visit's utm_campaign."))

    def validate(self, attrs: dict) -> dict:
        if not any(attrs.get(name) for name in BUYER_FIELDS):
            raise serializers.ValidationError(
                {"contact": [_("Give a contact id, email or card number.")]}, code="identity_required"
            )
        return {
            **{name: attrs.get(name) for name in BUYER_FIELDS},
            "external_id": attrs.get("external_id"),
            "source": attrs.get("source") or "api",
            "channel": attrs.get("channel") or Channel.ONLINE,
            "store": attrs.get("store"),
            "purchased_at": attrs.get("purchased_at"),
            "total": attrs["total"],
            "currency": (attrs.get("currency") or "ILS").upper(),
            "items": attrs.get("items") or [],
            **utm_values(attrs),
        }


class EventInSerializer(BuyerFields):
    """A site or app event. Give one of contact, email or card_number, or an anonymous_id for a visitor."""

    type = fields.ChoiceField(choices=Activity.Type, required=True)
    occurred_at = fields.DateTimeField(allow_null=True, help_text=_("ISO 8601; default now."))
    anonymous_id = fields.IdentifierField(allow_null=True, help_text=_("The visitor's cookie id until identified."))
    event_id = fields.IdentifierField(allow_null=True, help_text=_("Your id of the event: the same id is stored once."))
    product = fields.IdentifierField(max_length=64, allow_null=True, help_text=_("A known product SKU."))
    url = UrlField(allow_null=True)
    properties = fields.JSONObjectField(
        required=False, allow_null=True, error_messages={"not_a_dict": _("Must be an object.")}
    )
    utm_source = UtmField(allow_null=True, help_text=_("The visit's utm_source, e.g. crm or facebook."))
    utm_medium = UtmField(allow_null=True, help_text=_("The visit's utm_medium, e.g. email or cpc."))
    utm_campaign = UtmField(allow_null=True, help_text=_("The visit's utm_campaign."))

    def validate_type(self, value: str) -> str:
        if not value:
            raise serializers.ValidationError(_("This field is required."), code="required")
        return value

    def validate(self, attrs: dict) -> dict:
        if not any(attrs.get(name) for name in BUYER_FIELDS) and not attrs.get("anonymous_id"):
            raise serializers.ValidationError(
                {"contact": [_("Give a contact id, email or anonymous_id.")]}, code="identity_required"
            )
        return {
            **{name: attrs.get(name) for name in BUYER_FIELDS},
            "type": attrs["type"],
            "occurred_at": attrs.get("occurred_at"),
            "anonymous_id": attrs.get("anonymous_id"),
            "event_id": attrs.get("event_id"),
            "product": attrs.get("product"),
            "url": attrs.get("url") or "",
            "properties": attrs.get("properties") or {},
            **utm_values(attrs),
        }


def read_input(serializer_class: type[serializers.Serializer], data: Any) -> dict:
    """Input from Python (the CSV import, scripts, tests) read by an API serializer: its validated data, or
    a Django ValidationError naming every bad field as a 400 would (dotted paths)."""
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        raise DjangoValidationError(
            {field: [str(m) for m in messages] for field, messages in flatten_errors(serializer.errors).items()}
        )
    return dict(serializer.validated_data)


def validate_each(
    serializer_class: type[serializers.Serializer], items: list
) -> tuple[dict[int, dict], dict[int, dict]]:
    """The batch's items read by the single-item serializer: valid ones by index, and the errors of the
    others by index, in the shape of a 400 (dotted paths, e.g. items.0.sku)."""
    valid, errors = {}, {}
    serializer = serializer_class()  # one instance for the batch: binding the fields costs more than validating
    for index, raw in enumerate(items):
        try:
            valid[index] = serializer.run_validation(raw)
        except serializers.ValidationError as exc:
            errors[index] = {
                field: [str(m) for m in messages]
                for field, messages in flatten_errors(serializers.as_serializer_error(exc)).items()
            }
    return valid, errors


def _batch_schema(component: str) -> dict:
    return {
        "type": "array",
        "minItems": 1,
        "maxItems": MAX_BATCH,
        "items": {
            "anyOf": [{"$ref": f"#/components/schemas/{component}"}, {}],
            "description": "Each item as in the single endpoint; an invalid item is reported by its index in the "
            "answer and never fails the batch.",
        },
    }


@extend_schema_field(_batch_schema("PurchaseInRequest"))
class PurchaseBatchField(serializers.ListField):
    pass


@extend_schema_field(_batch_schema("EventInRequest"))
class EventBatchField(serializers.ListField):
    pass


class PurchaseBulkInSerializer(serializers.Serializer):
    purchases = PurchaseBatchField()


class EventBulkInSerializer(serializers.Serializer):
    events = EventBatchField()


class PurchaseItemOutSerializer(serializers.Serializer):
    sku = serializers.CharField(source="product.sku")
    quantity = serializers.IntegerField()
    unit_price = serializers.DecimalField(max_digits=12, decimal_places=2)


class PurchaseSerializer(serializers.ModelSerializer):
    store: "serializers.SlugRelatedField[Store]" = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True
    )
    items = PurchaseItemOutSerializer(many=True, read_only=True)

    class Meta:
        model = Purchase
        fields = [
            "id",
            "source",
            "external_id",
            "contact",
            "channel",
            "store",
            "purchased_at",
            "total",
            "currency",
            "items",
            "utm_source",
            "utm_medium",
            "utm_campaign",
            "created_at",
        ]
        read_only_fields = fields


class BulkErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text=_("Position of the item in the batch, from 0."))
    errors = serializers.DictField(  # type: ignore[assignment]  # a declared field, not Serializer.errors
        child=serializers.ListField(child=serializers.CharField()), help_text=_("Field → messages, as in any 400.")
    )


class BulkResultSerializer(serializers.Serializer):
    created = serializers.IntegerField(help_text=_("Items stored now."))
    duplicates = serializers.IntegerField(help_text=_("Items already stored before (same key): nothing changed."))
    errors = BulkErrorSerializer(  # type: ignore[assignment]  # a declared field, not Serializer.errors
        many=True, help_text=_("Items not stored, by index.")
    )


class EventSerializer(serializers.ModelSerializer):
    product: "serializers.SlugRelatedField[Product]" = serializers.SlugRelatedField(
        slug_field="sku", read_only=True, allow_null=True
    )
    url = serializers.CharField(read_only=True, help_text=_("Page URL, or empty."))

    class Meta:
        model = Activity
        fields = [
            "id",
            "type",
            "occurred_at",
            "contact",
            "anonymous_id",
            "event_id",
            "product",
            "url",
            "properties",
            "utm_source",
            "utm_medium",
            "utm_campaign",
            "created_at",
        ]
        read_only_fields = fields


class IdentifySerializer(BuyerFields):
    anonymous_id = fields.IdentifierField(required=True, help_text=_("The visitor's anonymous id."))
    email = fields.EmailField(allow_null=True, help_text=_("A new contact is created if unknown."))

    def validate(self, attrs: dict) -> dict:
        if not attrs.get("anonymous_id"):
            raise serializers.ValidationError({"anonymous_id": [_("This field is required.")]})
        if not any(attrs.get(name) for name in BUYER_FIELDS):
            raise serializers.ValidationError(
                {"contact": [_("Give a contact id, email or card number.")]}, code="identity_required"
            )
        return {name: attrs.get(name) for name in ("anonymous_id", *BUYER_FIELDS)}


class IdentifyResultSerializer(serializers.Serializer):
    contact = serializers.IntegerField(help_text=_("The contact the visitor now belongs to."))
    moved = serializers.IntegerField(help_text=_("Anonymous events re-homed to the contact."))


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
