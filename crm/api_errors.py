"""JSON errors everywhere: 400 `{"field": ["message"]}` with nested fields flattened to dotted paths
(`items.0.sku`), and Django's ValidationError from the services turned into the same shape.

Beside the messages (translated, for people) every error carries machine-readable codes: a 400 adds
`"error_codes": {"field": ["code", …]}` parallel to the messages, any other error is
`{"detail": "…", "code": "…"}`.
"""

from typing import Any, cast

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.exceptions import ErrorDetail
from rest_framework.views import exception_handler as drf_exception_handler

NON_FIELD = "non_field_errors"
ERROR_CODES = "error_codes"


def exception_handler(exc, context):
    response = drf_exception_handler(_as_api_exception(exc), context)
    if response is None or not isinstance(response.data, dict):
        return response
    if response.status_code == 400:
        response.data[ERROR_CODES] = {
            field: [getattr(message, "code", None) or "invalid" for message in messages]
            for field, messages in response.data.items()
        }
    elif "detail" in response.data:
        response.data["code"] = getattr(response.data["detail"], "code", None) or "error"
    return response


def _as_api_exception(exc: Exception) -> Exception:
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(_django_details(exc))
    elif isinstance(exc, (DataError, OverflowError)):
        # The database refused a value the validation let through (a length or range limit): the input
        # is at fault, so it is a 400 like any other bad value.
        exc = exceptions.ValidationError(
            {NON_FIELD: [_("A value is out of the range the database accepts.")]}, code="out_of_range"
        )
    elif isinstance(exc, RecursionError):
        exc = exceptions.ValidationError({NON_FIELD: [_("The input is nested too deeply.")]}, code="too_deep")
    elif isinstance(exc, exceptions.ParseError):
        # A body that is not JSON is a 400 like the others: same shape, so clients parse one format.
        exc = exceptions.ValidationError({NON_FIELD: [exc.detail]}, code=cast(ErrorDetail, exc.detail).code)
    if isinstance(exc, exceptions.ValidationError):
        # A flat mapping is one of the shapes DRF's (recursive) detail type allows.
        exc.detail = cast(dict[str, Any], flatten_errors(exc.detail))
    return exc


def _django_details(exc: DjangoValidationError) -> dict[str, list[ErrorDetail]]:
    """Django's errors with their codes kept (message_dict would drop them)."""
    groups = exc.error_dict if hasattr(exc, "error_dict") else {NON_FIELD: exc.error_list}
    return {
        field: [ErrorDetail(message, code=error.code or "invalid") for error in errors for message in error.messages]
        for field, errors in groups.items()
    }


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list]:
    """`{"items": [{"sku": ["x"]}]}` → `{"items.0.sku": ["x"]}`; a bare list of messages → non_field_errors."""
    flat: dict[str, list] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = prefix if key == NON_FIELD and prefix else (f"{prefix}.{key}" if prefix else str(key))
            _merge(flat, flatten_errors(value, name))
    elif isinstance(detail, list) and detail and all(not isinstance(v, (dict, list)) for v in detail):
        flat[prefix or NON_FIELD] = list(detail)
    elif isinstance(detail, list):
        for index, value in enumerate(detail):
            if value:
                _merge(flat, flatten_errors(value, f"{prefix}.{index}" if prefix else str(index)))
    elif detail:
        flat[prefix or NON_FIELD] = [detail]
    return flat


def _merge(target: dict[str, list], source: dict[str, list]) -> None:
    for key, messages in source.items():
        target.setdefault(key, []).extend(messages)
