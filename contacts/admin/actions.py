"""Bulk actions on selected contacts; each one is a single service call.

The apps above contacts add their own actions to the contacts list through `register_contact_action`
(from their `AppConfig.ready()`), each with the permission check it needs:

    register_contact_action(add_to_static_list, allowed=lambda request: request.user.has_perm(...))
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .. import services
from ..models import ConsentEvent
from .forms import AddTagForm


@dataclass(frozen=True)
class ContactAction:
    func: Callable
    allowed: Callable[[HttpRequest], bool]


_registered: dict[str, ContactAction] = {}


def register_contact_action(func: Callable, *, allowed: Callable[[HttpRequest], bool]) -> Callable:
    """Offer `func` (an admin action) on the contacts list to whoever `allowed(request)` admits."""
    _registered[func.__name__] = ContactAction(func=func, allowed=allowed)
    return func


def registered_actions(request: HttpRequest) -> list[Callable]:
    """The registered actions this request's user may run, in registration order."""
    return [action.func for action in _registered.values() if action.allowed(request)]


def intermediate_page(modeladmin, request, queryset, template: str, title: str, **context) -> TemplateResponse:
    """A confirmation page that posts the same selection back to the same action."""
    return TemplateResponse(
        request,
        template,
        {
            **modeladmin.admin_site.each_context(request),
            "title": title,
            "opts": modeladmin.opts,
            "queryset": queryset[:20],
            "count": None
            if request.POST.get("select_across") == "1"
            else len(request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)),
            "action": request.POST.get("action"),
            "select_across": request.POST.get("select_across", "0"),
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            **context,
        },
    )


def _source(request) -> str:
    return f"admin:{request.user.get_username()}"


@admin.action(description=gettext_lazy("Add a tag to the selected contacts"), permissions=["change"])
def add_tag(modeladmin, request, queryset):
    form = AddTagForm(request.POST if "apply" in request.POST else None)
    if form.is_valid():
        added = services.contacts_add_tag(contact_ids=queryset, name=form.cleaned_data["name"])
        modeladmin.message_user(
            request,
            _("Tag “%(tag)s” added to %(count)d contacts.") % {"tag": form.cleaned_data["name"], "count": added},
            messages.SUCCESS,
        )
        return None
    return intermediate_page(
        modeladmin, request, queryset, "admin/contacts/contact/add_tag.html", _("Add a tag"), form=form
    )


@admin.action(description=gettext_lazy("Revoke email consent of the selected contacts"), permissions=["change"])
def revoke_email_consent(modeladmin, request, queryset):
    revoked = services.contacts_revoke_consent(
        contact_ids=queryset, channel=ConsentEvent.ConsentChannel.EMAIL, source=_source(request)
    )
    modeladmin.message_user(
        request, _("Email consent revoked for %(count)d contacts.") % {"count": revoked}, messages.SUCCESS
    )


@admin.action(description=gettext_lazy("Erase the selected contacts (anonymize)"), permissions=["erase"])
def erase_contacts(modeladmin, request, queryset):
    if request.POST.get("confirm") == "yes":
        erased = services.contacts_erase(contact_ids=queryset)
        modeladmin.message_user(request, _("%(count)d contacts erased.") % {"count": erased}, messages.SUCCESS)
        return None
    return intermediate_page(
        modeladmin, request, queryset, "admin/contacts/contact/erase_confirmation.html", _("Erase contacts")
    )
