"""The built-in condition keys of CONTRACT.md §3, each compiled to a Q on Contact.

Rules of the house: every compiled condition is a plain WHERE fragment (column tests,
EXISTS or scalar subqueries) so the whole tree stays ONE query; a contact whose field is
missing never satisfies a positive condition (each fragment is FALSE, never NULL, for it)
and so does satisfy its `not`.
"""
import calendar
import datetime as dt
from decimal import Decimal

from django.db.models import (
    Count,
    Exists,
    F,
    FloatField,
    Func,
    OuterRef,
    Q,
    Subquery,
    Sum,
    TextField,
    Value,
)
from django.db.models.functions import Coalesce, Length, Lower, Trim
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    In,
    IsNull,
    LessThan,
    LessThanOrEqual,
)
from django.utils.translation import gettext_lazy as _

from contacts.lifecycle import lifecycle_in
from contacts.marketing import marketable_q
from contacts.models import (
    Activity,
    Channel,
    Contact,
    FunnelStage,
    Gender,
    Lifecycle,
    LoyaltyMember,
    MaritalStatus,
    Product,
    Purchase,
    PurchaseItem,
    Source,
)

from .registry import Condition, Context, Extra, Op, register

PROFILE = _("Profile")
DATES = _("Dates")
PURCHASES = _("Purchases")
CLUB = _("Club")
BEHAVIOUR = _("Site behaviour")
CONSENT = _("Consent")
LISTS = _("Lists")

def _set_ops(one: str, many: str) -> dict[str, Op]:
    return {"eq": Op(one, _("is")), "neq": Op(one, _("is not")), "in": Op(many, _("is one of")),
            "not_in": Op(many, _("is none of"))}


def _range_ops(one: str, pair: str) -> dict[str, Op]:
    return {"gte": Op(one, _("at least")), "lte": Op(one, _("at most")), "between": Op(pair, _("between"))}


TEXT_OPS = _set_ops("text", "text_list")
CHOICE_OPS = _set_ops("choice", "choice_list")
RANGE_OPS_INT = _range_ops("int", "int_range")
RANGE_OPS_NUMBER = _range_ops("number", "number_range")
ANNIVERSARY_OPS = {
    "today": Op("none", _("is today")),
    "this_month": Op("none", _("is this month")),
    "in_next_days": Op("int", _("is in the next N days")),
}
BOOL_OPS = {"is": Op("bool", _("is"))}
DAYS_EXTRA = Extra("int", _("only in the last N days"))
CHANNEL_EXTRA = Extra("choice", _("channel"), choices=lambda: Channel.choices)


def norm(value) -> str:
    return str(value).strip().lower()


def text_expr(field: str):
    return Lower(Trim(F(field)))


def _present(field: str) -> Q:
    return ~Q(**{field: ""}) & Q(**{f"{field}__isnull": False})


def compare_text(field: str, op: str, value) -> Q:
    """eq / neq / in / not_in ignoring case and surrounding spaces; blank never matches."""
    if op in ("eq", "neq"):
        test = Q(Exact(text_expr(field), norm(value)))
    else:
        test = Q(In(text_expr(field), [norm(v) for v in value]))
    if op in ("neq", "not_in"):
        return _present(field) & ~test
    return _present(field) & test


def compare_range(lhs, op: str, value) -> Q:
    if op == "gte":
        return Q(GreaterThanOrEqual(lhs, value))
    if op == "lte":
        return Q(LessThanOrEqual(lhs, value))
    if op == "eq":
        return Q(Exact(lhs, value))
    low, high = value
    return Q(GreaterThanOrEqual(lhs, low)) & Q(LessThanOrEqual(lhs, high))


# ------------------------------------------------------------------ profile

def _text_condition(key: str, label, choices=None) -> None:
    def compile_(cond: dict, ctx: Context) -> Q:
        return compare_text(key, cond["op"], cond["value"])

    register(Condition(key=key, label=label, group=PROFILE, ops=CHOICE_OPS if choices else TEXT_OPS,
                       compile=compile_, choices=choices))


