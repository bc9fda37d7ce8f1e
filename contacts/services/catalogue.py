"""Products and stores, as the shop's catalogue sends them."""

from typing import Any, TypeVar

from django.db import IntegrityError, models, transaction
from django.utils.translation import gettext as _

from crm.model_update import model_update

from .. import normalize
from ..models import Product, Store

PRODUCT_FIELDS = ("sku", "name", "category", "price", "replenishment_days")
STORE_FIELDS = ("code", "name", "city", "region")
M = TypeVar("M", bound=models.Model)


def product_save(*, product: Product | None = None, **fields: Any) -> Product:
    """Create or change a product from a shop's catalogue; a SKU in use by another product is an error."""
    return _save_unique(product, Product, PRODUCT_FIELDS, fields, "sku", _("Product %(value)s already exists."))


def store_save(*, store: Store | None = None, **fields: Any) -> Store:
    """Create or change a store; a code in use by another store is an error."""
    return _save_unique(store, Store, STORE_FIELDS, fields, "code", _("Store %(value)s already exists."))


def _save_unique(instance: M | None, model: type[M], names: tuple[str, ...], fields: dict, key: str, message: str) -> M:
    unknown = set(fields) - set(names)
    if unknown:
        raise TypeError(f"unknown {model.__name__} fields: {', '.join(sorted(unknown))}")
    try:
        with transaction.atomic():
            if instance is None:
                instance = model._default_manager.create(**fields)
            else:
                model_update(instance=instance, fields=names, data=fields)
    except IntegrityError:
        raise normalize.field_error(
            key, message % {"value": fields.get(key, getattr(instance, key, ""))}, "unique"
        ) from None
    return instance
