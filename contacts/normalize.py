"""Validation and normalization of raw contact input, shared by every door (admin, CSV, API).

Each function takes what a person or partner sent (strings from a CSV, JSON values from
the API) and returns the stored form, or raises ValidationError naming the field.
"""

import datetime as dt
import math
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import Choices
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from .models import CONSENT_TEXT_MAX_LENGTH, Channel, CustomField, Gender, MaritalStatus, Source

TEXT_FIELDS = ("first_name", "last_name", "city", "region", "source_detail")
CHOICE_FIELDS: dict[str, type[Choices]] = {"gender": Gender, "marital_status": MaritalStatus, "source": Source}
DATE_FIELDS = ("birth_date", "wedding_date")
BOOL_FIELDS = ("email_opt_in", "sms_opt_in")
TRUE_WORDS = {"1", "true", "yes", "y", "on", "t", "כן"}
FALSE_WORDS = {"0", "false", "no", "n", "off", "f", "לא", ""}
MAX_AMOUNT = Decimal("1e12")  # Purchase.total holds 14 digits, 2 of them decimals
MAX_UNIT_PRICE = Decimal("1e10")  # PurchaseItem.unit_price holds 12 digits, 2 of them decimals


def field_error(field: str, message: str, code: str | None = None) -> ValidationError:
    """An error naming its field. `code` is the machine-readable reason the API answers beside the
    message (does_not_exist, unique, … for facts of the database rather than the value's form)."""
    return ValidationError({field: [ValidationError(message, code=code)]})


def blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def email(value: Any, field: str = "email") -> str | None:
    if blank(value):
        return None
    cleaned = str(value).strip().lower()
    try:
        validate_email(cleaned)
    except ValidationError:
        raise field_error(field, _("“%(value)s” is not a valid email address.") % {"value": value}) from None
    return cleaned


def phone(value: Any, field: str = "phone") -> str | None:
    """E.164; numbers without a country code are read in PHONE_DEFAULT_REGION (IL)."""
    if blank(value):
        return None
    raw = str(value).strip()
    try:
        number = phonenumbers.parse(raw, settings.PHONE_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not _plausible_phone(number):
        raise field_error(field, _("“%(value)s” is not a valid phone number.") % {"value": raw})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _plausible_phone(number: phonenumbers.PhoneNumber) -> bool:
    """Valid, or shaped like a number of its country: the library's allocation tables lag
    behind operators (050-1xx-xxxx is a real Israeli mobile range it does not list yet)."""
    if phonenumbers.is_valid_number(number):
        return True
    if number.country_code is None:
        return False
    region = phonenumbers.region_code_for_country_code(number.country_code)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    pattern = metadata.general_desc.national_number_pattern if metadata and metadata.general_desc else None
    national = phonenumbers.national_significant_number(number)
    return bool(pattern and phonenumbers.is_possible_number(number) and re.fullmatch(pattern, national))


def text(value: Any, field: str, max_length: int = 100) -> str:
    if blank(value):
        return ""
    cleaned = " ".join(str(value).split())
    if len(cleaned) > max_length:
        raise field_error(field, _("At most %(n)d characters.") % {"n": max_length})
    return cleaned


def consent_text(value: Any, field: str = "consent_text") -> str:
    """The wording shown when consent was asked: kept as written (line breaks too), trimmed, bounded."""
    if blank(value):
        return ""
    if not isinstance(value, str):
        raise field_error(field, _("Must be text."))
    cleaned = value.replace("\r\n", "\n").strip()
    if "\x00" in cleaned:
        raise field_error(field, _("Null characters are not allowed."))
    if len(cleaned) > CONSENT_TEXT_MAX_LENGTH:
        raise field_error(field, _("At most %(n)d characters.") % {"n": CONSENT_TEXT_MAX_LENGTH})
    return cleaned


def identifier(value: Any, field: str, max_length: int = 100) -> str | None:
    if blank(value):
        return None
    cleaned = str(value).strip()
    if len(cleaned) > max_length:
        raise field_error(field, _("At most %(n)d characters.") % {"n": max_length})
    return cleaned


def choice(value: Any, field: str, choices: type[Choices], default: str | None = None) -> str:
    if blank(value):
        return default if default is not None else ""
    cleaned = str(value).strip().lower()
    if cleaned not in choices.values:
        allowed = ", ".join(choices.values)
        raise field_error(field, _("“%(value)s” is not one of: %(allowed)s.") % {"value": value, "allowed": allowed})
    return cleaned


def date(value: Any, field: str) -> dt.date | None:
    if blank(value):
        return None
    raw = str(value).strip()
    parsed = value.date() if isinstance(value, dt.datetime) else value if isinstance(value, dt.date) else None
    if parsed is None:
        try:
            parsed = parse_date(raw)
        except ValueError:
            pass
    if parsed is None:
        for fmt in ("%d/%m/%Y", "%d.%m.%Y"):
            try:
                parsed = dt.datetime.strptime(raw, fmt).date()  # noqa: DTZ007 - only the date part is kept
                break
            except ValueError:
                continue
    if parsed is None:
        raise field_error(field, _("“%(value)s” is not a valid date (use YYYY-MM-DD).") % {"value": raw})
    if parsed.year < 1900 or parsed > timezone.localdate() + dt.timedelta(days=366 * 5):
        raise field_error(field, _("“%(value)s” is out of range.") % {"value": raw})
    return parsed


def datetime(value: Any, field: str) -> dt.datetime | None:
    """An aware datetime; a bare date or naive time is read in TIME_ZONE."""
    if blank(value):
        return None
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, dt.date):
        parsed = dt.datetime.combine(value, dt.time())
    else:
        parsed = _datetime_from_text(str(value).strip(), field)
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    if parsed.year < 1900 or parsed.year > 2999:
        raise field_error(field, _("“%(value)s” is out of range.") % {"value": value})
    return parsed


