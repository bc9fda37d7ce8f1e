"""A serializer cheap enough to run once per item of a thousand-item batch.

DRF's generic loop costs more than the fields it runs: for every item it walks the fields through a
generator, looks each `validate_<name>` method up by name, checks every value for HTML form input, raises
and catches SkipField for each optional field left out, runs the empty-value checks and the (empty)
validator loop of every field, and gathers the read-only defaults for serializer-level validators even
when there are none. `LeanSerializer` takes the same steps from a plan made once per instance and leaves
out only those that cannot change the outcome. Input that is not a plain dict (an HTML form) and partial
updates still go through DRF's own loop, so values, messages, codes and paths are the same.
"""

from collections.abc import Callable
from functools import cached_property
from typing import Any, NamedTuple

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.fields import Field, SkipField, empty, get_error_detail


class Step(NamedTuple):
    """How one writable field reads its value."""

    name: str
    field: Field
    check: Callable[[Any], Any] | None  # the serializer's validate_<name>
    optional: bool  # a missing value is left out (not required, no default: DRF's SkipField)
    plain: bool  # a value given (not null) is only `to_internal_value`: DRF's run_validation, no validators


def _is_plain(field: Field) -> bool:
    cls = type(field)
    return (
        not field.validators
        and cls.run_validation is Field.run_validation
        and cls.validate_empty_values is Field.validate_empty_values
        and cls.run_validators is Field.run_validators
    )


# No class docstring: drf-spectacular would publish it as the description of every subclass without one.
class LeanSerializer(serializers.Serializer):
    @cached_property
    def _plan(self) -> tuple[Step, ...] | None:
        """A step per writable field; None where DRF's loop must run: a partial update, or a field whose
        value goes elsewhere than under its own name."""
        if getattr(self.root, "partial", False):
            return None
        plan = []
        for name, field in self.fields.items():
            if field.read_only:
                continue
            if field.source_attrs != [name]:
                return None
            optional = not field.required and field.default is empty
            plan.append(Step(name, field, getattr(self, f"validate_{name}", None), optional, _is_plain(field)))
        return tuple(plan)

    def to_internal_value(self, data: Any) -> dict:
        plan = self._plan
        if type(data) is not dict or plan is None:
            return super().to_internal_value(data)
        values: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        for name, field, check, optional, plain in plan:
            raw = data.get(name, empty)
            if raw is empty and optional:
                continue
            given = raw is not empty and raw is not None
            try:
                value = field.to_internal_value(raw) if plain and given else field.run_validation(raw)
                values[name] = value if check is None else check(value)
            except serializers.ValidationError as exc:
                errors[name] = exc.detail
            except DjangoValidationError as exc:
                errors[name] = get_error_detail(exc)
            except SkipField:
                pass
        if errors:
            raise serializers.ValidationError(errors)
        return values

    def run_validators(self, value: Any) -> None:
        """DRF first merges in the read-only defaults, for validators only: skipped when there are none."""
        if self.validators:
            super().run_validators(value)
