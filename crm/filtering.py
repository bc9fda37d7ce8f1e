"""Query-string values checked against what the database can store before any query runs.

Form fields accept more than the database does: a datetime in year 1 with a +20:14 offset, a string
with a NUL byte, an integer past 64 bits. Such a value reaching PostgreSQL fails inside the query
(and aborts the surrounding transaction), SQLite overflows in the driver: a 500 either way. Every
list of the API filters through `SafeFilterBackend`, and the cursor paginator uses `checked_value`,
so such input is answered with a 400 naming the parameter.
"""

import datetime
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.utils import translate_validation
from drf_spectacular.contrib.django_filters import DjangoFilterExtension
from rest_framework.exceptions import ValidationError

INT64_MAX = 2**63 - 1
DECIMAL_MAX_DIGITS = 30
NUL = "\x00"


class UnsafeValue(ValueError):
    """A value the database cannot take; `code` names why, the message says it to a person."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def checked_value(value: Any) -> Any:
    """The value ready for the database (aware datetimes moved to UTC), or UnsafeValue."""
    if isinstance(value, (list, tuple)):
        return type(value)(checked_value(item) for item in value)
    if isinstance(value, str) and NUL in value:
        raise UnsafeValue(str(_("Null characters are not allowed.")), "null_characters_not_allowed")
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and not -INT64_MAX - 1 <= value <= INT64_MAX:
        raise UnsafeValue(
            str(
                _("Ensure this value is a whole number between %(min)d and %(max)d.")
                % {"min": -INT64_MAX - 1, "max": INT64_MAX}
            ),
            "out_of_range",
        )
    if isinstance(value, Decimal) and value.is_finite() and value.adjusted() >= DECIMAL_MAX_DIGITS:
        raise UnsafeValue(str(_("This number is too large.")), "out_of_range")
    if isinstance(value, datetime.datetime):
        return _utc(value)
    return value


def _utc(value: datetime.datetime) -> datetime.datetime:
    """Aware datetimes in UTC: the database stores years 1 to 9999 and offsets within ±16 hours."""
    if value.tzinfo is None:
        return value
    try:
        return value.astimezone(datetime.UTC)
    except OverflowError:
        raise UnsafeValue(str(_("Enter a date and time between the years 1 and 9999 (UTC).")), "out_of_range") from None


def check_query_params(query_params) -> None:
    """Any parameter (filters, ordering, cursor, page size) with a NUL byte is refused up front."""
    errors = {}
    for name, values in query_params.lists():
        for value in values:
            try:
                checked_value(value)
            except UnsafeValue as exc:
                errors[name] = ValidationError(exc.message, code=exc.code).detail
    if errors:
        raise ValidationError(errors)


class SafeFilterBackend(DjangoFilterBackend):
    """django-filter's backend, plus the database's own limits on every cleaned filter value."""

    def filter_queryset(self, request, queryset, view):
        check_query_params(request.query_params)
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        if not filterset.is_valid():
            raise translate_validation(filterset.errors)
        cleaned = filterset.form.cleaned_data
        errors = {}
        for name, value in cleaned.items():
            try:
                cleaned[name] = checked_value(value)
            except UnsafeValue as exc:
                errors[name] = ValidationError(exc.message, code=exc.code).detail
        if errors:
            raise ValidationError(errors)
        return filterset.qs


class SafeFilterSchema(DjangoFilterExtension):
    """Each filter as drf-spectacular publishes it, plus what django-filter does with an empty value
    (`?status=`): a single-valued filter is left out, so the empty value is accepted whatever its type.
    (A multiple-choice one refuses it: "" is not one of its choices.) An integer filter says the 64-bit
    range `SafeFilterBackend` holds it to."""

    target_class = "crm.filtering.SafeFilterBackend"
    priority = 1

    def get_schema_operation_parameters(self, auto_schema, *args, **kwargs) -> list[dict]:
        parameters = super().get_schema_operation_parameters(auto_schema, *args, **kwargs)
        for parameter in parameters:
            schema = parameter["schema"]
            if schema.get("type") != "array":
                parameter["allowEmptyValue"] = True
            if schema.get("type") == "integer":
                schema.setdefault("format", "int64")
                schema.setdefault("minimum", -INT64_MAX - 1)
                schema.setdefault("maximum", INT64_MAX)
        return parameters
