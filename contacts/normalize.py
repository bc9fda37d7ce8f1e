"""Validation and normalization of raw contact input, shared by every door (admin, CSV, API).

Each function takes what a person or partner sent (strings from a CSV, JSON values from
the API) and returns the stored form, or raises ValidationError naming the field.
"""
import datetime as dt
import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from .models import Channel, CustomField, Gender, MaritalStatus, Source

TEXT_FIELDS = ("first_name", "last_name", "city", "region", "source_detail")
CHOICE_FIELDS = {"gender": Gender, "marital_status": MaritalStatus, "source": Source}
DATE_FIELDS = ("birth_date", "wedding_date")
BOOL_FIELDS = ("email_opt_in", "sms_opt_in")
TRUE_WORDS = {"1", "true", "yes", "y", "on", "t", "כן"}
FALSE_WORDS = {"0", "false", "no", "n", "off", "f", "לא", ""}


def field_error(field: str, message: str) -> ValidationError:
    return ValidationError({field: [message]})


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
    region = phonenumbers.region_code_for_country_code(number.country_code)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    national = phonenumbers.national_significant_number(number)
    return bool(metadata and phonenumbers.is_possible_number(number)
                and re.fullmatch(metadata.general_desc.national_number_pattern, national))


def text(value: Any, field: str, max_length: int = 100) -> str:
    if blank(value):
        return ""
    cleaned = " ".join(str(value).split())
    if len(cleaned) > max_length:
        raise field_error(field, _("At most %(n)d characters.") % {"n": max_length})
    return cleaned


def identifier(value: Any, field: str, max_length: int = 100) -> str | None:
    if blank(value):
        return None
    cleaned = str(value).strip()
    if len(cleaned) > max_length:
        raise field_error(field, _("At most %(n)d characters.") % {"n": max_length})
    return cleaned


def choice(value: Any, field: str, choices: type, default: str | None = None) -> str:
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
                parsed = dt.datetime.strptime(raw, fmt).date()
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
        raw = str(value).strip()
        try:
            parsed = parse_datetime(raw)
        except ValueError:
            parsed = None
        if parsed is None:
            try:
                day = date(raw, field)
            except ValidationError:
                raise field_error(
                    field, _("“%(value)s” is not a valid date/time (use ISO 8601).") % {"value": raw}
                ) from None
            parsed = dt.datetime.combine(day, dt.time())
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    if parsed.year < 1900 or parsed.year > 2999:
        raise field_error(field, _("“%(value)s” is out of range.") % {"value": value})
    return parsed


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
    if not amount.is_finite() or abs(amount) >= Decimal("1e12"):
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
    cleaned, errors = {}, {}
    for key, raw in value.items():
        if not isinstance(key, str) or not key.strip() or len(key) > 64:
            errors.setdefault(field, []).append(_("“%(key)s” is not a valid attribute name.") % {"key": key})
            continue
        definition = definitions.get(key)
        try:
            cleaned[key] = attribute_value(definition, raw, f"{field}.{key}") if definition else raw
        except ValidationError as exc:  # every bad value is reported, not only the first
            errors.update(exc.message_dict)
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
        return date(raw, field).isoformat()
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
        value = [part for part in value.replace(";", ",").split(",")]
    if not isinstance(value, (list, tuple)):
        raise field_error(field, _("Must be a list of tag names."))
    names = []
    for name in value:
        cleaned = " ".join(str(name).split())
        if len(cleaned) > 100:
            raise field_error(field, _("A tag name has at most 100 characters."))
        if cleaned and cleaned.lower() not in {n.lower() for n in names}:
            names.append(cleaned)
    return names


def contact_fields(data: dict) -> dict:
    """Normalize every contact field present in `data`; all errors are collected, per field."""
    cleaners = {
        "email": email,
        "phone": phone,
        "external_id": lambda v: identifier(v, "external_id"),
        "country": country,
        "language": language,
        "signed_up_at": lambda v: datetime(v, "signed_up_at"),
        "attributes": attributes,
        "tags": tag_names,
        "source_detail": lambda v: text(v, "source_detail", 200),
    }
    for name in TEXT_FIELDS:
        cleaners.setdefault(name, lambda v, n=name: text(v, n))
    for name, choices in CHOICE_FIELDS.items():
        default = "" if name == "source" else "unknown"
        cleaners[name] = lambda v, n=name, c=choices, d=default: choice(v, n, c, d)
    for name in DATE_FIELDS:
        cleaners[name] = lambda v, n=name: date(v, n)
    for name in BOOL_FIELDS:
        cleaners[name] = lambda v, n=name: boolean(v, n)

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
