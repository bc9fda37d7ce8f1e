"""JSON errors everywhere: 400 `{"field": ["message"]}` with nested fields flattened to dotted paths
(`items.0.sku`), and Django's ValidationError from the services turned into the same shape."""
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler

NON_FIELD = "non_field_errors"


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {NON_FIELD: exc.messages}
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, DataError):
        # The database refused a value the validation let through (a length or range limit): the input
        # is at fault, so it is a 400 like any other bad value.
        exc = exceptions.ValidationError({NON_FIELD: [_("A value is out of the range the database accepts.")]})
    if isinstance(exc, exceptions.ValidationError):
        exc.detail = flatten_errors(exc.detail)
    elif isinstance(exc, exceptions.ParseError):
        # A body that is not JSON is a 400 like the others: same shape, so clients parse one format.
        exc = exceptions.ValidationError({NON_FIELD: [exc.detail]})
    return drf_exception_handler(exc, context)


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
