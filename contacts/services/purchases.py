"""Purchases, online and in store: one per (source, external_id)."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from .. import hooks
from ..models import Contact, Product, Purchase, PurchaseItem, Store
from .base import ensure_not_erased
from .derived import contacts_add_purchases, contacts_refresh_purchase_stats


@dataclass(frozen=True)
class PurchaseLine:
    product: Product
    quantity: int
    unit_price: Decimal


@transaction.atomic
def purchase_record(
    *,
    contact: Contact,
    source: str,
    external_id: str | None,
    channel: str,
    purchased_at: dt.datetime,
    total: Decimal,
    currency: str,
    store: Store | None,
    items: list[PurchaseLine],
    utm_source: str = "",
    utm_medium: str = "",
    utm_campaign: str = "",
) -> tuple[Purchase, bool]:
    """Record one purchase; the same (source, external_id) twice returns the first one, created=False.

    The UTM parameters are those of the visit that ended in the order (channel ROMI reads utm_source)."""
    if external_id:
        existing = Purchase.objects.filter(source=source, external_id=external_id).first()
        if existing:
            return existing, False
    ensure_not_erased(contact.pk)
    try:
        with transaction.atomic():
            purchase = Purchase.objects.create(
                contact=contact,
                source=source,
                external_id=external_id,
                channel=channel,
                store=store,
                purchased_at=purchased_at,
                total=total,
                currency=currency,
                utm_source=utm_source,
                utm_medium=utm_medium,
                utm_campaign=utm_campaign,
            )
    except IntegrityError:
        if not external_id:
            raise
        return Purchase.objects.get(source=source, external_id=external_id), False
    PurchaseItem.objects.bulk_create(
        [
            PurchaseItem(purchase=purchase, product=line.product, quantity=line.quantity, unit_price=line.unit_price)
            for line in items
        ]
    )
    hooks.purchases_stored([purchase.pk])
    contacts_add_purchases(contact_ids=[contact.pk], purchase_ids=[purchase.pk])
    hooks.purchases_recorded({channel: [contact.pk]})
    return purchase, True


@transaction.atomic
def purchases_delete(*, purchases: QuerySet[Purchase]) -> int:
    """Delete purchases entered by mistake (the admin's delete): what derives from them is read again from the
    buyers' remaining purchases — their aggregates, lifecycle and RFM, the last purchase of each product, and
    whatever the apps above keep (the sales rollups). Returns how many purchases went."""
    buyers = sorted(set(purchases.values_list("contact_id", flat=True)))
    deleted = purchases.delete()[1].get(Purchase._meta.label, 0)
    contacts_refresh_purchase_stats(contact_ids=buyers)
    hooks.purchases_deleted(buyers)
    return deleted
