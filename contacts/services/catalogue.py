"""Products and stores, as the shop's catalogue sends them."""
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from .. import normalize
from ..models import Product, Store


def product_save(*, data: dict, product: Product | None = None) -> Product:
    """Create or change a product from a shop's catalogue; a SKU in use by another product is an error."""
    return _save_unique(product or Product(), data, "sku", _("Product %(value)s already exists."))


def store_save(*, data: dict, store: Store | None = None) -> Store:
    return _save_unique(store or Store(), data, "code", _("Store %(value)s already exists."))


def _save_unique(obj: Any, data: dict, key: str, message: str) -> Any:
    for field, value in data.items():
        setattr(obj, field, value)
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError:
        raise normalize.field_error(key, message % {"value": getattr(obj, key)}) from None
    return obj
