"""Shapes of the partner API (CONTRACT.md §4). Serializers check types and shapes; the services in
`contacts.services` (and `contacts.ingest` for batches) normalize, dedupe and write."""
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .ingest import MAX_BATCH, nul_fields
from .models import (
    Activity,
    Channel,
    Contact,
    FunnelStage,
    Gender,
    Lifecycle,
    LoyaltyMember,
    MaritalStatus,
    PointsEntry,
    Product,
    Purchase,
    Source,
    Store,
)

FUNNEL_NAMES = {stage.value: stage.name.lower() for stage in FunnelStage}
MAX_INT32 = 2**31 - 1


def validate_no_nul(value: Any) -> Any:
    """JSON values may hold any string; a NUL character is the one no database column takes."""
    if nul_fields(value):
        raise serializers.ValidationError(_("Null characters are not allowed."))
    return value


@extend_schema_field({"type": "string", "enum": list(FUNNEL_NAMES.values())})
class FunnelStageField(serializers.Field):
    def to_representation(self, value: int) -> str:
        return FUNNEL_NAMES.get(value, "none")


@extend_schema_field({"type": "array", "items": {"type": "string", "maxLength": 100}})
class TagsField(serializers.ListField):
    child = serializers.CharField(max_length=100, allow_blank=True)

    def to_representation(self, data: Any) -> list[str]:
        return [tag.name for tag in data.all()]


class ClubSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = LoyaltyMember
        fields = ["id", "card_number", "tier", "status", "points", "joined_at"]
        read_only_fields = fields


class ContactSerializer(serializers.ModelSerializer):
    """A contact. Identity fields are deduplicated: an email, phone or external id used by another contact is a 400."""

    email = serializers.CharField(max_length=254, required=False, allow_null=True, allow_blank=True,
                                  help_text=_("Stored lower-case; unique."))
    phone = serializers.CharField(max_length=50, required=False, allow_null=True, allow_blank=True,
                                  help_text=_("Any common format; stored as E.164 (default region IL). Unique."))
    external_id = serializers.CharField(max_length=100, required=False, allow_null=True, allow_blank=True,
                                        help_text=_("Your system's id for the person. Unique."))
    gender = serializers.ChoiceField(choices=Gender.choices, required=False, allow_blank=True)
    marital_status = serializers.ChoiceField(choices=MaritalStatus.choices, required=False, allow_blank=True)
    source = serializers.ChoiceField(choices=Source.choices, required=False, allow_blank=True,
                                     help_text=_("Where the person signed up."))
    country = serializers.CharField(max_length=2, required=False, allow_blank=True,
                                    help_text=_("Two-letter country code, e.g. IL."))
    language = serializers.CharField(max_length=10, required=False, allow_blank=True)
    tags = TagsField(required=False, max_length=100,
                     help_text=_("Tag names. On PATCH the list replaces the contact's tags; on upsert tags are added."))
    attributes = serializers.DictField(required=False, validators=[validate_no_nul],
                                       help_text=_("Custom fields, e.g. {\"pet\": \"dog\"}."))
    funnel_stage = FunnelStageField(read_only=True, help_text=_("none < visitor < interested < cart < purchaser"))
    lifecycle = serializers.ChoiceField(choices=Lifecycle.choices, read_only=True, help_text=_(
        "prospect, new, active, at_risk or lapsed: computed from the purchase dates at the moment of the request."))
    club = ClubSummarySerializer(read_only=True, allow_null=True, help_text=_("Club membership, or null."))

    class Meta:
        model = Contact
        fields = [
            "id", "email", "phone", "external_id", "first_name", "last_name", "gender", "birth_date",
            "wedding_date", "marital_status", "city", "region", "country", "language", "source", "source_detail",
            "signed_up_at", "tags", "attributes", "email_opt_in", "sms_opt_in",
            "funnel_stage", "lifecycle", "email_status", "club", "purchase_count", "total_spent",
            "first_purchase_at", "last_purchase_at", "created_at", "updated_at", "erased_at",
        ]
        read_only_fields = [
            "id", "funnel_stage", "lifecycle", "email_status", "club", "purchase_count", "total_spent",
            "first_purchase_at", "last_purchase_at", "created_at", "updated_at", "erased_at",
        ]
        extra_kwargs = {
            "first_name": {"allow_blank": True}, "last_name": {"allow_blank": True},
            "source_detail": {"allow_blank": True},
        }


