"""A plain-Python reading of CONTRACT.md §3, written independently of the SQL compiler.

Tests evaluate a rule tree both ways over the same contacts and require identical answers.
It reads raw rows (purchases, items, events, membership) — not the derived columns — so the
services that maintain those columns are checked too.
"""

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

STAGES = ["none", "visitor", "interested", "cart", "purchaser"]
ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
CHILD_BANDS = {"baby": (0, 1), "toddler": (2, 3), "preschool": (4, 5), "school_age": (6, 12), "teen": (13, 17)}
# The usual recency × frequency map, as "<R><F>" patterns.
RFM_MAP = {
    r"[1-2][1-2]": "hibernating",
    r"[1-2][3-4]": "at_risk",
    r"[1-2]5": "cannot_lose",
    r"3[1-2]": "about_to_sleep",
    r"33": "needs_attention",
    r"[3-4][4-5]": "loyal",
    r"41": "promising",
    r"51": "new_customers",
    r"[4-5][2-3]": "potential_loyalist",
    r"5[4-5]": "champions",
}


@dataclass
class Snapshot:
    """Everything about one contact the rules can look at, loaded as Python values."""

    contact: object
    tags: list = field(default_factory=list)
    purchases: list = field(default_factory=list)  # (purchased_at, channel, total, [(sku, category, repl)])
    events: list = field(default_factory=list)  # (type, occurred_at, sku)
    member: object = None
    segments: set = field(default_factory=set)  # static lists the contact is in


def load(contacts) -> list[Snapshot]:
    from contacts.models import Activity, Purchase
    from segments.models import SegmentMembership

    snaps = {
        c.pk: Snapshot(
            contact=c,
            tags=[t.name for t in c.tags.all()],
            member=getattr(c, "club", None) if hasattr(c, "club") else None,
        )
        for c in contacts
    }
    for p in Purchase.objects.filter(contact_id__in=snaps).prefetch_related("items__product"):
        snaps[p.contact_id].purchases.append(
            (
                p.purchased_at,
                p.channel,
                p.total,
                [(i.product.sku, i.product.category, i.product.replenishment_days) for i in p.items.all()],
            )
        )
    for a in Activity.objects.filter(contact_id__in=snaps).select_related("product"):
        snaps[a.contact_id].events.append((a.type, a.occurred_at, a.product.sku if a.product else None))
    for m in SegmentMembership.objects.filter(contact_id__in=snaps, left_at__isnull=True):
        snaps[m.contact_id].segments.add(m.segment_id)
    return list(snaps.values())


def norm(value) -> str:
    return str(value).strip().lower()


def occurrence(day: dt.date, year: int) -> dt.date:
    if day.month == 2 and day.day == 29 and not calendar.isleap(year):
        return dt.date(year, 2, 28)
    return dt.date(year, day.month, day.day)


def local_date(moment: dt.datetime) -> dt.date:
    return timezone.localtime(moment, timezone.get_default_timezone()).date()


