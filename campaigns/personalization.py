"""What a template may personalize with, and the values it gets: the variable schema and batch contexts.

The schema is what saving a template checks every variable against (`campaigns.rendering`); the
contexts give each contact of a batch exactly those variables, with a handful of queries whatever
the batch size.
"""

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import Count, Max, OuterRef, Subquery
from django.utils import timezone

from contacts.models import Channel, Contact, LoyaltyMember, Product, Purchase, PurchaseItem

from .brand import Brand
from .branding import BRAND_KEYS, brand_context, current_brand
from .labels import lazy_money_label

if TYPE_CHECKING:
    from .rendering import Compiled

ANY = "any"
LEAF = None


@dataclass(frozen=True)
class ListOf:
    item: Any


CONTACT: dict[str, Any] = dict.fromkeys(
    (
        "first_name",
        "last_name",
        "full_name",
        "email",
        "phone",
        "city",
        "region",
        "country",
        "language",
        "gender",
        "birth_date",
        "wedding_date",
        "marital_status",
        "source",
        "source_detail",
        "signed_up_at",
        "id",
    ),
    LEAF,
)
CONTACT["attributes"] = ANY
CLUB = dict.fromkeys(("card_number", "tier", "tier_label", "points", "joined_at"), LEAF)
ITEM = dict.fromkeys(("name", "sku", "category", "quantity", "unit_price", "unit_price_label"), LEAF)
PURCHASE = {
    **dict.fromkeys(("purchased_at", "total", "total_label", "currency", "channel", "store"), LEAF),
    "items": ListOf(ITEM),
}
PRODUCT = dict.fromkeys(("name", "sku", "category", "price", "price_label"), LEAF)
RUNNING_OUT = {**PRODUCT, "due_on": LEAF}
SCHEMA = {
    "contact": CONTACT,
    "club": CLUB,
    "last_purchase": PURCHASE,
    "recommended": ListOf(PRODUCT),
    "running_out": ListOf(RUNNING_OUT),
    "campaign": {"name": LEAF},
    "brand": dict.fromkeys(BRAND_KEYS, LEAF),
    "unsubscribe_url": LEAF,
    "view_in_browser_url": LEAF,
    "site_url": LEAF,
}
RECOMMENDED_COUNT = 4
# Prices of the catalogue carry no currency of their own.
CATALOGUE_CURRENCY = "ILS"
# Products shown as running out: due (last purchase + replenishment days) from a week ago to two weeks ahead.
RUNNING_OUT_WINDOW = (-7, 14)


def contact_context(contact: Contact) -> dict:
    data = {name: getattr(contact, name) for name in CONTACT if name not in ("full_name", "attributes")}
    data.update(full_name=contact.full_name, attributes=dict(contact.attributes or {}))
    return data


def _label(choices: type, value: str) -> Any:
    """A choice's label, lazy: it becomes text in the language the mail renders its labels in
    (`campaigns.labels`), not in the language of whoever sends it."""
    try:
        return choices(value).label
    except ValueError:
        return value


def club_context(contact: Contact) -> dict | None:
    member = getattr(contact, "club", None) if hasattr(contact, "club") else None
    if member is None:
        return None
    return {
        "card_number": member.card_number,
        "tier": member.tier,
        "tier_label": _label(LoyaltyMember.Tier, member.tier),
        "points": member.points,
        "joined_at": member.joined_at,
    }


def _last_purchases(ids: list[int]) -> dict[int, dict]:
    latest = Purchase.objects.filter(contact=OuterRef("pk")).order_by("-purchased_at", "-pk").values("pk")[:1]
    purchase_ids = [
        p
        for p in Contact.objects.filter(pk__in=ids).annotate(last=Subquery(latest)).values_list("last", flat=True)
        if p
    ]
    result = {}
    for purchase in (
        Purchase.objects.filter(pk__in=purchase_ids).select_related("store").prefetch_related("items__product")
    ):
        result[purchase.contact_id] = {
            "purchased_at": purchase.purchased_at,
            "total": purchase.total,
            "total_label": lazy_money_label(purchase.total, purchase.currency),
            "currency": purchase.currency,
            "channel": _label(Channel, purchase.channel),
            "store": purchase.store.name if purchase.store else "",
            "items": [
                {
                    "name": i.product.name,
                    "sku": i.product.sku,
                    "category": i.product.category,
                    "quantity": i.quantity,
                    "unit_price": i.unit_price,
                    "unit_price_label": lazy_money_label(i.unit_price, purchase.currency),
                }
                for i in purchase.items.all()
            ],
        }
    return result