class ContactUpsertSerializer(ContactSerializer):
    card_number = serializers.CharField(max_length=50, required=False, allow_blank=True, write_only=True,
                                        help_text=_("Club card; matched after email, phone and external id."))

    class Meta(ContactSerializer.Meta):
        fields = ContactSerializer.Meta.fields + ["card_number"]


class ContactMergeSerializer(serializers.Serializer):
    duplicate = serializers.IntegerField(min_value=1, max_value=MAX_INT32,
                                         help_text=_("Id of the contact folded into this one (it is deleted)."))


class MergeCallSerializer(serializers.Serializer):
    method = serializers.CharField()
    url = serializers.URLField()
    body = ContactMergeSerializer()


class ContactConflictSerializer(serializers.Serializer):
    """409 of upsert: the given identities belong to two contacts (plus the usual field → messages)."""

    contacts = serializers.ListField(child=serializers.IntegerField(),
                                     help_text=_("The contact matched first, then the other owners."))
    merge = MergeCallSerializer(many=True, help_text=_("The calls that would merge them into the first."))


class ErasedContactSerializer(ContactSerializer):
    class Meta(ContactSerializer.Meta):
        read_only_fields = ContactSerializer.Meta.fields


# ---------------------------------------------------------------- club

class ClubMemberSerializer(serializers.ModelSerializer):
    contact = serializers.PrimaryKeyRelatedField(queryset=Contact.objects.all(),
                                                 help_text=_("The contact's id; one membership per contact."))
    email = serializers.EmailField(source="contact.email", read_only=True, allow_null=True)
    card_number = serializers.CharField(max_length=50, required=False, allow_blank=True,
                                        help_text=_("Generated (12 digits) when not given. Unique."))
    home_store = serializers.SlugRelatedField(slug_field="code", queryset=Store.objects.all(), required=False,
                                              allow_null=True, help_text=_("Store code."))
    points = serializers.IntegerField(min_value=0, max_value=MAX_INT32, required=False,
                                      help_text=_("Balance. Writing it adds a ledger entry for the difference."))

    class Meta:
        model = LoyaltyMember
        fields = ["id", "contact", "email", "card_number", "tier", "status", "points", "joined_at", "home_store"]


class ClubMemberUpdateSerializer(ClubMemberSerializer):
    contact = serializers.PrimaryKeyRelatedField(read_only=True)


class PointsEntrySerializer(serializers.ModelSerializer):
    delta = serializers.IntegerField(min_value=-MAX_INT32, max_value=MAX_INT32,
                                     help_text=_("Points added (positive) or spent (negative); not zero."))
    reason = serializers.CharField(max_length=200)
    reference = serializers.CharField(max_length=100, required=False, allow_null=True, allow_blank=True,
                                      help_text=_("Idempotency key: an entry with the same reference is applied once."))

    class Meta:
        model = PointsEntry
        fields = ["id", "delta", "balance_after", "reason", "reference", "created_at"]
        read_only_fields = ["id", "balance_after", "created_at"]


# ---------------------------------------------------------------- catalogue

class ProductSerializer(serializers.ModelSerializer):
    price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, required=False, allow_null=True)
    replenishment_days = serializers.IntegerField(min_value=1, max_value=3650, required=False, allow_null=True,
                                                  help_text=Product._meta.get_field("replenishment_days").help_text)

    class Meta:
        model = Product
        fields = ["id", "sku", "name", "category", "price", "replenishment_days"]


class StoreSerializer(serializers.ModelSerializer):
    class Meta:
        model = Store
        fields = ["id", "code", "name", "city", "region"]


# ---------------------------------------------------------------- purchases

class PurchaseItemSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=64, help_text=_("A known product SKU."))
    quantity = serializers.IntegerField(min_value=1, max_value=1_000_000, default=1)
    unit_price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, coerce_to_string=True)


