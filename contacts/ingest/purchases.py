"""Purchases from the partner API and the CSV import: one at a time, or set-based in batches."""

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import hooks, spend_months
from ..models import Product, Purchase, PurchaseItem, Store
from ..purchase_queue import purchases_queue
from ..serializers import PurchaseInSerializer, read_input, validate_each
from ..services import PurchaseLine, contact_resolve, purchase_record
from .common import Contacts, Errors, batch_result, contact_refs, lookup, rows_insert

PURCHASE_COLUMNS = (
    "contact_id",
    "source",
    "external_id",
    "channel",
    "store_id",
    "purchased_at",
    "total",
    "currency",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "created_at",
)
ITEM_COLUMNS = ("purchase_id", "product_id", "quantity", "unit_price")


def _unknown_references(item: dict, stores: dict, products: dict) -> Errors:
    problems: Errors = {}
    if item["store"] and item["store"] not in stores:
        problems["store"] = [
            ValidationError(_("Unknown store %(code)s.") % {"code": item["store"]}, code="does_not_exist")
        ]
    for n, line in enumerate(item["items"]):
        if line["sku"] not in products:
            problems[f"items.{n}.sku"] = [
                ValidationError(_("Unknown product %(sku)s.") % {"sku": line["sku"]}, code="does_not_exist")
            ]
    return problems


@transaction.atomic
def purchase_submit(*, item: dict) -> tuple[Purchase, bool]:
    """One purchase validated by `PurchaseInSerializer`: its store and products must exist; an order already
    stored is answered as it is (the buyer is not even resolved); else the buyer is resolved (created for a
    new email) and the purchase recorded."""
    stores = {s.code: s for s in Store.objects.filter(code=item["store"])} if item["store"] else {}
    products = {p.sku: p for p in Product.objects.filter(sku__in=[line["sku"] for line in item["items"]])}
    problems = _unknown_references(item, stores, products)
    if problems:
        raise ValidationError(problems)
    if item["external_id"]:
        existing = Purchase.objects.filter(source=item["source"], external_id=item["external_id"]).first()
        if existing:
            return existing, False
    contact = contact_resolve(contact_id=item["contact"], email=item["email"], card_number=item["card_number"])
    return purchase_record(
        contact=contact,
        source=item["source"],
        external_id=item["external_id"],
        channel=item["channel"],
        purchased_at=item["purchased_at"] or timezone.now(),
        total=item["total"],
        currency=item["currency"],
        store=stores.get(item["store"]),
        items=[
            PurchaseLine(product=products[line["sku"]], quantity=line["quantity"], unit_price=line["unit_price"])
            for line in item["items"]
        ],
        utm_source=item["utm_source"],
        utm_medium=item["utm_medium"],
        utm_campaign=item["utm_campaign"],
    )


def purchase_ingest(*, data: Any) -> tuple[Purchase, bool]:
    """One purchase from raw input, as the API takes it: read by `PurchaseInSerializer`, then submitted."""
    return purchase_submit(item=read_input(PurchaseInSerializer, data))


def purchases_record_bulk(*, items: list) -> dict:
    """Record a batch of purchases; returns `{"created", "duplicates", "errors": [{"index", "errors"}]}`."""
    valid, errors = validate_each(PurchaseInSerializer, items)
    stores = lookup(Store, "code", {c["store"] for c in valid.values() if c["store"]})
    products = lookup(Product, "sku", {line["sku"] for c in valid.values() for line in c["items"]})
    refs = {index: contact_refs(clean) for index, clean in valid.items()}
    contacts = Contacts(refs.values())
    for index, clean in list(valid.items()):
        problems = {**contacts.check(refs[index]), **_unknown_references(clean, stores, products)}
        if problems:
            errors[index] = problems
            del valid[index]
    new, duplicates = _split_new_purchases(valid)
    try:
        with transaction.atomic():
            contacts.create_missing({refs[i][0][1] for i in new if refs[i][0][0] == "email"}, "api")
            _purchases_insert(new, refs, contacts, stores, products)
    except IntegrityError:
        return replay_one_by_one(purchase_submit, new, duplicates, errors)
    return batch_result(len(new), duplicates, errors)


def _split_new_purchases(valid: dict[int, dict]) -> tuple[dict[int, dict], int]:
    """Items whose (source, external_id) is neither stored nor repeated earlier in the batch."""
    stored = _stored_keys({(c["source"], c["external_id"]) for c in valid.values() if c["external_id"]})
    new, duplicates = {}, 0
    for index, clean in valid.items():
        key = (clean["source"], clean["external_id"])
        if clean["external_id"] and key in stored:
            duplicates += 1
            continue
        if clean["external_id"]:
            stored.add(key)
        new[index] = clean
    return new, duplicates


def _stored_keys(keys: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of these (source, external_id) keys are stored. On PostgreSQL each key is one probe of the unique
    index (a LATERAL subquery per key): given the sources and the ids as two lists, or joined with the keys, the
    planner may read every stored key of the source instead, a cost that grows with the orders stored."""
    if not keys:
        return set()
    if connection.vendor != "postgresql":
        found = Purchase.objects.filter(source__in={s for s, _e in keys}, external_id__in={e for _s, e in keys})
        return {key for key in found.values_list("source", "external_id") if key in keys}
    sources, external_ids = zip(*keys, strict=True)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT k.source, k.external_id FROM unnest(%s::text[], %s::text[]) AS k(source, external_id) "
            f"CROSS JOIN LATERAL (SELECT 1 FROM {Purchase._meta.db_table} p WHERE p.source = k.source "
            "AND p.external_id = k.external_id AND p.external_id IS NOT NULL LIMIT 1) AS stored",
            [list(sources), list(external_ids)],
        )
        return set(cursor.fetchall())


def _purchases_insert(
    new: dict[int, dict], refs: dict[int, list], contacts: Contacts, stores: dict, products: dict
) -> None:
    now = timezone.now()
    cleans = list(new.values())
    contact_ids = [contacts.id_for(refs[index][0]) for index in new]
    deferred = spend_months.defer_adding()  # the periods last, locked for the shortest time
    purchase_ids = rows_insert(
        Purchase,
        PURCHASE_COLUMNS,
        [
            (
                contact_id,
                c["source"],
                c["external_id"],
                c["channel"],
                stores.get(c["store"]),
                c["purchased_at"] or now,
                c["total"],
                c["currency"],
                c["utm_source"],
                c["utm_medium"],
                c["utm_campaign"],
                now,
            )
            for contact_id, c in zip(contact_ids, cleans, strict=True)
        ],
    )
    rows_insert(
        PurchaseItem,
        ITEM_COLUMNS,
        [
            (purchase_id, products[line["sku"]], line["quantity"], line["unit_price"])
            for purchase_id, c in zip(purchase_ids, cleans, strict=True)
            for line in c["items"]
        ],
        returning=False,
    )
    hooks.purchases_stored(purchase_ids)
    purchases_queue(purchase_ids)
    if deferred:
        spend_months.add_deferred(purchase_ids)


def replay_one_by_one(
    submit: Callable[..., tuple[Any, bool]], new: dict[int, dict], duplicates: int, errors: dict[int, Errors]
) -> dict:
    """A concurrent batch stored some of the same keys first: replay through the single-item path."""
    created = 0
    for index, item in new.items():
        try:
            _row, was_created = submit(item=item)
        except ValidationError as exc:
            errors[index] = exc.message_dict
            continue
        created += was_created
        duplicates += not was_created
    return batch_result(created, duplicates, errors)
