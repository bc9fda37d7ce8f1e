"""The contacts back office: find a person fast among a million, see their history, act on many."""

from django.contrib import admin
from django.contrib.admin.options import IS_POPUP_VAR
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.functional import Promise
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from crm.permissions import ERASE_CONTACT, MERGE_CONTACT

from .. import hooks, selectors, services
from ..lifecycle import with_lifecycle
from ..models import Contact
from ..paginator import EstimatedCountPaginator
from ..resources import ContactResource
from . import actions, profile
from .base import CsvImportExportMixin, RemovesItsHistoryMixin, ServiceErrorsMixin
from .filters import CityFilter, LifecycleFilter, RegionFilter
from .forms import ContactAdminForm
from .merge import MergeAdminMixin, merge_contacts

VALUE_FIELDS = (  # summed up in the profile header; shown one by one, folded, under the form
    "funnel_stage",
    "lifecycle_now",
    "purchase_count",
    "total_spent",
    "first_purchase_at",
    "last_purchase_at",
    "rfm_recency",
    "rfm_frequency",
    "rfm_monetary",
)
DERIVED_FIELDS = (
    "email_status",
    *VALUE_FIELDS,
    "referred_by",
    "erased_at",
    "created_at",
    "updated_at",
)


@admin.register(Contact)
class ContactAdmin(MergeAdminMixin, RemovesItsHistoryMixin, ServiceErrorsMixin, CsvImportExportMixin, admin.ModelAdmin):
    form = ContactAdminForm
    resource_classes = [ContactResource]
    change_form_template = "admin/contacts/contact/change_form.html"
    change_list_template = "admin/contacts/contact/change_list.html"
    list_display = (
        "display_name",
        "email",
        "phone",
        "city",
        "funnel_stage",
        "lifecycle_now",
        "club_tier",
        "email_opt_in",
        "email_status",
        "created_at",
    )
    list_select_related = ("club",)
    list_filter = (
        "funnel_stage",
        LifecycleFilter,
        "club__tier",
        RegionFilter,
        CityFilter,
        "source",
        "email_opt_in",
        "email_status",
        "tags",
    )
    search_fields = ("first_name", "last_name", "email", "phone", "club__card_number")
    search_help_text = _("An email, a phone number, a club card number, or the start of a first or last name.")
    sortable_by = ("created_at",)
    ordering = ("-pk",)
    list_per_page = 50
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    autocomplete_fields = ("tags",)
    readonly_fields = (*DERIVED_FIELDS, "mail_frequency")  # set by the contact, in the preference centre
    save_on_top = True
    actions = (actions.add_tag, actions.revoke_email_consent, actions.erase_contacts, merge_contacts)
    fieldsets = (
        (None, {"fields": ("email", "phone", "external_id", "first_name", "last_name")}),
        (
            _("Profile"),
            {
                "fields": (
                    "gender",
                    "birth_date",
                    "wedding_date",
                    "marital_status",
                    "city",
                    "region",
                    "country",
                    "language",
                )
            },
        ),
        (_("Where they signed up"), {"fields": ("source", "source_detail", "signed_up_at", "referred_by")}),
        (_("Consent"), {"fields": ("email_opt_in", "sms_opt_in", "consent_text", "email_status", "mail_frequency")}),
        (_("Tags and custom fields"), {"fields": ("tags", "attributes")}),
        (_("Purchases and scores"), {"classes": ("collapse",), "fields": VALUE_FIELDS}),
        (_("Record"), {"fields": ("erased_at", "created_at", "updated_at")}),
    )

    @admin.display(description=_("name"))
    def display_name(self, contact: Contact) -> str | Promise:
        return contact.full_name or (_("(erased)") if contact.erased_at else "—")

    @admin.display(description=_("lifecycle"))
    def lifecycle_now(self, contact: Contact) -> str:
        return contact.get_lifecycle_display() or "—"

    def get_queryset(self, request):
        return with_lifecycle(super().get_queryset(request))

    @admin.display(description=_("club tier"))
    def club_tier(self, contact: Contact) -> str:
        member = getattr(contact, "club", None)
        return member.get_tier_display() if member else "—"

    def get_search_results(self, request, queryset, search_term):
        """Exact matches on the normalized keys, name prefixes otherwise (see selectors)."""
        q = selectors.contact_search_q(search_term)
        return (queryset.filter(q), False) if q != Q() else (queryset, False)

    def has_erase_permission(self, request) -> bool:
        """Erasing is irreversible, so it takes its own permission on top of changing contacts."""
        return self.has_change_permission(request) and request.user.has_perm(ERASE_CONTACT)

    def has_merge_permission(self, request) -> bool:
        """For merge actions (`permissions=["merge"]`): merging folds one person into another for good."""
        return self.has_change_permission(request) and request.user.has_perm(MERGE_CONTACT)

    def get_actions(self, request):
        found = super().get_actions(request)
        found.pop("delete_selected", None)  # people leave through erase, which keeps the aggregates
        if IS_POPUP_VAR not in request.GET:  # the apps above contacts add theirs (see actions.py)
            for entry in map(self.get_action, actions.registered_actions(request)):
                if entry is not None:  # never for a callable; the stubs cannot tell
                    found[entry[1]] = entry
        return found

    def get_export_queryset(self, request):
        return with_lifecycle(super().get_export_queryset(request).select_related("club").prefetch_related("tags"))

    def get_list_filter(self, request):
        """The contacts list's own filters, then those the apps above add (the segment a contact is in)."""
        return (*super().get_list_filter(request), *hooks.contact_list_filters())

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), **self.profile_context(request, object_id)}
        return super().change_view(request, object_id, form_url, extra_context)

    def profile_context(self, request, object_id) -> dict:
        """The summary header, the tabs and the timeline of an existing contact's page."""
        contact = Contact.objects.filter(pk=object_id).first() if str(object_id).isdigit() else None
        if contact is None:
            return {}
        header = profile.header_context(contact)
        entries = selectors.contact_timeline(contact=contact)
        return {
            "profile": header,
            "tabs": profile.tabs_context(request, contact.pk, header["club"]),
            "may_erase": self.has_erase_permission(request) and contact.erased_at is None,
            "timeline": [(entry, selectors.describe_timeline_entry(entry)) for entry in entries],
            "timeline_limit": selectors.TIMELINE_LIMIT,
            "activity_url": profile.filtered("contacts_activity_changelist", contact.pk),
            "purchases_url": profile.filtered("contacts_purchase_changelist", contact.pk),
            "consent_url": profile.filtered("contacts_consentevent_changelist", contact.pk),
        }

    def get_urls(self):
        erase = path(
            "<int:object_id>/erase/", self.admin_site.admin_view(self.erase_view), name="contacts_contact_erase"
        )
        return [erase, *super().get_urls()]

    def erase_view(self, request, object_id: int):
        """The profile's "Erase…": the erase action's own confirmation and work, for this one contact."""
        if not self.has_erase_permission(request):
            raise PermissionDenied
        contact = get_object_or_404(Contact, pk=object_id, erased_at__isnull=True)
        chosen = Contact.objects.filter(pk=contact.pk)
        if request.method == "POST":
            actions.erase_contacts(self, request, chosen)
            return redirect("admin:contacts_contact_change", contact.pk)
        return actions.intermediate_page(
            self,
            request,
            chosen,
            "admin/contacts/contact/erase_confirmation.html",
            str(_("Erase contacts")),
            count=1,
            selected=[str(contact.pk)],
            action="erase_contacts",
        )

    def response_change(self, request, obj):
        """ "Save and continue editing" comes back to the form's tab, not the timeline."""
        response = super().response_change(request, obj)
        if "_continue" in request.POST and response.status_code == 302:
            response["Location"] += "#edit"
        return response

    def delete_model(self, request, obj):
        """Only for those who may delete contacts (nobody's role does by default: people leave through erase)."""
        services.contact_delete(contact=obj)

    def save_model(self, request, obj, form, change):
        data = form.service_data(change=change)
        if change:
            stored = Contact.objects.get(pk=obj.pk)  # `obj` already holds the new values; compare to stored
            services.contact_update(contact=stored, origin="admin", **data)
        else:
            obj.pk = services.contact_create(origin="admin", **data).pk
        obj.refresh_from_db()
        obj._state.adding = False

    def save_related(self, request, form, formsets, change):
        """Tags were saved by the service, and the page has no inlines."""


def contact_link(contact: Contact | None) -> str:
    if contact is None:
        return "—"
    url = reverse("admin:contacts_contact_change", args=[contact.pk])
    return format_html('<a href="{}">{}</a>', url, contact)
