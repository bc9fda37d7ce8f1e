"""The customer club and the catalogue in the partner API."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from ..models import Contact, LoyaltyMember, PointsEntry, Product, Store
from . import fields
from .contacts import MAX_INT32


class ClubMemberSerializer(fields.StrictModelSerializer):
    contact = serializers.PrimaryKeyRelatedField(
        queryset=Contact.objects.all(), help_text=_("The contact's id; one membership per contact.")
    )
    email = serializers.EmailField(source="contact.email", read_only=True, allow_null=True)
    card_number = fields.IdentifierField(max_length=50, help_text=_("Generated (12 digits) when not given. Unique."))
    home_store = serializers.SlugRelatedField(
        slug_field="code", queryset=Store.objects.all(), required=False, allow_null=True, help_text=_("Store code.")
    )
    points = fields.StrictIntegerField(
        min_value=0,
        max_value=MAX_INT32,
        required=False,
        help_text=_("Balance. Writing it adds a ledger entry for the difference."),
    )

    class Meta:
        model = LoyaltyMember
        fields = ["id", "contact", "email", "card_number", "tier", "status", "points", "joined_at", "home_store"]


class ClubMemberUpdateSerializer(ClubMemberSerializer):
    contact = serializers.PrimaryKeyRelatedField(read_only=True)

    def validate_card_number(self, value: str | None) -> str:
        if not value:
            raise serializers.ValidationError(_("This field is required."), code="required")
        return value


class PointsEntrySerializer(fields.StrictModelSerializer):
    delta = fields.StrictIntegerField(
        min_value=-MAX_INT32, max_value=MAX_INT32, help_text=_("Points added (positive) or spent (negative); not zero.")
    )
    reason = fields.StrictCharField(max_length=200)
    reference = fields.IdentifierField(
        allow_null=True, help_text=_("Idempotency key: an entry with the same reference is applied once.")
    )

    class Meta:
        model = PointsEntry
        fields = ["id", "delta", "balance_after", "reason", "reference", "created_at"]
        read_only_fields = ["id", "balance_after", "created_at"]


class ProductSerializer(fields.StrictModelSerializer):
    price = fields.UnitPriceField(allow_null=True)
    replenishment_days = fields.StrictIntegerField(
        min_value=1,
        max_value=3650,
        required=False,
        allow_null=True,
        help_text=Product._meta.get_field("replenishment_days").help_text,
    )

    class Meta:
        model = Product
        fields = ["id", "sku", "name", "category", "price", "replenishment_days"]


class StoreSerializer(fields.StrictModelSerializer):
    class Meta:
        model = Store
        fields = ["id", "code", "name", "city", "region"]
