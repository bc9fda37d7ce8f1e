"""Site activity and the consent log: large, append-only tables, browsed by contact."""

from typing import Any

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .. import services
from ..models import Activity, ConsentEvent
from ..paginator import EstimatedCountPaginator
from .base import ReadOnlyAdmin, ServiceErrorsMixin
from .contact import contact_link

TEXT_EXCERPT = 80
ACTIVITY_FIELDS = ("contact", "anonymous_id", "type", "occurred_at", "product", "url", "properties", "event_id")


class BigTableAdmin(admin.ModelAdmin):
    """Millions of rows: no full count, no date drill-down, sorting only on indexed order."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    date_hierarchy = None
    ordering = ("-pk",)
    sortable_by = ()
    list_per_page = 50


class ActivityForm(forms.ModelForm):
    """An event belongs to a contact or to an anonymous visitor, as in the API."""

    class Meta:
        model = Activity
        fields = ACTIVITY_FIELDS

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if not cleaned.get("contact") and not (cleaned.get("anonymous_id") or "").strip():
            self.add_error("contact", _("Give a contact id, email or anonymous_id."))
        return cleaned


@admin.register(Activity)
class ActivityAdmin(ServiceErrorsMixin, BigTableAdmin):
    form = ActivityForm
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
        """The form has validated and typed every value (contact, product, URL): the service stores it."""
        obj.pk = services.activity_track(
            contact=obj.contact,
            anonymous_id=obj.anonymous_id or None,
            event_id=obj.event_id or None,
            type=obj.type,
            occurred_at=obj.occurred_at,
            product=obj.product,
            url=obj.url,
            properties=obj.properties or {},
        )[0].pk
        obj._state.adding = False


@admin.register(ConsentEvent)
class ConsentEventAdmin(ReadOnlyAdmin, BigTableAdmin):
    list_display = ("occurred_at", "who", "channel", "granted", "source", "text_excerpt", "mail_frequency")
    list_select_related = ("contact",)
    fields = ("contact", "channel", "granted", "source", "text_shown", "mail_frequency", "occurred_at")
    list_filter = ("channel", "granted")
    search_fields = ("=contact__email",)
    search_help_text = _("The contact's email, exactly.")
    raw_id_fields = ("contact",)

    @admin.display(description=_("contact"))
    def who(self, event: ConsentEvent) -> str:
        return contact_link(event.contact)

    @admin.display(description=_("text shown"))
    def text_excerpt(self, event: ConsentEvent) -> str:
        """The start of the wording, enough to tell texts apart in the list; the whole text is on the entry."""
        text = " ".join(event.text_shown.split())
        return text if len(text) <= TEXT_EXCERPT else text[: TEXT_EXCERPT - 1] + "…"