def _recommendations(ids: list[int]) -> dict[int, list]:
    """Best sellers of the categories each contact buys from, that it has not bought yet; best
    sellers overall for contacts with no purchase. Three queries for the whole batch."""
    bought = PurchaseItem.objects.filter(purchase__contact_id__in=ids).values_list(
        "purchase__contact_id", "product_id", "product__category"
    )
    products_by_contact: dict[int, set] = {}
    categories_by_contact: dict[int, Counter] = {}
    for contact_id, product_id, category in bought:
        products_by_contact.setdefault(contact_id, set()).add(product_id)
        categories_by_contact.setdefault(contact_id, Counter())[category] += 1
    popular = list(
        Product.objects.annotate(sold=Count("items"))
        .order_by("-sold", "pk")[:200]
        .values("pk", "name", "sku", "category", "price")
    )
    result = {}
    for contact_id in ids:
        owned = products_by_contact.get(contact_id, set())
        liked = [c for c, _n in categories_by_contact.get(contact_id, Counter()).most_common()]
        ranked = sorted(
            (p for p in popular if p["pk"] not in owned),
            key=lambda p: liked.index(p["category"]) if p["category"] in liked else len(liked),
        )
        result[contact_id] = [
            {**{k: p[k] for k in ("name", "sku", "category", "price")}, "price_label": _price_label(p["price"])}
            for p in ranked[:RECOMMENDED_COUNT]
        ]
    return result


def _running_out(ids: list[int]) -> dict[int, list]:
    """Each contact's products with a replenishment cycle that run out soon (or just did), soonest first:
    the date of its last purchase of the product + the product's replenishment days. One query."""
    rows = (
        PurchaseItem.objects.filter(purchase__contact_id__in=ids, product__replenishment_days__isnull=False)
        .values("purchase__contact_id", "product__name", "product__sku", "product__category", "product__price")
        .annotate(last=Max("purchase__purchased_at"), days=Max("product__replenishment_days"))
    )
    today = timezone.localdate()
    start, end = (today + dt.timedelta(days=d) for d in RUNNING_OUT_WINDOW)
    result: dict[int, list] = {}
    for row in rows:
        due_on = timezone.localdate(row["last"]) + dt.timedelta(days=row["days"])
        if start <= due_on <= end:
            product = {
                "name": row["product__name"],
                "sku": row["product__sku"],
                "category": row["product__category"],
                "price": row["product__price"],
                "price_label": _price_label(row["product__price"]),
                "due_on": due_on,
            }
            result.setdefault(row["purchase__contact_id"], []).append(product)
    for products in result.values():
        products.sort(key=lambda product: (product["due_on"], product["name"]))
    return result


def _price_label(price: Any) -> Any:
    return lazy_money_label(price, CATALOGUE_CURRENCY) if price is not None else ""


def batch_contexts(
    compiled: "Compiled", contacts: list[Contact], extra: dict[int, dict], *, brand: Brand | None = None
) -> dict[int, dict]:
    """Template contexts for a batch; `extra[contact_id]` holds the message's own URLs. The brand is read
    once for the batch unless given."""
    ids = [c.pk for c in contacts]
    branded = brand_context(brand or current_brand(), compiled.language)
    purchases = _last_purchases(ids) if "last_purchase" in compiled.uses else {}
    recommended = _recommendations(ids) if "recommended" in compiled.uses else {}
    running_out = _running_out(ids) if "running_out" in compiled.uses else {}
    site = settings.SITE_URL
    return {
        c.pk: {
            "contact": contact_context(c),
            "club": club_context(c),
            "last_purchase": purchases.get(c.pk),
            "recommended": recommended.get(c.pk, []),
            "running_out": running_out.get(c.pk, []),
            "site_url": site,
            "brand": branded,
            **extra.get(c.pk, {}),
        }
        for c in contacts
    }


def sample_context() -> dict:
    """A contact with no data: what a template must render for without reaching a limit."""
    return {
        "contact": contact_context(Contact()),
        "club": None,
        "last_purchase": None,
        "recommended": [],
        "running_out": [],
        "site_url": settings.SITE_URL,
        "campaign": {"name": ""},
        "unsubscribe_url": "#unsubscribe",
        "view_in_browser_url": "#view-in-browser",
        "brand": brand_context(Brand(), settings.LANGUAGE_CODE),
    }