_text_condition("city", _("City"))
_text_condition("region", _("Region"))
_text_condition("country", _("Country"))
_text_condition("language", _("Language"))
_text_condition("gender", _("Gender"), choices=lambda: Gender.choices)
_text_condition("marital_status", _("Family status"), choices=lambda: MaritalStatus.choices)
_text_condition("source", _("Signed up through"), choices=lambda: Source.choices)
_text_condition("source_detail", _("Sign-up detail (form, page, store)"))


def shift_years(day: dt.date, years: int) -> dt.date:
    """`day` moved by whole years; 29 February lands on 28 February in a non-leap year."""
    year = day.year + years
    if day.month == 2 and day.day == 29 and not calendar.isleap(year):
        return dt.date(year, 2, 28)
    if day.month == 2 and day.day == 28 and not calendar.isleap(day.year) and calendar.isleap(year):
        return dt.date(year, 2, 29)
    return dt.date(year, day.month, day.day)


def compile_age(cond: dict, ctx: Context) -> Q:
    """Age ≥ a ⇔ born on or before today − a years; age ≤ b ⇔ born after today − (b+1) years."""
    op, value = cond["op"], cond["value"]
    low, high = (value if op == "between" else (value, None) if op == "gte" else (None, value))
    q = Q(birth_date__isnull=False)
    if low is not None:
        q &= Q(birth_date__lte=shift_years(ctx.today, -low))
    if high is not None:
        q &= Q(birth_date__gt=shift_years(ctx.today, -(high + 1)))
    return q


register(Condition(key="age", label=_("Age"), group=PROFILE, ops=RANGE_OPS_INT, compile=compile_age))


# ------------------------------------------------------------------ anniversaries

def window_days(ctx: Context, days: int) -> list[dt.date]:
    return [ctx.today + dt.timedelta(days=i) for i in range(days + 1)]


def anniversary_q(field: str, days: list[dt.date], exclude_origin_year: bool = False) -> Q:
    """Month/day of `field` falls on one of `days`; 29 Feb counts as 28 Feb in non-leap years.

    Days are grouped by (year, month) into day ranges, so the SQL stays a handful of terms.
    With `exclude_origin_year`, the occurrence must be in a later year than the date itself
    (a sign-up's anniversary is not the sign-up day).
    """
    spans: dict[tuple[int, int], list[int]] = {}
    for day in days:
        spans.setdefault((day.year, day.month), []).append(day.day)
        if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
            spans[(day.year, 2)].append(29)
    q = Q(pk__in=[])
    for (year, month), day_list in spans.items():
        term = Q(**{f"{field}__month": month, f"{field}__day__gte": min(day_list),
                    f"{field}__day__lte": max(day_list)})
        if exclude_origin_year:
            term &= Q(**{f"{field}__year__lt": year})
        q |= term
    return Q(**{f"{field}__isnull": False}) & q


def anniversary_compile(field: str, cond: dict, ctx: Context, exclude_origin_year: bool = False) -> Q:
    op = cond["op"]
    if op == "this_month":
        q = Q(**{f"{field}__month": ctx.today.month})
        if exclude_origin_year:
            q &= Q(**{f"{field}__year__lt": ctx.today.year})
        return Q(**{f"{field}__isnull": False}) & q
    days = [ctx.today] if op == "today" else window_days(ctx, cond["value"])
    return anniversary_q(field, days, exclude_origin_year)


for _key, _field, _label in (("birthday", "birth_date", _("Birthday")),
                             ("wedding_anniversary", "wedding_date", _("Wedding anniversary"))):
    register(Condition(key=_key, label=_label, group=DATES, ops=ANNIVERSARY_OPS,
                       compile=lambda cond, ctx, f=_field: anniversary_compile(f, cond, ctx)))


TIME_OPS = {
    "within_last_days": Op("int", _("within the last N days")),
    "more_than_days_ago": Op("int", _("more than N days ago")),
}


def time_compile(field: str, cond: dict, ctx: Context) -> Q:
    op, value = cond["op"], cond.get("value")
    if op == "within_last_days":
        return Q(**{f"{field}__gte": ctx.days_ago(value)})
    if op == "more_than_days_ago":
        return Q(**{f"{field}__lt": ctx.days_ago(value)})
    if op == "before":
        return Q(**{f"{field}__lt": ctx.midnight(value)})
    if op == "after":
        return Q(**{f"{field}__gte": ctx.midnight(value + dt.timedelta(days=1))})
    if op == "anniversary_in_next_days":
        return anniversary_q(field, window_days(ctx, value), exclude_origin_year=True)
    raise ValueError(op)


