"""What every app's partner API builds on: the shared view base and the documented error answers.

This module imports no app (the apps' `api` modules import it); the router that gathers their
views under /api/v1/ is assembled in `crm.api_urls`."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers, viewsets

from .parsers import JSONParser

ERROR_CODES = {
    "type": "object",
    "description": "Machine-readable codes parallel to the messages: the same keys, one code per message "
    "(e.g. required, invalid, invalid_choice, unique, out_of_range, invalid_cursor).",
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
}
FIELD_ERRORS = {
    "type": "object",
    "description": "Field name (dotted for nested or per-item fields, e.g. items.0.sku) → messages, plus "
    "`error_codes` with a code for each message.",
    "properties": {"error_codes": ERROR_CODES},
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
    "example": {"email": ["“not-an-email” is not a valid email address."], "error_codes": {"email": ["invalid"]}},
}
DETAIL = {
    "type": "object",
    "properties": {
        "detail": {"type": "string"},
        "code": {
            "type": "string",
            "description": "Machine-readable: not_authenticated, authentication_failed, "
            "permission_denied, not_found, throttled, …",
        },
    },
    "required": ["detail"],
}
ERROR_RESPONSES = {
    "400": (FIELD_ERRORS, _("Invalid input: every bad field is named.")),
    "401": (DETAIL, _("Missing, invalid or revoked API key.")),
    "403": (DETAIL, _("The key lacks the scope, or the staff user's role the permission, this operation needs.")),
    "404": (DETAIL, _("No such object.")),
    "429": (DETAIL, _("Too many requests for this key: retry after the Retry-After header's seconds.")),
}


# "Not only white space" as a pattern, spelled out so that every regex dialect reads it the same: the
# characters Python's str.strip() removes (ECMA-262's \s lacks \x1c-\x1f and \x85, and adds \ufeff).
NOT_BLANK_PATTERN = r"[^\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"

ID_ONLY = {
    "type": "object",
    "properties": {"id": {"type": "integer", "readOnly": True}},
    "required": ["id"],
    "description": "What a caller without `contacts:read` gets back: only the id of what it wrote.",
}


def object_or_id(component: str) -> dict:
    """Response schema of a write: the stored object for callers who may read contacts, else only its id."""
    return {"anyOf": [{"$ref": f"#/components/schemas/{component}"}, ID_ONLY]}


class ApiAutoSchema(AutoSchema):
    """Documents the error answers every operation can give, so clients and tests know their shape, and
    says of text that must not be blank what the validator means by it."""

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if (
            direction == "request"
            and isinstance(field, serializers.CharField)
            and field.trim_whitespace
            and not field.allow_blank
            and schema.get("type") == "string"
            and "pattern" not in schema
            and "enum" not in schema
        ):
            # The value is stripped before the blank check, so " " or "\x1d" alone is blank: it must hold
            # one character that is not white space.
            schema["pattern"] = NOT_BLANK_PATTERN
        return schema

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code, (schema, description) in ERROR_RESPONSES.items():
            if code == "404" and "{" not in self.path and self.method != "GET":
                continue
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    OpenApiResponse(response=schema, description=description), code, direction=direction
                )
        return responses


class ApiViewSet(viewsets.GenericViewSet):
    """Base of every partner API view: JSON in, JSON out, scopes checked by crm.permissions.HasScope."""

    schema = ApiAutoSchema()
    parser_classes = [JSONParser]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
