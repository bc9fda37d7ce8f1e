"""Writes of the brand settings: one row, changed through one service."""

from django.core.files.storage import default_storage
from django.db import transaction

from crm.model_update import model_update

from ..brand import BRAND_PK, Brand

BRAND_FIELDS = (
    "name",
    "logo",
    "logo_url",
    "header_color",
    "accent_color",
    "background_color",
    "sender_name",
    "sender_email",
    "postal_address",
    "footer_he",
    "footer_en",
)
COLOUR_FIELDS = ("header_color", "accent_color", "background_color")


def brand_get_or_create() -> Brand:
    """The brand row, created with the defaults the first time it is asked for."""
    brand, _created = Brand.objects.get_or_create(pk=BRAND_PK)
    return brand


@transaction.atomic
def brand_update(**changes) -> Brand:
    """Change the brand settings (any of BRAND_FIELDS); every value is validated as the model says,
    `ValidationError` per field. A replaced or cleared logo file is deleted once the change commits."""
    brand = Brand.objects.select_for_update().filter(pk=BRAND_PK).first() or brand_get_or_create()
    previous_logo = brand.logo.name or ""
    data = {name: value for name, value in changes.items() if name in BRAND_FIELDS}
    for name in COLOUR_FIELDS:
        if isinstance(data.get(name), str):
            data[name] = data[name].strip().lower()
    brand, _changed = model_update(instance=brand, fields=BRAND_FIELDS, data=data)
    if previous_logo and previous_logo != (brand.logo.name or ""):
        transaction.on_commit(lambda: default_storage.delete(previous_logo))
    return brand
