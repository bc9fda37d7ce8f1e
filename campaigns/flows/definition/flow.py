"""A whole flow definition: the serializer every door uses (API, admin, presets) and the function that
applies it, with errors keyed by dotted paths as the API answers them."""

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiSerializerExtension
from rest_framework import serializers

from contacts.serializers.fields import StrictIntegerField
from crm.api_errors import flatten_errors

from ..models import Flow
from .fields import BooleanField, ChoiceField, RuleTreeField, TextField
from .steps import StepListField
from .triggers import TriggerField

AFTER_DAYS = Flow.Reentry.AFTER_DAYS.value
MAX_REENTRY_DAYS = 3650

# reentry_days comes with reentry after_days, and only with it (null counts as absent). The enums stay
# inside `not`, where drf-spectacular does not lift them out into enum components of their own.
_OTHER_REENTRY = [value for value in Flow.Reentry.values if value != AFTER_DAYS]
_AFTER_DAYS = {"required": ["reentry"], "not": {"properties": {"reentry": {"enum": _OTHER_REENTRY}}}}
_NOT_AFTER_DAYS = {"not": {"required": ["reentry"], "properties": {"reentry": {"enum": [AFTER_DAYS]}}}}
_HAS_DAYS = {"required": ["reentry_days"], "properties": {"reentry_days": {"type": "integer"}}}
REENTRY_RULE = {"allOf": [{"anyOf": [_NOT_AFTER_DAYS, _HAS_DAYS]}, {"anyOf": [{"not": _HAS_DAYS}, _AFTER_DAYS]}]}


class FlowDefinitionSerializer(serializers.Serializer):
    """An automation (CONTRACT §6): who enters it (trigger), what happens to them (steps), whether they
    may go through it again (reentry), what makes them leave early (exit_rules)."""

    name = TextField(max_length=Flow._meta.get_field("name").max_length)
    trigger = TriggerField(help_text=_("What enrolls a contact; `type` says which kind of trigger."))
    steps = StepListField(
        help_text=_("What happens to an enrolled contact, in order; a branch holds yes and no steps of its own.")
    )
    reentry = ChoiceField(
        choices=Flow.Reentry.choices,
        own_enum=False,  # the enum of Flow.reentry, which the API's answers show
        default=Flow.Reentry.NEVER.value,
        help_text=_("Whether a contact who went through the flow may enter it again."),
    )
    reentry_days = StrictIntegerField(
        min_value=1,
        max_value=MAX_REENTRY_DAYS,
        allow_null=True,
        default=None,
        help_text=_("With reentry after_days (and only then): days after entering before it may enter again."),
    )
    exit_rules = RuleTreeField(
        allow_null=True,
        default=None,
        help_text=_("A segment rule tree checked before every step: a contact who matches it leaves the flow."),
    )
    holdout_percent = StrictIntegerField(
        min_value=0, max_value=50, default=0, help_text=_("Share of contacts enrolled but never mailed.")
    )
    bypass_frequency_cap = BooleanField(default=False, help_text=_("Send its mails whatever the frequency cap."))

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """reentry_days goes with reentry after_days, also in a partial change, which therefore names both
        when it sets a number of days; a change to never or always clears a stored number."""
        reentry, days = attrs.get("reentry"), attrs.get("reentry_days")
        if reentry == AFTER_DAYS and days is None:
            message = _("Give the number of days after which a contact may enter again.")
            raise serializers.ValidationError({"reentry_days": [message]}, code="required")
        if reentry != AFTER_DAYS and days is not None:
            message = _("Only a flow with reentry “after_days” takes reentry_days.")
            raise serializers.ValidationError({"reentry_days": [message]}, code="invalid")
        if reentry is not None and reentry != AFTER_DAYS:
            attrs["reentry_days"] = None
        return attrs


class FlowDefinitionSchema(OpenApiSerializerExtension):
    """The fields as drf-spectacular maps them, plus (in requests) the rule between reentry and
    reentry_days, so that the schema allows nothing `validate` refuses."""

    target_class = FlowDefinitionSerializer
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: str) -> dict:
        schema = auto_schema._map_basic_serializer(self.target, direction)
        return {**schema, **REENTRY_RULE} if direction == "request" else schema


def flow_definition_validate(data: dict, *, partial: bool = False) -> dict:
    """The cleaned definition, exactly as given apart from documented defaults (ints as ints, times as
    HH:MM, text trimmed); `partial` checks only the fields given, as a PATCH does.

    Raises rest_framework's ValidationError keyed by dotted paths ("steps.2.yes.0.template"), each
    message carrying its code, as the API's 400 answers do (crm.api_errors)."""
    serializer = FlowDefinitionSerializer(data=data, partial=partial)
    if not serializer.is_valid():
        raise serializers.ValidationError(flatten_errors(serializer.errors))
    return dict(serializer.validated_data)
