"""Site and app events from the partner API: one at a time, or set-based in batches."""

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import normalize
from ..event_queue import activities_queue
from ..models import Activity, Product, QueuedActivity
from ..serializers import EventInSerializer, read_input, validate_each
from ..services import activity_track, contact_resolve, visitors_resolve
from .common import Contacts, batch_result, contact_refs, lookup, text_list
from .purchases import replay_one_by_one


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
    """The batch's events not stored or queued yet (by their event id), and how many were."""
    ids = {c["event_id"] for c in valid.values() if c["event_id"]}
    stored = set()
    if ids:
        queued = QueuedActivity.objects.filter(event_id__in=text_list(ids)).values_list("event_id", flat=True)
        found = Activity.objects.filter(event_id__in=text_list(ids)).values_list("event_id", flat=True)
        stored = set(found.union(queued, all=True))
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
    """The batch's new events as rows, queued to be stored (`contacts.event_queue`)."""
    now = timezone.now()
    visitors = visitors_resolve(c["anonymous_id"] for index, c in new.items() if not refs[index])
    rows = [
        (
            contacts.id_for(refs[index][0]) if refs[index] else visitors.get(c["anonymous_id"]),
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
        for index, c in new.items()
    ]
    activities_queue(rows)