class PurchaseInSerializer(serializers.Serializer):
    """A purchase sent by a shop or point of sale. Give one of contact, email (created if new) or card_number."""

    external_id = serializers.CharField(max_length=100, required=False, allow_null=True,
                                        help_text=_("Your order id: the same (source, external_id) is stored once."))
    source = serializers.CharField(max_length=50, required=False, default="api",
                                   help_text=_("The sending system, e.g. pos or shop."))
    contact = serializers.IntegerField(min_value=1, required=False, help_text=_("Contact id."))
    email = serializers.EmailField(required=False, help_text=_("Buyer's email; a new contact is created if unknown."))
    card_number = serializers.CharField(max_length=50, required=False, help_text=_("Club card number."))
    channel = serializers.ChoiceField(choices=Channel.choices, default=Channel.ONLINE)
    store = serializers.CharField(max_length=50, required=False, allow_null=True, help_text=_("Store code."))
    purchased_at = serializers.DateTimeField(required=False, help_text=_("ISO 8601; default now."))
    total = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0, coerce_to_string=True)
    currency = serializers.CharField(max_length=3, default="ILS")
    items = PurchaseItemSerializer(many=True, required=False)


class PurchaseItemOutSerializer(serializers.Serializer):
    sku = serializers.CharField(source="product.sku")
    quantity = serializers.IntegerField()
    unit_price = serializers.DecimalField(max_digits=12, decimal_places=2)


class PurchaseSerializer(serializers.ModelSerializer):
    store = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    items = PurchaseItemOutSerializer(many=True, read_only=True)

    class Meta:
        model = Purchase
        fields = ["id", "source", "external_id", "contact", "channel", "store", "purchased_at", "total",
                  "currency", "items", "created_at"]
        read_only_fields = fields


class PurchaseBulkInSerializer(serializers.Serializer):
    purchases = PurchaseInSerializer(many=True, max_length=MAX_BATCH, min_length=1)


class BulkErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text=_("Position of the item in the batch, from 0."))
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()),
                                   help_text=_("Field → messages, as in any 400."))


class BulkResultSerializer(serializers.Serializer):
    created = serializers.IntegerField(help_text=_("Items stored now."))
    duplicates = serializers.IntegerField(help_text=_("Items already stored before (same key): nothing changed."))
    errors = BulkErrorSerializer(many=True, help_text=_("Items not stored, by index."))


# ---------------------------------------------------------------- events

class EventInSerializer(serializers.Serializer):
    """A site or app event. Give one of contact, email or card_number, or an anonymous_id for a visitor."""

    type = serializers.ChoiceField(choices=Activity.Type.choices)
    occurred_at = serializers.DateTimeField(required=False, help_text=_("ISO 8601; default now."))
    contact = serializers.IntegerField(min_value=1, required=False, help_text=_("Contact id."))
    email = serializers.EmailField(required=False)
    card_number = serializers.CharField(max_length=50, required=False)
    anonymous_id = serializers.CharField(max_length=100, required=False,
                                         help_text=_("The visitor's cookie id until identified."))
    event_id = serializers.CharField(max_length=100, required=False,
                                     help_text=_("Your id of the event: the same id is stored once."))
    product = serializers.CharField(max_length=64, required=False, help_text=_("A known product SKU."))
    url = serializers.URLField(max_length=2000, required=False)
    properties = serializers.DictField(required=False)


class EventSerializer(serializers.ModelSerializer):
    product = serializers.SlugRelatedField(slug_field="sku", read_only=True, allow_null=True)
    url = serializers.CharField(read_only=True, help_text=_("Page URL, or empty."))

    class Meta:
        model = Activity
        fields = ["id", "type", "occurred_at", "contact", "anonymous_id", "event_id", "product", "url",
                  "properties", "created_at"]
        read_only_fields = fields


class EventBulkInSerializer(serializers.Serializer):
    events = EventInSerializer(many=True, max_length=MAX_BATCH, min_length=1)


class IdentifySerializer(serializers.Serializer):
    anonymous_id = serializers.CharField(max_length=100, help_text=_("The visitor's anonymous id."))
    contact = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False,
                                       help_text=_("Contact id."))
    email = serializers.EmailField(required=False, help_text=_("A new contact is created if unknown."))
    card_number = serializers.CharField(max_length=50, required=False)


class IdentifyResultSerializer(serializers.Serializer):
    contact = serializers.IntegerField(help_text=_("The contact the visitor now belongs to."))
    moved = serializers.IntegerField(help_text=_("Anonymous events re-homed to the contact."))


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()

