"""Set-based ingestion of partner batches: purchases and site events.

A batch of up to a thousand items costs a fixed number of queries whatever its size: every item is
validated in Python, the contacts, products and stores it names are resolved with one query per kind,
the (source, external_id) / event_id keys already stored are found with one query, the new rows go in
with `bulk_create`, and the derived state of the affected contacts is refreshed set-based by the
services in `contacts.services`. Invalid items are reported by index and never stop the valid ones.

Idempotency: a key already stored (or repeated inside the batch) counts as a duplicate. When two
identical batches race, the loser's bulk insert hits the unique constraints and the batch is replayed
item by item through the single-item services, which resolve each conflict to the stored row.
"""
import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from . import normalize
from .models import Activity, Contact, LoyaltyMember, Product, Purchase, PurchaseItem, Store
from .services import (
    activity_clean,
    activity_track,
    contact_changed,
    contacts_raise_stage,
    contacts_refresh_purchase_stats,
    identifiers_conflict,
    purchase_clean,
    purchase_record,
    stage_for_event,
    visitors_resolve,
)

MAX_BATCH = 1000
MAX_ID = 2**63 - 1

Errors = dict[str, list]


# ---------------------------------------------------------------- validation shared with the single endpoints

def _collect(errors: Errors, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors.setdefault(field, []).extend(messages)
        return None


def nul_fields(value: Any, path: str = "") -> list[str]:
    """Paths of the strings (keys or values, at any depth) holding a NUL character, which no database column takes."""
    found = []
    if isinstance(value, str):
        if "\x00" in value:
            found.append(path or "non_field_errors")
    elif isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and "\x00" in key:
                found.append(path or "non_field_errors")
            found.extend(nul_fields(item, child))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(nul_fields(item, f"{path}.{index}" if path else str(index)))
    return found


def _check_nul(raw: dict, errors: Errors) -> None:
    for field in nul_fields(raw):
        errors.setdefault(field.replace("\x00", ""), []).append(_("Null characters are not allowed."))


def _check_scalars(raw: dict, fields: Iterable[str], errors: Errors) -> None:
    for field in fields:
        value = raw.get(field)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (str, int))):
            errors.setdefault(field, []).append(_("Must be a string."))


REF_FIELDS = {"id": "contact", "card": "card_number", "email": "email"}


def _id_ref(raw: dict) -> tuple[str, Any] | None:
    contact_id = raw.get("contact")
    if normalize.blank(contact_id):
        return None
    if isinstance(contact_id, bool) or not isinstance(contact_id, (int, str)):
        raise normalize.field_error("contact", _("Must be a contact id (a whole number)."))
    try:
        value = int(contact_id)
    except ValueError:
        raise normalize.field_error("contact", _("Must be a contact id (a whole number).")) from None
    if not 0 < value <= MAX_ID:
        raise normalize.field_error("contact", _("Contact %(id)s does not exist.") % {"id": contact_id})
    return "id", value


def _card_ref(raw: dict) -> tuple[str, Any] | None:
    card = raw.get("card_number")
    if normalize.blank(card):
        return None
    if not isinstance(card, (str, int)) or isinstance(card, bool):
        raise normalize.field_error("card_number", _("Must be a card number."))
    return "card", normalize.identifier(card, "card_number", 50)


def _email_ref(raw: dict) -> tuple[str, Any] | None:
    email = raw.get("email")
    if normalize.blank(email):
        return None
    if not isinstance(email, str):
        raise normalize.field_error("email", _("Must be an email address."))
    return "email", normalize.email(email)


def contact_refs(raw: dict, *, required: bool = True) -> list[tuple[str, Any]]:
    """Every contact identifier an item gives, in the order the services resolve them: id, club card,
    email. The first one names the contact; the others must agree with it (checked by `_Contacts`)."""
    errors: Errors = {}
    refs = [_collect(errors, lambda reader=reader: reader(raw)) for reader in (_id_ref, _card_ref, _email_ref)]
    if errors:
        raise ValidationError(errors)
    refs = [ref for ref in refs if ref]
    if required and not refs:
        raise normalize.field_error("contact", _("Give a contact id, email or card number."))
    return refs


def purchase_validate(raw: Any, *, may_contain_nul: bool = True) -> dict:
    """A purchase item checked for shape and values (not yet for known contact, store or products)."""
    if not isinstance(raw, dict):
        raise ValidationError({"non_field_errors": [_("Must be an object.")]})
    errors: Errors = {}
    if may_contain_nul:
        _check_nul(raw, errors)
    _check_scalars(raw, ("external_id", "source", "store", "channel", "currency"), errors)
    if errors:
        raise ValidationError(errors)
    clean = _collect(errors, lambda: purchase_clean(raw)) or {}
    refs = _collect(errors, lambda: contact_refs(raw))
    if errors:
        raise ValidationError(errors)
    clean["refs"], clean["ref"] = refs, refs[0]
    return clean


