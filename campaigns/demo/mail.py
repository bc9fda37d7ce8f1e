"""One mailing played out recipient by recipient: its messages, their opens and clicks, the visits to the shop
and the purchases the mail brought, online and in store, as rows for the bulk writer.

What a recipient does is drawn from the mailing's generator in a fixed order, so the same seed gives the same
rows. Counters on each message are set from its own events, as tracking would have set them: open_count counts
every open (machine ones too) and machine_open_count those, click_count every click; first_opened_at and
first_clicked_at are the first human ones. Nothing happens after the anchor: the data set ends "now".
"""

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import timezone

from contacts.demo import Catalogue
from contacts.demo.writer import FIELDS

from ..models import Campaign, Message, TrackingEvent
from .content import SHOP, Mailing

MINUTE, HOUR, DAY = 60, 3600, 86_400
UNTAGGED = ("", "", "")
SEND_SECONDS = 40 * MINUTE  # how long the send takes from first to last mail
MACHINE_OPEN_RATE = 0.2  # Apple Mail Privacy Protection fetches the pixel whether the mail is read or not
SCANNER_CLICK_RATE = 0.01  # a security gateway follows a link seconds after delivery
# Customers (who bought before) open and click more than prospects. Only customers buy after a mail: the funnel
# layers stay as the contacts part drew them (a pyramid), and most mail revenue comes from customers anyway.
CUSTOMER_ENGAGEMENT, PROSPECT_ENGAGEMENT = 1.35, 0.9
IN_STORE_SHARE = 0.3  # of a club member's purchases after a click, those made at the home store
HUMAN_AGENTS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Microsoft Outlook 16.0.17328; Microsoft Outlook 16.0.17328",
)
APPLE_PROXY_AGENT = "Mozilla/5.0"
SCANNER_AGENT = "Mimecast Email Security"

MESSAGE_FIELDS = (
    "id",
    "campaign_id",
    "contact_id",
    "status",
    "skip_reason",
    "error",
    "attempts",
    "message_id",
    "queued_at",
    "claimed_at",
    "sent_at",
    "first_opened_at",
    "open_count",
    "machine_open_count",
    "first_clicked_at",
    "click_count",
    "bounce_type",
    "occurrence",
)
EVENT_FIELDS = (
    "message_id",
    "campaign_id",
    "contact_id",
    "kind",
    "link_id",
    "occurred_at",
    "is_machine",
    "machine_reason",
    "user_agent",
    "detail",
)
# Purchases, their items and site events are written in the contacts demo's own column order.
PURCHASE_FIELDS = FIELDS["purchases"][1]
ITEM_FIELDS = FIELDS["items"][1]
ACTIVITY_FIELDS = FIELDS["events"][1]


@dataclass
class Rows:
    """Rows waiting for the writer, per table, in the column order of the *_FIELDS above."""

    messages: list = field(default_factory=list)
    events: list = field(default_factory=list)
    purchases: list = field(default_factory=list)
    items: list = field(default_factory=list)
    activities: list = field(default_factory=list)


@dataclass
class Ids:
    """Ids handed out across mailings (rows are written with explicit ids), and the contacts whose derived
    fields the mail changed."""

    message: int
    purchase: int
    purchases: int = 0
    touched: set[int] = field(default_factory=set)


@dataclass
class Recipient:
    contact_id: int
    bought_before: bool
    home_store_id: int | None  # of an active club membership


@dataclass
class Context:
    """What every mailing's sender shares: the mailing played, the clock, the catalogue, the ids, and the UTM
    tags the campaign's links carry."""

    mailing: Mailing
    anchor: dt.datetime
    catalogue: Catalogue
    ids: Ids
    utm: tuple[str, str, str]


@dataclass
class Mail:
    """One message being played out: its events and counters."""

    id: int
    contact_id: int
    sent_at: dt.datetime
    opens: int = 0
    machine_opens: int = 0
    clicks: int = 0
    first_open: dt.datetime | None = None
    first_click: dt.datetime | None = None


def _engagement(recipient: Recipient) -> float:
    return CUSTOMER_ENGAGEMENT if recipient.bought_before else PROSPECT_ENGAGEMENT


def shop_hours(moment: dt.datetime) -> dt.datetime:
    """The moment if the stores are open then (9:00–21:00 local), else twelve hours later, when they are."""
    return moment if 9 <= timezone.localtime(moment).hour < 21 else moment + dt.timedelta(hours=12)