register(Condition(
    key="signed_up", label=_("Signed up"), group=DATES,
    ops={"before": Op("date", _("before")), "after": Op("date", _("after")), **TIME_OPS,
         "anniversary_in_next_days": Op("int", _("anniversary in the next N days"))},
    compile=lambda cond, ctx: time_compile("signed_up_at", cond, ctx),
))


# ------------------------------------------------------------------ tags, attributes, consent

def compile_tag(cond: dict, ctx: Context) -> Q:
    through = Contact.tags.through
    has = Exists(through.objects.filter(contact_id=OuterRef("pk")).annotate(n=Lower(Trim("tag__name")))
                 .filter(n=norm(cond["value"])))
    return Q(has) if cond["op"] == "has" else ~Q(has)


register(Condition(key="tag", label=_("Tag"), group=PROFILE,
                   ops={"has": Op("tag", _("has")), "has_not": Op("tag", _("has not"))}, compile=compile_tag))


class JsonText(Func):
    """Text of one key of `attributes` (booleans as true/false on every backend); NULL if absent."""

    output_field = TextField()

    def __init__(self, key: str):
        super().__init__(F("attributes"))
        self.key = key

    def as_postgresql(self, compiler, connection):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"({sql} ->> %s)", [*params, self.key]

    def as_sqlite(self, compiler, connection):
        sql, params = compiler.compile(self.source_expressions[0])
        path = f'$."{self.key}"'
        return (f"(CASE json_type({sql}, %s) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' "
                f"WHEN 'null' THEN NULL ELSE CAST(json_extract({sql}, %s) AS TEXT) END)",
                [*params, path, *params, path])


class JsonNumber(Func):
    """Numeric value of one key of `attributes`; NULL unless it is stored as a JSON number."""

    output_field = FloatField()

    def __init__(self, key: str):
        super().__init__(F("attributes"))
        self.key = key

    def as_postgresql(self, compiler, connection):
        sql, params = compiler.compile(self.source_expressions[0])
        return (f"(CASE WHEN jsonb_typeof({sql} -> %s) = 'number' THEN ({sql} ->> %s)::double precision END)",
                [*params, self.key, *params, self.key])

    def as_sqlite(self, compiler, connection):
        sql, params = compiler.compile(self.source_expressions[0])
        path = f'$."{self.key}"'
        return (f"(CASE WHEN json_type({sql}, %s) IN ('integer', 'real') "
                f"THEN CAST(json_extract({sql}, %s) AS REAL) END)", [*params, path, *params, path])


def compile_attribute(cond: dict, ctx: Context) -> Q:
    key, op, value = cond["key"], cond["op"], cond.get("value")
    text = Lower(Trim(JsonText(key)))
    present = Q(GreaterThan(Coalesce(Length(Trim(JsonText(key))), Value(0)), 0))
    if op == "exists":
        return present
    if op == "not_exists":
        return ~present
    if op in ("gt", "lt"):
        lookup = GreaterThan if op == "gt" else LessThan
        return Q(IsNull(JsonNumber(key), False)) & Q(lookup(JsonNumber(key), float(value)))
    if op == "in":
        return present & Q(In(text, [norm(v) for v in value]))
    test = present & Q(Exact(text, norm(value)))
    return present & ~test if op == "neq" else test


register(Condition(
    key="attribute", label=_("Custom field"), group=PROFILE,
    ops={"eq": Op("text", _("is")), "neq": Op("text", _("is not")), "in": Op("text_list", _("is one of")),
         "gt": Op("number", _("greater than")), "lt": Op("number", _("less than")),
         "exists": Op("none", _("is filled in")), "not_exists": Op("none", _("is empty"))},
    extras={"key": Extra("attribute_key", _("field"), required=True)},
    compile=compile_attribute,
))


def q_email_consent() -> Q:
    return marketable_q()


register(Condition(
    key="email_consent", label=_("Can receive marketing email"), group=CONSENT, ops=BOOL_OPS,
    compile=lambda cond, ctx: q_email_consent() if cond["value"] else ~q_email_consent(),
))