def activity_validate(raw: Any, *, may_contain_nul: bool = True) -> dict:
    """An event item checked for shape and values (not yet for a known contact or product)."""
    if not isinstance(raw, dict):
        raise ValidationError({"non_field_errors": [_("Must be an object.")]})
    errors: Errors = {}
    if may_contain_nul:
        _check_nul(raw, errors)
    _check_scalars(raw, ("anonymous_id", "event_id", "product", "type"), errors)
    if errors:
        raise ValidationError(errors)
    clean = _collect(errors, lambda: activity_clean(raw)) or {}
    refs = _collect(errors, lambda: contact_refs(raw, required=False)) or []
    if not errors and not refs and not clean.get("anonymous_id"):
        errors["contact"] = [_("Give a contact id, email or anonymous_id.")]
    if errors:
        raise ValidationError(errors)
    clean["refs"], clean["ref"] = refs, (refs[0] if refs else None)
    return clean


# ---------------------------------------------------------------- resolution: one query per kind

class _Contacts:
    """Contact ids for a batch's references; unknown emails become new contacts (as the services do)."""

    def __init__(self, items: Iterable[list[tuple[str, Any]]]):
        items = list(items)
        refs = [ref for item in items for ref in item]
        self._secondary_emails = {v for item in items for k, v in item[1:] if k == "email"}
        ids = {v for k, v in refs if k == "id"}
        cards = {v for k, v in refs if k == "card"}
        self.emails = {v for k, v in refs if k == "email"}
        self.by_id = set(Contact.objects.filter(pk__in=ids).values_list("pk", flat=True)) if ids else set()
        self.erased = set(Contact.objects.filter(pk__in=ids, erased_at__isnull=False)
                          .values_list("pk", flat=True)) if ids else set()
        self.by_card = dict(LoyaltyMember.objects.filter(card_number__in=cards, contact__erased_at__isnull=True)
                            .values_list("card_number", "contact_id")) if cards else {}
        self.by_email: dict[str, int] = {}
        # Emails given beside an id or a card are only compared with it (never create a contact).
        seconds = self._secondary_emails
        self.owner_of_email = dict(Contact.objects.filter(email__in=seconds).values_list("email", "pk")) \
            if seconds else {}

    def check(self, refs: list[tuple[str, Any]]) -> Errors:
        """Unknown ids and cards, then identifiers of one item that name different contacts."""
        problems: Errors = {}
        for ref in refs:
            problems.update(self._check_one(ref))
        if problems or len(refs) < 2:
            return problems
        return identifiers_conflict({REF_FIELDS[kind]: self._owner(kind, value) for kind, value in refs})

    def _owner(self, kind: str, value: Any) -> int | None:
        if kind == "id":
            return value
        return self.by_card.get(value) if kind == "card" else self.owner_of_email.get(value)

    def _check_one(self, ref: tuple[str, Any]) -> Errors:
        kind, value = ref
        if kind == "id" and value not in self.by_id:
            return {"contact": [_("Contact %(id)s does not exist.") % {"id": value}]}
        if kind == "id" and value in self.erased:
            return {"contact": [_("Contact %(id)s has been erased and can no longer be changed.") % {"id": value}]}
        if kind == "card" and value not in self.by_card:
            return {"card_number": [_("No club member has card %(card)s.") % {"card": value}]}
        return {}

    def create_missing(self, emails: set[str], source: str) -> None:
        """Find the contacts of these emails, creating the missing ones in one insert."""
        if not emails:
            return
        self.by_email = dict(Contact.objects.filter(email__in=emails).values_list("email", "pk"))
        missing = emails - set(self.by_email)
        if missing:
            now = timezone.now()
            Contact.objects.bulk_create(
                [Contact(email=e, source=source, signed_up_at=now) for e in sorted(missing)],
                ignore_conflicts=True,
            )
            self.by_email = dict(Contact.objects.filter(email__in=emails).values_list("email", "pk"))
            contact_changed(self.by_email[e] for e in missing if e in self.by_email)

    def id_for(self, ref: tuple[str, Any] | None) -> int | None:
        if ref is None:
            return None
        kind, value = ref
        if kind == "id":
            return value
        return self.by_card[value] if kind == "card" else self.by_email.get(value)


def _lookup(model: Any, field: str, values: set) -> dict:
    return dict(model.objects.filter(**{f"{field}__in": values}).values_list(field, "pk")) if values else {}


def _result(created: int, duplicates: int, errors: dict[int, Errors]) -> dict:
    return {"created": created, "duplicates": duplicates,
            "errors": [{"index": i, "errors": errors[i]} for i in sorted(errors)]}


