"""JSON bodies with a nesting limit: a deeply nested document is a 400, not a stack overflow."""

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's parser, refusing documents nested deeper than API_MAX_JSON_DEPTH.

    The standard decoder recurses per level and fails with RecursionError (a 500) near a thousand
    levels; what parses under that limit would still overflow the code walking it afterwards.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise self._too_deep() from None
        if depth_exceeds(data, settings.API_MAX_JSON_DEPTH):
            raise self._too_deep()
        return data

    @staticmethod
    def _too_deep() -> ParseError:
        return ParseError(
            _("JSON parse error - nested deeper than %(depth)d levels.") % {"depth": settings.API_MAX_JSON_DEPTH},
            code="too_deep",
        )


def depth_exceeds(data, limit: int) -> bool:
    """Whether lists/objects nest more than `limit` levels (iterative, so any depth is safe to check). Only
    containers are stacked: a thousand purchases hold ~27,000 values and ~5,000 containers."""
    if not isinstance(data, dict | list):
        return False
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        children: Iterable[Any] = value.values() if isinstance(value, dict) else value
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False
