"""`GET /api/v1/reports/kpis/?from=YYYY-MM-DD&to=YYYY-MM-DD`: the KPIs of CONTRACT §8 over the partner API.

Needs `campaigns:read` (a staff session: the role's right to view campaigns). Both dates or neither: without
them the period is the last 30 days, today included (TIME_ZONE dates).
"""

import datetime as dt
from typing import TYPE_CHECKING

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.fields import empty
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts.lifecycle import ORDER as LIFECYCLES
from contacts.models import Channel
from crm.api import ApiAutoSchema

from ..models import Campaign
from .kpis import PREVIOUS_KEYS, STAGES, kpis
from .period import Period

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

DEFAULT_DAYS = 30
MAX_DAYS = 366
# Dates far enough from the calendar's ends that the period before the previous one still exists.
EARLIEST, LATEST = dt.date(1900, 1, 1), dt.date(9000, 12, 31)
# The code of every refusal that relates `from` and `to` (the schema can only describe each one alone).
INVALID_PERIOD = "invalid_period"


class QueryDateField(serializers.DateField):
    """A date parameter for which `?to=` is a bad date, not an absent one (DRF's form handling would drop
    it, and the period would silently become the default)."""

    def get_value(self, dictionary):
        return dictionary.get(self.field_name, empty)


class PeriodQuerySerializer(serializers.Serializer):
    def get_fields(self) -> dict[str, serializers.Field]:
        # "from" is a Python keyword, so the fields cannot be class attributes.
        return {
            "from": QueryDateField(
                required=False, help_text=_("First day of the period (YYYY-MM-DD), included. Give it with `to`.")
            ),
            "to": QueryDateField(
                required=False,
                help_text=_(
                    "Last day of the period (YYYY-MM-DD), included; at most 366 days after `from`. Without "
                    "`from` and `to` the period is the last 30 days, today included."
                ),
            ),
        }

    def validate(self, attrs: dict) -> Period:
        start, end = attrs.get("from"), attrs.get("to")
        if start is None and end is None:
            end = timezone.localdate()
            return Period(end - dt.timedelta(days=DEFAULT_DAYS - 1), end)
        if start is None or end is None:
            missing = "from" if start is None else "to"
            raise serializers.ValidationError(
                {missing: _("Give both “from” and “to”, or neither for the last 30 days.")}, code=INVALID_PERIOD
            )
        for name, day in (("from", start), ("to", end)):
            if not EARLIEST <= day <= LATEST:
                raise serializers.ValidationError(
                    {name: _("Enter a date between the years 1900 and 9000.")}, code=INVALID_PERIOD
                )
        if start > end:
            raise serializers.ValidationError({"to": _("Must not be before “from”.")}, code=INVALID_PERIOD)
        period = Period(start, end)
        if period.days > MAX_DAYS:
            raise serializers.ValidationError(
                {"to": _("A period is at most %(days)d days.") % {"days": MAX_DAYS}}, code=INVALID_PERIOD
            )
        return period


# ------------------------------------------------------------------ the answer's shape, for the schema


def _shape(name: str, fields: dict[str, serializers.Field]) -> type[serializers.Serializer]:
    """A serializer class with these fields: keys such as "from" are no Python names."""
    return type(name, (serializers.Serializer,), fields)


def _money(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=16, decimal_places=2, **kwargs)


def _rate(help_text: "StrOrPromise" = "") -> serializers.FloatField:
    return serializers.FloatField(allow_null=True, help_text=help_text or None)


