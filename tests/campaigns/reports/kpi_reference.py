"""A plain-Python reading of CONTRACT §8 (and §7's channel ROMI), written independently of the SQL selector.

It takes plain lists of rows — contacts, memberships, purchases, events, visitor identities, campaigns,
messages, tracking events, attributions, spend — and answers with the JSON the API should give: money as
strings with two decimals, rates as fractions rounded to four digits, None wherever a divisor is 0.

Days are TIME_ZONE dates: a moment belongs to the period when its local date lies between the first and last
day, both included (the selector filters on the instants of `Period.bounds()` instead). Funnel stage and
lifecycle are worked out from the raw purchases and events, not read from the contact's derived columns.
A purchase's ROMI channel is `email` when a mail has its credit, else its utm_source in lower case.
"""

import calendar
import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings

CENTS = Decimal("0.01")
STAGES = ["none", "visitor", "interested", "cart", "purchaser"]
LIFECYCLES = ["prospect", "new", "active", "at_risk", "lapsed"]
SOURCES = ["web_form", "landing_page", "in_store", "import", "api", "social", "referral"]
CHANNELS = ["online", "in_store", "app"]
INTERESTED_EVENTS = {"product_view", "download", "review"}
PROMOTER_EVENTS = {"review", "referral"}


@dataclass(frozen=True)
class ContactRow:
    id: int
    email_opt_in: bool
    sms_opt_in: bool
    source: str
    signed_up_at: dt.datetime | None
    erased: bool


@dataclass(frozen=True)
class MemberRow:
    contact_id: int
    status: str


@dataclass(frozen=True)
class PurchaseRow:
    id: int
    contact_id: int
    purchased_at: dt.datetime
    total: Decimal
    channel: str
    utm_source: str


@dataclass(frozen=True)
class EventRow:
    contact_id: int | None
    anonymous_id: str | None
    type: str
    occurred_at: dt.datetime


@dataclass(frozen=True)
class CampaignRow:
    id: int
    name: str
    kind: str
    flow_id: int | None
    flow_name: str | None


@dataclass(frozen=True)
class MessageRow:
    id: int
    campaign_id: int
    status: str
    sent_at: dt.datetime | None
    bounced: bool


@dataclass(frozen=True)
class TrackingRow:
    message_id: int
    kind: str
    is_machine: bool


@dataclass(frozen=True)
class AttributionRow:
    purchase_id: int
    campaign_id: int
    purchased_at: dt.datetime
    total: Decimal


@dataclass(frozen=True)
class SpendRow:
    channel: str
    month: dt.date
    amount: Decimal


@dataclass
class World:
    contacts: list[ContactRow] = field(default_factory=list)
    memberships: list[MemberRow] = field(default_factory=list)
    purchases: list[PurchaseRow] = field(default_factory=list)
    events: list[EventRow] = field(default_factory=list)
    identities: list[str] = field(default_factory=list)  # anonymous ids known to be a contact
    campaigns: list[CampaignRow] = field(default_factory=list)
    messages: list[MessageRow] = field(default_factory=list)
    tracking: list[TrackingRow] = field(default_factory=list)
    attributions: list[AttributionRow] = field(default_factory=list)
    spend: list[SpendRow] = field(default_factory=list)


def load() -> World:
    """Every row of the database the KPIs read, as plain values."""
    from campaigns.flows.models import FlowMail
    from campaigns.models import Campaign, Message, TrackingEvent
    from campaigns.reports.models import Attribution, Spend
    from contacts.models import Activity, Contact, LoyaltyMember, Purchase, VisitorIdentity

    flows = {m.campaign_id: m.flow for m in FlowMail.objects.select_related("flow")}
    return World(
        contacts=[
            ContactRow(c.pk, c.email_opt_in, c.sms_opt_in, c.source, c.signed_up_at, c.erased_at is not None)
            for c in Contact.objects.all()
        ],
        memberships=[MemberRow(m.contact_id, m.status) for m in LoyaltyMember.objects.all()],
        purchases=[
            PurchaseRow(p.pk, p.contact_id, p.purchased_at, p.total, p.channel, p.utm_source)
            for p in Purchase.objects.all()
        ],
        events=[EventRow(a.contact_id, a.anonymous_id, a.type, a.occurred_at) for a in Activity.objects.all()],
        identities=list(VisitorIdentity.objects.values_list("anonymous_id", flat=True)),
        campaigns=[
            CampaignRow(
                c.pk,
                c.name,
                c.kind,
                flows[c.pk].pk if c.pk in flows else None,
                flows[c.pk].name if c.pk in flows else None,
            )
            for c in Campaign.objects.all()
        ],
        messages=[
            MessageRow(m.pk, m.campaign_id, m.status, m.sent_at, m.bounced_at is not None)
            for m in Message.objects.all()
        ],
        tracking=[TrackingRow(e.message_id, e.kind, e.is_machine) for e in TrackingEvent.objects.all()],
        attributions=[
            AttributionRow(a.purchase_id, a.campaign_id, a.purchased_at, a.total) for a in Attribution.objects.all()
        ],
        spend=[SpendRow(s.channel, s.month, s.amount) for s in Spend.objects.all()],
    )


