"""The campaigns part of the demo data set: sent mailings with their results, and what marketing cost.

Called through `contacts.hooks.on_demo_seeded` once the contacts part is loaded, in its transaction. Templates,
segments and campaigns are made through the services a marketer's clicks go through, then stamped "sent" in the
past as a real start and send leave them (status, times, the frozen template). Messages, tracking events, visits
and purchases are written in bulk, recipient batch by recipient batch, so memory stays flat at any size. Then,
as after any late data: attribution is recomputed for the demo period, the touched contacts' derived fields are
refreshed, the segments are refreshed and the spend per channel is set.

Templates, segments and campaigns are found again by name: loading the demo into a database that kept them
(its contacts deleted) reuses them rather than adding copies.
"""

import datetime as dt
import random
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

from django.core.management.color import no_style
from django.db import connection
from django.db.models import Max, Model, QuerySet
from django.utils import timezone

from contacts import services as contact_services
from contacts.demo import Writer, catalogue_ensure
from contacts.marketing import marketable_q
from contacts.models import Activity, Contact, LoyaltyMember, Purchase, PurchaseItem
from segments import services as segment_services
from segments.models import Segment, SegmentMembership

from .. import links, services
from ..audience import holdout_bucket, recipients
from ..models import Campaign, EmailTemplate, Link, Message, TrackingEvent
from ..rendering import template_snapshot
from ..reports import attribution
from .content import MAILINGS, SEGMENTS, SHOP, TEMPLATES, Mailing, SegmentSpec, Template
from .mail import (
    ACTIVITY_FIELDS,
    EVENT_FIELDS,
    ITEM_FIELDS,
    MESSAGE_FIELDS,
    PURCHASE_FIELDS,
    Context,
    Ids,
    Recipient,
    Sender,
)
from .spend import spend_seed

BATCH = 5_000  # recipients read, played and written at a time
COST_PER_MAIL = Decimal("0.25")  # ₪ per delivered mail, on top of a mailing's design cost
REFRESH_BATCH = 5_000
SECOND = dt.timedelta(seconds=1)


def campaigns_demo_seed(anchor: dt.datetime, seed: int) -> None:
    """The `contacts.hooks.on_demo_seeded` handler: mailings of the last ~90 days, their results, the spend."""
    templates = {key: _template(spec) for key, spec in TEMPLATES.items()}
    segments = {spec.name: _segment(spec) for spec in SEGMENTS}
    ids = Ids(message=_next_id(Message), purchase=_next_id(Purchase))
    writer, catalogue = Writer(), catalogue_ensure()
    _analyze(Contact, LoyaltyMember, Purchase)
    campaigns = []
    for number, mailing in enumerate(MAILINGS):
        campaign = _campaign(mailing, templates[mailing.template], segments, anchor)
        context = Context(mailing, anchor, catalogue, ids, _utm(campaign))
        rng = random.Random(f"demo:{seed}:mail:{number}")
        sender = Sender(rng=rng, campaign=campaign, links=_links(campaign, mailing), context=context)
        _play(sender, writer)
        _sent(campaign, mailing, sender)
        campaigns.append(campaign)
    writer.reset_sequences()
    _reset_sequences(Message)
    _analyze(Message, TrackingEvent, Purchase, Activity)
    attribution.recompute(start=min(c.started_at for c in campaigns if c.started_at), end=anchor + SECOND)
    _refresh_contacts(sorted(ids.touched))
    with _hash_joins():
        for segment in segments.values():
            _analyze(Contact, SegmentMembership)
            segment_services.segment_refresh(segment=segment)
    spend_seed(anchor=anchor, seed=seed, campaigns=campaigns)


# ------------------------------------------------------------------ what the marketer set up


def _template(spec: Template) -> EmailTemplate:
    existing = EmailTemplate.objects.filter(name=spec.name).first()
    if existing is not None:
        return existing
    return services.template_create(
        name=spec.name,
        subject=spec.subject,
        preheader=spec.preheader,
        html=spec.html,
        language=spec.language,
        layout=EmailTemplate.Layout.DEFAULT,
    )


def _segment(spec: SegmentSpec) -> Segment:
    existing = Segment.objects.filter(name=spec.name, kind=Segment.Kind.DYNAMIC).first()
    if existing is not None:
        return existing
    return segment_services.segment_create(
        name=spec.name, rules=spec.rules, description=spec.description, refresh=False
    )


def _campaign(mailing: Mailing, template: EmailTemplate, segments: dict[str, Segment], anchor: dt.datetime) -> Campaign:
    """The campaign as its marketer saved it, then started at its time in the past: status, times and the
    frozen template as `services.campaign_start` and the sender leave them (finished_at once played)."""
    campaign = Campaign.objects.filter(name=mailing.name, kind=Campaign.Kind.BROADCAST).first()
    if campaign is None:
        campaign = services.campaign_create(
            name=mailing.name,
            template=template,
            segments=[segments[name] for name in mailing.segments],
            exclude_segments=[segments[name] for name in mailing.exclude],
            utm_campaign=mailing.utm_campaign,
        )
    started = _local(anchor, -mailing.days_ago, mailing.at)
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Campaign.Status.SENT,
        holdout_percent=mailing.holdout_percent,
        created_at=started - dt.timedelta(days=2),
        scheduled_at=started,
        started_at=started,
        frozen_template=template_snapshot(template),
        frozen_at=started,
    )
    campaign.refresh_from_db()
    return campaign


