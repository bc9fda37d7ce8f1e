from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination

from .filtering import UnsafeValue, checked_value

INVALID_CURSOR = _("Invalid cursor: use the next or previous link of a page as it is.")


class IdCursorPagination(CursorPagination):
    """Keyset pagination on the primary key: constant cost per page whatever the table size.

    A cursor is client input: one that does not decode, or whose position is not a value of the
    ordering field the database can compare, is a 400 before any query runs.
    """

    ordering = "-id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000

    def paginate_queryset(self, queryset, request, view=None):
        self._model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request) -> Cursor | None:
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise self._invalid() from None
        if cursor is None or cursor.position is None:
            return cursor
        return cursor._replace(position=self._checked_position(cursor.position))

    def _checked_position(self, position: str) -> str:
        try:
            field = self._model._meta.get_field(self.ordering[0].lstrip("-"))
        except FieldDoesNotExist:
            field = None
        try:
            value = checked_value(field.to_python(position) if field else position)
        except (DjangoValidationError, UnsafeValue, ValueError, TypeError, OverflowError):
            raise self._invalid() from None
        if isinstance(field, models.AutoField | models.IntegerField) and value is None:
            raise self._invalid()
        return value.isoformat() if hasattr(value, "isoformat") else str(value)

    @staticmethod
    def _invalid() -> ValidationError:
        return ValidationError({"cursor": [INVALID_CURSOR]}, code="invalid_cursor")
