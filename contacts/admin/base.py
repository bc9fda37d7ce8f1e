"""Building blocks shared by the back-office admins."""

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.forms.models import BaseInlineFormSet
from django.utils.translation import gettext as _
from import_export.admin import ImportExportMixin
from import_export.formats.base_formats import CSV

from crm.permissions import EXPORT_CONTACT

from .uploads import ImportUploadStorage, LimitedImportForm, discard_stale_uploads, discard_upload, uploaded_name

SERVICE_ERRORS = "_service_errors"

if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin[Any]  # what the mixins below are mixed into
else:
    _ModelAdmin = object


def add_service_errors(form, error: ValidationError, renamed: dict | None = None) -> None:
    """Put a service's ValidationError on the form, on the field it names when the form has it.

    `renamed` maps a service argument to the form field that feeds it (delta → points_delta).
    """
    errors = error.message_dict if hasattr(error, "error_dict") else {NON_FIELD_ERRORS: error.messages}
    for field, field_messages in errors.items():
        field = (renamed or {}).get(field, field)
        if field in form.fields:
            form.add_error(field, field_messages)
        elif field == NON_FIELD_ERRORS:
            form.add_error(None, field_messages)
        else:
            form.add_error(None, [f"{field}: {message}" for message in field_messages])


class ServiceErrorsMixin(_ModelAdmin):
    """Saves go through services; when a service refuses, its errors land on the form.

    `save_model` runs after the form is valid, too late to add errors. So a ValidationError from a
    service rolls back the change view's transaction and the view runs again with the errors
    attached: the form comes back invalid, nothing is written, each message next to its field.
    """

    service_error_fields: dict[str, str] = {}

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as error:
            if request.method != "POST" or hasattr(request, SERVICE_ERRORS):
                raise
            setattr(request, SERVICE_ERRORS, error)
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change, **kwargs)
        error = getattr(request, SERVICE_ERRORS, None)
        if error is None:
            return form_class
        return _with_service_errors(form_class, error, self.service_error_fields)


def _with_service_errors(
    form_class: type[forms.ModelForm], error: ValidationError, renamed: dict[str, str]
) -> type[forms.ModelForm]:
    """The admin's form class, with the service's errors added when it is cleaned."""

    class ServiceErrorsForm(form_class):  # type: ignore[valid-type,misc]  # a subclass of the admin's form
        def clean(self):
            cleaned = super().clean()
            add_service_errors(self, error, renamed)
            return cleaned

    return ServiceErrorsForm


class LatestRowsFormSet(BaseInlineFormSet):
    """An inline that shows only the newest rows, so a long history never loads whole."""

    limit = 10
    newest_first: tuple[str, ...] = ("-pk",)

    def get_queryset(self):
        if not hasattr(self, "_queryset"):
            assert self.queryset is not None  # BaseInlineFormSet always sets it (the owner's rows)
            self._queryset = self.queryset.order_by(*self.newest_first)[: self.limit]
        return self._queryset


class ReadOnlyInline:
    """History shown beside its owner; it is written by services, never edited inline."""

    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records that are append-only by design (logs, membership history): browse, never edit, never delete one
    by one. They go only with what they belong to (see `RemovesItsHistoryMixin`)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class RemovesItsHistoryMixin(_ModelAdmin):
    """For the owner of append-only history (a contact, a segment): deleting it removes that history with it.

    Django's delete page asks for the delete permission of every related row it would cascade to, and the
    history admins (`ReadOnlyAdmin`) refuse it to everyone, so the owner could never be deleted. The history
    belongs to its owner: whoever may delete the owner removes it; any other related rows still need their
    own permission."""

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        history = {
            str(model._meta.verbose_name)
            for model, model_admin in self.admin_site._registry.items()
            if isinstance(model_admin, ReadOnlyAdmin)
        }
        return deleted, counts, {name for name in perms_needed if str(name) not in history}, protected


class CsvImportExportMixin(ImportExportMixin):
    """CSV import with a dry-run preview that keeps good rows; CSV export of the filtered list.

    Exports carry personal data out of the system, so they take the explicit "Can export contacts and
    purchases as CSV" permission on top of viewing the list.

    django-import-export refuses to confirm an import while any row is invalid. Staff asked for the
    opposite: see the bad lines with their reasons, and import the good ones anyway. So the confirm
    button is offered whenever the dry run had no hard (non-validation) error; invalid rows are
    skipped on the real run and reported again.
    """

    import_template_name = "admin/contacts/import.html"
    formats = [CSV]
    import_form_class = LimitedImportForm
    tmp_storage_class = ImportUploadStorage

    def has_import_permission(self, request):
        return request.user.has_perm(f"{self.opts.app_label}.add_{self.opts.model_name}")

    def has_export_permission(self, request):
        return self.has_view_permission(request) and request.user.has_perm(EXPORT_CONTACT)

    def import_action(self, request, **kwargs):
        if request.method == "POST":
            discard_stale_uploads()
        response = super().import_action(request, **kwargs)
        context = getattr(response, "context_data", None) or {}
        result = context.get("result")
        if result is not None:
            context["invalid_lines"] = invalid_lines(result)
        if result is not None and not result.has_errors() and result.has_validation_errors():
            context["confirm_form"] = self.create_confirm_form(request, import_form=context["form"])
            context["skips_invalid_rows"] = True
        if "confirm_form" not in context:
            discard_upload(uploaded_name(request))
        return response

    def process_import(self, request, **kwargs):
        """The confirmed import; its uploaded file is deleted whatever the outcome."""
        try:
            return super().process_import(request, **kwargs)
        finally:
            discard_upload(request.POST.get("import_file_name"))

    def add_success_message(self, result, request):
        super().add_success_message(result, request)
        if result.has_validation_errors():
            messages.warning(request, invalid_rows_message(result))


def invalid_lines(result) -> list[tuple[int, str, list]]:
    """(line in the file, column or "", messages) per problem, for the dry-run page.

    Built here because a template cannot loop over `error_dict.items` when a column is itself
    named "items" (purchases): the lookup finds that column's messages instead of the method.
    """
    return [
        (row.number + 1, "" if field == NON_FIELD_ERRORS else field, messages)
        for row in result.invalid_rows
        for field, messages in row.error_dict.items()
    ]


def invalid_rows_message(result) -> str:
    """ "Line 3 — email: “x” is not a valid email address." for each skipped row (header = line 1)."""
    lines = []
    for row in result.invalid_rows:
        reasons = "; ".join(
            f"{field}: {' '.join(map(str, msgs))}" if field != NON_FIELD_ERRORS else " ".join(map(str, msgs))
            for field, msgs in row.error_dict.items()
        )
        lines.append(_("Line %(line)d — %(reasons)s") % {"line": row.number + 1, "reasons": reasons})
    return _("%(count)d invalid rows were not imported: %(lines)s") % {"count": len(lines), "lines": " | ".join(lines)}