def _datetime_from_text(raw: str, field: str) -> dt.datetime:
    """ISO 8601 first; failing that, any form `date` reads, at midnight."""
    try:
        parsed = parse_datetime(raw)
    except ValueError:
        parsed = None
    if parsed is not None:
        return parsed
    try:
        day = date(raw, field)
    except ValidationError:
        day = None
    if day is None:
        raise field_error(field, _("“%(value)s” is not a valid date/time (use ISO 8601).") % {"value": raw})
    return dt.datetime.combine(day, dt.time())


def boolean(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise field_error(field, _("“%(value)s” is not yes/no.") % {"value": value})


def money(value: Any, field: str) -> Decimal:
    if blank(value):
        raise field_error(field, _("This field is required."))
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise field_error(field, _("“%(value)s” is not a number.") % {"value": value}) from None
    if not amount.is_finite() or abs(amount) >= MAX_AMOUNT:
        raise field_error(field, _("“%(value)s” is out of range.") % {"value": value})
    return amount.quantize(Decimal("0.01"))


def channel(value: Any, field: str = "channel") -> str:
    return choice(value, field, Channel, default=Channel.ONLINE)


def country(value: Any, field: str = "country") -> str:
    if blank(value):
        return ""
    cleaned = str(value).strip().upper()
    if len(cleaned) != 2 or not cleaned.isalpha():
        raise field_error(field, _("Use a two-letter country code, e.g. IL."))
    return cleaned


def language(value: Any, field: str = "language") -> str:
    if blank(value):
        return ""
    cleaned = str(value).strip().lower()
    if len(cleaned) > 10 or not cleaned.replace("-", "").isalpha():
        raise field_error(field, _("Use a language code, e.g. he or en."))
    return cleaned


def attributes(value: Any, field: str = "attributes") -> dict:
    """Custom attributes: any keys; keys with a CustomField definition are type-checked."""
    if blank(value):
        return {}
    if not isinstance(value, dict):
        raise field_error(field, _("Must be an object of key/value pairs."))
    definitions = {f.key: f for f in CustomField.objects.filter(key__in=list(value))}
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[ValidationError]] = {}
    for key, raw in value.items():
        if not isinstance(key, str) or not key.strip() or len(key) > 64:
            errors.setdefault(field, []).append(
                ValidationError(_("“%(key)s” is not a valid attribute name.") % {"key": key}, code="invalid_key")
            )
            continue
        definition = definitions.get(key)
        try:
            cleaned[key] = attribute_value(definition, raw, f"{field}.{key}") if definition else raw
        except ValidationError as exc:  # every bad value is reported, not only the first
            errors.update(exc.error_dict)
    if errors:
        raise ValidationError(errors)
    return cleaned


def attribute_value(definition: CustomField, raw: Any, field: str) -> Any:
    if blank(raw):
        return None
    if definition.type == CustomField.Type.NUMBER:
        try:
            number = float(str(raw).strip())
        except ValueError:
            raise field_error(field, _("“%(value)s” is not a number.") % {"value": raw}) from None
        if not math.isfinite(number):
            raise field_error(field, _("“%(value)s” is not a number.") % {"value": raw})
        return int(number) if number.is_integer() else number
    if definition.type == CustomField.Type.DATE:
        day = date(raw, field)
        return day.isoformat() if day else None
    if definition.type == CustomField.Type.BOOLEAN:
        return boolean(raw, field)
    if definition.type == CustomField.Type.CHOICE:
        allowed = {str(c).strip().lower(): str(c) for c in definition.choices}
        if str(raw).strip().lower() not in allowed:
            raise field_error(field, _("“%(value)s” is not an allowed choice.") % {"value": raw})
        return allowed[str(raw).strip().lower()]
    return str(raw).strip()


def tag_names(value: Any, field: str = "tags") -> list[str]:
    if blank(value):
        return []
    if isinstance(value, str):
        value = value.replace(";", ",").split(",")
    if not isinstance(value, (list, tuple)):
        raise field_error(field, _("Must be a list of tag names."))
    names: list[str] = []
    for name in value:
        cleaned = " ".join(str(name).split())
        if len(cleaned) > 100:
            raise field_error(field, _("A tag name has at most 100 characters."))
        if cleaned and cleaned.lower() not in {n.lower() for n in names}:
            names.append(cleaned)
    return names


def contact_fields(data: dict) -> dict:
    """Normalize every contact field present in `data`; all errors are collected, per field."""
    cleaners: dict[str, Callable[[Any], Any]] = {
        "email": email,
        "phone": phone,
        "external_id": lambda v: identifier(v, "external_id"),
        "country": country,
        "language": language,
        "signed_up_at": lambda v: datetime(v, "signed_up_at"),
        "attributes": attributes,
        "tags": tag_names,
        "source_detail": lambda v: text(v, "source_detail", 200),
        "consent_text": consent_text,
    }
    for name in TEXT_FIELDS:
        cleaners.setdefault(name, partial(text, field=name))
    for name, choices in CHOICE_FIELDS.items():
        default = "" if name == "source" else "unknown"
        cleaners[name] = partial(choice, field=name, choices=choices, default=default)
    for name in DATE_FIELDS:
        cleaners[name] = partial(date, field=name)
    for name in BOOL_FIELDS:
        cleaners[name] = partial(boolean, field=name)

    cleaned, errors = {}, {}
    for name, value in data.items():
        cleaner = cleaners.get(name)
        if cleaner is None:
            continue
        try:
            cleaned[name] = cleaner(value)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    return cleaned
