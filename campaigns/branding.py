"""Reads of the brand settings for what leaves the building: the layout's brand block and the From header.

Read once per batch of mails (or per preview), passed down from there: a campaign of a million mails
reads the row once per batch, not once per mail.
"""

import re
from email.utils import parseaddr

from django.conf import settings
from django.urls import reverse

from .brand import BRAND_PK, Brand

COLOUR = re.compile(r"\A#[0-9a-fA-F]{6}\Z")

# Keys of the `brand` variable of a mail (campaigns.personalization.SCHEMA).
BRAND_KEYS = (
    "name",
    "logo_url",
    "header_color",
    "header_text_color",
    "accent_color",
    "background_color",
    "postal_address",
    "footer",
)


def current_brand() -> Brand:
    """The saved brand settings, or the defaults when none were saved yet (not written)."""
    return Brand.objects.filter(pk=BRAND_PK).first() or Brand(pk=BRAND_PK)


def brand_name(brand: Brand) -> str:
    """The name a mail's header shows: the brand's, else DEFAULT_FROM_EMAIL's display name."""
    return brand.name or brand.sender_name or parseaddr(settings.DEFAULT_FROM_EMAIL)[0]


def logo_url(brand: Brand) -> str:
    """An absolute address a mail client can fetch: the uploaded logo served by us, else the https URL."""
    if brand.logo:
        name = (brand.logo.name or "").rpartition("/")[2]
        return settings.SITE_URL + reverse("campaigns:brand-logo", kwargs={"name": name})
    return brand.logo_url


def colour(value: str, field: str) -> str:
    """A saved colour as #rrggbb, or the field's default: only such a value ever reaches a style sheet."""
    if COLOUR.match(value or ""):
        return value.lower()
    return str(getattr(Brand._meta.get_field(field), "default", ""))


def readable_on(background: str) -> str:
    """Dark text on a light background, white on a dark one (relative luminance, WCAG)."""
    channels = [int(background[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return "#1f2937" if luminance > 0.4 else "#ffffff"


def brand_context(brand: Brand, language: str) -> dict:
    """The `brand` variable of a mail in `language` (the template's): plain strings, escaped where shown."""
    footer = brand.footer_he if language == "he" else brand.footer_en
    header = colour(brand.header_color, "header_color")
    return {
        "name": brand_name(brand),
        "logo_url": logo_url(brand),
        "header_color": header,
        "header_text_color": readable_on(header),
        "accent_color": colour(brand.accent_color, "accent_color"),
        "background_color": colour(brand.background_color, "background_color"),
        "postal_address": brand.postal_address.strip(),
        "footer": footer.strip(),
    }


def sender_parts(brand: Brand) -> tuple[str, str]:
    """(name, address) a mail is from when its campaign names neither: the brand's, else DEFAULT_FROM_EMAIL's."""
    default_name, default_email = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return brand.sender_name or default_name, brand.sender_email or default_email
