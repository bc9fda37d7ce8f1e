"""Spend and channel ROMI over the partner API: each field reads its input with the rules of `services`, and
publishes in the schema exactly what it accepts."""

import datetime as dt
import re
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from contacts.serializers.fields import NormalizedField, StrictModelSerializer, TextField, TotalField

from . import services
from .models import Spend

MONTH_PATTERN = r"^(19\d\d|2\d\d\d)-(0[1-9]|1[0-2])$"
# Every calendar day from 1900-01-01 to 2999-12-31 and nothing else: months of 31 and of 30 days, February's
# 28, and its 29th in leap years (divisible by 4, centuries only when divisible by 400).
DAY_PATTERN = (
    r"^((19\d\d|2\d\d\d)-((0[13578]|1[02])-(0[1-9]|[12]\d|3[01])|(0[469]|11)-(0[1-9]|[12]\d|30)"
    r"|02-(0[1-9]|1\d|2[0-8]))|(19|2\d)(0[48]|[2468][048]|[13579][26])-02-29|(2000|2400|2800)-02-29)$"
)
_DAY = re.compile(DAY_PATTERN)


class ChannelField(NormalizedField):
    """A channel as the utm_source names it; stored in lower case."""

    request_schema = {
        "type": "string",
        "pattern": r"^[A-Za-z0-9._-]+$",
        "minLength": 1,
        "maxLength": services.CHANNEL_MAX_LENGTH,
        "example": "facebook",
    }
    response_schema = {"type": "string", "example": "facebook"}
    accepts = (str,)
    normalizer = staticmethod(services.normalize_channel)


class MonthField(NormalizedField):
    """A month as YYYY-MM, kept as its first day."""

    request_schema = {"type": "string", "pattern": MONTH_PATTERN, "example": "2026-03"}
    response_schema = {"type": "string", "pattern": MONTH_PATTERN, "example": "2026-03"}
    accepts = (str,)
    normalizer = staticmethod(services.normalize_month)

    def to_representation(self, value: dt.date) -> str:
        return services.month_label(value)


class DayField(NormalizedField):
    """A TIME_ZONE day as YYYY-MM-DD, years 1900 to 2999: the pattern is the whole rule."""

    request_schema = {"type": "string", "pattern": DAY_PATTERN, "example": "2026-03-01"}
    response_schema = {"type": "string", "format": "date"}
    accepts = (str,)
    default_error_messages = {"invalid": _("Enter a date as YYYY-MM-DD.")}

    def normalize(self, data: str) -> dt.date:
        if not _DAY.fullmatch(data):
            raise DjangoValidationError(self.error_messages["invalid"])
        return dt.date.fromisoformat(data)

    def to_representation(self, value: dt.date) -> str:
        return value.isoformat()


class SpendSerializer(StrictModelSerializer):
    """What was spent on one channel in one month. A POST replaces the amount and note of an existing
    (channel, month); a PATCH changes the fields given."""

    channel = ChannelField(required=True, help_text=Spend._meta.get_field("channel").help_text)
    month = MonthField(required=True, help_text=_("The month, as YYYY-MM."))
    # Money as purchases take it: a non-negative amount as a string or a number, rounded to cents.
    amount = TotalField(required=True, help_text=_("What the channel cost that month, in the shop's currency."))
    note = TextField(max_length=services.NOTE_MAX_LENGTH, required=False, help_text=_("Optional; blank by default."))

    class Meta:
        model = Spend
        fields = ["id", "channel", "month", "amount", "note", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        validators: list[Any] = []  # a POST of an existing (channel, month) replaces it: no uniqueness check here


class PeriodQuerySerializer(serializers.Serializer):
    # `from` and `to` are Python keywords, so the fields are named in get_fields. (No docstring: it would
    # become the schema's description.)

    def get_fields(self) -> dict[str, serializers.Field]:
        return {
            "from": DayField(help_text=_("First day, included (TIME_ZONE). Default: 29 days before `to`.")),
            "to": DayField(help_text=_("Last day, included (TIME_ZONE); not before `from`. Default: today.")),
        }


class ChannelRomiSerializer(serializers.Serializer):
    revenue = serializers.DecimalField(
        max_digits=None,
        decimal_places=2,
        help_text=_("Purchases in the period with this utm_source; for email, those attributed to a mail."),
    )
    spend = serializers.DecimalField(
        max_digits=None, decimal_places=2, help_text=_("The channel's monthly spend, prorated to the period by days.")
    )
    romi = serializers.FloatField(
        allow_null=True, help_text=_("(revenue − spend) / spend; null when nothing was spent.")
    )


class ChannelRomiReportSerializer(serializers.Serializer):
    # The period and, per channel with revenue or spend in it (in name order), its numbers.

    def get_fields(self) -> dict[str, serializers.Field]:
        return {
            "from": serializers.DateField(),
            "to": serializers.DateField(),
            "channels": serializers.DictField(child=ChannelRomiSerializer()),
        }