def _local(anchor: dt.datetime, days: int, at: dt.time) -> dt.datetime:
    """`at` o'clock local time, `days` days from the anchor's date."""
    day = timezone.localtime(anchor).date() + dt.timedelta(days=days)
    return timezone.make_aware(dt.datetime.combine(day, at))


def _links(campaign: Campaign, mailing: Mailing) -> list[tuple[int, str]]:
    """The campaign's links as sending registers them (UTM tags added), with their ids."""
    found = []
    for path in mailing.links:
        url = links.add_utm(f"{SHOP}{path}", campaign)
        link, _created = Link.objects.get_or_create(
            campaign=campaign, url_hash=links.url_hash(url), defaults={"url": url}
        )
        found.append((link.pk, url))
    return found


def _utm(campaign: Campaign) -> tuple[str, str, str]:
    return campaign.utm_source, campaign.utm_medium, links.utm_campaign(campaign)


# ------------------------------------------------------------------ the send


def _recipients(campaign: Campaign) -> QuerySet:
    """Who the campaign reached when it started: its segments' marketable contacts signed up by then, with
    the holdout draw the sender uses."""
    return (
        recipients(campaign)
        .filter(marketable_q(), signed_up_at__lt=campaign.started_at)
        .annotate(bucket=holdout_bucket("pk", campaign.pk))
    )


def _batches(contacts: QuerySet) -> Iterator[list[tuple]]:
    """(id, purchase count, club status, home store, holdout bucket) of BATCH contacts at a time, by id.

    PostgreSQL: one pass over a server-side cursor, so the segments' query runs once however large the
    audience (run again for every page, a page cost seconds at millions of contacts). It reads the snapshot
    taken when it opened, unmoved by the rows written between pages. SQLite has no such isolation between a
    connection's reads and writes (the pages write visits a segment may read), so there the pages are read
    by id, one query each, at the demo's sizes."""
    rows = contacts.order_by("pk").values_list("pk", "purchase_count", "club__status", "club__home_store_id", "bucket")
    if connection.vendor == "postgresql":
        page: list[tuple] = []
        for row in rows.iterator(chunk_size=BATCH):
            page.append(row)
            if len(page) == BATCH:
                yield page
                page = []
        if page:
            yield page
        return
    after = 0
    while page := list(rows.filter(pk__gt=after)[:BATCH]):
        yield page
        after = page[-1][0]


def _play(sender: Sender, writer: Writer) -> None:
    holdout = sender.campaign.holdout_percent
    for rows in _batches(_recipients(sender.campaign)):
        for contact_id, purchases, club_status, home_store_id, bucket in rows:
            if bucket < holdout:
                sender.held_out(contact_id)
                continue
            store = home_store_id if club_status == LoyaltyMember.Status.ACTIVE else None
            sender.send(Recipient(contact_id, purchases > 0, store))
        _write(sender, writer)


def _write(sender: Sender, writer: Writer) -> None:
    rows = sender.rows
    writer.write(Message, MESSAGE_FIELDS, rows.messages)
    writer.write(TrackingEvent, EVENT_FIELDS, rows.events)
    writer.write(Purchase, PURCHASE_FIELDS, rows.purchases)
    writer.write(PurchaseItem, ITEM_FIELDS, rows.items)
    writer.write(Activity, ACTIVITY_FIELDS, rows.activities)
    for table in (rows.messages, rows.events, rows.purchases, rows.items, rows.activities):
        table.clear()


def _sent(campaign: Campaign, mailing: Mailing, sender: Sender) -> None:
    """Finished when its last mail went out; its cost is the design plus the mails delivered."""
    cost = round((mailing.design_cost + COST_PER_MAIL * sender.delivered) / 10) * 10
    Campaign.objects.filter(pk=campaign.pk).update(finished_at=sender.last_sent, cost=cost)
    campaign.refresh_from_db()


# ------------------------------------------------------------------ after the data, as after any late data


def _refresh_contacts(contact_ids: list[int]) -> None:
    """Purchase aggregates, funnel stage and RFM of the contacts the mail made buy or visit; then the RFM cut
    points over all buyers, which the new purchases moved."""
    for start in range(0, len(contact_ids), REFRESH_BATCH):
        contact_services.contacts_refresh_purchase_stats(contact_ids=contact_ids[start : start + REFRESH_BATCH])
    contact_services.contacts_recompute_all()


def _next_id(model: type[Model]) -> int:
    return (model._default_manager.aggregate(m=Max("pk"))["m"] or 0) + 1


def _analyze(*models: type[Model]) -> None:
    """Up-to-date planner statistics for tables this transaction has just filled (PostgreSQL: ANALYZE sees the
    transaction's own rows). Without them the planner takes a table of 100,000 fresh rows for an empty one and
    picks nested loops that run for many minutes, e.g. for a segment refresh."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


@contextmanager
def _hash_joins() -> Iterator[None]:
    """No nested loops in this transaction for a while (PostgreSQL). A segment's first refresh inserts its
    members into a membership table that held none of its rows: planned as a nested loop over that table, each
    candidate rescans every row inserted so far, quadratic in the segment's size (minutes at 100,000 contacts,
    hours at a million). A hash anti-join reads it once."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('enable_nestloop'), set_config('enable_nestloop', 'off', true)")
        previous = cursor.fetchone()[0]
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('enable_nestloop', %s, true)", [previous])


def _reset_sequences(model: type[Model]) -> None:
    """Messages were written with explicit ids; move the id sequence past them."""
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), [model]):
            cursor.execute(sql)
