"""The attributed purchases in the back office, read-only: what a campaign report's revenue numbers link to.

Rows are written by `attribution.attribute` only (at ingestion, after merges, by `recompute_attribution`), so
nobody adds, changes or deletes one here. The campaign report links here filtered by its campaign
(`?campaign__id__exact=…`, and `&channel__exact=in_store` for the in-store part)."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from contacts.paginator import EstimatedCountPaginator

from ..models import Campaign
from .models import Attribution


@admin.register(Attribution)
class AttributionAdmin(admin.ModelAdmin):
    list_display = ("purchased_at", "purchase_link", "contact_link", "total", "channel", "campaign_link", "touch")
    list_filter = (("campaign", admin.RelatedOnlyFieldListFilter), "touch", "channel")
    list_select_related = ("contact", "campaign")
    search_fields = ("=purchase__external_id", "=contact__email")
    search_help_text = _("An order number (external id) or the buyer's email, exactly.")
    sortable_by = ("purchased_at", "total")
    ordering = ("-purchased_at", "-pk")
    paginator = EstimatedCountPaginator
    show_full_result_count = False

    @admin.display(description=_("purchase"))
    def purchase_link(self, row: Attribution) -> str:
        url = reverse("admin:contacts_purchase_change", args=[row.purchase_id])
        return format_html('<a href="{}">#{}</a>', url, row.purchase_id)

    @admin.display(description=_("contact"))
    def contact_link(self, row: Attribution) -> str:
        url = reverse("admin:contacts_contact_change", args=[row.contact_id])
        return format_html('<a href="{}">{}</a>', url, row.contact)

    @admin.display(description=_("campaign"))
    def campaign_link(self, row: Attribution) -> str:
        if row.campaign.kind != Campaign.Kind.BROADCAST:
            return str(row.campaign)
        url = reverse("admin:campaigns_campaign_report", args=[row.campaign_id])
        return format_html('<a href="{}">{}</a>', url, row.campaign)

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.opts.concrete_fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
