"""Merging duplicates in the back office: the action on two selected contacts, the side-by-side
confirmation, and the list of likely duplicates. Staff need the "merge contacts" permission."""

from typing import TYPE_CHECKING, Any, cast

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Field
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.permissions import MERGE_CONTACT

from .. import services
from ..duplicates import KINDS, duplicate_groups
from ..models import Contact

COMPARED_FIELDS = (
    "email",
    "phone",
    "external_id",
    "first_name",
    "last_name",
    "gender",
    "birth_date",
    "wedding_date",
    "city",
    "region",
    "country",
    "language",
    "source",
    "signed_up_at",
    "attributes",
    "email_opt_in",
    "sms_opt_in",
    "email_status",
    "purchase_count",
    "total_spent",
    "created_at",
)


def merge_url(survivor_id: int, duplicate_id: int) -> str:
    return (
        reverse("admin:contacts_contact_merge") + "?" + urlencode({"survivor": survivor_id, "duplicate": duplicate_id})
    )


def _require_permission(request) -> None:
    if not request.user.has_perm(MERGE_CONTACT):
        raise PermissionDenied


@admin.action(description=gettext_lazy("Merge the two selected contacts"), permissions=["change"])
def merge_contacts(modeladmin, request, queryset):
    _require_permission(request)
    ids = list(queryset.order_by("pk").values_list("pk", flat=True)[:3])
    if len(ids) != 2:
        modeladmin.message_user(request, _("Select exactly two contacts to merge."), messages.WARNING)
        return None
    return HttpResponseRedirect(merge_url(ids[0], ids[1]))


if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin[Any]  # what the mixin is mixed into
else:
    _ModelAdmin = object


class MergeAdminMixin(_ModelAdmin):
    """Adds /admin/contacts/contact/merge/ and /admin/contacts/contact/duplicates/ to the contact admin."""

    def get_urls(self):
        extra = [
            path("merge/", self.admin_site.admin_view(self.merge_view), name="contacts_contact_merge"),
            path("duplicates/", self.admin_site.admin_view(self.duplicates_view), name="contacts_contact_duplicates"),
        ]
        return extra + super().get_urls()

    def merge_view(self, request):
        """Side-by-side comparison, then the merge itself on confirmation: one view so the page that asked is
        the page that answers (errors are shown next to the same comparison)."""
        _require_permission(request)
        survivor = get_object_or_404(Contact, pk=_int(request.GET.get("survivor") or request.POST.get("survivor")))
        duplicate = get_object_or_404(Contact, pk=_int(request.GET.get("duplicate") or request.POST.get("duplicate")))
        error = None
        if request.method == "POST" and request.POST.get("confirm") == "yes":
            try:
                services.contact_merge(
                    target=survivor, source=duplicate, merged_by=f"admin:{request.user.get_username()}"
                )
            except ValidationError as exc:
                error = " ".join(exc.messages)
            else:
                self.message_user(
                    request,
                    _("Contact #%(dup)d was merged into #%(id)d.") % {"dup": duplicate.pk, "id": survivor.pk},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:contacts_contact_change", args=[survivor.pk]))
        rows = [
            (cast(Field, Contact._meta.get_field(f)).verbose_name, getattr(survivor, f), getattr(duplicate, f))
            for f in COMPARED_FIELDS
        ]  # all concrete fields
        rows.append(
            (
                _("tags"),
                ", ".join(survivor.tags.values_list("name", flat=True)),
                ", ".join(duplicate.tags.values_list("name", flat=True)),
            )
        )
        return TemplateResponse(
            request,
            "admin/contacts/contact/merge_confirmation.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": _("Merge contacts"),
                "survivor": survivor,
                "duplicate": duplicate,
                "rows": rows,
                "error": error,
                "swap_url": merge_url(duplicate.pk, survivor.pk),
            },
        )

    def duplicates_view(self, request):
        _require_permission(request)
        kind = request.GET.get("kind") if request.GET.get("kind") in KINDS else "phone"
        page, groups = duplicate_groups(kind=kind, page=_int(request.GET.get("page")) or 1)
        return TemplateResponse(
            request,
            "admin/contacts/contact/duplicates.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": _("Likely duplicates"),
                "kind": kind,
                "kinds": [(k, label) for k, (label, *_rest) in KINDS.items()],
                "page": page,
                "groups": [
                    [(c, merge_url(group[0].pk, c.pk) if i else None) for i, c in enumerate(group)] for group in groups
                ],
            },
        )


def _int(value) -> int | None:
    text = str(value or "")
    return int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None
