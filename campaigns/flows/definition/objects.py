"""Triggers and steps are JSON objects told apart by their `type`: one serializer per type, holding that
type's keys and no other, chosen by `read_type`; the schema publishes them as a oneOf with `type` as
its discriminator."""

from collections.abc import Collection, Mapping, Sequence
from typing import Any, ClassVar

from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiSerializerExtension
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from .fields import ConstantField


def key_name(key: Any) -> str:
    """A key as an error path names it (JSON keys are strings; Python callers may pass others)."""
    return key if isinstance(key, str) else type(key).__name__


class TypedObjectSerializer(serializers.Serializer):
    """A trigger or a step: its `type` and its own keys. A key the contract does not know is refused by
    name (unknown_key), so a misspelt option is never stored as if it had been applied."""

    type_name: ClassVar[str]
    # JSON schema constraints between the keys, added to the object's schema (see WaitStepSerializer).
    schema_constraints: ClassVar[dict[str, Any]] = {}

    @property
    def schema_name(self) -> str:
        return type(self).__name__.removesuffix("Serializer")

    def get_fields(self) -> dict[str, serializers.Field]:
        return {"type": ConstantField(self.type_name, enum_id=f"flow-{self.schema_name}"), **super().get_fields()}

    def unknown_key_message(self, key: str) -> str:
        """Abstract: triggers and steps each say in their own words which object the key is not part of."""
        raise NotImplementedError

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, Mapping):
            return super().to_internal_value(data)  # DRF's refusal of a non-object
        errors: dict[str, Any] = {
            key_name(key): [ErrorDetail(self.unknown_key_message(key_name(key)), code="unknown_key")]
            for key in data
            if key not in self.fields
        }
        try:
            clean = super().to_internal_value(data)
        except serializers.ValidationError as error:
            raise serializers.ValidationError({**error.detail, **errors}) from None  # type: ignore[dict-item]
        if errors:
            raise serializers.ValidationError(errors)
        return dict(clean)


def read_type(data: Any, allowed: Collection[str], *, not_an_object: str, unknown_type: str) -> str:
    """The `type` of a trigger or a step, which chooses its serializer. A value that is no object is refused
    at the object itself; a missing or unknown type at its `type` key."""
    if not isinstance(data, dict):
        raise serializers.ValidationError(not_an_object, code="invalid")
    if "type" not in data:
        raise serializers.ValidationError({"type": [ErrorDetail(_("This field is required."), code="required")]})
    kind = data["type"]
    if not isinstance(kind, str) or kind not in allowed:
        raise serializers.ValidationError({"type": [ErrorDetail(unknown_type, code="invalid_choice")]})
    return kind


def union_schema(auto_schema: Any, direction: str, members: Sequence[TypedObjectSerializer]) -> dict:
    """One of the members' schemas (each a component), `type` telling which."""
    refs = {member.type_name: auto_schema.resolve_serializer(member, direction).ref for member in members}
    return {
        "oneOf": list(refs.values()),
        "discriminator": {"propertyName": "type", "mapping": {name: ref["$ref"] for name, ref in refs.items()}},
    }


class TypedObjectSchema(OpenApiSerializerExtension):
    """A closed object (additionalProperties: false, as `to_internal_value` refuses other keys), plus the
    constraints between its keys that the serializer declares."""

    target_class = TypedObjectSerializer
    match_subclasses = True

    def get_name(self, auto_schema: Any, direction: str) -> str:
        return self.target.schema_name

    def map_serializer(self, auto_schema: Any, direction: str) -> dict:
        schema = auto_schema._map_basic_serializer(self.target, direction)
        return {**schema, "additionalProperties": False, **self.target.schema_constraints}