class Sender:
    """Plays one mailing to its recipients, appending their rows to `rows` (the caller writes and empties it)."""

    def __init__(
        self, *, rng: random.Random, campaign: Campaign, links: list[tuple[int, str]], context: Context
    ) -> None:
        self.r, self.campaign, self.links, self.context = rng, campaign, links, context
        self.mailing = context.mailing
        self.rows = Rows()
        self.started = campaign.started_at or context.anchor
        self.last_sent = self.started
        self.delivered = 0

    def held_out(self, contact_id: int) -> None:
        """Recorded and never mailed, as the sender records its holdout."""
        stamp = self.started
        row = (self._message_id(), self.campaign.pk, contact_id, Message.Status.HOLDOUT, "", "", 0, "")
        self.rows.messages.append((*row, stamp, stamp, None, None, 0, 0, None, 0, "", 0))

    def send(self, recipient: Recipient) -> None:
        r = self.r
        sent_at = self.started + dt.timedelta(seconds=int(r.uniform(1, SEND_SECONDS)))
        mail = Mail(self._message_id(), recipient.contact_id, sent_at)
        self.last_sent = max(self.last_sent, sent_at)
        self.delivered += 1
        if r.random() < MACHINE_OPEN_RATE:
            self._open(mail, self._after(sent_at, r.uniform(3, 90)), reason="apple_privacy")
        if r.random() < SCANNER_CLICK_RATE:
            self._click(mail, self._after(sent_at, r.uniform(1, 8)), self.links[0][0], reason="scanner")
        if r.random() < self.mailing.open_rate * _engagement(recipient):
            self._read(mail, recipient)
        self.rows.messages.append(self._message_row(mail))

    def _message_id(self) -> int:
        self.context.ids.message += 1
        return self.context.ids.message - 1

    def _message_row(self, mail: Mail) -> tuple:
        header = f"<demo.{self.campaign.pk}.{mail.contact_id}@shop.example.com>"
        row = (mail.id, self.campaign.pk, mail.contact_id, Message.Status.SENT, "", "", 1, header)
        counters = (mail.first_open, mail.opens, mail.machine_opens, mail.first_click, mail.clicks)
        return (*row, self.started, mail.sent_at, mail.sent_at, *counters, "", 0)

    def _after(self, moment: dt.datetime, seconds: float) -> dt.datetime | None:
        """`seconds` after `moment`, or None when that is past the anchor."""
        when = moment + dt.timedelta(seconds=int(seconds))
        return when if when <= self.context.anchor else None

    # ------------------------------------------------------------------ opens and clicks

    def _read(self, mail: Mail, recipient: Recipient) -> None:
        """A person opens the mail (most within hours, some days later), maybe again, maybe clicks."""
        r = self.r
        roll = r.random()
        delay = 2 * MINUTE + (
            r.expovariate(1 / HOUR)
            if roll < 0.55
            else r.uniform(3 * HOUR, DAY)
            if roll < 0.9
            else r.uniform(DAY, 4 * DAY)
        )
        opened = self._after(mail.sent_at, delay)
        if opened is None:
            return
        self._open(mail, opened)
        for _again in range(r.choice((0, 0, 0, 1, 1, 2))):
            self._open(mail, self._after(opened, r.uniform(10 * MINUTE, 2 * DAY)))
        if r.random() < self.mailing.click_rate * _engagement(recipient):
            self._follow(mail, recipient, self._after(opened, r.uniform(5, 15 * MINUTE)))
        else:
            self._open_only(recipient, opened)

    def _open(self, mail: Mail, when: dt.datetime | None, reason: str = "") -> None:
        if when is None:
            return
        agent = APPLE_PROXY_AGENT if reason else self.r.choice(HUMAN_AGENTS)
        self._event(mail, TrackingEvent.Kind.OPEN, when, None, reason, agent)
        mail.opens += 1
        if reason:
            mail.machine_opens += 1
        elif mail.first_open is None:
            mail.first_open = when

    def _click(self, mail: Mail, when: dt.datetime | None, link_id: int, reason: str = "") -> None:
        if when is None:
            return
        agent = SCANNER_AGENT if reason else self.r.choice(HUMAN_AGENTS)
        self._event(mail, TrackingEvent.Kind.CLICK, when, link_id, reason, agent)
        mail.clicks += 1
        if not reason and mail.first_click is None:
            mail.first_click = when

    def _event(self, mail: Mail, kind: str, when: dt.datetime, link_id: int | None, reason: str, agent: str) -> None:
        self.rows.events.append(
            (mail.id, self.campaign.pk, mail.contact_id, kind, link_id, when, bool(reason), reason, agent, {})
        )

    # ------------------------------------------------------------------ what the mail brought

    def _follow(self, mail: Mail, recipient: Recipient, clicked: dt.datetime | None) -> None:
        """A click lands on the shop (a tagged page view); a share of clickers buys within four days."""
        if clicked is None:
            return
        r = self.r
        link_id, url = self.links[0] if r.random() < 0.7 else r.choice(self.links)
        self._click(mail, clicked, link_id)
        self._page_view(recipient.contact_id, clicked + dt.timedelta(seconds=2), url)
        if not recipient.bought_before or r.random() >= self.mailing.buy_rate:
            return
        if recipient.home_store_id and r.random() < IN_STORE_SHARE:
            visit = clicked + dt.timedelta(days=r.randint(0, 3), seconds=r.uniform(HOUR / 2, 11.5 * HOUR))
            self._purchase(recipient, shop_hours(visit), in_store=True, tagged=False)
        else:
            seconds = r.uniform(2 * MINUTE, HOUR) if r.random() < 0.7 else r.uniform(HOUR, 4 * DAY)
            self._purchase(recipient, clicked + dt.timedelta(seconds=seconds), in_store=False, tagged=True)

    def _open_only(self, recipient: Recipient, opened: dt.datetime) -> None:
        """Read without a click: a club member may drop by the home store within the day, or someone order
        on the site directly (both credited to the open)."""
        r = self.r
        if not recipient.bought_before:
            return
        if recipient.home_store_id and r.random() < self.mailing.store_rate:
            visit = opened + dt.timedelta(seconds=r.uniform(HOUR / 2, 11.5 * HOUR))
            self._purchase(recipient, shop_hours(visit), in_store=True, tagged=False)
        elif r.random() < self.mailing.browse_rate:
            order = opened + dt.timedelta(seconds=r.uniform(HOUR / 2, 20 * HOUR))
            self._purchase(recipient, order, in_store=False, tagged=False)

    def _purchase(self, recipient: Recipient, when: dt.datetime, *, in_store: bool, tagged: bool) -> None:
        if when > self.context.anchor:
            return
        ids = self.context.ids
        purchase_id, number = ids.purchase, ids.purchases + 1
        ids.purchase, ids.purchases = purchase_id + 1, number
        total, first_product = self._items(purchase_id)
        source, channel = ("pos", "in_store") if in_store else ("shop", "online")
        store = recipient.home_store_id if in_store else None
        utm = self.context.utm if tagged else UNTAGGED
        self.rows.purchases.append(
            (
                purchase_id,
                recipient.contact_id,
                source,
                f"{source.upper()}-M{number:09d}",
                channel,
                store,
                when,
                Decimal(total).scaleb(-2),
                "ILS",
                when,
                *utm,
            )
        )
        if not in_store:
            self._activity(
                recipient.contact_id, "add_to_cart", when - dt.timedelta(minutes=10), first_product, {"quantity": 1}
            )
            self._activity(
                recipient.contact_id,
                "checkout_started",
                when - dt.timedelta(minutes=3),
                None,
                {},
                url=f"{SHOP}checkout",
            )
        ids.touched.add(recipient.contact_id)

    def _items(self, purchase_id: int) -> tuple[int, int]:
        """One to three products at the mailing's discount; returns the total in agorot and the first product."""
        r = self.r
        products = r.sample(self.context.catalogue.products, r.choice((1, 1, 2, 3)))
        total = 0
        for product in products:
            quantity = 1 if r.random() < 0.85 else 2
            price = int(product[3] * (1 - self.mailing.discount)) // 10 * 10
            total += quantity * price
            self.rows.items.append((purchase_id, product[0], quantity, Decimal(price).scaleb(-2)))
        return total, products[0][0]

    def _page_view(self, contact_id: int, when: dt.datetime, url: str) -> None:
        self.rows.activities.append((contact_id, None, "page_view", when, None, url, {}, when, *self.context.utm))
        self.context.ids.touched.add(contact_id)

    def _activity(
        self, contact_id: int, kind: str, when: dt.datetime, product_id: int | None, properties: dict, url: str = ""
    ) -> None:
        self.rows.activities.append((contact_id, None, kind, when, product_id, url, properties, when, *UNTAGGED))
