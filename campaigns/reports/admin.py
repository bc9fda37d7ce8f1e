"""Spend per channel and month in the back office, with the channel ROMI panel above its list. (Attributions
have their own read-only admin, `admin_attribution`.)"""

from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext_lazy as _

from contacts.admin.base import ServiceErrorsMixin

from . import services
from .forms import PeriodForm, SpendForm
from .models import Spend
from .period import Period
from .spend import channel_romi

ROMI_PREFIX = "romi"  # the panel's query parameters are romi-period, romi-start, romi-end
SPEND_FIELDS = ("channel", "month", "amount", "note")


@admin.register(Spend)
class SpendAdmin(ServiceErrorsMixin, admin.ModelAdmin):
    form = SpendForm
    change_list_template = "admin/reports/spend/change_list.html"
    list_display = ("channel", "month_label", "amount", "note")
    list_filter = ("channel",)
    search_fields = ("channel", "note")
    ordering = ("-month", "channel")

    class Media:
        css = {"all": ["reports/reports.css"]}

    @admin.display(description=_("month"), ordering="month")
    def month_label(self, obj: Spend) -> str:
        return services.month_label(obj.month)

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in SPEND_FIELDS}
        if change:
            saved = services.spend_update(spend=Spend.objects.get(pk=obj.pk), **fields)
        else:
            saved, _created = services.spend_set(**fields)
        obj.pk = saved.pk
        obj.refresh_from_db()

    def delete_model(self, request, obj):
        services.spend_delete(spend=obj)

    def delete_queryset(self, request, queryset):
        for spend in queryset:
            services.spend_delete(spend=spend)

    def changelist_view(self, request, extra_context=None):
        """The list, with the ROMI panel's period taken out of the query first: the changelist would read
        parameters it does not know as filters and refuse them."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        query = request.GET.copy()
        asked = {name: query.pop(name)[-1] for name in list(query) if name.startswith(f"{ROMI_PREFIX}-")}
        request.GET = query
        form = PeriodForm(asked or None, prefix=ROMI_PREFIX)
        period = form.chosen()
        kept = [(name, value) for name, values in query.lists() for value in values]
        panel = {
            "romi_form": form,
            "romi_period": period,
            "romi_rows": romi_rows(period),
            "romi_presets": _presets(form, kept),
            "romi_kept": kept,
        }
        return super().changelist_view(request, {**(extra_context or {}), **panel})


def romi_rows(period: Period) -> list[dict[str, Any]]:
    """channel_romi's numbers for the panel, ROMI also as a percentage."""
    return [
        {**numbers, "channel": channel, "romi_percent": None if numbers["romi"] is None else numbers["romi"] * 100}
        for channel, numbers in channel_romi(period).items()
    ]


def _presets(form: PeriodForm, kept: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """A link per preset period, keeping the list's own filters; the chosen one marked."""
    field = form["period"]
    current = form.cleaned_data.get("period") if form.is_bound and form.is_valid() else None
    return [
        {
            "label": label,
            "url": "?" + urlencode([*kept, (field.html_name, value)]),
            "selected": value == (current or PeriodForm.THIS_MONTH),
        }
        for value, label in field.field.choices  # type: ignore[attr-defined]  # a ChoiceField
        if value != PeriodForm.CUSTOM
    ]
