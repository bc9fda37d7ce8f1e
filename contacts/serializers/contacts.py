"""Contacts in the partner API (CONTRACT.md §4): every writable field is read by a `normalize` field, so
what this serializer accepts is what the services store and what the schema publishes."""

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .. import normalize
from ..models import (
    ConsentEvent,
    Contact,
    FunnelStage,
    Gender,
    Lifecycle,
    LoyaltyMember,
    MailFrequency,
    MaritalStatus,
    RfmSegment,
    Source,
)
from . import fields

FUNNEL_NAMES = {stage.value: stage.name.lower() for stage in FunnelStage}
MAX_INT32 = 2**31 - 1


@extend_schema_field({"type": "string", "enum": list(FUNNEL_NAMES.values())})
class FunnelStageField(serializers.Field):
    def to_representation(self, value: int) -> str:
        return FUNNEL_NAMES.get(value, "none")


class ClubSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = LoyaltyMember
        fields = ["id", "card_number", "tier", "status", "points", "joined_at"]
        read_only_fields = fields


class ContactSerializer(serializers.ModelSerializer):
    """A contact. Identity fields are deduplicated: an email, phone or external id used by another contact is a 400."""

    email = fields.EmailField(allow_null=True, help_text=_("Stored lower-case; unique."))
    phone = fields.PhoneField(
        allow_null=True, help_text=_("Any common format; stored as E.164 (default region IL). Unique.")
    )
    external_id = fields.IdentifierField(allow_null=True, help_text=_("Your system's id for the person. Unique."))
    first_name = fields.TextField()
    last_name = fields.TextField()
    gender = fields.ChoiceField(choices=Gender, blank_value="unknown")
    birth_date = fields.DateField(allow_null=True)
    wedding_date = fields.DateField(allow_null=True)
    marital_status = fields.ChoiceField(choices=MaritalStatus, blank_value="unknown")
    city = fields.TextField()
    region = fields.TextField()
    country = fields.CountryField(help_text=_("Two-letter country code, e.g. IL."))
    language = fields.LanguageField()
    source = fields.ChoiceField(  # type: ignore[assignment]  # a declared field, not Field.source
        choices=Source, help_text=_("Where the person signed up.")
    )
    source_detail = fields.TextField(max_length=200)
    signed_up_at = fields.DateTimeField(allow_null=True)
    tags = fields.TagsField(
        required=False,
        max_length=100,
        help_text=_("Tag names. On PATCH the list replaces the contact's tags; on upsert tags are added."),
    )
    attributes = fields.AttributesField(required=False, help_text=_('Custom fields, e.g. {"pet": "dog"}.'))
    email_opt_in = fields.BooleanField()
    sms_opt_in = fields.BooleanField()
    consent_text = fields.ConsentTextField(
        write_only=True,
        help_text=_(
            "The consent wording the person was shown (up to 2,000 characters). Logged with each consent change "
            "this request makes (email_opt_in, sms_opt_in); not stored on the contact itself."
        ),
    )
    mail_frequency = serializers.ChoiceField(
        choices=MailFrequency.choices,
        read_only=True,
        help_text=_('How often the person wants marketing email, chosen in the preference centre ("" = any).'),
    )
    funnel_stage = FunnelStageField(read_only=True, help_text=_("none < visitor < interested < cart < purchaser"))
    lifecycle = serializers.ChoiceField(
        choices=Lifecycle.choices,
        read_only=True,
        help_text=_(
            "prospect, new, active, at_risk or lapsed: computed from the purchase dates at the moment of the request."
        ),
    )
    rfm_segment = serializers.ChoiceField(
        choices=RfmSegment.choices,
        read_only=True,
        allow_null=True,
        help_text=_("Named RFM segment of the stored recency and frequency scores; null for a contact not scored."),
    )
    club = ClubSummarySerializer(read_only=True, allow_null=True, help_text=_("Club membership, or null."))

    class Meta:
        model = Contact
        fields = [
            "id",
            "email",
            "phone",
            "external_id",
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
            "tags",
            "attributes",
            "email_opt_in",
            "sms_opt_in",
            "consent_text",
            "mail_frequency",
            "funnel_stage",
            "lifecycle",
            "email_status",
            "club",
            "purchase_count",
            "total_spent",
            "first_purchase_at",
            "last_purchase_at",
            "rfm_recency",
            "rfm_frequency",
            "rfm_monetary",
            "rfm_segment",
            "created_at",
            "updated_at",
            "erased_at",
        ]
        read_only_fields = [
            "id",
            "mail_frequency",
            "funnel_stage",
            "lifecycle",
            "email_status",
            "club",
            "purchase_count",
            "total_spent",
            "first_purchase_at",
            "last_purchase_at",
            "rfm_recency",
            "rfm_frequency",
            "rfm_monetary",
            "rfm_segment",
            "created_at",
            "updated_at",
            "erased_at",
        ]


class ContactUpsertSerializer(ContactSerializer):
    """Upsert input: blank values are dropped before reading, so they never wipe stored ones."""

    card_number = fields.IdentifierField(
        max_length=50, write_only=True, help_text=_("Club card; matched after email, phone and external id.")
    )

    class Meta(ContactSerializer.Meta):
        fields = ContactSerializer.Meta.fields + ["card_number"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.allow_null = True  # null is blank here: dropped, never wiping a stored value

    def to_internal_value(self, data: Any) -> dict:
        if isinstance(data, dict):
            data = {key: value for key, value in data.items() if not normalize.blank(value)}
        return super().to_internal_value(data)


class ContactMergeSerializer(serializers.Serializer):
    duplicate = fields.StrictIntegerField(
        min_value=1, max_value=MAX_INT32, help_text=_("Id of the contact folded into this one (it is deleted).")
    )


class MergeCallSerializer(serializers.Serializer):
    method = serializers.CharField()
    url = serializers.URLField()
    body = ContactMergeSerializer()


class ContactConflictSerializer(serializers.Serializer):
    """409 of upsert: the given identities belong to two contacts (plus the usual field → messages)."""

    contacts = serializers.ListField(
        child=serializers.IntegerField(), help_text=_("The contact matched first, then the other owners.")
    )
    merge = MergeCallSerializer(many=True, help_text=_("The calls that would merge them into the first."))


class ErasedContactSerializer(ContactSerializer):
    class Meta(ContactSerializer.Meta):
        read_only_fields = ContactSerializer.Meta.fields


class ConsentEventSerializer(serializers.ModelSerializer):
    """One entry of a contact's consent log: what changed, by which door, and the wording the person saw."""

    consent_text = serializers.CharField(
        source="text_shown", read_only=True, help_text=_("The consent wording shown when the change was made.")
    )

    class Meta:
        model = ConsentEvent
        fields = ["id", "channel", "granted", "source", "consent_text", "mail_frequency", "occurred_at"]
        read_only_fields = fields
