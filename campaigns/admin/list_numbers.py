"""The campaign list's compact columns: when it went out (or will), sent (a link to the report), open and click
rates, revenue and ROMI, each sortable, narrow enough for a laptop screen beside the admin's menu.

They are annotations of the changelist's queryset (`selectors.with_list_numbers`), so a page is one query
whatever its length and the database sorts by any of them; the change page and the actions, which use the
admin's plain queryset, do not pay for them."""

import datetime as dt
from decimal import Decimal
from typing import Protocol

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..models import Campaign
from ..selectors import with_list_numbers
from .report import money, percent, signed_percent


class ListedCampaign(Protocol):
    """A campaign of the list, with the annotations `with_list_numbers` adds."""

    pk: int
    status: str
    started_at: dt.datetime | None
    scheduled_at: dt.datetime | None
    sent_count: int
    open_rate: float | None
    click_rate: float | None
    revenue: Decimal
    romi: float | None


class CampaignChangeList(ChangeList):
    def get_queryset(self, request, exclude_parameters=None):
        if "revenue" not in self.root_queryset.query.annotations:
            self.root_queryset = with_list_numbers(self.root_queryset)
        return super().get_queryset(request, exclude_parameters)


def _number(value: str) -> str:
    """A number kept left to right on a Hebrew page, so a sign or a % stays where it belongs."""
    return format_html('<bdi dir="ltr">{}</bdi>', value)


def _rate(value: float | None) -> str:
    return _number(percent(None if value is None else min(value, 1.0)))


class ListNumbersMixin:
    """For CampaignAdmin: the columns, named in its `list_display`."""

    def get_changelist(self, request, **kwargs):
        return CampaignChangeList

    @admin.display(description=gettext_lazy("when"), ordering=Coalesce("started_at", "scheduled_at"))
    def when_column(self, obj: ListedCampaign) -> str:
        """When it started, else when it is scheduled for, as a short date and time."""
        moment = obj.started_at or obj.scheduled_at
        return "—" if moment is None else formats.date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")

    @admin.display(description=gettext_lazy("sent"), ordering="sent_count")
    def sent_column(self, obj: ListedCampaign) -> str:
        """The count, linking to the campaign's report once it has started."""
        sent = formats.number_format(obj.sent_count, force_grouping=True)
        if obj.status == Campaign.Status.DRAFT:
            return _number(sent)
        report = reverse("admin:campaigns_campaign_report", args=[obj.pk])
        return format_html('<a href="{}" title="{}">{}</a>', report, _("Report"), _number(sent))

    @admin.display(description=gettext_lazy("open rate"), ordering="open_rate")
    def open_rate_column(self, obj: ListedCampaign) -> str:
        return _rate(obj.open_rate)

    @admin.display(description=gettext_lazy("click rate"), ordering="click_rate")
    def click_rate_column(self, obj: ListedCampaign) -> str:
        return _rate(obj.click_rate)

    @admin.display(description=gettext_lazy("revenue"), ordering="revenue")
    def revenue_column(self, obj: ListedCampaign) -> str:
        return _number(money(obj.revenue))

    @admin.display(description=gettext_lazy("ROMI"), ordering="romi")
    def romi_column(self, obj: ListedCampaign) -> str:
        return _number(signed_percent(obj.romi))
