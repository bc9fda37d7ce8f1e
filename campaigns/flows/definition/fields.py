"""The values inside a flow definition, as serializer fields that take only the JSON type their schema
publishes: what the schema allows is what the validator accepts, so a client (or a property-based test)
that follows the schema is never refused for a reason it could not see.

Where the schema cannot say it — an id that names no row, a rule tree the condition catalogue refuses —
the error code says so: does_not_exist, or invalid at the rule tree's own field.
"""

import re
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, models, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from contacts.serializers.fields import StrictIntegerField, refuse_nul
from segments import rules as segment_rules

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

MAX_ID = 2**63 - 1  # the largest key of a BigAutoField
TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
_TIME = re.compile(TIME_PATTERN)
LOOKUPS = "flow_lookups"  # context key: what one reading of a definition has looked up


class _OnlyStrings:
    """DRF's text fields test for blank with `str(data)` before anything else, which fails on a number
    too large to print or a list nested too deep: anything but a string is refused first."""

    def run_validation(self, data: Any = empty) -> Any:
        if data is not empty and data is not None and not isinstance(data, str):
            self.fail("invalid")  # type: ignore[attr-defined]  # a Field's method
        return super().run_validation(data)  # type: ignore[misc]  # mixed into a Field


class TextField(_OnlyStrings, serializers.CharField):
    """Text that must not be blank. `max_length` counts the characters as sent, as the schema's
    maxLength does (DRF would count them after trimming); `collapse` also joins inner runs of white
    space, as tag names are stored."""

    def __init__(self, *, collapse: bool = False, **kwargs: Any) -> None:
        self.collapse = collapse
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        text = super().to_internal_value(data)
        return " ".join(text.split()) if self.collapse else text


class EmailField(_OnlyStrings, serializers.EmailField):
    """An address Django's validator accepts, at most 254 characters."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=254, **kwargs)


class BooleanField(serializers.BooleanField):
    """true or false as JSON booleans, the schema's type (DRF's field would also read "yes" or 1)."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class ChoiceField(serializers.ChoiceField):
    """One of the values exactly as listed, the schema's enum. DRF's field would also take 1 for "1", and
    prints any value first (which fails on a number too large to print).

    `own_enum` names the enum after this field (see ChoiceSchema); without it the schema shows the enum
    drf-spectacular makes for these choices, shared with a model field that has the same ones."""

    def __init__(self, *, own_enum: bool = True, **kwargs: Any) -> None:
        self.own_enum = own_enum
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, str) and data in self.choices:
            return data
        allowed = ", ".join(map(str, self.choices))
        if isinstance(data, str):
            message = _("“%(value)s” is not one of: %(allowed)s.") % {"value": data, "allowed": allowed}
        else:
            message = _("Choose one of: %(allowed)s.") % {"allowed": allowed}
        raise serializers.ValidationError(message, code="invalid_choice")


class ConstantField(serializers.Field):
    """The `type` of a trigger or a step. The serializer was chosen by it, so it holds this one value;
    `enum_id` names its one-value enum in the schema apart from every other."""

    def __init__(self, value: str, *, enum_id: str, **kwargs: Any) -> None:
        self.value, self.enum_id = value, enum_id
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if data != self.value:
            raise serializers.ValidationError(
                _("Choose one of: %(allowed)s.") % {"allowed": self.value}, code="invalid_choice"
            )
        return self.value

    def to_representation(self, value: Any) -> Any:
        return value


@extend_schema_field(
    {"type": "string", "pattern": TIME_PATTERN, "minLength": 5, "maxLength": 5, "example": "09:00"},
)
class TimeField(serializers.Field):
    """A local time as HH:MM, zero-padded: exactly five characters, so the pattern's `$` (which some
    regular expression engines also match before a final newline) leaves no room for doubt."""

    default_error_messages = {"invalid": gettext_lazy("Enter a time as HH:MM, from 00:00 to 23:59.")}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str) or len(data) != 5 or not _TIME.match(data):
            self.fail("invalid")
        return data

    def to_representation(self, value: Any) -> Any:
        return value


class RowIdField(StrictIntegerField):
    """The id of a row of `model`, which must exist: the schema says "an integer from 1", the database
    the rest (does_not_exist). `unknown` is the (lazily translated) message, with %(id)s.

    What `problem` finds is kept in the context's LOOKUPS, when there is one, so an id that many steps
    name is looked up once per reading."""

    def __init__(self, *, model: type[models.Model], unknown: "StrOrPromise", **kwargs: Any) -> None:
        self.model, self.unknown = model, unknown
        super().__init__(min_value=1, max_value=MAX_ID, **kwargs)

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, float) and data.is_integer():
            data = int(data)  # 1e18 is a whole number to the schema; DRF would read its text, "1e+18"
        pk = super().to_internal_value(data)
        if not 1 <= pk <= MAX_ID:
            return pk  # no query could take it; the range validators that run next refuse it
        lookups = self.context.get(LOOKUPS)
        key = (self.model, pk)
        found = lookups[key] if lookups is not None and key in lookups else self.problem(pk)
        if lookups is not None:
            lookups[key] = found
        if found is not None:
            message, code = found
            raise serializers.ValidationError(message, code=code)
        return pk

    def problem(self, pk: int) -> tuple[str, str] | None:
        """Why this id cannot be used, as (message, code); None when it can."""
        if not self.model._default_manager.filter(pk=pk).exists():
            return str(self.unknown % {"id": pk}), "does_not_exist"
        return None


@extend_schema_field({"type": "object"})
class RuleTreeField(serializers.Field):
    """A segment rule tree (CONTRACT §3), checked by `segments.rules.validate`, the one owner of what a
    tree may hold. Its errors stay at this field with code invalid and the node's path at the start of
    the message ("all[1].value: …"), as the segments API gives them: the schema cannot carry the
    condition catalogue."""

    default_error_messages = {"invalid": gettext_lazy("Expected a group or a condition object.")}

    def to_internal_value(self, data: Any) -> dict:
        if not isinstance(data, dict):
            self.fail("invalid")
        try:
            refuse_nul(data)  # before any query: PostgreSQL refuses a NUL in a parameter with its own error
        except RecursionError:
            raise serializers.ValidationError(self.error_messages["invalid"], code="invalid") from None
        try:
            with transaction.atomic():  # a refused lookup must not spoil the caller's transaction
                tree = segment_rules.validate(data)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages, code="invalid") from None
        except (DataError, OverflowError, ValueError):
            # An id or number too large for the database or for Python to print, met inside the tree.
            raise serializers.ValidationError(
                _("A value is out of the range the database accepts."), code="invalid"
            ) from None
        return tree

    def to_representation(self, value: Any) -> Any:
        return value


class ChoiceSchema(OpenApiSerializerFieldExtension):
    """An enum of its own name: drf-spectacular names enums by their values, and the same values under
    another field (a purchase's channel, an event's type) would otherwise merge with — and rename — the
    API's existing enums."""

    target_class = ChoiceField
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict:
        field = self.target
        if not field.own_enum:
            return auto_schema._map_serializer_field(field, direction, bypass_extensions=True)
        return {"type": "string", "enum": list(field.choices), "x-spec-enum-id": f"flow-{field.field_name}"}


class ConstantSchema(OpenApiSerializerFieldExtension):
    target_class = ConstantField

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict:
        field = self.target
        return {"type": "string", "enum": [field.value], "x-spec-enum-id": field.enum_id}