def _validate_all(items: list, validate: Callable[..., dict],
                  may_contain_nul: bool) -> tuple[dict[int, dict], dict[int, Errors]]:
    valid, errors = {}, {}
    for index, raw in enumerate(items):
        try:
            valid[index] = validate(raw, may_contain_nul=may_contain_nul)
        except ValidationError as exc:
            errors[index] = exc.message_dict
    return valid, errors


# ---------------------------------------------------------------- inserts

def contacts_lock(contact_ids: Iterable[int | None]) -> list[int]:
    """Lock the contacts a batch is about to update, in id order, so concurrent batches touching the same
    contacts wait for each other instead of deadlocking on rows locked in different orders."""
    ids = sorted({pk for pk in contact_ids if pk is not None})
    if ids and connection.vendor == "postgresql":
        list(Contact.objects.filter(pk__in=ids).order_by("pk").select_for_update(no_key=True)
             .values_list("pk", flat=True))
    return ids


PURCHASE_COLUMNS = ("contact_id", "source", "external_id", "channel", "store_id", "purchased_at", "total",
                    "currency", "created_at")
ITEM_COLUMNS = ("purchase_id", "product_id", "quantity", "unit_price")
ACTIVITY_COLUMNS = ("contact_id", "anonymous_id", "event_id", "type", "occurred_at", "product_id", "url",
                    "properties", "created_at")


def rows_insert(model: Any, columns: tuple[str, ...], rows: list[tuple], *, returning: bool = True) -> list[int]:
    """Insert already validated rows in one statement and return their ids in order.

    On PostgreSQL: `INSERT … SELECT FROM unnest(arrays)`, one array per column, which skips building a
    model instance per row (the same statement `bulk_create` sends, at a fraction of the Python cost).
    Elsewhere: `bulk_create`.
    """
    if not rows:
        return []
    if connection.vendor != "postgresql":
        objs = [model(**dict(zip(columns, row, strict=True))) for row in rows]
        model.objects.bulk_create(objs, batch_size=MAX_BATCH if len(columns) > 5 else 3 * MAX_BATCH)
        return [obj.pk for obj in objs]
    fields = [model._meta.get_field(name) for name in columns]
    arrays, selects = [], []
    for position, field in enumerate(fields):
        values = [row[position] for row in rows]
        db_type = field.db_type(connection)
        if db_type == "jsonb":
            values = [json.dumps(v) for v in values]
            selects.append(f"c{position}::jsonb")
            arrays.append(("text", values))
        else:
            selects.append(f"c{position}")
            arrays.append((db_type, values))
    sql = "INSERT INTO {table} ({columns}) SELECT {selects} FROM unnest({arrays}) AS t({names}){returning}".format(
        table=connection.ops.quote_name(model._meta.db_table),
        columns=", ".join(connection.ops.quote_name(f.column) for f in fields),
        selects=", ".join(selects),
        arrays=", ".join(f"%s::{db_type}[]" for db_type, _values in arrays),
        names=", ".join(f"c{n}" for n in range(len(fields))),
        returning=" RETURNING id" if returning else "",
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [values for _db_type, values in arrays])
        return [row[0] for row in cursor.fetchall()] if returning else []


# ---------------------------------------------------------------- purchases

def purchases_record_bulk(*, items: list, may_contain_nul: bool = True) -> dict:
    """Record a batch of purchases; returns `{"created", "duplicates", "errors": [{"index", "errors"}]}`.

    `may_contain_nul=False` skips the search for NUL characters when the caller knows there is none
    (the API checks the raw body once instead of every value).
    """
    valid, errors = _validate_all(items, purchase_validate, may_contain_nul)
    stores = _lookup(Store, "code", {c["store_code"] for c in valid.values() if c["store_code"]})
    products = _lookup(Product, "sku", {i["sku"] for c in valid.values() for i in c["items"]})
    contacts = _Contacts(c["refs"] for c in valid.values())
    for index, clean in list(valid.items()):
        problems = contacts.check(clean["refs"])
        if clean["store_code"] and clean["store_code"] not in stores:
            problems["store"] = [_("Unknown store %(code)s.") % {"code": clean["store_code"]}]
        for n, item in enumerate(clean["items"]):
            if item["sku"] not in products:
                problems[f"items.{n}.sku"] = [_("Unknown product %(sku)s.") % {"sku": item["sku"]}]
        if problems:
            errors[index] = problems
            del valid[index]
    new, duplicates = _split_new_purchases(valid)
    try:
        with transaction.atomic():
            contacts.create_missing({c["ref"][1] for c in new.values() if c["ref"][0] == "email"}, "api")
            _purchases_insert(new, contacts, stores, products)
    except IntegrityError:
        return _one_by_one(purchase_record, items, new, duplicates, errors)
    return _result(len(new), duplicates, errors)


