"""Site and app events, and the anonymous visitors they come from."""

import datetime as dt
from collections.abc import Iterable

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import hooks, normalize
from ..models import Activity, Contact, FunnelStage, Product, VisitorIdentity
from .base import contact_changed, ensure_not_erased
from .derived import contacts_refresh_funnel

STAGE_BY_EVENT: dict[str, FunnelStage] = {
    Activity.Type.PRODUCT_VIEW: FunnelStage.INTERESTED,
    Activity.Type.DOWNLOAD: FunnelStage.INTERESTED,
    Activity.Type.REVIEW: FunnelStage.INTERESTED,
    Activity.Type.ADD_TO_CART: FunnelStage.CART,
}


def stage_for_event(event_type: str) -> int:
    return STAGE_BY_EVENT.get(event_type, FunnelStage.VISITOR)


def contact_raise_stage(*, contact_id: int, stage: int) -> None:
    """One contact's event: the contact up to `stage` (never down), with one UPDATE; whatever depends on it
    hears of it if it moved. A batch goes through `contacts_raise_stages`."""
    if Contact.objects.filter(pk=contact_id, funnel_stage__lt=stage).update(funnel_stage=stage):
        contact_changed([contact_id])


def contacts_raise_stages(stage_by_contact: dict[int, int]) -> None:
    """A batch's funnel moves: each contact up to its stage (never down).

    On PostgreSQL only the contacts still below their stage are locked, in id order (so batches touching the
    same contacts wait for each other instead of deadlocking), then raised in one UPDATE. Most contacts of a
    busy shop reached their stage long ago: they are read, not locked or written. Elsewhere (one writer at a
    time) those below are read, then raised with one UPDATE per stage. Either way whatever depends on the
    contacts hears of those that moved, and only of them."""
    if not stage_by_contact:
        return
    if connection.vendor != "postgresql":
        now = Contact.objects.filter(pk__in=list(stage_by_contact)).values_list("pk", "funnel_stage")
        by_stage: dict[int, list[int]] = {}
        for contact_id, current in now:
            if current < stage_by_contact[contact_id]:
                by_stage.setdefault(stage_by_contact[contact_id], []).append(contact_id)
        for stage, contact_ids in sorted(by_stage.items()):
            Contact.objects.filter(pk__in=contact_ids, funnel_stage__lt=stage).update(funnel_stage=stage)
        contact_changed(contact_id for contact_ids in by_stage.values() for contact_id in contact_ids)
        return
    table = connection.ops.quote_name(Contact._meta.db_table)
    id_type = Contact._meta.pk.rel_db_type(connection)
    # `c.id = ANY(…)` beside the join: the planner then probes the primary key for each contact instead of
    # hashing the whole table (it cannot see how few rows the unnest gives).
    moves = f"unnest(%s::{id_type}[], %s::smallint[]) AS v(id, stage)"
    params = [list(stage_by_contact), list(stage_by_contact.values())]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT c.id FROM {table} c JOIN {moves} ON c.id = v.id WHERE c.id = ANY(%s) "
            "AND c.funnel_stage < v.stage ORDER BY c.id FOR NO KEY UPDATE OF c",
            [*params, params[0]],
        )
        locked = cursor.fetchall()
        if not locked:
            return
        cursor.execute(
            f"UPDATE {table} c SET funnel_stage = v.stage FROM {moves} WHERE c.id = v.id AND c.id = ANY(%s) "
            "AND c.funnel_stage < v.stage",
            [*params, [row[0] for row in locked]],
        )
    contact_changed(row[0] for row in locked)


@transaction.atomic
def activity_track(
    *,
    contact: Contact | None,
    anonymous_id: str | None,
    event_id: str | None,
    type: str,
    occurred_at: dt.datetime,
    product: Product | None,
    url: str,
    properties: dict,
    utm_source: str = "",
    utm_medium: str = "",
    utm_campaign: str = "",
) -> tuple[Activity, bool]:
    """Store one site/app event and raise the contact's funnel stage; an event_id is stored once.

    An anonymous event of a visitor identified earlier lands on that visitor's contact."""
    if contact is None and anonymous_id:
        known = visitors_resolve([anonymous_id]).get(anonymous_id)
        contact = Contact.objects.filter(pk=known).first() if known else None
    elif contact is not None:
        ensure_not_erased(contact.pk)
    if event_id:
        existing = Activity.objects.filter(event_id=event_id).first()
        if existing:
            return existing, False
    try:
        with transaction.atomic():
            activity = Activity.objects.create(
                contact=contact,
                anonymous_id=anonymous_id,
                event_id=event_id,
                type=type,
                occurred_at=occurred_at,
                product=product,
                url=url,
                properties=properties,
                utm_source=utm_source,
                utm_medium=utm_medium,
                utm_campaign=utm_campaign,
            )
    except IntegrityError:
        if not event_id:
            raise
        return Activity.objects.get(event_id=event_id), False
    if contact is not None:
        contact_raise_stage(contact_id=contact.pk, stage=stage_for_event(type))
        hooks.activities_recorded({type: [contact.pk]})
    return activity, True


@transaction.atomic
def identify(*, anonymous_id: str, contact: Contact) -> int:
    """Link an anonymous visitor to a known contact: re-home its events, recolor the contact, and
    remember the link so events that still arrive with only the anonymous id land on the contact."""
    ensure_not_erased(contact.pk)
    visitor = normalize.identifier(anonymous_id, "anonymous_id")
    if not visitor:
        raise normalize.field_error("anonymous_id", _("This field is required."))
    VisitorIdentity.objects.update_or_create(
        anonymous_id=visitor, defaults={"contact": contact, "identified_at": timezone.now()}
    )
    moved = Activity.objects.filter(anonymous_id=visitor, contact__isnull=True).update(contact=contact)
    if moved:
        contacts_refresh_funnel(contact_ids=[contact.pk])
    return moved


def visitors_resolve(anonymous_ids: Iterable[str]) -> dict[str, int]:
    """Contact ids of the anonymous visitors already identified (one query)."""
    ids = {a for a in anonymous_ids if a}
    if not ids:
        return {}
    return dict(VisitorIdentity.objects.filter(anonymous_id__in=ids).values_list("anonymous_id", "contact_id"))
