"""Audience files for ad platforms, streamed row by row so memory stays flat at any size.

Meta (Custom Audiences) and Google (Customer Match) each want their own normalization before
SHA-256 hashing, and they differ: Meta wants phone digits with the country code and no "+",
and hashes every column including country; Google wants E.164 with the "+", strips dots from
Gmail local parts, and leaves country and zip in clear text.

Each channel follows its own consent: an email address leaves only with email consent (opted in and
still reachable: not unsubscribed, bounced or complained), a phone number only with SMS consent. A
contact with neither is not exported at all, so no file ever carries someone who did not say yes
to the channel it is matched on.
"""

import csv
import hashlib
import io
import re
import unicodedata
from collections.abc import Iterator

from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet

from crm.csv_safety import SafeWriter

from .conditions import q_email_consent
from .models import Segment
from .selectors import segment_contacts

FORMATS = ("meta", "google", "csv")
BATCH = 2000
FIELDS = (
    "pk",
    "email",
    "phone",
    "first_name",
    "last_name",
    "city",
    "country",
    "birth_date",
    "gender",
    "email_ok",
    "phone_ok",
)


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest() if value else ""


def _letters(value: str) -> str:
    """Lowercase, no spaces or punctuation (letters of any script kept)."""
    value = unicodedata.normalize("NFKC", value or "").lower()
    return "".join(ch for ch in value if ch.isalnum())


def meta_row(c: dict) -> list[str]:
    phone = re.sub(r"\D", "", c["phone"] or "")
    gender = {"female": "f", "male": "m"}.get(c["gender"], "")
    dob = c["birth_date"].strftime("%Y%m%d") if c["birth_date"] else ""
    return [
        sha256((c["email"] or "").strip().lower()),
        sha256(phone),
        sha256(_letters(c["first_name"])),
        sha256(_letters(c["last_name"])),
        sha256(_letters(c["city"])),
        sha256((c["country"] or "").lower()),
        sha256(dob),
        sha256(gender),
    ]


def google_email(email: str) -> str:
    email = (email or "").strip().lower()
    local, _at, domain = email.partition("@")
    if domain in ("gmail.com", "googlemail.com"):
        local = local.replace(".", "")
    return f"{local}@{domain}" if domain else email


def google_row(c: dict) -> list[str]:
    first = unicodedata.normalize("NFKC", c["first_name"] or "").strip().lower()
    last = unicodedata.normalize("NFKC", c["last_name"] or "").strip().lower()
    return [
        sha256(google_email(c["email"])),
        sha256(c["phone"] or ""),
        sha256(first),
        sha256(last),
        (c["country"] or "").upper(),
        "",
    ]


def plain_row(c: dict) -> list[str]:
    return [
        str(c["pk"]),
        c["email"] or "",
        c["phone"] or "",
        c["first_name"],
        c["last_name"],
        c["city"],
        c["country"] or "",
    ]


HEADERS = {
    "meta": ["email", "phone", "fn", "ln", "ct", "country", "dob", "gen"],
    "google": ["Email", "Phone", "First Name", "Last Name", "Country", "Zip"],
    "csv": ["id", "email", "phone", "first_name", "last_name", "city", "country"],
}
ROWS = {"meta": meta_row, "google": google_row, "csv": plain_row}


def q_sms_consent() -> Q:
    return Q(phone__isnull=False, sms_opt_in=True) & ~Q(phone="")


def consented(qs: QuerySet) -> QuerySet:
    """Contacts with the consent of at least one channel, each flagged with which channels may leave."""
    email_ok = q_email_consent() & ~Q(email="")
    sms_ok = q_sms_consent()
    return qs.filter(email_ok | sms_ok).annotate(
        email_ok=ExpressionWrapper(email_ok, output_field=BooleanField()),
        phone_ok=ExpressionWrapper(sms_ok, output_field=BooleanField()),
    )


def _channels(contact: dict) -> dict:
    """The row as it may leave: the identifiers of the channels without consent blanked."""
    return {
        **contact,
        "email": contact["email"] if contact["email_ok"] else "",
        "phone": contact["phone"] if contact["phone_ok"] else "",
    }


def export_rows(segment: Segment, fmt: str) -> Iterator[str]:
    """CSV text, a batch of rows at a time, walking the segment by primary key."""
    row = ROWS[fmt]
    qs = consented(segment_contacts(segment)).order_by("pk").values(*FIELDS)
    buffer = io.StringIO()
    writer = SafeWriter(csv.writer(buffer))
    writer.writerow(HEADERS[fmt])
    last = 0
    while True:
        batch = list(qs.filter(pk__gt=last)[:BATCH])
        for contact in batch:
            writer.writerow(row(_channels(contact)))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if len(batch) < BATCH:
            return
        last = batch[-1]["pk"]


def export_filename(segment: Segment, fmt: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", segment.name).strip("-").lower() or f"segment-{segment.pk}"
    return f"{slug}-{fmt}.csv"
