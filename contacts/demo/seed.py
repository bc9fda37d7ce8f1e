"""The entry point: load the whole data set in one transaction, chunk by chunk, then set derived fields."""

import datetime as dt
import random
from collections.abc import Callable

from django.db import models, transaction
from django.db.models import Exists, F, Max, OuterRef
from django.utils import timezone

from contacts import hooks, services
from contacts.models import Contact, LoyaltyMember, Purchase

from .base import CHUNK, State
from .catalogue import catalogue_ensure
from .chunk import Chunk
from .writer import Result, Writer

DEFAULT_CONTACTS = 2_000
DEFAULT_SEED = 42
DERIVED_BATCH = 10_000


def default_anchor() -> dt.datetime:
    """Midnight at the start of today in TIME_ZONE, in UTC."""
    local = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    return local.astimezone(dt.UTC)


def demo_data_present() -> bool:
    """The demo set is only loaded into a database without contacts, so any contact means 'already there'."""
    return Contact.objects.exists()


def seed_demo(
    *,
    contacts: int = DEFAULT_CONTACTS,
    seed: int = DEFAULT_SEED,
    anchor: dt.datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Result:
    """Load the demo data set unless contacts exist already; all of it or nothing (one transaction).

    The apps above contacts add their part (mail, its results) through `hooks.on_demo_seeded`, last."""
    if demo_data_present():
        return Result(skipped=True)
    anchor = anchor or default_anchor()
    with transaction.atomic():
        catalogue = catalogue_ensure()
        writer = Writer()
        result = Result()
        state = State(
            contact_base=_next_id(Contact), purchase_base=_next_id(Purchase), member_base=_next_id(LoyaltyMember)
        )
        for chunk_no, start in enumerate(range(0, contacts, CHUNK)):
            size = min(CHUNK, contacts - start)
            rng = random.Random(f"demo:{seed}:{chunk_no}")
            rows = Chunk(rng, catalogue, anchor, state, seed, chunk_no).generate(start, size)
            writer.write_all(rows, result)
            if progress:
                progress(start + size, contacts)
        writer.reset_sequences()
        writer.analyze()
        derived_refresh(state.contact_base, state.contact_base + contacts)
        hooks.demo_seeded(anchor, seed)
    return result


def derived_refresh(lo: int, hi: int) -> None:
    """Purchase aggregates, funnel stage and RFM through the services' set-based expressions.

    Only buyers need the purchase refresh (everyone else keeps the defaults: no purchases,
    hence prospects). The funnel stage the generator wrote is checked against `funnel_stage_case` and
    only rows that differ are written, so a million contacts are not rewritten for nothing.
    """
    has_purchase = Exists(Purchase.objects.filter(contact=OuterRef("pk")))
    for start in range(lo, hi, DERIVED_BATCH):
        chunk = Contact.objects.filter(pk__gte=start, pk__lt=min(start + DERIVED_BATCH, hi))
        buyers = list(chunk.filter(has_purchase).values_list("pk", flat=True))
        services.contacts_refresh_purchase_stats(contact_ids=buyers)
        stage = services.funnel_stage_case()
        chunk.alias(stage=stage).exclude(funnel_stage=F("stage")).update(funnel_stage=stage)
    services.rfm_breakpoints_compute()
    for start in range(lo, hi, DERIVED_BATCH):
        services.rfm_apply(
            Contact.objects.filter(pk__gte=start, pk__lt=min(start + DERIVED_BATCH, hi), purchase_count__gt=0)
        )


def _next_id(model: type[models.Model]) -> int:
    return (model._default_manager.aggregate(m=Max("pk"))["m"] or 0) + 1