KpiPeriod = _shape("KpiPeriod", {"from": serializers.DateField(), "to": serializers.DateField()})
KpiFunnel = _shape("KpiFunnel", {key: serializers.IntegerField() for key in STAGES})
KpiFunnelConversion = _shape("KpiFunnelConversion", {key: _rate() for key in list(STAGES)[2:]})
KpiLifecycle = _shape("KpiLifecycle", {str(stage): serializers.IntegerField() for stage in LIFECYCLES})
KpiNewContacts = _shape(
    "KpiNewContacts",
    {
        "total": serializers.IntegerField(),
        "by_source": serializers.DictField(
            child=serializers.IntegerField(), help_text=_('By source; "" for contacts without one.')
        ),
    },
)
KpiChannelSales = _shape("KpiChannelSales", {"revenue": _money(), "orders": serializers.IntegerField()})
KpiByChannel = _shape("KpiByChannel", {str(channel): KpiChannelSales() for channel in Channel})
KpiEmail = _shape(
    "KpiEmail",
    {
        "sent": serializers.IntegerField(help_text=_("Campaign and automation mails sent in the period.")),
        "delivered": serializers.IntegerField(help_text=_("sent − bounced.")),
        "unique_opens": serializers.IntegerField(help_text=_("Of those mails, the ones opened by a person.")),
        "unique_clicks": serializers.IntegerField(help_text=_("Of those mails, the ones clicked by a person.")),
        "attributed_revenue": _money(help_text=_("Revenue of the purchases of the period credited to a mail.")),
    },
)
KpiChannelRomi = _shape(
    "KpiChannelRomi", {"revenue": _money(), "spend": _money(), "romi": _rate(_("(revenue − spend) / spend."))}
)
KpiTop = _shape(
    "KpiTop",
    {
        "id": serializers.IntegerField(),
        "name": serializers.CharField(),
        "revenue": _money(),
        "conversions": serializers.IntegerField(),
    },
)
SALES_FIELDS: dict[str, serializers.Field] = {
    "revenue": _money(),
    "orders": serializers.IntegerField(),
    "buyers": serializers.IntegerField(help_text=_("Contacts with a purchase in the period.")),
    "aov": _money(allow_null=True, help_text=_("revenue / orders.")),
    "frequency": serializers.FloatField(allow_null=True, help_text=_("orders / buyers.")),
    "repeat_rate": _rate(_("Buyers with two orders or more / buyers.")),
    "retention": _rate(_("Buyers of the period before who bought again in this one / buyers of the period before.")),
}
KpiPrevious = _shape("KpiPrevious", {key: SALES_FIELDS[key] for key in PREVIOUS_KEYS})


class KpisSerializer(serializers.Serializer):
    period = KpiPeriod()
    funnel = KpiFunnel(help_text=_("Contacts per funnel stage now."))
    funnel_conversion = KpiFunnelConversion(
        help_text=_("Per stage: contacts at that stage or above / contacts at the stage below or above.")
    )
    lifecycle = KpiLifecycle(help_text=_("Contacts per lifecycle stage now."))
    new_contacts = KpiNewContacts(help_text=_("Contacts who signed up in the period."))
    revenue = SALES_FIELDS["revenue"]
    orders = SALES_FIELDS["orders"]
    buyers = SALES_FIELDS["buyers"]
    aov = SALES_FIELDS["aov"]
    frequency = SALES_FIELDS["frequency"]
    repeat_rate = SALES_FIELDS["repeat_rate"]
    by_channel = KpiByChannel()
    club_revenue_share = _rate(_("Revenue of contacts with an active club membership / revenue."))
    retention = SALES_FIELDS["retention"]
    users_share = _rate(
        _(
            "Contacts with email or SMS consent / (contacts + anonymous visitors of the period not known to "
            "be a contact)."
        )
    )
    email = KpiEmail()
    promoters = serializers.IntegerField(help_text=_("Contacts with a review or referral in the period."))
    channel_romi = serializers.DictField(child=KpiChannelRomi(), help_text=_("By channel (utm_source, or email)."))
    top_campaigns = KpiTop(many=True, help_text=_("Up to five campaigns by attributed revenue in the period."))
    top_flows = KpiTop(many=True, help_text=_("Up to five automations by attributed revenue in the period."))
    previous = KpiPrevious(help_text=_("The same figures for the period of equal length just before."))


class KpiView(APIView):
    schema = ApiAutoSchema()
    scope_resource = "campaigns"
    permission_model = Campaign
    http_method_names = ["get", "head", "options"]

    @extend_schema(
        operation_id="reports_kpis",
        tags=["reports"],
        summary=_("Key figures for a period"),
        description=_(
            "The KPIs of CONTRACT §8 for the days from `from` to `to` in the CRM's time zone, both included (at "
            "most 366 days; "
            "without both, the last 30 days). Money as decimal strings, rates as fractions 0..1 rounded to "
            "four digits, null wherever the divisor is 0. Funnel, lifecycle and users share are counted now; "
            "the rest in the period. `previous` holds the period of equal length just before."
        ),
        parameters=[PeriodQuerySerializer],
        responses={200: KpisSerializer},
    )
    def get(self, request: Request) -> Response:
        query = PeriodQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(KpisSerializer(kpis(query.validated_data)).data)