def _split_new_purchases(valid: dict[int, dict]) -> tuple[dict[int, dict], int]:
    """Items whose (source, external_id) is neither stored nor repeated earlier in the batch."""
    keyed = [(c["source"], c["external_id"]) for c in valid.values() if c["external_id"]]
    stored = set()
    if keyed:
        stored = set(Purchase.objects.filter(source__in={s for s, _e in keyed}, external_id__in={e for _s, e in keyed})
                     .values_list("source", "external_id"))
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


def _purchases_insert(new: dict[int, dict], contacts: _Contacts, stores: dict, products: dict) -> None:
    now = timezone.now()
    cleans = list(new.values())
    contact_ids = [contacts.id_for(c["ref"]) for c in cleans]
    purchase_ids = rows_insert(Purchase, PURCHASE_COLUMNS, [
        (contact_id, c["source"], c["external_id"], c["channel"], stores.get(c["store_code"]), c["purchased_at"],
         c["total"], c["currency"], now)
        for contact_id, c in zip(contact_ids, cleans, strict=True)
    ])
    rows_insert(PurchaseItem, ITEM_COLUMNS, [
        (purchase_id, products[i["sku"]], i["quantity"], i["unit_price"])
        for purchase_id, c in zip(purchase_ids, cleans, strict=True) for i in c["items"]
    ], returning=False)
    contacts_refresh_purchase_stats(contact_ids=contacts_lock(contact_ids))


def _one_by_one(record: Callable[..., tuple[Any, bool]], items: list, new: dict[int, dict], duplicates: int,
                errors: dict[int, Errors]) -> dict:
    """A concurrent batch stored some of the same keys first: replay through the single-item service."""
    created = 0
    for index in new:
        try:
            _row, was_created = record(data=items[index])
        except ValidationError as exc:
            errors[index] = exc.message_dict
            continue
        created += was_created
        duplicates += not was_created
    return _result(created, duplicates, errors)


# ---------------------------------------------------------------- events

def activities_track_bulk(*, items: list, may_contain_nul: bool = True) -> dict:
    """Store a batch of site/app events; returns `{"created", "duplicates", "errors": [{"index", "errors"}]}`."""
    valid, errors = _validate_all(items, activity_validate, may_contain_nul)
    products = _lookup(Product, "sku", {c["sku"] for c in valid.values() if c["sku"]})
    contacts = _Contacts(c["refs"] for c in valid.values() if c["refs"])
    for index, clean in list(valid.items()):
        problems = contacts.check(clean["refs"])
        if clean["sku"] and clean["sku"] not in products:
            problems["product"] = [_("Unknown product %(sku)s.") % {"sku": clean["sku"]}]
        if problems:
            errors[index] = problems
            del valid[index]
    new, duplicates = _split_new_events(valid)
    try:
        with transaction.atomic():
            contacts.create_missing({c["ref"][1] for c in new.values() if c["ref"] and c["ref"][0] == "email"},
                                    "web_form")
            _activities_insert(new, contacts, products)
    except IntegrityError:
        return _one_by_one(activity_track, items, new, duplicates, errors)
    return _result(len(new), duplicates, errors)


def _split_new_events(valid: dict[int, dict]) -> tuple[dict[int, dict], int]:
    ids = {c["event_id"] for c in valid.values() if c["event_id"]}
    stored = set(Activity.objects.filter(event_id__in=ids).values_list("event_id", flat=True)) if ids else set()
    new, duplicates = {}, 0
    for index, clean in valid.items():
        if clean["event_id"] and clean["event_id"] in stored:
            duplicates += 1
            continue
        if clean["event_id"]:
            stored.add(clean["event_id"])
        new[index] = clean
    return new, duplicates


def _activities_insert(new: dict[int, dict], contacts: _Contacts, products: dict) -> None:
    now = timezone.now()
    stage_by_contact: dict[int, int] = {}
    rows = []
    visitors = visitors_resolve(c["anonymous_id"] for c in new.values() if c["ref"] is None)
    for c in new.values():
        contact_id = contacts.id_for(c["ref"]) if c["ref"] else visitors.get(c["anonymous_id"])
        rows.append((contact_id, c["anonymous_id"], c["event_id"], c["type"], c["occurred_at"],
                     products.get(c["sku"]), c["url"], c["properties"], now))
        if contact_id is not None:
            stage_by_contact[contact_id] = max(stage_by_contact.get(contact_id, 0), stage_for_event(c["type"]))
    rows_insert(Activity, ACTIVITY_COLUMNS, rows, returning=False)
    by_stage: dict[int, list[int]] = defaultdict(list)
    for contact_id, stage in stage_by_contact.items():
        by_stage[stage].append(contact_id)
    if by_stage:
        contacts_lock(stage_by_contact)
    for stage, contact_ids in sorted(by_stage.items()):
        contacts_raise_stage(contact_ids=contact_ids, stage=stage)
