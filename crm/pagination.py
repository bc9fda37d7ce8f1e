from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request

from .filtering import UnsafeValue, checked_value

INVALID_CURSOR = _("Invalid cursor: use the next or previous link of a page as it is.")
CURSOR_DESCRIPTION = _(
    "An opaque position token: pass on the cursor of a page's next or previous link as it is. "
    "A value the API did not issue may be refused with a 400 (invalid_cursor)."
)
PAGE_SIZE_DESCRIPTION = _(
    "Results per page, at least 1 (default %(default)d; more than %(max)d gives %(max)d). "
    "Anything else is a 400; left empty, the default applies."
)


class IdCursorPagination(CursorPagination):
    """Keyset pagination on the primary key: constant cost per page whatever the table size.

    A cursor is client input: one that does not decode, or whose position is not a value of the
    ordering field the database can compare, is a 400 before any query runs. So is a page size that is
    not a whole number of at least 1: the schema publishes it as such, and silently serving the default
    page instead would hide the client's mistake.
    """

    ordering = "-id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000

    def paginate_queryset(self, queryset, request, view=None):
        self._model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param or "", "")
        if raw == "":
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            raise ValidationError({"page_size": [_("A valid integer is required.")]}, code="invalid") from None
        if size < 1:
            raise ValidationError(
                {
                    "page_size": [
                        _("Ensure this value is greater than or equal to %(limit_value)s.") % {"limit_value": 1}
                    ]
                },
                code="min_value",
            )
        return min(size, self.max_page_size)

    def get_schema_operation_parameters(self, view) -> list[dict]:
        """The cursor as the opaque token it is; the page size as what `get_page_size` takes."""
        cursor, page_size = super().get_schema_operation_parameters(view)
        cursor["description"] = str(CURSOR_DESCRIPTION)
        page_size.update(
            allowEmptyValue=True,
            schema={"type": "integer", "minimum": 1, "default": self.page_size},
            description=str(PAGE_SIZE_DESCRIPTION % {"default": self.page_size, "max": self.max_page_size}),
        )
        return [cursor, page_size]

    def decode_cursor(self, request) -> Cursor | None:
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise self._invalid() from None
        if cursor is None or cursor.position is None:
            return cursor
        # DRF decodes the position as the string it was encoded from; its stubs say int.
        return cursor._replace(position=self._checked_position(cursor.position))  # type: ignore[arg-type]

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
