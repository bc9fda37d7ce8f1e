from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

from contacts.serializers.fields import StrictModelSerializer, UnitPriceField
from segments.models import Segment

from .models import CAMPAIGN_EDITABLE_FIELDS, TEMPLATE_FIELDS, Campaign, EmailTemplate
from .stats import STATS, Stat


class SegmentIdsField(serializers.ManyRelatedField):
    """Ids of segments (any that exists)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child_relation=serializers.PrimaryKeyRelatedField(queryset=Segment.objects.all()), **kwargs)


class SegmentIdsFieldSchema(OpenApiSerializerFieldExtension):
    """A list that may not be empty says so in requests (minItems); drf-spectacular leaves `allow_empty` out.
    Responses keep the plain list: a campaign whose only segment was deleted has none."""

    target_class = SegmentIdsField

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict:
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if direction == "request" and not self.target.allow_empty:
            schema["minItems"] = 1
        return schema


class EmailTemplateSerializer(StrictModelSerializer):
    """An email template: subject, HTML and text bodies in Django template language, checked on save."""

    class Meta:
        model = EmailTemplate
        fields = ["id", *TEMPLATE_FIELDS, "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        extra_kwargs = {
            "subject": {"help_text": _("May use variables, e.g. {{ contact.first_name|default:'friend' }}.")},
            "html": {
                "help_text": _(
                    "The body; checked on save: a syntax error or an unknown variable is a 400 naming the line."
                )
            },
        }


class CampaignSerializer(StrictModelSerializer):
    """A campaign: one template sent to the members of its segments minus those of the excluded ones."""

    template = serializers.PrimaryKeyRelatedField(
        queryset=EmailTemplate.objects.all(), help_text=_("Email template id.")
    )
    segments = SegmentIdsField(allow_empty=False, help_text=_("Ids of the segments to send to."))
    exclude_segments = SegmentIdsField(
        required=False, help_text=_("Ids of segments whose members never get this campaign.")
    )
    # Money as purchases take it (a non-negative amount as a string or a number, rounded to cents), within
    # the column's 12 digits like a unit price.
    cost = UnitPriceField(required=False, help_text=Campaign._meta.get_field("cost").help_text)
    overdue = serializers.BooleanField(
        source="is_overdue",
        read_only=True,
        help_text=_(
            "Scheduled, and its time passed minutes ago without it starting: no worker or scheduler is running."
        ),
    )

    class Meta:
        model = Campaign
        fields = [
            "id",
            *CAMPAIGN_EDITABLE_FIELDS,
            "status",
            "overdue",
            "created_at",
            "updated_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = ["status", "created_at", "updated_at", "started_at", "finished_at"]
        extra_kwargs = {
            "holdout_percent": {
                "error_messages": {
                    "min_value": _("The holdout cannot be negative."),
                    "max_value": _("The holdout may be at most {max_value} percent of the recipients."),
                }
            }
        }


class RescheduleSerializer(serializers.Serializer):
    scheduled_at = serializers.DateTimeField(help_text=_("The new time; it must be in the future."))


def _stat_field(stat: Stat) -> serializers.Field:
    """The schema and the representation of one declared number, by its kind."""
    common: dict[str, Any] = {"help_text": stat.help_text, "allow_null": stat.nullable}
    if stat.kind == "count":
        return serializers.IntegerField(**common)
    if stat.kind in ("rate", "ratio"):
        return serializers.FloatField(**common)
    if stat.kind == "money":
        # A decimal string ("1234.50"), so no client reads money through a float.
        return serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=True, **common)
    if stat.kind == "interval":
        return serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2, **common)
    if stat.choices:
        return serializers.ChoiceField(choices=stat.choices, **common)
    return serializers.CharField(**common)


class CampaignStatsSerializer(serializers.Serializer):
    # The fields are `campaigns.stats.STATS`, in that order: declared there once for the API, its
    # schema and the admin report. (No docstring: it would become the schema's description.)

    def get_fields(self) -> dict[str, serializers.Field]:
        return {stat.key: _stat_field(stat) for stat in STATS}


class RecipientCountSerializer(serializers.Serializer):
    total = serializers.IntegerField(help_text=_("Members of the segments, minus the excluded segments."))
    eligible = serializers.IntegerField(
        help_text=_("Of those, how many may get mail now (consent, status, frequency cap).")
    )