# ------------------------------------------------------------------ club

def active_members(**filters):
    return LoyaltyMember.objects.filter(contact=OuterRef("pk"), status=LoyaltyMember.Status.ACTIVE, **filters)


register(Condition(
    key="club_member", label=_("Club member"), group=CLUB, ops=BOOL_OPS,
    compile=lambda cond, ctx: Q(Exists(active_members())) if cond["value"] else ~Q(Exists(active_members())),
))
register(Condition(
    key="club_tier", label=_("Club tier"), group=CLUB,
    ops={"eq": Op("choice", _("is")), "in": Op("choice_list", _("is one of"))},
    choices=lambda: LoyaltyMember.Tier.choices,
    compile=lambda cond, ctx: Q(Exists(active_members(
        tier__in=[norm(v) for v in (cond["value"] if cond["op"] == "in" else [cond["value"]])]))),
))


def compile_points(cond: dict, ctx: Context) -> Q:
    members = active_members().annotate(p=F("points"))
    op, value = cond["op"], cond["value"]
    if op == "gte":
        members = members.filter(points__gte=value)
    elif op == "lte":
        members = members.filter(points__lte=value)
    else:
        members = members.filter(points__gte=value[0], points__lte=value[1])
    return Q(Exists(members))


register(Condition(key="club_points", label=_("Club points"), group=CLUB, ops=RANGE_OPS_INT,
                   compile=compile_points))


def compile_club_joined(cond: dict, ctx: Context) -> Q:
    if cond["op"] == "anniversary_in_next_days":
        inner = anniversary_q("joined_at", window_days(ctx, cond["value"]), exclude_origin_year=True)
    else:
        inner = time_compile("joined_at", cond, ctx)
    return Q(Exists(active_members().filter(inner)))


register(Condition(
    key="club_joined", label=_("Joined the club"), group=CLUB,
    ops={**TIME_OPS, "anniversary_in_next_days": Op("int", _("anniversary in the next N days"))},
    compile=compile_club_joined,
))


# ------------------------------------------------------------------ purchases

def purchases_filtered(cond: dict, ctx: Context):
    purchases = Purchase.objects.filter(contact=OuterRef("pk"))
    if cond.get("days") is not None:
        purchases = purchases.filter(purchased_at__gte=ctx.days_ago(cond["days"]))
    if cond.get("channel"):
        purchases = purchases.filter(channel=norm(cond["channel"]))
    return purchases


def _filtered(cond: dict) -> bool:
    return cond.get("days") is not None or bool(cond.get("channel"))


def compile_purchase_count(cond: dict, ctx: Context) -> Q:
    """Unfiltered counts read the contact's stored aggregate; filtered ones count in a subquery."""
    if not _filtered(cond):
        return compare_range(F("purchase_count"), cond["op"], cond["value"])
    count = Subquery(purchases_filtered(cond, ctx).order_by().values("contact").annotate(n=Count("pk")).values("n"))
    return compare_range(Coalesce(count, 0), cond["op"], cond["value"])


def compile_total_spent(cond: dict, ctx: Context) -> Q:
    value = cond["value"]
    value = [Decimal(str(v)) for v in value] if cond["op"] == "between" else Decimal(str(value))
    if not _filtered(cond):
        return compare_range(F("total_spent"), cond["op"], value)
    total = Subquery(purchases_filtered(cond, ctx).order_by().values("contact").annotate(s=Sum("total"))
                     .values("s"))
    return compare_range(Coalesce(total, Value(Decimal("0"))), cond["op"], value)


def compile_aov(cond: dict, ctx: Context) -> Q:
    """total/count ≥ v ⇔ total ≥ v·count (count > 0): no division in SQL."""
    op, value = cond["op"], cond["value"]
    q = Q(purchase_count__gt=0)
    low, high = value if op == "between" else ((value, None) if op == "gte" else (None, value))
    if low is not None:
        q &= Q(GreaterThanOrEqual(F("total_spent"), F("purchase_count") * Value(Decimal(str(low)))))
    if high is not None:
        q &= Q(LessThanOrEqual(F("total_spent"), F("purchase_count") * Value(Decimal(str(high)))))
    return q


