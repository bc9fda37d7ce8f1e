"""Form fields and forms of spend and channel ROMI: the admin's, and the API list's month filters."""

import datetime as dt
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from . import services
from .models import Spend
from .period import Period

FIRST_DAY = dt.date(1900, 1, 1)  # the days a period may cover: those the API's date pattern accepts
LAST_DAY = dt.date(2999, 12, 31)


class MonthField(forms.CharField):
    """A month typed as YYYY-MM (a month picker where the browser has one), cleaned to its first day."""

    widget = forms.TextInput(attrs={"type": "month", "placeholder": "YYYY-MM", "pattern": r"\d{4}-\d{2}"})

    def prepare_value(self, value: Any) -> Any:
        return services.month_label(value) if isinstance(value, dt.date) else value

    def to_python(self, value: Any) -> dt.date | None:  # type: ignore[override]  # a date, not text
        text = super().to_python(value)
        if text in self.empty_values:
            return None
        try:
            return services.normalize_month(text)
        except ValidationError as error:
            raise ValidationError(error.messages, code="invalid") from None


class ChannelField(forms.CharField):
    def to_python(self, value: Any) -> str:
        text = super().to_python(value)
        if not text:
            return ""
        try:
            return services.normalize_channel(text)
        except ValidationError as error:
            raise ValidationError(error.messages, code="invalid") from None


class SpendForm(forms.ModelForm):
    channel = ChannelField(
        label=capfirst(Spend._meta.get_field("channel").verbose_name),
        max_length=services.CHANNEL_MAX_LENGTH,
        help_text=Spend._meta.get_field("channel").help_text,
    )
    month = MonthField(
        label=capfirst(Spend._meta.get_field("month").verbose_name), help_text=_("As YYYY-MM, e.g. 2026-03.")
    )

    class Meta:
        model = Spend
        fields = ["channel", "month", "amount", "note"]


class PeriodForm(forms.Form):
    """The period of the channel ROMI panel: a preset, or custom days (both ends included). The panel's date
    inputs always show the days of the period on display, so a custom period starts from the one shown."""

    THIS_MONTH, LAST_30, LAST_90, CUSTOM = "this_month", "last_30", "last_90", "custom"

    period = forms.ChoiceField(
        label=_("Period"),
        required=False,
        choices=[
            (THIS_MONTH, _("This month")),
            (LAST_30, _("Last 30 days")),
            (LAST_90, _("Last 90 days")),
            (CUSTOM, _("Custom")),
        ],
    )
    start = forms.DateField(label=_("From"), required=False)
    end = forms.DateField(label=_("To"), required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("period") != self.CUSTOM:
            return cleaned
        start, end = cleaned.get("start"), cleaned.get("end")
        for name, day in (("start", start), ("end", end)):
            if name in cleaned and day is None:
                self.add_error(name, _("Pick a day for a custom period."))
            elif day is not None and not FIRST_DAY <= day <= LAST_DAY:
                self.add_error(name, _("Pick a day from 1900 to 2999."))
        if start and end and start > end and not self.errors:
            self.add_error("end", _("The last day cannot come before the first."))
        return cleaned

    def chosen(self) -> Period:
        """The period asked for; this month when nothing (or nothing valid) was asked."""
        today = timezone.localdate()
        choice = self.cleaned_data.get("period") if self.is_bound and self.is_valid() else None
        if choice == self.CUSTOM:
            return Period(self.cleaned_data["start"], self.cleaned_data["end"])
        if choice == self.LAST_30:
            return Period(today - dt.timedelta(days=29), today)
        if choice == self.LAST_90:
            return Period(today - dt.timedelta(days=89), today)
        return Period(today.replace(day=1), today)
