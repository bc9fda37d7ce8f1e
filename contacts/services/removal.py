"""Merge, erase and delete: the ways a contact stops being what it was."""

from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from ..models import Contact
from .base import contact_changed, id_batches


def contact_merge(*, target: Contact, source: Contact, merged_by: str = "") -> Contact:
    """Fold the duplicate `source` into the survivor `target`, losing nothing (see `contacts.merging`)."""
    from ..merging import merge

    return merge(survivor=target, duplicate=source, merged_by=merged_by)


@transaction.atomic
def contact_erase(*, contact: Contact) -> Contact:
    """Anonymize on request (right to erasure): personal data goes everywhere, aggregates stay
    (see `contacts.erasure`)."""
    _erase([contact.pk])
    contact.refresh_from_db()
    return contact


def contacts_erase(*, contact_ids: Any) -> int:
    """Erase many contacts (ids or a queryset), set-based, a batch per transaction."""
    erased = 0
    for batch in id_batches(
        Contact.objects.filter(pk__in=contact_ids, erased_at__isnull=True)
        if not isinstance(contact_ids, QuerySet)
        else contact_ids.filter(erased_at__isnull=True)
    ):
        with transaction.atomic():
            _erase(batch)
        erased += len(batch)
    return erased


def _erase(ids: list[int]) -> None:
    from ..erasure import erase_ids

    erase_ids(ids)
    contact_changed(ids)


@transaction.atomic
def contact_delete(*, contact: Contact) -> None:
    """Delete a contact with its whole history (purchases, events, membership). To keep revenue figures
    and only remove personal data, erase instead (`contact_erase`)."""
    contact_id = contact.pk
    contact.delete()
    contact_changed([contact_id])