PURCHASE_EXTRAS = {"days": DAYS_EXTRA, "channel": CHANNEL_EXTRA}
register(Condition(key="purchase_count", label=_("Number of purchases"), group=PURCHASES,
                   ops={**RANGE_OPS_INT, "eq": Op("int", _("exactly"))}, extras=PURCHASE_EXTRAS,
                   compile=compile_purchase_count))
register(Condition(key="total_spent", label=_("Total spent"), group=PURCHASES, ops=RANGE_OPS_NUMBER,
                   extras=PURCHASE_EXTRAS, compile=compile_total_spent))
register(Condition(key="average_order_value", label=_("Average order value"), group=PURCHASES,
                   ops=RANGE_OPS_NUMBER, compile=compile_aov))


def items_bought(cond: dict, ctx: Context):
    items = PurchaseItem.objects.filter(purchase__contact=OuterRef("pk"))
    if cond.get("days") is not None:
        items = items.filter(purchase__purchased_at__gte=ctx.days_ago(cond["days"]))
    return items


def compile_purchased_product(cond: dict, ctx: Context) -> Q:
    return Q(Exists(items_bought(cond, ctx).filter(product__sku__in=[str(v).strip() for v in cond["value"]])))


def compile_purchased_category(cond: dict, ctx: Context) -> Q:
    items = items_bought(cond, ctx).annotate(cat=Lower(Trim("product__category")))
    return Q(Exists(items.filter(cat__in=[norm(v) for v in cond["value"]])))


register(Condition(key="purchased_product", label=_("Bought product"), group=PURCHASES,
                   ops={"in": Op("sku_list", _("any of"))}, extras={"days": DAYS_EXTRA},
                   compile=compile_purchased_product))
register(Condition(key="purchased_category", label=_("Bought from category"), group=PURCHASES,
                   ops={"in": Op("category_list", _("any of"))}, extras={"days": DAYS_EXTRA},
                   compile=compile_purchased_category,
                   choices=lambda: [(c, c) for c in Product.objects.exclude(category="").order_by("category")
                                    .values_list("category", flat=True).distinct()[:500]]))


def compile_last_purchase(cond: dict, ctx: Context) -> Q:
    if cond["op"] == "never":
        return Q(last_purchase_at__isnull=True)
    return time_compile("last_purchase_at", cond, ctx)


register(Condition(key="last_purchase", label=_("Last purchase"), group=PURCHASES,
                   ops={**TIME_OPS, "never": Op("none", _("never bought"))}, compile=compile_last_purchase))
register(Condition(key="first_purchase", label=_("First purchase"), group=PURCHASES,
                   ops={"within_last_days": TIME_OPS["within_last_days"]},
                   compile=lambda cond, ctx: time_compile("first_purchase_at", cond, ctx)))


def compile_replenishment(cond: dict, ctx: Context) -> Q:
    """Some product with a cycle whose LAST purchase date + cycle falls in [today, today+N].

    An item bought in the window its product's cycle allows, with no later purchase of the same
    product by the same contact; the window depends on the cycle, so there is one term per
    distinct cycle length in the catalogue.
    """
    cycles = sorted(set(Product.objects.filter(replenishment_days__isnull=False)
                        .values_list("replenishment_days", flat=True)))
    if not cycles:
        return Q(pk__in=[])
    n = cond["value"]
    in_window = Q(pk__in=[])
    for days in cycles:
        start = ctx.midnight(ctx.today - dt.timedelta(days=days))
        end = ctx.midnight(ctx.today + dt.timedelta(days=n - days + 1))
        in_window |= Q(product__replenishment_days=days, purchase__purchased_at__gte=start,
                       purchase__purchased_at__lt=end)
    later = PurchaseItem.objects.filter(product=OuterRef("product"), purchase__contact=OuterRef("purchase__contact"),
                                        purchase__purchased_at__gt=OuterRef("purchase__purchased_at"))
    due = PurchaseItem.objects.filter(in_window, purchase__contact=OuterRef("pk")).exclude(Exists(later))
    return Q(Exists(due))


