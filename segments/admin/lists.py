"""Static lists from the back office: upload a file of contacts, add a contacts-list selection, export."""

import csv
import io

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpRequest, StreamingHttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contacts.admin.actions import intermediate_page
from contacts.models import Contact
from contacts.normalize import email as normalize_email

from .. import export, services
from ..models import Segment
from .forms import AddToListForm


def export_response(segment: Segment, fmt: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(export.export_rows(segment, fmt), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{export.export_filename(segment, fmt)}"'
    return response


def static_upload(segment: Segment, upload) -> tuple[int, list[str]]:
    """Read ids, emails or phones from the first column (a header row is skipped); report misses by line."""
    text = io.TextIOWrapper(upload.file, encoding="utf-8-sig", errors="replace")
    ids, problems, added = [], [], 0
    for line_no, row in enumerate(csv.reader(text), start=1):
        value = (row[0] if row else "").strip()
        if not value or (line_no == 1 and value.lower() in ("id", "email", "phone", "contact")):
            continue
        found = _find_contact(value)
        if found is None:
            problems.append(_("Line %(line)d: no contact matches “%(value)s”.") % {"line": line_no, "value": value})
        else:
            ids.append(found)
        if len(ids) >= 5000:
            added += services.static_add(segment=segment, contact_ids=ids)
            ids = []
    if ids:
        added += services.static_add(segment=segment, contact_ids=ids)
    return added, problems


def _find_contact(value: str) -> int | None:
    from contacts.normalize import phone as normalize_phone

    lookup = Q(pk=int(value)) if value.isdigit() and len(value) < 10 else Q(pk__in=[])
    try:
        lookup |= Q(email=normalize_email(value))
    except ValidationError:
        pass
    try:
        lookup |= Q(phone=normalize_phone(value))
    except ValidationError:
        pass
    return Contact.objects.filter(lookup, erased_at__isnull=True).values_list("pk", flat=True).first()


@admin.action(description=gettext_lazy("Add the selected contacts to a static list"))
def add_to_static_list(modeladmin, request, queryset):
    """Contacts changelist action: the selection (or every match of the filters) joins a static list.
    Offered on the contacts list by SegmentsConfig.ready, to those who `may_fill_lists`."""
    form = AddToListForm(request.POST if "apply" in request.POST else None)
    if form.is_valid():
        segment = form.cleaned_data["segment"] or services.segment_create(
            name=form.cleaned_data["new_name"], kind=Segment.Kind.STATIC, created_by=request.user
        )
        added = services.static_add_queryset(segment=segment, contacts=queryset)
        modeladmin.message_user(
            request,
            _("%(count)d contacts added to “%(name)s”.") % {"count": added, "name": segment.name},
            messages.SUCCESS,
        )
        return None
    return intermediate_page(
        modeladmin, request, queryset, "admin/segments/segment/add_to_list.html", _("Add to a static list"), form=form
    )


def may_fill_lists(request: HttpRequest) -> bool:
    """Filling a list changes the segment, so it takes the segments change permission."""
    return request.user.has_perm("segments.change_segment")
