"""Purchases, online and in store: one per (source, external_id), contact by id, card or email."""
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import normalize
from ..models import Product, Purchase, PurchaseItem, Store
from .contacts import contact_resolve
from .derived import contacts_refresh_purchase_stats

MAX_UNIT_PRICE = Decimal("1e10")  # PurchaseItem.unit_price holds 12 digits, 2 of them decimals



def purchase_clean(data: dict) -> dict:
    """Validate one purchase payload; every error names its field (items as items.N.field)."""
    errors: dict[str, list] = {}
    clean: dict[str, Any] = {}

    def run(field: str, fn: Any) -> None:
        try:
            clean[field] = fn()
        except ValidationError as exc:
            errors.update(exc.message_dict)

    run("source", lambda: normalize.identifier(data.get("source"), "source", 50) or "api")
    run("external_id", lambda: normalize.identifier(data.get("external_id"), "external_id"))
    run("channel", lambda: normalize.channel(data.get("channel")))
    run("purchased_at", lambda: normalize.datetime(data.get("purchased_at"), "purchased_at") or timezone.now())
    run("total", lambda: normalize.money(data.get("total"), "total"))
    run("currency", lambda: (normalize.text(data.get("currency"), "currency", 3) or "ILS").upper())
    clean["store_code"] = normalize.identifier(data.get("store"), "store", 50)
    items = data.get("items") or []
    if not isinstance(items, list):
        errors["items"] = [_("Must be a list.")]
        items = []
    clean["items"] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            errors[f"items.{index}"] = [_("Must be an object with sku, quantity and unit_price.")]
            continue
        sku = normalize.identifier(item.get("sku"), "sku", 64)
        if not sku:
            errors[f"items.{index}.sku"] = [_("This field is required.")]
        try:
            quantity = int(item.get("quantity", 1))
            if quantity < 1 or quantity > 1_000_000:
                raise ValueError
        except (TypeError, ValueError):
            errors[f"items.{index}.quantity"] = [_("Must be a whole number of at least 1.")]
            quantity = 1
        try:
            price = normalize.money(item.get("unit_price"), f"items.{index}.unit_price")
            if abs(price) >= MAX_UNIT_PRICE:
                raise normalize.field_error(f"items.{index}.unit_price", _("“%(value)s” is out of range.") % {
                    "value": price})
        except ValidationError as exc:
            errors.update(exc.message_dict)
            price = Decimal("0")
        clean["items"].append({"sku": sku, "quantity": quantity, "unit_price": price})
    if clean.get("total") is not None and clean["total"] < 0:
        errors["total"] = [_("Must not be negative.")]
    if errors:
        raise ValidationError(errors)
    return clean


def _purchase_refs(clean: dict, stores: dict, products: dict) -> None:
    errors = {}
    if clean["store_code"] and clean["store_code"] not in stores:
        errors["store"] = [_("Unknown store %(code)s.") % {"code": clean["store_code"]}]
    for index, item in enumerate(clean["items"]):
        if item["sku"] and item["sku"] not in products:
            errors[f"items.{index}.sku"] = [_("Unknown product %(sku)s.") % {"sku": item["sku"]}]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def purchase_record(*, data: dict) -> tuple[Purchase, bool]:
    """Record one purchase; the same (source, external_id) twice returns the first one, created=False."""
    clean = purchase_clean(data)
    stores = {s.code: s for s in Store.objects.filter(code=clean["store_code"])} if clean["store_code"] else {}
    products = {p.sku: p for p in Product.objects.filter(sku__in=[i["sku"] for i in clean["items"]])}
    _purchase_refs(clean, stores, products)
    if clean["external_id"]:
        existing = Purchase.objects.filter(source=clean["source"], external_id=clean["external_id"]).first()
        if existing:
            return existing, False
    contact = contact_resolve(contact_id=data.get("contact"), email=data.get("email"),
                              card_number=data.get("card_number"))
    try:
        with transaction.atomic():
            purchase = Purchase.objects.create(
                contact=contact, source=clean["source"], external_id=clean["external_id"],
                channel=clean["channel"], store=stores.get(clean["store_code"]),
                purchased_at=clean["purchased_at"], total=clean["total"], currency=clean["currency"],
            )
    except IntegrityError:
        if not clean["external_id"]:
            raise
        return Purchase.objects.get(source=clean["source"], external_id=clean["external_id"]), False
    PurchaseItem.objects.bulk_create([
        PurchaseItem(purchase=purchase, product=products[i["sku"]], quantity=i["quantity"],
                     unit_price=i["unit_price"]) for i in clean["items"]
    ])
    contacts_refresh_purchase_stats(contact_ids=[contact.pk])
    return purchase, True