register(Condition(key="replenishment_due", label=_("Due to restock"), group=PURCHASES,
                   ops={"in_next_days": Op("int", _("in the next N days"))}, compile=compile_replenishment,
                   help=_("Bought a product with a replenishment cycle that runs out in the next N days.")))


# ------------------------------------------------------------------ site behaviour

def compile_event(cond: dict, ctx: Context) -> Q:
    events = Activity.objects.filter(contact=OuterRef("pk"), type=cond["event"])
    if cond.get("days") is not None:
        events = events.filter(occurred_at__gte=ctx.days_ago(cond["days"]))
    if cond.get("product"):
        events = events.filter(product__sku=str(cond["product"]).strip())
    needed = cond["value"]
    if needed <= 0:
        return ~Q(pk__in=[])
    if needed == 1:
        return Q(Exists(events))
    count = Subquery(events.order_by().values("contact").annotate(n=Count("pk")).values("n"))
    return Q(GreaterThanOrEqual(Coalesce(count, 0), needed))


register(Condition(
    key="event", label=_("Site/app event"), group=BEHAVIOUR,
    ops={"count_gte": Op("int", _("happened at least N times"))},
    extras={"event": Extra("choice", _("event"), required=True, choices=lambda: Activity.Type.choices),
            "days": DAYS_EXTRA, "product": Extra("text", _("product SKU"))},
    compile=compile_event,
))


def compile_cart_abandoned(cond: dict, ctx: Context) -> Q:
    """An add-to-cart in the window with no purchase at or after it ⇔ the latest such cart is
    later than the contact's last purchase (or there is no purchase at all)."""
    carts = Activity.objects.filter(contact=OuterRef("pk"), type=Activity.Type.ADD_TO_CART,
                                    occurred_at__gte=ctx.days_ago(cond["value"]))
    return (Q(last_purchase_at__isnull=True) & Q(Exists(carts))) | Q(
        Exists(carts.filter(occurred_at__gt=OuterRef("last_purchase_at"))))


register(Condition(key="cart_abandoned", label=_("Abandoned a cart"), group=BEHAVIOUR,
                   ops={"within_last_days": TIME_OPS["within_last_days"]}, compile=compile_cart_abandoned))

STAGE_NAMES = {
    "none": FunnelStage.NONE, "visitor": FunnelStage.VISITOR, "interested": FunnelStage.INTERESTED,
    "cart": FunnelStage.CART, "purchaser": FunnelStage.PURCHASER,
}


def compile_funnel(cond: dict, ctx: Context) -> Q:
    op, value = cond["op"], cond["value"]
    if op == "in":
        return Q(funnel_stage__in=[STAGE_NAMES[norm(v)] for v in value])
    if op == "gte":
        return Q(funnel_stage__gte=STAGE_NAMES[norm(value)])
    return Q(funnel_stage=STAGE_NAMES[norm(value)])


register(Condition(
    key="funnel_stage", label=_("Funnel stage"), group=BEHAVIOUR,
    ops={"eq": Op("choice", _("is")), "in": Op("choice_list", _("is one of")),
         "gte": Op("choice", _("reached at least"))},
    choices=lambda: [(name, FunnelStage(value).label) for name, value in STAGE_NAMES.items()],
    compile=compile_funnel,
))


def compile_lifecycle(cond: dict, ctx: Context) -> Q:
    """The contacts app's own rule (contacts.lifecycle), at the evaluation's "now"."""
    values = cond["value"] if cond["op"] == "in" else [cond["value"]]
    return lifecycle_in([norm(value) for value in values], now=ctx.now)


register(Condition(key="lifecycle", label=_("Customer lifecycle"), group=BEHAVIOUR,
                   ops={"eq": Op("choice", _("is")), "in": Op("choice_list", _("is one of"))},
                   choices=lambda: Lifecycle.choices, compile=compile_lifecycle))


# ------------------------------------------------------------------ other lists

def compile_in_segment(cond: dict, ctx: Context) -> Q:
    from .rules import segment_condition_q

    q = segment_condition_q(int(cond["segment"]), ctx)
    return q if cond["value"] else ~q


register(Condition(key="in_segment", label=_("In segment"), group=LISTS, ops=BOOL_OPS,
                   extras={"segment": Extra("segment", _("segment"), required=True)}, compile=compile_in_segment))
