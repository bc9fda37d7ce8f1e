"""Derived state of Contact kept set-based: purchase aggregates, funnel stage and RFM scores
(the RFM rule itself is `contacts.rfm`'s)."""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db.models import (
    Case,
    Exists,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Value,
    When,
)
from django.utils import timezone

from .. import hooks
from ..last_bought import last_bought_add, last_bought_refresh
from ..lifecycle import lifecycles_of, with_lifecycle
from ..models import Activity, Contact, FunnelStage, Purchase
from ..purchase_stats import Stages, id_list, purchases_add, refresh_buyers
from ..rfm import rfm_apply, rfm_breakpoints_compute
from .base import contact_changed


def funnel_stage_case() -> Any:
    """Funnel stage as one SQL CASE of EXISTS tests (CONTRACT.md §3)."""
    events = Activity.objects.filter(contact=OuterRef("pk"))
    interested = [Activity.Type.PRODUCT_VIEW, Activity.Type.DOWNLOAD, Activity.Type.REVIEW]
    return Case(
        When(Exists(Purchase.objects.filter(contact=OuterRef("pk"))), then=Value(FunnelStage.PURCHASER)),
        When(Exists(events.filter(type=Activity.Type.ADD_TO_CART)), then=Value(FunnelStage.CART)),
        When(Exists(events.filter(type__in=interested)), then=Value(FunnelStage.INTERESTED)),
        When(Exists(events), then=Value(FunnelStage.VISITOR)),
        default=Value(FunnelStage.NONE),
        output_field=IntegerField(),
    )


def contacts_refresh_purchase_stats(*, contact_ids: Iterable[int]) -> None:
    """Recompute purchase aggregates, funnel stage and RFM of these contacts from all their purchases,
    set-based: one UPDATE for those with purchases, and a reset for any that no longer have one. Contacts whose
    lifecycle this moves are reported to `hooks.lifecycle_changed`."""
    ids = sorted(set(contact_ids))
    if not ids:
        return
    now = timezone.now()
    watched = hooks.lifecycle_watched()
    before = lifecycles_of(ids, now=now) if watched else None
    after = _reaggregate(ids, now=now, watched=watched)
    contact_changed(ids)
    if before is not None:
        _report_lifecycle_moves(before, after)


def contacts_add_purchases(*, contact_ids: Iterable[int | None], purchase_ids: list[int]) -> None:
    """Count purchases just inserted (in this transaction) into their buyers' aggregates, funnel stage and
    RFM, with the same result as `contacts_refresh_purchase_stats`: added to what is stored for buyers who
    have purchases counted, read again from all purchases for the others (a first purchase). The buyers are
    locked in id order first, so that concurrent batches touching the same contacts wait for each other
    instead of deadlocking. Contacts whose lifecycle this moves are reported to `hooks.lifecycle_changed`."""
    ids = sorted({pk for pk in contact_ids if pk is not None})
    if not ids:
        return
    now = timezone.now()
    watched = hooks.lifecycle_watched()
    before, counted = _lock(ids, now=now, watched=watched)
    after = purchases_add(purchase_ids=purchase_ids, contact_ids=counted, now=now)
    last_bought_add(purchase_ids, buyers=sorted(after))
    after |= _reaggregate([pk for pk in ids if pk not in after], now=now, watched=watched)
    contact_changed(ids)
    if before is not None:
        _report_lifecycle_moves(before, after)


def _lock(ids: list[int], *, now: dt.datetime, watched: bool) -> tuple[Stages | None, list[int]]:
    """Lock these contacts in id order; returns their lifecycle before the write when someone listens to its
    moves (the same query), and those of them with purchases counted. Read under the lock, that split names
    exactly the contacts `purchases_add` writes: left to the UPDATE as a filter, PostgreSQL guessed it from
    the column's statistics (a handful where most of a batch's buyers had bought before) and joined each
    contact with the batch's purchases one by one (0.5 s for 5,000 purchases at 1,000,000 contacts)."""
    contacts = Contact.objects.filter(pk__in=id_list(ids)).order_by("pk").select_for_update(no_key=True)
    if watched:
        rows = with_lifecycle(contacts, now=now).values_list("pk", "purchase_count", "lifecycle")
        stages = {}
        counted = []
        for pk, purchases, lifecycle in rows:
            stages[pk] = lifecycle
            if purchases:
                counted.append(pk)
        return stages, counted
    return None, [pk for pk, purchases in contacts.values_list("pk", "purchase_count") if purchases]


def _reaggregate(ids: list[int], *, now: dt.datetime, watched: bool) -> Stages:
    """The aggregates of these contacts read again from all their purchases; returns the buyers' lifecycle
    after the write, and the others' too when someone listens to lifecycle moves."""
    after: Stages = {}
    last_bought_refresh(ids)
    for start in range(0, len(ids), 5000):
        after |= refresh_buyers(ids[start : start + 5000], now=now)
    others = [i for i in ids if i not in after]
    if others:
        non_buyers = Contact.objects.filter(pk__in=others)
        non_buyers.filter(purchase_count__gt=0).update(
            purchase_count=0,
            total_spent=Decimal("0"),
            first_purchase_at=None,
            last_purchase_at=None,
            rfm_recency=None,
            rfm_frequency=None,
            rfm_monetary=None,
            updated_at=timezone.now(),
        )
        non_buyers.update(funnel_stage=funnel_stage_case())
        if watched:
            after |= lifecycles_of(others, now=now)
    return after


def _report_lifecycle_moves(before: dict[int, str | None], after: dict[int, str | None]) -> None:
    """Both read at the same `now`, so only what the new purchase data moved shows (the clock's own moves
    happen at no write: whoever needs them finds them by time)."""
    moved: dict[str, list[int]] = defaultdict(list)
    for contact_id, stage in after.items():
        if stage is not None and stage != before.get(contact_id):
            moved[stage].append(contact_id)
    hooks.lifecycle_changed(moved)


def contacts_refresh_funnel(*, contact_ids: Iterable[int]) -> None:
    ids = list(set(contact_ids))
    Contact.objects.filter(pk__in=ids).update(funnel_stage=funnel_stage_case())
    contact_changed(ids)


def contacts_recompute_all(*, batch_size: int = 50_000) -> dict[str, int]:
    """RFM scores drift as days pass and the quintiles move: recomputed in id-range batches (lifecycle
    needs nothing: it is computed whenever it is read, see contacts.lifecycle)."""
    bounds = Contact.objects.aggregate(lo=Min("pk"), hi=Max("pk"))
    batches = 0
    if bounds["lo"] is not None:
        rfm_breakpoints_compute()
        for start in range(bounds["lo"], bounds["hi"] + 1, batch_size):
            chunk = Contact.objects.filter(pk__gte=start, pk__lt=start + batch_size)
            rfm_apply(chunk)
            batches += 1
    return {"batches": batches}