def quintile_cuts(values: list) -> list:
    ordered = sorted(values)
    return [ordered[min(len(ordered) - 1, len(ordered) * k // 5)] for k in range(1, 5)] if ordered else []


def rfm_scores(snapshots: list[Snapshot]) -> dict:
    """(recency, frequency, monetary) 1–5 of every buyer from the raw purchases: each score is one more than
    the number of the buyers' quintile cut points at or below the buyer's own value."""
    buyers = {
        s.contact.pk: (max(p[0] for p in s.purchases), len(s.purchases), sum(p[2] for p in s.purchases))
        for s in snapshots
        if s.purchases
    }
    cuts = [quintile_cuts([values[i] for values in buyers.values()]) for i in range(3)]
    return {pk: tuple(1 + sum(v >= c for c in cuts[i]) for i, v in enumerate(values)) for pk, values in buyers.items()}


class Reference:
    def __init__(self, now: dt.datetime, segments: dict, snapshots: list[Snapshot] | None = None):
        self.now = now
        self.today = local_date(now)
        self.segments = segments  # id -> Segment
        self.snapshots = snapshots  # every contact, for the RFM quintiles; loaded when first needed if None
        self._rfm: dict | None = None

    @property
    def rfm(self) -> dict:
        if self._rfm is None:
            from contacts.models import Contact

            self._rfm = rfm_scores(self.snapshots if self.snapshots is not None else load(Contact.objects.all()))
        return self._rfm

    def matches(self, node: dict, s: Snapshot) -> bool:
        """An empty `all` holds for everyone and an empty `any` for no one (CONTRACT §3)."""
        if "all" in node:
            return all(self.matches(child, s) for child in node["all"])
        if "any" in node:
            return any(self.matches(child, s) for child in node["any"])
        if "not" in node:
            return not self.matches(node["not"], s)
        return getattr(self, "c_" + node["field"])(node, s)

    # --- helpers
    def days_ago(self, n):
        return self.now - dt.timedelta(days=n)

    def text(self, value, node):
        present = value is not None and str(value).strip() != ""
        op, v = node["op"], node["value"]
        if not present:
            return False
        if op == "eq":
            return norm(value) == norm(v)
        if op == "neq":
            return norm(value) != norm(v)
        if op == "in":
            return norm(value) in {norm(x) for x in v}
        return norm(value) not in {norm(x) for x in v}

    def in_range(self, value, node):
        op, v = node["op"], node["value"]
        if op == "gte":
            return value >= v
        if op == "lte":
            return value <= v
        if op == "eq":
            return value == v
        return v[0] <= value <= v[1]

    def window(self, n):
        return [self.today + dt.timedelta(days=i) for i in range(n + 1)]

    def anniversary(self, day, node, exclude_origin=False):
        if day is None:
            return False
        op = node["op"]
        if op == "this_month":
            return day.month == self.today.month and (not exclude_origin or day.year < self.today.year)
        days = [self.today] if op == "today" else self.window(node["value"])
        return any(occurrence(day, d.year) == d and (not exclude_origin or d.year > day.year) for d in days)

    def moment(self, value, node):
        if value is None:
            return False
        op, v = node["op"], node.get("value")
        if op == "within_last_days":
            return value >= self.days_ago(v)
        if op == "more_than_days_ago":
            return value < self.days_ago(v)
        if op == "before":
            return local_date(value) < dt.date.fromisoformat(v)
        if op == "after":
            return local_date(value) > dt.date.fromisoformat(v)
        if op == "anniversary_in_next_days":
            return self.anniversary(local_date(value), node, exclude_origin=True)
        raise AssertionError(op)

    # --- profile
    def c_city(self, n, s):
        return self.text(s.contact.city, n)

    def c_region(self, n, s):
        return self.text(s.contact.region, n)

    def c_country(self, n, s):
        return self.text(s.contact.country, n)

    def c_language(self, n, s):
        return self.text(s.contact.language, n)

    def c_gender(self, n, s):
        return self.text(s.contact.gender, n)

    def c_marital_status(self, n, s):
        return self.text(s.contact.marital_status, n)

    def c_source(self, n, s):
        return self.text(s.contact.source, n)

    def c_source_detail(self, n, s):
        return self.text(s.contact.source_detail, n)

    def age(self, born: dt.date) -> int:
        birthday = occurrence(born, self.today.year)
        return (
            self.today.year
            - born.year
            - (1 if (self.today.month, self.today.day) < (birthday.month, birthday.day) else 0)
        )

    def c_age(self, n, s):
        born = s.contact.birth_date
        if born is None:
            return False
        return self.in_range(self.age(born), n)

    def custom_date(self, n, s) -> dt.date | None:
        """A custom field's value when it is text shaped YYYY-MM-DD, as stored for date fields."""
        raw = s.contact.attributes.get(n["key"])
        if not isinstance(raw, str) or not ISO_DAY.fullmatch(raw):
            return None
        return dt.date.fromisoformat(raw)

    def c_attribute_date(self, n, s):
        day = self.custom_date(n, s)
        if day is None:
            return False
        op, v = n["op"], n.get("value")
        if op == "before":
            return day < dt.date.fromisoformat(v)
        if op == "after":
            return day > dt.date.fromisoformat(v)
        if op == "within_last_days":
            return self.today - dt.timedelta(days=v) <= day <= self.today
        if op == "more_than_days_ago":
            return day < self.today - dt.timedelta(days=v)
        if op == "in_next_days":
            return self.today <= day <= self.today + dt.timedelta(days=v)
        if op == "anniversary_in_next_days":
            return self.anniversary(day, n, exclude_origin=True)
        raise AssertionError(op)

    def c_child_age(self, n, s):
        born = self.custom_date(n, s)
        if born is None:
            return False
        age = self.age(born)
        if n["op"] == "in":
            return any(CHILD_BANDS[band][0] <= age <= CHILD_BANDS[band][1] for band in n["value"])
        return self.in_range(age, n)

    def c_birthday(self, n, s):
        return self.anniversary(s.contact.birth_date, n)

    def c_wedding_anniversary(self, n, s):
        return self.anniversary(s.contact.wedding_date, n)

    def c_signed_up(self, n, s):
        return self.moment(s.contact.signed_up_at, n)

    def c_tag(self, n, s):
        has = norm(n["value"]) in {norm(t) for t in s.tags}
        return has if n["op"] == "has" else not has

    def c_attribute(self, n, s):
        raw = s.contact.attributes.get(n["key"])
        if isinstance(raw, bool):
            text = "true" if raw else "false"
        else:
            text = None if raw is None else str(raw)
        present = text is not None and text.strip() != ""
        op = n["op"]
        if op == "exists":
            return present
        if op == "not_exists":
            return not present
        if op in ("gt", "lt"):
            if not isinstance(raw, (int, float)) or isinstance(raw, bool):
                return False
            return raw > n["value"] if op == "gt" else raw < n["value"]
        if not present:
            return False
        if op == "in":
            return norm(text) in {norm(v) for v in n["value"]}
        return (norm(text) == norm(n["value"])) == (op == "eq")

    def c_email_consent(self, n, s):
        c = s.contact
        ok = bool(c.email) and c.email_opt_in and c.email_status == "active"
        return ok == n["value"]

    # --- club
    def active(self, s):
        return s.member is not None and s.member.status == "active"

    def c_club_member(self, n, s):
        return self.active(s) == n["value"]

    def c_club_tier(self, n, s):
        values = n["value"] if n["op"] == "in" else [n["value"]]
        return self.active(s) and s.member.tier in {norm(v) for v in values}

    def c_club_points(self, n, s):
        return self.active(s) and self.in_range(s.member.points, n)

    def c_club_joined(self, n, s):
        return self.active(s) and self.moment(s.member.joined_at, n)

    # --- purchases
    def bought(self, n, s):
        out = s.purchases
        if n.get("days") is not None:
            out = [p for p in out if p[0] >= self.days_ago(n["days"])]
        if n.get("channel"):
            out = [p for p in out if p[1] == n["channel"]]
        return out

    def c_purchase_count(self, n, s):
        return self.in_range(len(self.bought(n, s)), n)

    def c_total_spent(self, n, s):
        total = sum((p[2] for p in self.bought(n, s)), Decimal("0"))
        v = n["value"]
        node = {**n, "value": [Decimal(str(x)) for x in v] if n["op"] == "between" else Decimal(str(v))}
        return self.in_range(total, node)

    def c_average_order_value(self, n, s):
        if not s.purchases:
            return False
        aov = sum(p[2] for p in s.purchases) / len(s.purchases)
        total, count = sum(p[2] for p in s.purchases), len(s.purchases)
        v = n["value"]
        if n["op"] == "gte":
            return total >= count * Decimal(str(v))
        if n["op"] == "lte":
            return total <= count * Decimal(str(v))
        return count * Decimal(str(v[0])) <= total <= count * Decimal(str(v[1])) and aov is not None

    def c_purchased_product(self, n, s):
        skus = {str(v).strip() for v in n["value"]}
        return any(sku in skus for p in self.bought({"days": n.get("days")}, s) for sku, _c, _r in p[3])

    def c_purchased_category(self, n, s):
        cats = {norm(v) for v in n["value"]}
        return any(norm(cat) in cats for p in self.bought({"days": n.get("days")}, s) for _s, cat, _r in p[3])

    def c_last_purchase(self, n, s):
        if n["op"] == "never":
            return not s.purchases
        return bool(s.purchases) and self.moment(max(p[0] for p in s.purchases), n)

    def c_first_purchase(self, n, s):
        return bool(s.purchases) and self.moment(min(p[0] for p in s.purchases), n)

    def c_replenishment_due(self, n, s):
        last: dict = {}
        for when, _ch, _t, items in s.purchases:
            for sku, _cat, repl in items:
                if repl is not None:
                    last[(sku, repl)] = max(last.get((sku, repl), when), when)
        horizon = self.today + dt.timedelta(days=n["value"])
        return any(
            self.today <= local_date(when) + dt.timedelta(days=repl) <= horizon for (_sku, repl), when in last.items()
        )

    # --- behaviour
    def c_event(self, n, s):
        events = [e for e in s.events if e[0] == n["event"]]
        if n.get("days") is not None:
            events = [e for e in events if e[1] >= self.days_ago(n["days"])]
        if n.get("product"):
            events = [e for e in events if e[2] == n["product"]]
        return len(events) >= n["value"]

    def c_cart_abandoned(self, n, s):
        carts = [e[1] for e in s.events if e[0] == "add_to_cart" and e[1] >= self.days_ago(n["value"])]
        return any(not any(p[0] >= when for p in s.purchases) for when in carts)

    def stage(self, s) -> int:
        types = {e[0] for e in s.events}
        if s.purchases:
            return 4
        if "add_to_cart" in types:
            return 3
        if types & {"product_view", "download", "review"}:
            return 2
        return 1 if types else 0

    def c_funnel_stage(self, n, s):
        stage = self.stage(s)
        if n["op"] == "in":
            return stage in {STAGES.index(norm(v)) for v in n["value"]}
        if n["op"] == "gte":
            return stage >= STAGES.index(norm(n["value"]))
        return stage == STAGES.index(norm(n["value"]))

    def lifecycle(self, s) -> str:
        if not s.purchases:
            return "prospect"
        first, last = min(p[0] for p in s.purchases), max(p[0] for p in s.purchases)
        if first >= self.days_ago(settings.LIFECYCLE_NEW_DAYS):
            return "new"
        if last >= self.days_ago(settings.LIFECYCLE_ACTIVE_DAYS):
            return "active"
        if last >= self.days_ago(settings.LIFECYCLE_AT_RISK_DAYS):
            return "at_risk"
        return "lapsed"

    def c_lifecycle(self, n, s):
        values = n["value"] if n["op"] == "in" else [n["value"]]
        return self.lifecycle(s) in {norm(v) for v in values}

    # --- RFM
    def rfm_score(self, n, s, index: int) -> bool:
        scores = self.rfm.get(s.contact.pk)
        return scores is not None and self.in_range(scores[index], n)

    def c_rfm_recency(self, n, s):
        return self.rfm_score(n, s, 0)

    def c_rfm_frequency(self, n, s):
        return self.rfm_score(n, s, 1)

    def c_rfm_monetary(self, n, s):
        return self.rfm_score(n, s, 2)

    def c_rfm_segment(self, n, s):
        scores = self.rfm.get(s.contact.pk)
        if scores is None:
            return False
        cell = f"{scores[0]}{scores[1]}"
        names = [name for pattern, name in RFM_MAP.items() if re.fullmatch(pattern, cell)]
        values = n["value"] if n["op"] == "in" else [n["value"]]
        return names[0] in {norm(v) for v in values}

    def c_in_segment(self, n, s):
        segment = self.segments[n["segment"]]
        if segment.kind == "dynamic":
            inside = self.matches(segment.rules, s)
        else:
            inside = segment.pk in s.segments
        return inside == n["value"]
