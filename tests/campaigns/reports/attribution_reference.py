"""A plain-Python reading of CONTRACT.md §7's attribution rule, written independently of the SQL in
`campaigns.reports.attribution`.

Tests credit the same purchases both ways, over plain lists read from the raw rows (purchases and tracking
events, never the Attribution table), and require the same answer: which purchase goes to which message,
by which touch, and the copies the stored row keeps.
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

# The kinds of tracking event that may take a purchase's credit, in the order they are tried.
TOUCHES = ("click", "open")


@dataclass(frozen=True)
class Sale:
    id: int
    contact: int
    purchased_at: dt.datetime
    total: Decimal
    channel: str


@dataclass(frozen=True)
class Touch:
    """A tracking event: opens and clicks, and the kinds that never credit anything (delivered, bounce…)."""

    id: int
    contact: int
    message: int
    campaign: int
    kind: str
    is_machine: bool
    occurred_at: dt.datetime


@dataclass(frozen=True)
class Credit:
    """What the Attribution row of a credited purchase says."""

    purchase: int
    message: int
    campaign: int
    contact: int
    touch: str
    touched_at: dt.datetime
    purchased_at: dt.datetime
    total: Decimal
    channel: str


def credit(sale: Sale, touches: Iterable[Touch], *, click_days: int, open_days: int) -> Credit | None:
    """The contact's latest human click in the `click_days` × 24 h up to the purchase, both ends included;
    else its latest human open in the `open_days` × 24 h; else nothing. Same instant: the later recorded."""
    windows = {"click": dt.timedelta(days=click_days), "open": dt.timedelta(days=open_days)}
    for kind in TOUCHES:
        start = sale.purchased_at - windows[kind]
        eligible = [
            t
            for t in touches
            if t.contact == sale.contact
            and t.kind == kind
            and not t.is_machine
            and start <= t.occurred_at <= sale.purchased_at
        ]
        if eligible:
            best = max(eligible, key=lambda t: (t.occurred_at, t.id))
            return Credit(
                purchase=sale.id,
                message=best.message,
                campaign=best.campaign,
                contact=sale.contact,
                touch=best.kind,
                touched_at=best.occurred_at,
                purchased_at=sale.purchased_at,
                total=sale.total,
                channel=sale.channel,
            )
    return None


def credits(sales: Iterable[Sale], touches: Iterable[Touch], *, click_days: int, open_days: int) -> dict[int, Credit]:
    """Purchase id → its credit, for the credited purchases only."""
    touches = list(touches)
    found = {}
    for sale in sales:
        given = credit(sale, touches, click_days=click_days, open_days=open_days)
        if given is not None:
            found[sale.id] = given
    return found


def load() -> tuple[list[Sale], list[Touch]]:
    """Every purchase and tracking event in the database, as plain values."""
    from campaigns.models import TrackingEvent
    from contacts.models import Purchase

    sales = [
        Sale(id=pk, contact=contact, purchased_at=at, total=total, channel=channel)
        for pk, contact, at, total, channel in Purchase.objects.values_list(
            "pk", "contact_id", "purchased_at", "total", "channel"
        )
    ]
    touches = [
        Touch(id=pk, contact=contact, message=message, campaign=campaign, kind=kind, is_machine=machine, occurred_at=at)
        for pk, contact, message, campaign, kind, machine, at in TrackingEvent.objects.values_list(
            "pk", "contact_id", "message_id", "campaign_id", "kind", "is_machine", "occurred_at"
        )
    ]
    return sales, touches


def stored() -> dict[int, Credit]:
    """What the database holds: purchase id → its Attribution row, as a Credit."""
    from campaigns.reports.models import Attribution

    return {
        row.purchase_id: Credit(
            purchase=row.purchase_id,
            message=row.message_id,
            campaign=row.campaign_id,
            contact=row.contact_id,
            touch=row.touch,
            touched_at=row.touched_at,
            purchased_at=row.purchased_at,
            total=row.total,
            channel=row.channel,
        )
        for row in Attribution.objects.all()
    }
