"""The brand every customer mail wears: name, logo, colours, sender, postal address and footer.

One row (pk 1), edited in the back office. The mail layout and the From header read it through
`campaigns.branding`; a blank field falls back on the settings (DEFAULT_FROM_EMAIL) or on the
layout's own wording, never on the product's name.

A logo is an image a mail client fetches from us, so only raster formats recognised by their first
bytes are kept: SVG can carry script and is refused, whatever the file is called.
"""

import re
import secrets

from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.validators import MaxLengthValidator, RegexValidator, URLValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

BRAND_PK = 1
LOGO_MAX_BYTES = 300 * 1024
# The first bytes of each accepted format, and the extension a stored logo gets.
LOGO_FORMATS = (
    (re.compile(rb"\A\x89PNG\r\n\x1a\n"), "png", "image/png"),
    (re.compile(rb"\A\xff\xd8\xff"), "jpg", "image/jpeg"),
    (re.compile(rb"\AGIF8[79]a"), "gif", "image/gif"),
    (re.compile(rb"\ARIFF....WEBP", re.DOTALL), "webp", "image/webp"),
)
LOGO_EXTENSIONS = ("png", "jpg", "jpeg", "gif", "webp")

validate_colour = RegexValidator(
    r"\A#[0-9a-fA-F]{6}\Z", _("Enter a colour as # and six hexadecimal digits, e.g. #1d4ed8."), code="colour"
)
validate_https_url = URLValidator(schemes=["https"], message=_("Enter an https:// address of an image."))


def logo_format(head: bytes) -> tuple[str, str] | None:
    """(extension, content type) of an image by its first bytes, or None for anything else (SVG included)."""
    for pattern, extension, content_type in LOGO_FORMATS:
        if pattern.match(head):
            return extension, content_type
    return None


def validate_logo(file: File) -> None:
    """A PNG, JPEG, GIF or WebP of at most LOGO_MAX_BYTES, by its size and its bytes, not its name."""
    if getattr(file, "_committed", False):
        return  # a logo already stored was checked when it was uploaded
    if file.size is not None and file.size > LOGO_MAX_BYTES:
        raise ValidationError(
            _("The logo is %(size)d KB; at most %(max)d KB are allowed."),
            code="logo_size",
            params={"size": -(-file.size // 1024), "max": LOGO_MAX_BYTES // 1024},
        )
    extension = (file.name or "").rpartition(".")[2].lower()
    file.seek(0)
    head = file.read(16)
    file.seek(0)
    if extension not in LOGO_EXTENSIONS or logo_format(head) is None:
        raise ValidationError(
            _("The logo must be a PNG, JPEG, GIF or WebP image (SVG is not accepted)."), code="logo_type"
        )


def logo_upload_to(instance: "Brand", filename: str) -> str:
    """A new name for every upload, so a mail client never keeps showing a replaced logo."""
    extension = filename.rpartition(".")[2].lower()
    return f"brand/logo-{secrets.token_hex(8)}.{extension}"


def _colour(verbose_name, default: str, help_text) -> models.CharField:
    return models.CharField(
        verbose_name, max_length=7, default=default, validators=[validate_colour], help_text=help_text
    )


class Brand(models.Model):
    """The single row of brand settings; `campaigns.branding.current_brand` reads it."""

    name = models.CharField(
        _("brand name"),
        max_length=100,
        blank=True,
        help_text=_("Shown at the top of every mail (beside or instead of the logo) and as its alternative text."),
    )
    logo = models.FileField(
        _("logo"),
        upload_to=logo_upload_to,
        blank=True,
        validators=[validate_logo],
        help_text=_("PNG, JPEG, GIF or WebP, at most 300 KB; shown 48 pixels high. It takes the place of the URL."),
    )
    logo_url = models.URLField(
        _("logo URL"),
        max_length=500,
        blank=True,
        validators=[validate_https_url],
        help_text=_("Or the https:// address of a logo kept elsewhere."),
    )
    header_color = _colour(_("header colour"), "#ffffff", _("Background of the mail's top band."))
    accent_color = _colour(_("accent colour"), "#1d4ed8", _("Links and buttons."))
    background_color = _colour(_("background colour"), "#f4f4f5", _("Around the mail."))
    sender_name = models.CharField(
        _("sender name"),
        max_length=100,
        blank=True,
        help_text=_("The From name of every mail whose campaign leaves it blank; blank, DEFAULT_FROM_EMAIL's."),
    )
    sender_email = models.EmailField(
        _("sender address"),
        blank=True,
        help_text=_("The From address of every mail whose campaign leaves it blank; blank, DEFAULT_FROM_EMAIL's."),
    )
    postal_address = models.TextField(
        _("postal address"),
        max_length=500,
        blank=True,
        validators=[MaxLengthValidator(500)],
        help_text=_("Printed in the footer of every mail: marketing mail must carry the sender's postal address."),
    )
    footer_he = models.TextField(
        _("footer text (Hebrew)"),
        max_length=1000,
        blank=True,
        validators=[MaxLengthValidator(1000)],
        help_text=_("The footer of Hebrew mails; blank, a standard sentence on why the contact gets the mail."),
    )
    footer_en = models.TextField(
        _("footer text (English)"),
        max_length=1000,
        blank=True,
        validators=[MaxLengthValidator(1000)],
        help_text=_("The footer of English mails; blank, a standard sentence on why the contact gets the mail."),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("brand")
        verbose_name_plural = _("brand")
        constraints = [models.CheckConstraint(condition=models.Q(pk=BRAND_PK), name="brand_single_row")]

    def __str__(self) -> str:
        return str(self.name or _("Brand"))
