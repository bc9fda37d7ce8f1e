"""Spend per channel and month, and channel ROMI, over the partner API (CONTRACT §7).

Reads need `campaigns:read`, writes `campaigns:write`; staff sessions need their role's permissions on spend
(Marketers edit, Analysts read). A POST sets the amount of a (channel, month): 201 when it is new, 200 when it
replaced one, so a partner can send its monthly figures again without creating duplicates.
"""

import datetime as dt
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_filters import rest_framework as filters
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from crm.api import ApiViewSet

from . import services
from .forms import MonthField
from .models import Spend
from .period import Period
from .serializers import (
    MONTH_PATTERN,
    ChannelRomiReportSerializer,
    DayField,
    PeriodQuerySerializer,
    SpendSerializer,
)
from .spend import channel_romi

DEFAULT_DAYS = 30

SPEND_EXAMPLE = OpenApiExample(
    "Facebook ads in March",
    request_only=True,
    value={"channel": "facebook", "month": "2026-03", "amount": "4200.00", "note": "Spring campaign"},
)
ROMI_EXAMPLE = OpenApiExample(
    "March",
    response_only=True,
    value={
        "from": "2026-03-01",
        "to": "2026-03-31",
        "channels": {
            "email": {"revenue": "18250.00", "spend": "0.00", "romi": None},
            "facebook": {"revenue": "9800.00", "spend": "4200.00", "romi": 1.3333},
        },
    },
)


@extend_schema_field(
    {
        "type": "string",
        "pattern": MONTH_PATTERN,
        "description": gettext_lazy("A month as YYYY-MM; `from` and `to` include their own months."),
    }
)
class MonthFilter(filters.Filter):
    field_class = MonthField


class SpendFilter(filters.FilterSet):
    """`from` and `to` are Python keywords: declared as month_from / month_to, published under their names."""

    channel = filters.CharFilter(method="filter_channel", help_text=gettext_lazy("A channel, in any case."))
    month_from = MonthFilter(field_name="month", lookup_expr="gte", strip=False)
    month_to = MonthFilter(field_name="month", lookup_expr="lte", strip=False)

    class Meta:
        model = Spend
        fields: list[str] = []

    def filter_channel(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(channel=value.lower())


SpendFilter.base_filters["from"] = SpendFilter.base_filters.pop("month_from")
SpendFilter.base_filters["to"] = SpendFilter.base_filters.pop("month_to")


def _day_parameter(name: str) -> OpenApiParameter:
    """A day of the period as a query parameter: what DayField accepts, described by the serializer."""
    return OpenApiParameter(
        name,
        DayField.request_schema,
        OpenApiParameter.QUERY,
        required=False,
        description=PeriodQuerySerializer().fields[name].help_text or "",
    )


@extend_schema_view(
    list=extend_schema(summary=gettext_lazy("List spend")),
    retrieve=extend_schema(summary=gettext_lazy("Get a spend")),
    create=extend_schema(
        summary=gettext_lazy("Set the spend of a channel in a month"),
        request=SpendSerializer,
        responses={201: SpendSerializer, 200: SpendSerializer},
        examples=[SPEND_EXAMPLE],
        description=gettext_lazy(
            "Creates the spend of (channel, month), 201, or replaces its amount and note when there is one, "
            "200: sending the same figures again changes nothing. The channel is the utm_source its "
            "visits and purchases carry (letters, digits, “-”, “_”, “.”; stored in lower case); `email` is "
            "mail, whose revenue is what attribution credits to mailings."
        ),
    ),
    partial_update=extend_schema(
        summary=gettext_lazy("Change a spend"),
        request=SpendSerializer(partial=True),
        responses={200: SpendSerializer},
        examples=[OpenApiExample("Corrected amount", request_only=True, value={"amount": "4350.00"})],
        description=gettext_lazy(
            "Any of channel, month, amount and note. Moving it onto a channel and month that already have "
            "a spend is a 400 naming `month` (code unique)."
        ),
    ),
    destroy=extend_schema(summary=gettext_lazy("Delete a spend")),
)
class SpendViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    queryset = Spend.objects.all()
    serializer_class = SpendSerializer
    scope_resource = "campaigns"
    filterset_class = SpendFilter
    ordering_fields = ["id", "month", "channel", "amount"]

    def create(self, request: Request) -> Response:
        serializer = SpendSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        spend, created = services.spend_set(**serializer.validated_data)
        return Response(SpendSerializer(spend).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    def partial_update(self, request: Request, pk: Any = None) -> Response:
        spend = self.get_object()
        serializer = SpendSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        return Response(SpendSerializer(services.spend_update(spend=spend, **serializer.validated_data)).data)

    def destroy(self, request: Request, pk: Any = None) -> Response:
        services.spend_delete(spend=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary=gettext_lazy("Channel ROMI"),
        request=None,
        parameters=[_day_parameter("from"), _day_parameter("to")],
        responses={200: ChannelRomiReportSerializer},
        examples=[ROMI_EXAMPLE],
        description=gettext_lazy(
            "Per channel with revenue or spend in the period: revenue of the purchases whose utm_source is the "
            "channel (purchases attributed to a mail count as `email`, whatever their utm_source), the spend "
            "of the months the period touches prorated by days, and romi = (revenue − spend) / spend, null "
            "when nothing was spent. Any length of period; `from` after `to` is a 400 naming `to`."
        ),
    )
    @action(detail=False, methods=["get"])
    def romi(self, request: Request) -> Response:
        period = _period(request)
        report = {"from": period.start, "to": period.end, "channels": channel_romi(period)}
        return Response(ChannelRomiReportSerializer(report).data)


def _period(request: Request) -> Period:
    """The days asked for; what is left out defaults to the last DEFAULT_DAYS days up to today."""
    # A plain dict, not the QueryDict: DRF would read `?from=` as "not given", which the schema does not say.
    query = PeriodQuerySerializer(data=request.query_params.dict())
    query.is_valid(raise_exception=True)
    end = query.validated_data.get("to") or timezone.localdate()
    start = query.validated_data.get("from") or end - dt.timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise ValidationError({"to": [_("Must not be before “from”.")]}, code="conflict")
    return Period(start, end)


def register(router) -> None:
    router.register("spend", SpendViewSet, basename="spend")
