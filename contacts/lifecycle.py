"""Lifecycle (CONTRACT §3) — the one place the rule lives.

prospect = never bought; new = first purchase within LIFECYCLE_NEW_DAYS; active = last purchase
within LIFECYCLE_ACTIVE_DAYS (and not new); at_risk = last purchase up to LIFECYCLE_AT_RISK_DAYS ago;
lapsed = longer ago. It depends on the clock, so it is never stored: every reader (API, admin list,
filters and exports, segment conditions, the "why" view) evaluates these expressions over the stored
purchase dates at the moment it reads, and gets the same answer.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import Case, CharField, Q, QuerySet, Value, When
from django.utils import timezone

from .models import Lifecycle

ORDER = (Lifecycle.PROSPECT, Lifecycle.NEW, Lifecycle.ACTIVE, Lifecycle.AT_RISK, Lifecycle.LAPSED)


def lifecycle_thresholds(now: dt.datetime) -> dict[str, list[dt.datetime]]:
    """The instants `lifecycle_q` compares each purchase date with at `now`: two contacts whose dates lie on
    the same side of every one of them are in the same stage, which is what lets a count of contacts by
    purchase day (campaigns.reports) apply the rule to whole days."""
    return {
        "first_purchase_at": [now - dt.timedelta(days=settings.LIFECYCLE_NEW_DAYS)],
        "last_purchase_at": [
            now - dt.timedelta(days=settings.LIFECYCLE_ACTIVE_DAYS),
            now - dt.timedelta(days=settings.LIFECYCLE_AT_RISK_DAYS),
        ],
    }


def lifecycle_q(stage: str, *, now: dt.datetime | None = None) -> Q:
    """Contacts in `stage` at `now` (default: this moment)."""
    thresholds = lifecycle_thresholds(now or timezone.now())
    (new_since,) = thresholds["first_purchase_at"]
    active_since, risk_since = thresholds["last_purchase_at"]
    bought = Q(last_purchase_at__isnull=False, first_purchase_at__isnull=False)
    not_new = bought & Q(first_purchase_at__lt=new_since)
    return {
        Lifecycle.PROSPECT: Q(last_purchase_at__isnull=True),
        Lifecycle.NEW: bought & Q(first_purchase_at__gte=new_since),
        Lifecycle.ACTIVE: not_new & Q(last_purchase_at__gte=active_since),
        Lifecycle.AT_RISK: not_new & Q(last_purchase_at__lt=active_since, last_purchase_at__gte=risk_since),
        Lifecycle.LAPSED: not_new & Q(last_purchase_at__lt=risk_since),
    }[Lifecycle(stage)]


def lifecycle_in(stages, *, now: dt.datetime | None = None) -> Q:
    """Contacts in any of `stages`."""
    found = Q(pk__in=[])
    for stage in stages:
        found |= lifecycle_q(stage, now=now)
    return found


def lifecycle_case(*, now: dt.datetime | None = None) -> Case:
    """The stage as one SQL expression, built from `lifecycle_q` (so the two can never disagree)."""
    now = now or timezone.now()
    return Case(
        *(When(lifecycle_q(stage, now=now), then=Value(stage)) for stage in ORDER),
        default=Value(None),
        output_field=CharField(),
    )


def with_lifecycle(queryset: QuerySet, *, now: dt.datetime | None = None) -> QuerySet:
    """`queryset` with each contact's `lifecycle` as of now, computed in the same query."""
    return queryset.annotate(lifecycle=lifecycle_case(now=now))


def lifecycles_of(contact_ids: list[int], *, now: dt.datetime, batch_size: int = 5000) -> dict[int, str | None]:
    """The stage of each of these contacts at `now`, a query per `batch_size` ids: read before and after a
    write at the same `now`, it tells which contacts the write moved."""
    from .models import Contact

    stages: dict[int, str | None] = {}
    for start in range(0, len(contact_ids), batch_size):
        batch = Contact.objects.filter(pk__in=contact_ids[start : start + batch_size])
        stages.update(with_lifecycle(batch, now=now).values_list("pk", "lifecycle"))
    return stages


def lifecycle_of(contact) -> str | None:
    """One contact's stage now (one query); None for a contact not saved yet."""
    if contact.pk is None:
        return None
    from .models import Contact

    return with_lifecycle(Contact.objects.filter(pk=contact.pk)).values_list("lifecycle", flat=True).first()
