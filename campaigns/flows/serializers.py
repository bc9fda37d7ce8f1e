"""What the automations API answers (requests are `definition.FlowDefinitionSerializer`)."""

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from contacts.serializers.fields import StrictCharField

from .definition import FlowDefinitionSerializer
from .models import Enrollment, Flow
from .presets import PRESETS


class FlowSerializer(serializers.ModelSerializer):
    """A flow as stored: its definition (as `FlowWriteSerializer` describes it), its status and version."""

    class Meta:
        model = Flow
        fields = [
            "id",
            "name",
            "description",
            "trigger",
            "steps",
            "reentry",
            "reentry_days",
            "exit_rules",
            "holdout_percent",
            "bypass_frequency_cap",
            "status",
            "version",
            "preset",
            "created_at",
            "updated_at",
            "activated_at",
        ]
        read_only_fields = ["status", "version", "preset", "created_at", "updated_at", "activated_at"]


class FlowWriteSerializer(FlowDefinitionSerializer):
    """A flow's definition, plus a free description for the team."""

    description = StrictCharField(required=False, allow_blank=True, max_length=2000, help_text=_("For the team."))


class EnrollmentSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="contact.email", read_only=True, allow_null=True)

    class Meta:
        model = Enrollment
        fields = [
            "id",
            "contact",
            "email",
            "state",
            "step",
            "run_at",
            "holdout",
            "flow_version",
            "entered_at",
            "completed_at",
            "exited_at",
            "exit_reason",
        ]
        read_only_fields = fields


def money_field(help_text: Any, **kwargs: Any) -> serializers.DecimalField:
    """An amount, answered as a decimal string ("1234.50") so no client reads it through a float."""
    return serializers.DecimalField(max_digits=14, decimal_places=2, help_text=help_text, **kwargs)


class StepNumbersSerializer(serializers.Serializer):
    step = serializers.CharField(help_text=_("The step's path, e.g. 2.yes.0."))
    type = serializers.CharField()
    waiting = serializers.IntegerField(help_text=_("Contacts waiting at this step now."))
    passed = serializers.IntegerField(help_text=_("Contacts this step ran for."))
    sent = serializers.IntegerField(required=False, allow_null=True)
    failed = serializers.IntegerField(required=False, allow_null=True)
    unique_opens = serializers.IntegerField(required=False, allow_null=True)
    unique_clicks = serializers.IntegerField(required=False, allow_null=True)
    open_rate = serializers.FloatField(required=False, allow_null=True)
    click_rate = serializers.FloatField(required=False, allow_null=True)
    held_out = serializers.IntegerField(required=False, help_text=_("Holdout contacts who passed without a mail."))
    skipped = serializers.DictField(
        child=serializers.IntegerField(), required=False, help_text=_("Mails not sent, by reason.")
    )
    conversions = serializers.IntegerField(
        required=False, allow_null=True, help_text=_("Purchases attributed to this step's mail.")
    )
    converted_contacts = serializers.IntegerField(
        required=False, allow_null=True, help_text=_("Contacts with at least one of those purchases.")
    )
    revenue = money_field(_("Sum of the totals of those purchases."), required=False, allow_null=True)
    in_store_revenue = money_field(_("The part of revenue bought in a store."), required=False, allow_null=True)
    conversion_rate = serializers.FloatField(
        required=False, allow_null=True, help_text=_("converted_contacts / delivered (sent − bounced).")
    )
    revenue_per_recipient = money_field(_("revenue / delivered (sent − bounced)."), required=False, allow_null=True)

    def to_representation(self, instance: Any) -> dict:
        """Only the keys the step has: mail and money numbers belong to send steps."""
        return {key: value for key, value in super().to_representation(instance).items() if key in instance}


class FlowStatsSerializer(serializers.Serializer):
    entered = serializers.IntegerField()
    active = serializers.IntegerField()
    completed = serializers.IntegerField()
    exited = serializers.IntegerField()
    holdout_size = serializers.IntegerField(help_text=_("Enrollments held out: never mailed."))
    conversions = serializers.IntegerField(help_text=_("Purchases attributed to any mail of the flow."))
    converted_contacts = serializers.IntegerField(help_text=_("Contacts with at least one of those purchases."))
    revenue = money_field(_("Sum of the totals of those purchases."))
    in_store_revenue = money_field(_("The part of revenue bought in a store."))
    treated_size = serializers.IntegerField(help_text=_("Enrollments not held out."))
    treated_conversion_rate = serializers.FloatField(
        allow_null=True,
        help_text=_(
            "Share of the enrollments not held out whose contact bought anything (any channel, attributed or "
            "not) within ATTRIBUTION_CLICK_DAYS after entering."
        ),
    )
    holdout_conversion_rate = serializers.FloatField(allow_null=True, help_text=_("The same for held-out ones."))
    lift = serializers.FloatField(
        allow_null=True, help_text=_("treated_conversion_rate / holdout_conversion_rate − 1.")
    )
    lift_ci95 = serializers.ListField(
        child=serializers.FloatField(),
        min_length=2,
        max_length=2,
        allow_null=True,
        help_text=_("[low, high]: the 95 percent interval of the rate difference (treated − holdout)."),
    )
    incremental_revenue = money_field(
        _("(treated − holdout revenue per enrollment in the window) × treated_size."), allow_null=True
    )
    verdict = serializers.ChoiceField(choices=["no_holdout", "waiting", "no_effect", "positive", "negative"])
    verdict_text = serializers.CharField(help_text=_("The verdict in words, in the request's language."))
    steps = StepNumbersSerializer(many=True)


class PresetSerializer(serializers.Serializer):
    """A ready-made flow (docs/automations.md lists what each does)."""

    key = serializers.CharField(help_text=_("Pass it to from-preset."))
    title = serializers.CharField()
    description = serializers.CharField()


class FromPresetSerializer(serializers.Serializer):
    preset = serializers.ChoiceField(
        choices=[preset.key for preset in PRESETS], help_text=_("A key from the ready-made flows.")
    )
