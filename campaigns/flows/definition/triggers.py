"""What enrolls a contact in a flow (CONTRACT §6): one serializer per trigger type."""

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

from contacts.models import Activity
from contacts.models.choices import Channel, Lifecycle
from contacts.serializers.fields import StrictIntegerField
from segments.models import Segment

from .fields import BooleanField, ChoiceField, RowIdField, TimeField
from .objects import TypedObjectSerializer, read_type, union_schema

DATE_FIELDS = ("birthday", "wedding_anniversary", "signed_up", "club_joined")
DEFAULT_TIME = "09:00"


class TriggerSerializer(TypedObjectSerializer):
    def unknown_key_message(self, key: str) -> str:
        return _("“%(key)s” is not a key of a %(type)s trigger.") % {"key": key, "type": self.type_name}


class SegmentEnteredTriggerSerializer(TriggerSerializer):
    """Enrolls a contact when its membership of the segment starts; with include_existing, the segment's
    members at activation too."""

    type_name = "segment_entered"
    segment = RowIdField(model=Segment, unknown=gettext_lazy("Unknown segment %(id)s."))
    include_existing = BooleanField(required=False)


class EventTriggerSerializer(TriggerSerializer):
    """Enrolls a contact when a site or app event of this type is recorded for it."""

    type_name = "event"
    event = ChoiceField(choices=Activity.Type.values)


class PurchaseTriggerSerializer(TriggerSerializer):
    """Enrolls a contact when a purchase of it is recorded: in this channel, or in any when none is given."""

    type_name = "purchase"
    channel = ChoiceField(choices=Channel.values, required=False)


class DateTriggerSerializer(TriggerSerializer):
    """Enrolls a contact once a year, on the anniversary of the date field plus offset_days (negative:
    before), at `time` local."""

    type_name = "date"
    field = ChoiceField(choices=DATE_FIELDS)
    offset_days = StrictIntegerField(min_value=-365, max_value=365)
    time = TimeField(default=DEFAULT_TIME)


class ReplenishmentDueTriggerSerializer(TriggerSerializer):
    """Enrolls a contact when a product it bought is due again (its last purchase + the product's
    replenishment_days) in days_before days."""

    type_name = "replenishment_due"
    days_before = StrictIntegerField(min_value=0, max_value=90)


class LifecycleChangedTriggerSerializer(TriggerSerializer):
    """Enrolls a contact when its lifecycle stage becomes this one, including by the passage of time."""

    type_name = "lifecycle_changed"
    to = ChoiceField(choices=Lifecycle.values)


TRIGGERS: dict[str, type[TriggerSerializer]] = {
    serializer.type_name: serializer
    for serializer in (
        SegmentEnteredTriggerSerializer,
        EventTriggerSerializer,
        PurchaseTriggerSerializer,
        DateTriggerSerializer,
        ReplenishmentDueTriggerSerializer,
        LifecycleChangedTriggerSerializer,
    )
}


class TriggerField(serializers.Field):
    """A trigger object, read by the serializer of its type; errors come back under its keys
    (trigger.segment, trigger.type)."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        kind = read_type(
            data,
            TRIGGERS,
            not_an_object=_("The trigger must be an object with a type."),
            unknown_type=_("The trigger type must be one of: %(allowed)s.") % {"allowed": ", ".join(TRIGGERS)},
        )
        return TRIGGERS[kind](context=self.context).run_validation(data)

    def to_representation(self, value: Any) -> Any:
        return value


class TriggerSchema(OpenApiSerializerFieldExtension):
    target_class = TriggerField

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict:
        return union_schema(auto_schema, direction, [serializer() for serializer in TRIGGERS.values()])