# ------------------------------------------------------------------ arithmetic


def local_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(ZoneInfo(settings.TIME_ZONE)).date()


def money(amount: Decimal) -> str:
    return str(amount.quantize(CENTS))


def ratio(part, whole) -> float | None:
    return round(float(part) / float(whole), 4) if whole else None


class Reference:
    def __init__(self, world: World, now: dt.datetime):
        self.world = world
        self.now = now

    # -------------------------------------------------------------- the whole answer

    def kpis(self, start: dt.date, end: dt.date) -> dict:
        days = (end - start).days + 1
        before = (start - dt.timedelta(days=days), start - dt.timedelta(days=1))
        sales, earlier = self.sales(start, end), self.sales(*before)
        return {
            "period": {"from": start.isoformat(), "to": end.isoformat()},
            "funnel": self.funnel(),
            "funnel_conversion": self.funnel_conversion(),
            "lifecycle": self.lifecycle(),
            "new_contacts": self.new_contacts(start, end),
            **sales,
            "users_share": self.users_share(start, end),
            "email": self.email(start, end),
            "promoters": self.promoters(start, end),
            "channel_romi": self.channel_romi(start, end),
            "top_campaigns": self.top(start, end, "broadcast"),
            "top_flows": self.top(start, end, "flow"),
            "previous": {
                key: earlier[key]
                for key in ("revenue", "orders", "buyers", "aov", "frequency", "repeat_rate", "retention")
            },
        }

    # -------------------------------------------------------------- the audience now

    def live(self) -> list[ContactRow]:
        return [c for c in self.world.contacts if not c.erased]

    def stage(self, contact_id: int) -> str:
        if any(p.contact_id == contact_id for p in self.world.purchases):
            return "purchaser"
        types = {e.type for e in self.world.events if e.contact_id == contact_id}
        if "add_to_cart" in types:
            return "cart"
        if types & INTERESTED_EVENTS:
            return "interested"
        return "visitor" if types else "none"

    def funnel(self) -> dict:
        counts = Counter(self.stage(c.id) for c in self.live())
        return {stage: counts[stage] for stage in STAGES}

    def funnel_conversion(self) -> dict:
        funnel = self.funnel()

        def at_least(stage: str) -> int:
            return sum(funnel[s] for s in STAGES[STAGES.index(stage) :])

        return {
            stage: ratio(at_least(stage), at_least(STAGES[STAGES.index(stage) - 1]))
            for stage in ("interested", "cart", "purchaser")
        }

    def lifecycle_of(self, contact_id: int) -> str:
        times = [p.purchased_at for p in self.world.purchases if p.contact_id == contact_id]
        if not times:
            return "prospect"
        ago = {days: self.now - dt.timedelta(days=days) for days in self._lifecycle_days()}
        if min(times) >= ago[settings.LIFECYCLE_NEW_DAYS]:
            return "new"
        if max(times) >= ago[settings.LIFECYCLE_ACTIVE_DAYS]:
            return "active"
        if max(times) >= ago[settings.LIFECYCLE_AT_RISK_DAYS]:
            return "at_risk"
        return "lapsed"

    @staticmethod
    def _lifecycle_days() -> Iterable[int]:
        return (settings.LIFECYCLE_NEW_DAYS, settings.LIFECYCLE_ACTIVE_DAYS, settings.LIFECYCLE_AT_RISK_DAYS)

    def lifecycle(self) -> dict:
        counts = Counter(self.lifecycle_of(c.id) for c in self.live())
        return {stage: counts[stage] for stage in LIFECYCLES}

    def users_share(self, start: dt.date, end: dt.date) -> float | None:
        live = self.live()
        consenting = sum(1 for c in live if c.email_opt_in or c.sms_opt_in)
        linked = set(self.world.identities)
        visitors = {
            e.anonymous_id
            for e in self.world.events
            if e.contact_id is None
            and e.anonymous_id is not None
            and e.anonymous_id not in linked
            and start <= local_date(e.occurred_at) <= end
        }
        return ratio(consenting, len(live) + len(visitors))

    # -------------------------------------------------------------- what happened in the period

    def new_contacts(self, start: dt.date, end: dt.date) -> dict:
        joined = [
            c for c in self.world.contacts if c.signed_up_at is not None and start <= local_date(c.signed_up_at) <= end
        ]
        by_source = dict.fromkeys(SOURCES, 0)
        for contact in joined:
            by_source[contact.source] = by_source.get(contact.source, 0) + 1
        return {"total": len(joined), "by_source": by_source}

    def purchases_in(self, start: dt.date, end: dt.date) -> list[PurchaseRow]:
        return [p for p in self.world.purchases if start <= local_date(p.purchased_at) <= end]

    def sales(self, start: dt.date, end: dt.date) -> dict:
        bought = self.purchases_in(start, end)
        revenue = sum((p.total for p in bought), Decimal(0))
        orders_of = Counter(p.contact_id for p in bought)
        buyers = len(orders_of)
        active_members = {m.contact_id for m in self.world.memberships if m.status == "active"}
        club = sum((p.total for p in bought if p.contact_id in active_members), Decimal(0))
        days = (end - start).days + 1
        before = set(self.buyers(start - dt.timedelta(days=days), start - dt.timedelta(days=1)))
        return {
            "revenue": money(revenue),
            "orders": len(bought),
            "buyers": buyers,
            "aov": money(revenue / len(bought)) if bought else None,
            "frequency": ratio(len(bought), buyers),
            "repeat_rate": ratio(sum(1 for n in orders_of.values() if n >= 2), buyers),
            "by_channel": {
                channel: {
                    "revenue": money(sum((p.total for p in bought if p.channel == channel), Decimal(0))),
                    "orders": sum(1 for p in bought if p.channel == channel),
                }
                for channel in CHANNELS
            },
            "club_revenue_share": ratio(club, revenue),
            "retention": ratio(len(before & set(orders_of)), len(before)),
        }

    def buyers(self, start: dt.date, end: dt.date) -> set[int]:
        return {p.contact_id for p in self.purchases_in(start, end)}

    def email(self, start: dt.date, end: dt.date) -> dict:
        sent = [
            m
            for m in self.world.messages
            if m.status == "sent" and m.sent_at is not None and start <= local_date(m.sent_at) <= end
        ]
        ids = {m.id for m in sent}
        opened = {t.message_id for t in self.world.tracking if t.kind == "open" and not t.is_machine} & ids
        clicked = {t.message_id for t in self.world.tracking if t.kind == "click" and not t.is_machine} & ids
        attributed = [a for a in self.world.attributions if start <= local_date(a.purchased_at) <= end]
        return {
            "sent": len(sent),
            "delivered": len(sent) - sum(1 for m in sent if m.bounced),
            "unique_opens": len(opened),
            "unique_clicks": len(clicked),
            "attributed_revenue": money(sum((a.total for a in attributed), Decimal(0))),
        }

    def promoters(self, start: dt.date, end: dt.date) -> int:
        return len(
            {
                e.contact_id
                for e in self.world.events
                if e.contact_id is not None and e.type in PROMOTER_EVENTS and start <= local_date(e.occurred_at) <= end
            }
        )

    def top(self, start: dt.date, end: dt.date, kind: str) -> list[dict]:
        """Campaigns (broadcast) or automations (flow, their mail steps added up) by attributed revenue."""
        campaigns = {c.id: c for c in self.world.campaigns}
        revenue: dict[int, Decimal] = defaultdict(Decimal)
        conversions: Counter[int] = Counter()
        names: dict[int, str] = {}
        for a in self.world.attributions:
            campaign = campaigns[a.campaign_id]
            if campaign.kind != kind or not start <= local_date(a.purchased_at) <= end:
                continue
            if kind == "flow":
                if campaign.flow_id is None:
                    continue
                key, names[campaign.flow_id] = campaign.flow_id, campaign.flow_name or ""
            else:
                key, names[campaign.id] = campaign.id, campaign.name
            revenue[key] += a.total
            conversions[key] += 1
        best = sorted(revenue, key=lambda key: (-revenue[key], key))[:5]
        return [
            {"id": key, "name": names[key], "revenue": money(revenue[key]), "conversions": conversions[key]}
            for key in best
        ]

    # -------------------------------------------------------------- channel ROMI (§7)

    def channel_romi(self, start: dt.date, end: dt.date) -> dict:
        attributed = {a.purchase_id for a in self.world.attributions}
        earned: dict[str, Decimal] = {}
        for p in self.purchases_in(start, end):
            channel = "email" if p.id in attributed else p.utm_source.lower()
            if channel:
                earned[channel] = earned.get(channel, Decimal(0)) + p.total
        spent = self.spend(start, end)
        answer = {}
        for channel in sorted(set(earned) | set(spent)):
            revenue, cost = earned.get(channel, Decimal(0)), spent.get(channel, Decimal(0))
            answer[channel] = {
                "revenue": money(revenue),
                "spend": money(cost),
                "romi": round(float((revenue - cost) / cost), 4) if cost else None,
            }
        return answer

    def spend(self, start: dt.date, end: dt.date) -> dict[str, Decimal]:
        """Each month's spend in proportion to the days of that month inside the period."""
        days = [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]
        spent: dict[str, Decimal] = {}
        for row in self.world.spend:
            inside = sum(1 for day in days if (day.year, day.month) == (row.month.year, row.month.month))
            if inside:
                length = calendar.monthrange(row.month.year, row.month.month)[1]
                spent[row.channel] = spent.get(row.channel, Decimal(0)) + row.amount * inside / length
        return {channel: amount.quantize(CENTS) for channel, amount in spent.items()}
