"""Club members: membership is edited here, points only move through the ledger."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .. import services
from ..models import LoyaltyMember, PointsEntry
from ..paginator import EstimatedCountPaginator
from .base import LatestRowsFormSet, ReadOnlyInline, ServiceErrorsMixin
from .contact import contact_link
from .forms import PointsForm

MEMBER_FIELDS = ("card_number", "tier", "status", "joined_at", "home_store")


class LedgerFormSet(LatestRowsFormSet):
    limit = 50
    newest_first = ("-created_at", "-pk")


class PointsLedgerInline(ReadOnlyInline, admin.TabularInline):
    model = PointsEntry
    formset = LedgerFormSet
    fields = ("created_at", "delta", "balance_after", "reason", "reference")
    readonly_fields = fields
    show_change_link = False
    verbose_name_plural = _("points ledger (latest 50)")


@admin.register(LoyaltyMember)
class LoyaltyMemberAdmin(ServiceErrorsMixin, admin.ModelAdmin):
    form = PointsForm
    service_error_fields = {"delta": "points_delta", "reason": "points_reason"}
    list_display = ("card_number", "member_contact", "tier", "status", "points", "joined_at", "home_store")
    list_select_related = ("contact", "home_store")
    list_filter = ("tier", "status", "home_store")
    search_fields = ("=card_number", "=contact__email")
    search_help_text = _("A card number or the member's email, exactly.")
    raw_id_fields = ("contact",)
    readonly_fields = ("points",)
    sortable_by = ("joined_at", "points")
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    inlines = (PointsLedgerInline,)
    fieldsets = (
        (None, {"fields": ("contact",) + MEMBER_FIELDS}),
        (_("Points"), {"fields": ("points", "points_delta", "points_reason")}),
    )

    @admin.display(description=_("contact"))
    def member_contact(self, member: LoyaltyMember) -> str:
        return contact_link(member.contact)

    def get_readonly_fields(self, request, obj=None):
        return ("contact", "points") if obj else ("points",)

    def save_model(self, request, obj, form, change):
        if change:
            changed = {f: form.cleaned_data[f] for f in MEMBER_FIELDS if f in form.changed_data}
            stored = LoyaltyMember.objects.get(pk=obj.pk)
            services.member_update(member=stored, **changed)
        else:
            data = {f: form.cleaned_data.get(f) for f in MEMBER_FIELDS}
            obj.pk = services.member_create(contact=form.cleaned_data["contact"], **data).pk
        delta = form.cleaned_data.get("points_delta")
        if delta:
            services.points_adjust(
                member=LoyaltyMember.objects.get(pk=obj.pk), delta=delta, reason=form.cleaned_data["points_reason"]
            )
        obj.refresh_from_db()
        obj._state.adding = False
