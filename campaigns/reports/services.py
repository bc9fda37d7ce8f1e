"""Recording spend per channel and month (CONTRACT §7), for the API and the admin alike.

A channel is named as the utm_source its visits and purchases carry, so the two meet in channel ROMI: letters,
digits, "-", "_" and "." only, stored in lower case (`Facebook` and `facebook` are one channel). A month is
stored as its first day. These rules live here once: the API's serializer fields and the admin's form fields
call the same functions, and the services apply them again for any other caller.
"""

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from contacts import normalize
from crm.model_update import model_update

from .models import Spend

CHANNEL_MAX_LENGTH = 100
NOTE_MAX_LENGTH = 200
CHANNEL = re.compile(r"[A-Za-z0-9._-]+")
MONTH = re.compile(r"(19\d\d|2\d\d\d)-(0[1-9]|1[0-2])")


def normalize_channel(value: Any, field: str = "channel") -> str:
    """A channel name in lower case. ASCII only: checked before lowering, since `str.lower` also turns a
    few other characters (the Kelvin sign) into ASCII letters."""
    if normalize.blank(value):
        raise normalize.field_error(field, _("This field is required."), "required")
    if not isinstance(value, str) or not CHANNEL.fullmatch(value):
        raise normalize.field_error(
            field,
            _("Use only letters, digits, “-”, “_” and “.”, as in the utm_source, e.g. facebook or google-ads."),
            "invalid",
        )
    if len(value) > CHANNEL_MAX_LENGTH:
        raise normalize.field_error(field, _("At most %(n)d characters.") % {"n": CHANNEL_MAX_LENGTH}, "max_length")
    return value.lower()


def normalize_month(value: Any, field: str = "month") -> dt.date:
    """The first day of a month given as "YYYY-MM" (years 1900 to 2999), or of the month a date falls in."""
    if isinstance(value, dt.date):
        return dt.date(value.year, value.month, 1)
    if normalize.blank(value):
        raise normalize.field_error(field, _("This field is required."), "required")
    match = MONTH.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise normalize.field_error(field, _("Enter a month as YYYY-MM, e.g. 2026-03."), "invalid")
    return dt.date(int(match[1]), int(match[2]), 1)


def month_label(month: dt.date) -> str:
    """A stored month as the API and the admin show it: "YYYY-MM"."""
    return f"{month.year:04d}-{month.month:02d}"


def normalize_amount(value: Any, field: str = "amount") -> Decimal:
    """Money as purchases take it (rounded to cents, below a trillion), and never negative."""
    amount = normalize.money(value, field)
    if amount < 0:
        raise normalize.field_error(field, _("Must not be negative."), "min_value")
    return amount


def normalize_note(value: Any, field: str = "note") -> str:
    return normalize.text(value, field, NOTE_MAX_LENGTH)


RULES: dict[str, Callable[[Any, str], Any]] = {
    "channel": normalize_channel,
    "month": normalize_month,
    "amount": normalize_amount,
    "note": normalize_note,
}


def _cleaned(*, required: bool, **fields: Any) -> dict[str, Any]:
    """The fields through their rules, every bad one named at once. None is "not given": left out, or an
    error when every field is `required`."""
    cleaned, errors = {}, {}
    for name, value in fields.items():
        if value is None and not required:
            continue
        try:
            cleaned[name] = RULES[name](value, name)
        except ValidationError as error:
            errors.update(error.error_dict)
    if errors:
        raise ValidationError(errors)
    return cleaned


def spend_set(*, channel: str, month: dt.date | str, amount: Decimal | int | str, note: str = "") -> tuple[Spend, bool]:
    """The spend of a channel in a month, created or replaced (amount and note); returns it and whether it
    is new. Idempotent: the same call again changes nothing, `updated_at` included.

    Two callers setting the same new (channel, month) at once both succeed: the one whose insert loses the
    race to the unique constraint updates the row the other created."""
    data = _cleaned(required=True, channel=channel, month=month, amount=amount, note=note)
    key = {"channel": data["channel"], "month": data["month"]}
    with transaction.atomic():
        spend = Spend.objects.select_for_update().filter(**key).first()
        if spend is None:
            try:
                with transaction.atomic():
                    return Spend.objects.create(**data), True
            except IntegrityError:
                spend = Spend.objects.select_for_update().get(**key)
        model_update(instance=spend, fields=("amount", "note"), data=data)
    return spend, False


def spend_update(
    *,
    spend: Spend,
    channel: str | None = None,
    month: dt.date | str | None = None,
    amount: Decimal | int | str | None = None,
    note: str | None = None,
) -> Spend:
    """Change what is given (None: unchanged). Moving a row onto a (channel, month) another row holds is
    refused naming `month`: there is one amount per channel and month."""
    data = _cleaned(required=False, channel=channel, month=month, amount=amount, note=note)
    key = {"channel": data.get("channel", spend.channel), "month": data.get("month", spend.month)}
    taken = _("%(channel)s already has a spend for %(month)s: change that one instead.") % {
        "channel": key["channel"],
        "month": month_label(key["month"]),
    }
    if Spend.objects.filter(**key).exclude(pk=spend.pk).exists():
        raise normalize.field_error("month", taken, "unique")
    try:
        with transaction.atomic():
            model_update(instance=spend, fields=("channel", "month", "amount", "note"), data=data)
    except IntegrityError:
        raise normalize.field_error("month", taken, "unique") from None
    return spend


def spend_delete(*, spend: Spend) -> None:
    spend.delete()
