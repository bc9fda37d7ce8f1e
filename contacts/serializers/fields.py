"""Serializer fields that read partner input with the functions of `contacts.normalize`.

The serializer is the one validator of an API input: each field normalizes its value the way the admin
and the CSV import do (same functions, same messages), and publishes in the schema what it accepts.
"""

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any, cast

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from crm.api import NOT_BLANK_PATTERN

from .. import normalize

NUL = "\x00"
# What a client can rely on being accepted (blank means none); the readers take more forms than these.
DATE_PATTERN = r"^((19\d\d|20[0-2]\d)-(0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8]))?$"
DATETIME_PATTERN = (
    r"^((19\d\d|2\d\d\d)-(0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d"
    r"(\.\d{1,6})?(Z|[+-](0\d|1[0-3]):[0-5]\d))?$"
)


def nul_paths(value: Any, path: str = "") -> list[str]:
    """Dotted paths of the strings (keys or values, at any depth) holding a NUL character, which no
    database column takes; a key with one is reported at its parent."""
    found = []
    if isinstance(value, str):
        if NUL in value:
            found.append(path)
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and NUL in key:
                found.append(path)
            found.extend(nul_paths(item, f"{path}.{key}" if path else str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(nul_paths(item, f"{path}.{index}" if path else str(index)))
    return found


def refuse_nul(value: Any) -> None:
    """Raise naming each path (relative to the field) that holds a NUL character."""
    paths = nul_paths(value)
    if not paths:
        return
    message = _("Null characters are not allowed.")
    if paths == [""]:
        raise serializers.ValidationError(message, code="null_characters_not_allowed")
    raise serializers.ValidationError(
        {(path.replace(NUL, "") or "non_field_errors"): [message] for path in paths}, code="null_characters_not_allowed"
    )


def _bound_name(field: serializers.Field) -> str:
    """The field's name in its serializer, which DRF sets on bind (the stubs also allow None, unbound)."""
    return cast(str, field.field_name)


def _messages(error: DjangoValidationError) -> list[str]:
    if hasattr(error, "error_dict"):
        return [message for messages in error.message_dict.values() for message in messages]
    return list(error.messages)


class StrictCharField(serializers.CharField):
    """Text that must come as a JSON string: DRF's CharField would also take numbers, which the schema
    (type string) does not allow. Its length is checked as sent, like the schema's maxLength: DRF checks it
    after trimming, so a value one space too long would pass."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


class NormalizedField(serializers.Field):
    """A JSON scalar read by one `normalize` function (`normalizer(value, field_name)`).

    Booleans, lists and objects are refused, as is a string holding a NUL character; the normalizer's
    ValidationError becomes this field's error with the same messages.
    """

    normalizer: Callable[..., Any]
    accepts: tuple[type, ...] = (str, int)
    request_schema: dict = {"type": "string"}
    response_schema: dict | None = None  # None: as in requests
    error_code = "invalid"
    default_error_messages = {"invalid": _("Must be a string.")}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, bool) or not isinstance(data, self.accepts):
            self.fail("invalid")
        if isinstance(data, str) and NUL in data:
            raise serializers.ValidationError(_("Null characters are not allowed."), code="null_characters_not_allowed")
        try:
            return self.normalize(data)
        except DjangoValidationError as error:
            raise serializers.ValidationError(_messages(error), code=self.error_code) from None

    def normalize(self, data: Any) -> Any:
        return type(self).normalizer(data, _bound_name(self))

    def to_representation(self, value: Any) -> Any:
        return value


class EmailField(NormalizedField):
    """Stored lower-case; Django's email validator decides."""

    request_schema = {
        "oneOf": [{"type": "string", "format": "email", "maxLength": 254}, {"type": "string", "maxLength": 0}]
    }
    response_schema = {"type": "string", "format": "email"}
    accepts = (str,)
    normalizer = staticmethod(normalize.email)
    default_error_messages = {
        "invalid": _("Must be an email address."),
        "max_length": _("Ensure this field has no more than {max_length} characters."),
    }

    def normalize(self, data: str) -> str | None:
        if len(data) > 254:
            self.fail("max_length", max_length=254)
        return normalize.email(data, _bound_name(self))


class PhoneField(NormalizedField):
    """Any common format; stored as E.164, numbers without a country code read in PHONE_DEFAULT_REGION."""

    # Israeli mobile numbers, local or international, are what a client can rely on; the reader also takes
    # other regions' numbers with their country code (see the field's description).
    request_schema = {"type": "string", "maxLength": 50, "pattern": r"^((\+972[ -]?|0)5\d[ -]?\d{3}[ -]?\d{4})?$"}
    response_schema = {"type": "string"}

    normalizer = staticmethod(normalize.phone)


class IdentifierField(NormalizedField):
    """An id from the partner's system: surrounding spaces dropped, blank means none (None)."""

    def __init__(self, *, max_length: int = 100, **kwargs: Any) -> None:
        self.max_length = max_length
        super().__init__(**kwargs)

    @property
    def request_schema(self) -> dict:  # type: ignore[override]  # depends on the field's options
        """A string, or a whole number (order and card numbers often are) read as its digits. A required
        one must not be blank."""
        text = {"type": "string", "maxLength": self.max_length}
        if self.required:
            text.update(minLength=1, pattern=NOT_BLANK_PATTERN)
        return {"oneOf": [text, {"type": "integer", "minimum": -(10**15), "maximum": 10**15}]}

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, int) and not isinstance(data, bool) and abs(data) > 10**15:
            self.fail("invalid")
        return super().to_internal_value(data)

    @property
    def response_schema(self) -> dict:  # type: ignore[override]  # depends on the field's options
        return {"type": "string", "maxLength": self.max_length}

    def normalize(self, data: Any) -> str | None:
        return normalize.identifier(data, _bound_name(self), self.max_length)


class TextField(IdentifierField):
    """Free text on one line: inner runs of spaces collapse, blank is ""."""

    accepts = (str,)

    @property
    def request_schema(self) -> dict:  # type: ignore[override]  # depends on the field's options
        return {"type": "string", "maxLength": self.max_length}

    def normalize(self, data: Any) -> str:
        return normalize.text(data, _bound_name(self), self.max_length)


class ChoiceField(NormalizedField):
    """One of an enum's values, read ignoring case and spaces; blank gives `blank_value`."""

    accepts = (str,)
    error_code = "invalid_choice"

    def __init__(self, *, choices: Any, blank_value: str = "", **kwargs: Any) -> None:
        self.enum, self.blank_value = choices, blank_value
        self.spellings: dict[str, str] = {}
        super().__init__(**kwargs)

    @property
    def request_schema(self) -> dict:  # type: ignore[override]  # depends on the field's options
        return {"type": "string", "enum": [*([] if self.required else [""]), *self.enum.values]}

    @property
    def response_schema(self) -> dict:  # type: ignore[override]  # depends on the field's options
        return {"type": "string", "enum": [*self.enum.values, ""]}

    def normalize(self, data: Any) -> str:
        """Each spelling once per field instance (per request or batch): Django's Choices list their values
        anew on every read, about 12 µs, more than the rest of an event's fields together."""
        if type(data) is not str:  # a list or an object is refused by the rule itself, and is no dict key
            return normalize.choice(data, _bound_name(self), self.enum, self.blank_value)
        value = self.spellings.get(data)
        if value is None:
            value = normalize.choice(data, _bound_name(self), self.enum, self.blank_value)
            if len(self.spellings) < 100:
                self.spellings[data] = value
        return value


class CountryField(NormalizedField):
    request_schema = {"type": "string", "pattern": r"^([A-Za-z]{2})?$"}
    accepts = (str,)
    normalizer = staticmethod(normalize.country)


class LanguageField(NormalizedField):
    request_schema = {"type": "string", "pattern": r"^([A-Za-z]{1,5}(-[A-Za-z]{1,4})?)?$"}
    accepts = (str,)
    normalizer = staticmethod(normalize.language)


class DateField(NormalizedField):
    """YYYY-MM-DD (also DD/MM/YYYY and DD.MM.YYYY), from 1900 to five years ahead."""

    request_schema = {"type": "string", "pattern": DATE_PATTERN}
    response_schema = {"type": "string", "format": "date"}
    accepts = (str, dt.date)  # dates also from Python callers (the admin, scripts)
    normalizer = staticmethod(normalize.date)

    def to_representation(self, value: Any) -> str | None:
        return value.isoformat() if value else None


class DateTimeField(NormalizedField):
    """ISO 8601 (a bare date or a time without offset is read in TIME_ZONE), years 1900 to 2999."""

    request_schema = {"type": "string", "pattern": DATETIME_PATTERN}
    response_schema = {"type": "string", "format": "date-time"}
    accepts = (str, dt.date)  # datetimes also from Python callers (the CSV import, scripts)
    normalizer = staticmethod(normalize.datetime)

    def to_representation(self, value: Any) -> str | None:
        return serializers.DateTimeField().to_representation(value) if value else None


class BooleanField(NormalizedField):
    """true/false (also yes/no, 1/0 as the CSV import reads them)."""

    request_schema = {
        "oneOf": [
            {"type": "boolean"},
            {"type": "string", "enum": sorted(normalize.TRUE_WORDS | normalize.FALSE_WORDS)},
            {"type": "integer", "enum": [0, 1]},
        ]
    }
    response_schema = {"type": "boolean"}

    accepts = (bool, str, int)
    normalizer = staticmethod(normalize.boolean)

    def to_internal_value(self, data: Any) -> bool:
        if isinstance(data, bool):
            return data
        return super().to_internal_value(data)


class ConsentTextField(NormalizedField):
    """The consent wording the contact was shown, kept as written (line breaks too), bounded in length."""

    request_schema = {"type": "string", "maxLength": normalize.CONSENT_TEXT_MAX_LENGTH}
    accepts = (str,)
    normalizer = staticmethod(normalize.consent_text)


class MoneyField(NormalizedField):
    """A non-negative amount with at most two decimals (more are rounded), as a string or a number."""

    accepts = (str, int, float, Decimal)
    limit = normalize.MAX_AMOUNT

    def normalize(self, data: Any) -> Any:
        amount = normalize.money(data, _bound_name(self))
        if amount < 0:
            raise serializers.ValidationError(_("Must not be negative."), code="min_value")
        if amount >= self.limit:
            raise serializers.ValidationError(_("“%(value)s” is out of range.") % {"value": data}, code="out_of_range")
        return amount

    def to_representation(self, value: Any) -> str:
        return str(value)


def _money_schema(digits: int) -> dict:
    return {
        "oneOf": [
            {"type": "string", "format": "decimal", "pattern": rf"^\d{{1,{digits}}}(\.\d{{1,2}})?$"},
            {"type": "number", "minimum": 0, "maximum": 10**digits - 1},
        ]
    }


class TotalField(MoneyField):
    """A purchase total: below a trillion."""

    request_schema = _money_schema(12)
    response_schema = {"type": "string", "format": "decimal"}


class UnitPriceField(MoneyField):
    """An item's price: below ten billion (PurchaseItem.unit_price holds 12 digits, 2 of them decimals)."""

    limit = normalize.MAX_UNIT_PRICE
    request_schema = _money_schema(10)
    response_schema = {"type": "string", "format": "decimal"}


@extend_schema_field({"type": "array", "items": {"type": "string", "maxLength": 100}, "maxItems": 100})
class TagsField(serializers.ListField):
    """Tag names: spaces collapsed, repeats (ignoring case) dropped."""

    child = StrictCharField(max_length=100, allow_blank=True)

    def to_internal_value(self, data: Any) -> list[str]:
        return normalize.tag_names(super().to_internal_value(data), _bound_name(self))

    def to_representation(self, data: Any) -> list[str]:
        return [tag.name for tag in data.all()]


class JSONObjectField(serializers.DictField):
    """A JSON object of any values; strings holding a NUL character are refused naming their path."""

    def to_internal_value(self, data: Any) -> dict:
        data = super().to_internal_value(data)
        refuse_nul(data)
        return data


@extend_schema_field({"type": "object", "additionalProperties": {}})
class AttributesField(JSONObjectField):
    """Custom fields: any keys; keys with a CustomField definition are type-checked."""

    def to_internal_value(self, data: Any) -> dict:
        data = super().to_internal_value(data)
        try:
            return normalize.attributes(data, _bound_name(self))
        except DjangoValidationError as error:
            prefix = f"{self.field_name}."
            raise serializers.ValidationError(
                {
                    key[len(prefix) :] if key.startswith(prefix) else "non_field_errors": [
                        ErrorDetail(message, code=item.code or "invalid") for item in items for message in item.messages
                    ]
                    for key, items in error.error_dict.items()
                }
            ) from None


class NormalizedFieldSchema(OpenApiSerializerFieldExtension):
    """Publishes what a normalized field accepts in requests and what it gives back in responses."""

    target_class = NormalizedField
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict:
        field = self.target
        if direction == "response" and field.response_schema is not None:
            return dict(field.response_schema)
        return dict(field.request_schema)


class StrictIntegerField(serializers.IntegerField):
    """A whole number that must come as a JSON number (DRF's IntegerField would also take "12")."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictModelSerializer(serializers.ModelSerializer):
    """A ModelSerializer whose text and number fields take only the JSON types the schema publishes."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: StrictCharField,
        models.TextField: StrictCharField,
        models.IntegerField: StrictIntegerField,
        models.PositiveIntegerField: StrictIntegerField,
        models.PositiveSmallIntegerField: StrictIntegerField,
        models.SmallIntegerField: StrictIntegerField,
        models.BigIntegerField: StrictIntegerField,
    }
