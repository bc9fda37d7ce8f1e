"""Site and app events from the partner API: one at a time, or set-based in batches."""

from collections import defaultdict
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import hooks, normalize
from ..models import Activity, Product
from ..serializers import EventInSerializer, read_input, validate_each
from ..services import activity_track, contact_resolve, contacts_raise_stages, stage_for_event, visitors_resolve
from .common import Contacts, batch_result, contact_refs, lookup, rows_insert, text_list
from .purchases import replay_one_by_one

ACTIVITY_COLUMNS = (
    "contact_id",
    "anonymous_id",
    "event_id",
    "type",
    "occurred_at",
    "product_id",
    "url",
    "properties",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "created_at",
)


@transaction.atomic
def activity_submit(*, item: dict) -> tuple[Activity, bool]:
    """One event validated by `EventInSerializer`: its product must exist; a contact given by id, card or
    email is resolved (created for a new email, from the web), else the event is the anonymous visitor's."""
    product = None
    if item["product"]:
        product = Product.objects.filter(sku=item["product"]).first()
        if product is None:
            raise normalize.field_error(
                "product", _("Unknown product %(sku)s.") % {"sku": item["product"]}, "does_not_exist"
            )
    contact = None
    if contact_refs(item):
        contact = contact_resolve(
            contact_id=item["contact"], email=item["email"], card_number=item["card_number"], create_source="web_form"
        )
    return activity_track(
        contact=contact,
        anonymous_id=item["anonymous_id"],
        event_id=item["event_id"],
        type=item["type"],
        occurred_at=item["occurred_at"] or timezone.now(),
        product=product,
        url=item["url"],
        properties=item["properties"],
        utm_source=item["utm_source"],
        utm_medium=item["utm_medium"],
        utm_campaign=item["utm_campaign"],
    )


def activity_ingest(*, data: Any) -> tuple[Activity, bool]:
    """One event from raw input, as the API takes it: read by `EventInSerializer`, then submitted."""
    return activity_submit(item=read_input(EventInSerializer, data))


def activities_track_bulk(*, items: list) -> dict:
    """Store a batch of site/app events; returns `{"created", "duplicates", "errors": [{"index", "errors"}]}`."""
    valid, errors = validate_each(EventInSerializer, items)
    products = lookup(Product, "sku", {c["product"] for c in valid.values() if c["product"]})
    refs = {index: contact_refs(clean) for index, clean in valid.items()}
    contacts = Contacts(item_refs for item_refs in refs.values() if item_refs)
    for index, clean in list(valid.items()):
        problems = contacts.check(refs[index])
        if clean["product"] and clean["product"] not in products:
            problems["product"] = [_("Unknown product %(sku)s.") % {"sku": clean["product"]}]
        if problems:
            errors[index] = problems
            del valid[index]
    new, duplicates = _split_new_events(valid)
    try:
        with transaction.atomic():
            contacts.create_missing({refs[i][0][1] for i in new if refs[i] and refs[i][0][0] == "email"}, "web_form")
            _activities_insert(new, refs, contacts, products)
    except IntegrityError:
        return replay_one_by_one(activity_submit, new, duplicates, errors)
    return batch_result(len(new), duplicates, errors)


def _split_new_events(valid: dict[int, dict]) -> tuple[dict[int, dict], int]:
    ids = {c["event_id"] for c in valid.values() if c["event_id"]}
    found = Activity.objects.filter(event_id__in=text_list(ids)).values_list("event_id", flat=True) if ids else []
    stored = set(found)
    new, duplicates = {}, 0
    for index, clean in valid.items():
        if clean["event_id"] and clean["event_id"] in stored:
            duplicates += 1
            continue
        if clean["event_id"]:
            stored.add(clean["event_id"])
        new[index] = clean
    return new, duplicates


def _activities_insert(new: dict[int, dict], refs: dict[int, list], contacts: Contacts, products: dict) -> None:
    now = timezone.now()
    stage_by_contact: dict[int, int] = {}
    by_type: dict[str, list[int]] = defaultdict(list)
    rows = []
    visitors = visitors_resolve(c["anonymous_id"] for index, c in new.items() if not refs[index])
    for index, c in new.items():
        contact_id = contacts.id_for(refs[index][0]) if refs[index] else visitors.get(c["anonymous_id"])
        rows.append(
            (
                contact_id,
                c["anonymous_id"],
                c["event_id"],
                c["type"],
                c["occurred_at"] or now,
                products.get(c["product"]),
                c["url"],
                c["properties"],
                c["utm_source"],
                c["utm_medium"],
                c["utm_campaign"],
                now,
            )
        )
        if contact_id is not None:
            stage_by_contact[contact_id] = max(stage_by_contact.get(contact_id, 0), stage_for_event(c["type"]))
            by_type[c["type"]].append(contact_id)
    rows_insert(Activity, ACTIVITY_COLUMNS, rows, returning=False)
    contacts_raise_stages(stage_by_contact)
    hooks.activities_recorded(by_type)
