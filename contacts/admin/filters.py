"""Changelist filters that stay cheap on a million contacts.

Listing the distinct cities of a big table means reading all of it on every page view, so free-text
columns get a small text box instead (an exact match, which the column index answers).
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _


class TextInputFilter(admin.SimpleListFilter):
    """A filter rendered as a text box; `lookup` is the queryset lookup applied to its value."""

    template = "admin/contacts/text_input_filter.html"
    lookup: str = ""

    def lookups(self, request, model_admin):
        # One dummy choice: a SimpleListFilter without choices is not shown at all.
        return (("", ""),)

    def choices(self, changelist):
        yield {
            "selected": self.value() is not None,
            "value": self.value() or "",
            "parameter_name": self.parameter_name,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "hidden_params": [
                (key, value)
                for key, values in changelist.filter_params.items()
                if key != self.parameter_name
                for value in values
            ],
        }

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        if not value:
            return queryset
        return queryset.filter(**{self.lookup: value})


class CityFilter(TextInputFilter):
    title = _("city")
    parameter_name = "city"
    lookup = "city"


class RegionFilter(TextInputFilter):
    title = _("region")
    parameter_name = "region"
    lookup = "region"


class PurchaseSourceFilter(TextInputFilter):
    title = _("source system")
    parameter_name = "source"
    lookup = "source"


class LifecycleFilter(admin.SimpleListFilter):
    """Lifecycle as of now, from the purchase dates (contacts.lifecycle), never a stored column."""

    title = _("lifecycle")
    parameter_name = "lifecycle"

    def lookups(self, request, model_admin):
        from ..models import Lifecycle

        return Lifecycle.choices

    def queryset(self, request, queryset):
        from ..lifecycle import lifecycle_q
        from ..models import Lifecycle

        stage = self.value()
        if stage is not None and stage in Lifecycle.values:
            return queryset.filter(lifecycle_q(stage))
        return queryset
