"""Pieces every audience service shares: the change hook that keeps segments current, id batching for
bulk writes over any selection, tags, and the refusal to write to an erased contact."""

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.db.models.functions import Lower
from django.utils.translation import gettext as _

from .. import normalize
from ..models import Contact, Tag


def contact_changed(contact_ids: Iterable[int]) -> None:
    """Hook for whatever depends on contact data (segment membership); runs after commit."""
    from ..signals import contacts_changed

    ids = sorted(set(contact_ids))
    if ids:
        transaction.on_commit(lambda: contacts_changed.send(sender=Contact, contact_ids=ids))


BULK_BATCH = 5000


def id_batches(contacts: Any, size: int | None = None):
    """Contact ids in lists of at most `size`: a queryset is walked by primary key (memory stays
    flat for "all matching" selections of any size), an iterable of ids is sliced."""
    size = size or BULK_BATCH
    if isinstance(contacts, QuerySet):
        last = 0
        while True:
            batch = list(contacts.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:size])
            if not batch:
                return
            yield batch
            last = batch[-1]
    ids = sorted(set(contacts))
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def tags_get_or_create(names: Iterable[str]) -> list[Tag]:
    names = normalize.tag_names(list(names))
    if not names:
        return []
    # Exact names too: SQLite's LOWER() folds ASCII letters only.
    wanted = Q(lname__in=[n.lower() for n in names]) | Q(name__in=names)
    existing = {t.name.lower(): t for t in Tag.objects.annotate(lname=Lower("name")).filter(wanted)}
    missing = [Tag(name=n) for n in names if n.lower() not in existing]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {t.name.lower(): t for t in Tag.objects.annotate(lname=Lower("name")).filter(wanted)}
    return [existing[n.lower()] for n in names]


def contacts_add_tag(*, contact_ids: Any, name: str) -> int:
    """Tag many contacts (ids or a queryset), a batch per statement; returns how many got the tag newly."""
    tags = tags_get_or_create([name])
    if not tags:
        raise normalize.field_error("name", _("Enter a tag name."))
    tag = tags[0]
    through = Contact.tags.through
    added = 0
    for batch in id_batches(contact_ids):
        batch = list(Contact.objects.filter(pk__in=batch, erased_at__isnull=True).values_list("pk", flat=True))
        ids = set(batch) - set(
            through.objects.filter(tag=tag, contact_id__in=batch).values_list("contact_id", flat=True)
        )
        through.objects.bulk_create([through(contact_id=i, tag=tag) for i in ids], ignore_conflicts=True)
        contact_changed(ids)
        added += len(ids)
    return added


def ensure_not_erased(contact_id: int | None, field: str = "contact") -> None:
    """Writes to an erased contact are refused: erasure must not be undone by the next sync."""
    if contact_id is not None and Contact.objects.filter(pk=contact_id, erased_at__isnull=False).exists():
        raise normalize.field_error(
            field, _("Contact %(id)s has been erased and can no longer be changed.") % {"id": contact_id}
        )
