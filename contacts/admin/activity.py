"""Site activity and the consent log: large, append-only tables, browsed by contact."""
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .. import services
from ..models import Activity, ConsentEvent
from ..paginator import EstimatedCountPaginator
from .base import ReadOnlyAdmin, ServiceErrorsMixin
from .contact import contact_link

ACTIVITY_FIELDS = ("contact", "anonymous_id", "type", "occurred_at", "product", "url", "properties", "event_id")


class BigTableAdmin(admin.ModelAdmin):
    """Millions of rows: no full count, no date drill-down, sorting only on indexed order."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    date_hierarchy = None
    ordering = ("-pk",)
    sortable_by = ()
    list_per_page = 50


@admin.register(Activity)
class ActivityAdmin(ServiceErrorsMixin, BigTableAdmin):
    list_display = ("occurred_at", "type", "who", "product", "url")
    list_select_related = ("contact", "product")
    list_filter = ("type",)
    search_fields = ("=anonymous_id", "=contact__email")
    search_help_text = _("An anonymous id or the contact's email, exactly.")
    raw_id_fields = ("contact", "product")
    fields = ACTIVITY_FIELDS

    @admin.display(description=_("contact"))
    def who(self, activity: Activity) -> str:
        return contact_link(activity.contact) if activity.contact_id else activity.anonymous_id or "—"

    def get_readonly_fields(self, request, obj=None):
        """Recorded events are facts; a new one goes through the same service as the API."""
        return ACTIVITY_FIELDS if obj else ()

    def save_model(self, request, obj, form, change):
        data = {
            "contact": obj.contact_id, "anonymous_id": obj.anonymous_id, "event_id": obj.event_id,
            "type": obj.type, "occurred_at": obj.occurred_at, "product": obj.product.sku if obj.product else None,
            "url": obj.url, "properties": obj.properties,
        }
        obj.pk = services.activity_track(data=data)[0].pk
        obj._state.adding = False


@admin.register(ConsentEvent)
class ConsentEventAdmin(ReadOnlyAdmin, BigTableAdmin):
    list_display = ("occurred_at", "who", "channel", "granted", "source")
    list_select_related = ("contact",)
    list_filter = ("channel", "granted")
    search_fields = ("=contact__email",)
    search_help_text = _("The contact's email, exactly.")
    raw_id_fields = ("contact",)

    @admin.display(description=_("contact"))
    def who(self, event: ConsentEvent) -> str:
        return contact_link(event.contact)
