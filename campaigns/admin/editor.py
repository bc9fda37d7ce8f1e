"""The mail editor's parts: the code editor widget, the live preview of what is being typed, the block
builder and the ready mails.

The code editor is Ace, served from the django-ace package's static files (nothing from another
host). The live preview renders the form's unsaved fields through the same service as every preview
(`template_draft_preview`), as one contact: the one already shown, or a random member of the segment
picked (only for staff who may see contacts and segments). Its answer is JSON whose mail HTML the
page shows in a sandboxed frame without scripts.
"""

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contacts.models import Contact
from segments.models import Segment

from .. import services
from ..blocks import BlocksForm, blocks_html
from ..models import TEMPLATE_FIELDS, EmailTemplate
from ..preview_contacts import random_member
from .forms import EmailTemplateForm
from .preview import sample_contact


class LivePreviewForm(forms.Form):
    """Whom to preview as: a contact by id (the one already shown) or a random member of a segment."""

    contact = forms.IntegerField(required=False, min_value=1)
    segment = forms.ModelChoiceField(queryset=Segment.objects.all(), required=False)
    another = forms.BooleanField(required=False)


def segment_label(segment: Segment) -> str:
    """A segment as the pickers list it: its name and its size as last counted (stored, not counted now)."""
    return _("%(name)s (%(count)s)") % {"name": segment.name, "count": f"{segment.member_count:,}"}


def _errors(errors: dict) -> JsonResponse:
    return JsonResponse(
        {"errors": {field: [str(m) for m in messages] for field, messages in errors.items()}}, status=400
    )


def _may_pick_members(request: HttpRequest) -> bool:
    return request.user.has_perm("contacts.view_contact") and request.user.has_perm("segments.view_segment")


def _preview_contact(request: HttpRequest, picked: dict) -> Contact | None:
    """The contact asked for, a random member of the segment for "another", else the sample contact."""
    segment = picked.get("segment")
    if (segment is not None or picked.get("contact")) and not _may_pick_members(request):
        raise PermissionDenied
    if segment is not None and (picked.get("another") or not picked.get("contact")):
        return random_member(segment=segment)
    if picked.get("contact"):
        return (
            Contact.objects.filter(pk=picked["contact"], erased_at__isnull=True)
            .exclude(email__isnull=True)
            .select_related("club")
            .first()
        )
    return sample_contact()


def live_preview(request: HttpRequest) -> JsonResponse:
    """The mail as typed, as one contact, with the variables that are empty for that contact."""
    form = EmailTemplateForm(request.POST)
    picker = LivePreviewForm(request.POST)
    if not picker.is_valid():
        return _errors(picker.errors)
    form.is_valid()  # a name left blank does not stop a preview; the parts of the mail are checked below
    fields = {name: form.cleaned_data.get(name, "") for name in TEMPLATE_FIELDS if name in form.cleaned_data}
    bad = {name: form.errors[name] for name in ("subject", "preheader", "html", "text") if name in form.errors}
    if bad:
        return _errors(bad)
    contact = _preview_contact(request, picker.cleaned_data)
    if contact is None:
        return JsonResponse(
            {"errors": {"contact": [_("There is nobody with an email address to preview as.")]}}, status=400
        )
    try:
        rendered, empty = services.template_draft_preview(template=EmailTemplate(**fields), contact=contact)
    except ValidationError as exc:
        return _errors(exc.message_dict if hasattr(exc, "error_dict") else {"html": exc.messages})
    return JsonResponse(
        {
            "subject": rendered.subject,
            "html": rendered.html,
            "contact": {"id": contact.pk, "name": contact.full_name, "email": contact.email},
            "warnings": [_warning(item) for item in empty],
        }
    )


def _warning(item: dict) -> str:
    if item["fallback"]:
        return _("%(variable)s is empty for this contact: the fallback is shown.") % item
    return _("%(variable)s is empty for this contact: the mail shows nothing there.") % item


def blocks(request: HttpRequest) -> JsonResponse:
    """The template HTML of the block builder's fields, on the default layout that carries the brand."""
    form = BlocksForm(request.POST, prefix="blocks")
    if not form.is_valid():
        return _errors({f"blocks-{name}": errors for name, errors in form.errors.items()})
    return JsonResponse({"html": blocks_html(data=form.cleaned_data), "layout": EmailTemplate.Layout.DEFAULT})


PREVIEW_WIDTHS = (("desktop", gettext_lazy("Desktop"), 640), ("mobile", gettext_lazy("Mobile"), 375))
