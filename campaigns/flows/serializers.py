"""What the automations API answers (requests are `definition.FlowDefinitionSerializer`)."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

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

    description = serializers.CharField(required=False, allow_blank=True, max_length=2000, help_text=_("For the team."))


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


class FlowStatsSerializer(serializers.Serializer):
    entered = serializers.IntegerField()
    active = serializers.IntegerField()
    completed = serializers.IntegerField()
    exited = serializers.IntegerField()
    holdout_size = serializers.IntegerField()
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
