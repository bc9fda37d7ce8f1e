from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from contacts.serializers.fields import StrictModelSerializer

from .models import Segment, SegmentMembership


@extend_schema_field({"type": "object", "nullable": True})
class RulesField(serializers.JSONField):
    """A rule tree is a JSON object (or null): anything else is refused here, whatever the segment's kind;
    what the object may hold is checked against the condition catalogue when the segment is saved."""

    default_error_messages = {"not_a_tree": _("Expected a group or a condition object.")}

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            # "invalid", the code the catalogue check gives every other bad tree
            raise serializers.ValidationError(self.error_messages["not_a_tree"], code="invalid")
        return super().to_internal_value(data)


class SegmentSerializer(StrictModelSerializer):
    """A segment: dynamic (its rules decide who is in) or static (a list of contacts added by id)."""

    rules = RulesField(
        required=False,
        allow_null=True,
        help_text=_(
            'Rule tree (CONTRACT §3): {"all"|"any": [...]}, {"not": node} or a condition '
            '{"field", "op", "value", ...}. Not needed for a static list.'
        ),
    )
    failing = serializers.BooleanField(
        source="is_failing",
        read_only=True,
        help_text=_(
            "The last refresh or re-evaluation of these rules failed; members stay as they were until it works."
        ),
    )

    class Meta:
        model = Segment
        fields = [
            "id",
            "name",
            "description",
            "kind",
            "rules",
            "member_count",
            "last_refreshed_at",
            "last_refresh_ms",
            "failing",
            "last_error_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "member_count",
            "last_refreshed_at",
            "last_refresh_ms",
            "last_error_at",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {"kind": {"required": False}, "description": {"required": False}}


class MemberSerializer(serializers.ModelSerializer):
    contact = serializers.IntegerField(source="contact_id", read_only=True)
    email = serializers.EmailField(source="contact.email", read_only=True, allow_null=True)
    first_name = serializers.CharField(source="contact.first_name", read_only=True)
    last_name = serializers.CharField(source="contact.last_name", read_only=True)

    class Meta:
        model = SegmentMembership
        fields = ["contact", "email", "first_name", "last_name", "joined_at"]


class ContactIdsSerializer(serializers.Serializer):
    contacts = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1, max_length=10000)


class ChangedSerializer(serializers.Serializer):
    changed = serializers.IntegerField(help_text=_("How many contacts joined (POST) or left (DELETE) the list."))
    member_count = serializers.IntegerField()


class CountSerializer(serializers.Serializer):
    count = serializers.IntegerField()


class ConditionSerializer(serializers.Serializer):
    field = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a declared field, not Field.label
    group = serializers.CharField()
    help = serializers.CharField()
    choices = serializers.ListField(child=serializers.DictField(), allow_null=True)
    operators = serializers.ListField(child=serializers.DictField())
    extra = serializers.ListField(child=serializers.DictField())
