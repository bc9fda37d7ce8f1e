"""Purchase conditions: the stored aggregates when unfiltered, subqueries over purchases and items otherwise."""

import datetime as dt
from decimal import Decimal
from typing import cast

from django.db import connection
from django.db.models import Count, DecimalField, Exists, F, IntegerField, OuterRef, Q, QuerySet, Sum, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Lower, Trim
from django.db.models.lookups import GreaterThanOrEqual, LessThanOrEqual
from django.db.models.sql import Query
from django.utils.translation import gettext_lazy as _

from contacts.models import Contact, LastBought, Product, Purchase, PurchaseItem, SpendMonth, SpendQuarter
from contacts.spend_months import month_after, quarter_after

from ..registry import Condition, Context, Op
from .base import (
    CHANNEL_EXTRA,
    DAYS_EXTRA,
    PURCHASES,
    RANGE_OPS_INT,
    RANGE_OPS_NUMBER,
    InRows,
    compare_range,
    norm,
    per_contact_total,
    range_bounds,
    range_holds,
)
from .dates import TIME_OPS, time_compile


def purchases_filtered(cond: dict, ctx: Context) -> QuerySet:
    """The purchases a count or sum condition reads (everyone's; `per_contact_total` takes each contact's)."""
    purchases = Purchase.objects.all()
    if cond.get("days") is not None:
        purchases = purchases.filter(purchased_at__gte=ctx.days_ago(cond["days"]))
    if cond.get("channel"):
        purchases = purchases.filter(channel=norm(cond["channel"]))
    return purchases


def _filtered(cond: dict) -> bool:
    return cond.get("days") is not None or bool(cond.get("channel"))


def compile_purchase_count(cond: dict, ctx: Context) -> Q:
    """Unfiltered counts read the contact's stored aggregate; filtered ones count in a subquery (over the
    window's months, when the whole audience is counted)."""
    if not _filtered(cond):
        return compare_range(F("purchase_count"), cond["op"], cond["value"])
    if ctx.scan and not ctx.priced and not cond.get("channel"):
        return _periods_total(cond["days"], "orders", cond["op"], cond["value"], ctx)
    return per_contact_total(purchases_filtered(cond, ctx), Count("*"), cond["op"], cond["value"], ctx)


def compile_total_spent(cond: dict, ctx: Context) -> Q:
    value = cond["value"]
    value = [Decimal(str(v)) for v in value] if cond["op"] == "between" else Decimal(str(value))
    if not _filtered(cond):
        return compare_range(F("total_spent"), cond["op"], value)
    if ctx.scan and not ctx.priced and not cond.get("channel"):
        return _periods_total(cond["days"], "total", cond["op"], value, ctx)
    zero = Value(Decimal("0"))
    return per_contact_total(purchases_filtered(cond, ctx), Sum("total"), cond["op"], value, ctx, zero)


def _periods_total(days: int, column: str, op: str, value, ctx: Context) -> Q:
    """The whole audience's orders or spending in the last `days` days, as `per_contact_total` reads it with
    `Context.scan`, but the window's whole calendar quarters and the whole months before the first of them taken
    from the stored periods (`SpendQuarter`, `SpendMonth`) and only the part before the first whole month from the
    purchases: a year at a million contacts is ~360,000 quarter rows, a few months' rows and at most a month of
    purchases, where every purchase of the year was 2.1 million rows.

    The result is the same: the periods are kept from every purchase stored by database triggers
    (`contacts.spend_months`). Checking one contact (no scan) reads its own purchases, whose SQL moves with
    the clock as the per-contact check expects; the first whole month does not.

    A plain `IN`, not `InRows`: the planner cannot tell how many contacts the grouped union gives and expects
    a few, so it probes them through the primary key in the order the grouping leaves them, contact id order,
    which at 150,000 contacts costs half what probing them in the order of an array does."""
    start = ctx.days_ago(days)
    adapt = connection.ops.adapt_datetimefield_value
    raw = "1" if column == "orders" else "total"
    months, quarters = month_after(start), quarter_after(month_after(start))
    rows = (
        f"SELECT contact_id, {column} AS v FROM {SpendQuarter._meta.db_table} WHERE starts_at >= %s UNION ALL "
        f"SELECT contact_id, {column} FROM {SpendMonth._meta.db_table} WHERE starts_at >= %s AND starts_at < %s "
        f"UNION ALL SELECT contact_id, {raw} FROM {Purchase._meta.db_table} "
        "WHERE purchased_at >= %s AND purchased_at < %s AND contact_id IS NOT NULL"
    )
    rows_params = [adapt(quarters), adapt(months), adapt(quarters), adapt(start), adapt(months)]
    money = column == "total"
    total = "SUM(r.v)"
    if money and connection.vendor == "sqlite":  # binary floats, compared as the exact cents they stand for
        total = "CAST(ROUND(SUM(r.v), 2) AS NUMERIC)"
    field = DecimalField(max_digits=16, decimal_places=2) if money else IntegerField()
    query = Query(Contact)
    test_sql, test_params = query.get_compiler(connection=connection).compile(
        query.build_where(compare_range(RawSQL(total, [], output_field=field), op, value))
    )
    keep = not range_holds(op, value, 0)
    having = test_sql if keep else f"NOT ({test_sql})"
    grouped = RawSQL(
        f"SELECT r.contact_id FROM ({rows}) AS r GROUP BY r.contact_id HAVING {having}", [*rows_params, *test_params]
    )
    return Q(pk__in=grouped) if keep else ~Q(pk__in=grouped)


def compile_aov(cond: dict, ctx: Context) -> Q:
    """total/count ≥ v ⇔ total ≥ v·count (count > 0): no division in SQL."""
    q = Q(purchase_count__gt=0)
    low, high = range_bounds(cond["op"], cond["value"])
    if low is not None:
        q &= Q(GreaterThanOrEqual(F("total_spent"), F("purchase_count") * Value(Decimal(str(low)))))
    if high is not None:
        q &= Q(LessThanOrEqual(F("total_spent"), F("purchase_count") * Value(Decimal(str(high)))))
    return q


def items_bought(cond: dict, ctx: Context) -> QuerySet:
    items = PurchaseItem.objects.filter(purchase__contact=OuterRef("pk"))
    if cond.get("days") is not None:
        items = items.filter(purchase__purchased_at__gte=ctx.days_ago(cond["days"]))
    return items


def compile_purchased_product(cond: dict, ctx: Context) -> Q:
    return Q(Exists(items_bought(cond, ctx).filter(product__sku__in=[str(v).strip() for v in cond["value"]])))


def category_products(cond: dict) -> tuple[int, ...]:
    """The products of the condition's categories, which `compile_purchased_category` writes into its SQL (so a
    product moved to or from one of them compiles the condition again)."""
    products = Product.objects.annotate(cat=Lower(Trim("category"))).filter(cat__in=[norm(v) for v in cond["value"]])
    return tuple(products.order_by("pk").values_list("pk", flat=True))


def compile_purchased_category(cond: dict, ctx: Context) -> Q:
    """The category's products are found first (a small table) and named in the query, so the planner knows how
    many items they hold and reads them by product id (as a subquery it expected one product and hashed the
    items in every parallel worker)."""
    products = category_products(cond)
    if not products:
        return Q(pk__in=[])
    return Q(Exists(items_bought(cond, ctx).filter(product_id__in=products)))


def compile_last_purchase(cond: dict, ctx: Context) -> Q:
    if cond["op"] == "never":
        return Q(last_purchase_at__isnull=True)
    return time_compile("last_purchase_at", cond, ctx)


def compile_replenishment(cond: dict, ctx: Context) -> Q:
    """Some product with a cycle whose LAST purchase date + cycle falls in [today, today+N].

    The contact's last purchase of each product is stored (`LastBought`, kept with the buyer's aggregates), so
    this is that time in the window the product's cycle allows. The window depends on the cycle, so there is
    one term per distinct cycle length, naming that cycle's products: each a range read on (product, time).
    Counting the whole audience reads the windows once and probes the contacts they name; checking one
    contact reads that contact's rows.
    """
    by_cycle: dict[int, list[int]] = {}
    cycled = Product.objects.filter(replenishment_days__isnull=False).values_list("pk", "replenishment_days")
    for product, days in cast(list[tuple[int, int]], cycled):  # the filter leaves no None
        by_cycle.setdefault(days, []).append(product)
    if not by_cycle:
        return Q(pk__in=[])
    n = cond["value"]
    in_window = Q(pk__in=[])
    for days, products in sorted(by_cycle.items()):
        start = ctx.midnight(ctx.today - dt.timedelta(days=days))
        end = ctx.midnight(ctx.today + dt.timedelta(days=n - days + 1))
        in_window |= Q(product_id__in=products, purchased_at__gte=start, purchased_at__lt=end)
    if ctx.scan:  # the whole audience: the windows read once, their contacts probed by primary key
        return Q(InRows(LastBought.objects.filter(in_window).values("contact")))
    return Q(Exists(LastBought.objects.filter(in_window, contact=OuterRef("pk"))))


def replenishment_cycles(cond: dict) -> tuple:
    """The product cycles `compile_replenishment` writes into its SQL, summed up so that a change to any
    of them (a cycle set, changed or removed) changes the result."""
    cycled = Product.objects.filter(replenishment_days__isnull=False)
    totals = cycled.aggregate(
        products=Count("pk"), days=Sum("replenishment_days"), weighted=Sum(F("pk") * F("replenishment_days"))
    )
    return tuple(totals.values())


def _categories() -> list[tuple[str, str]]:
    return [
        (c, c)
        for c in Product.objects.exclude(category="")
        .order_by("category")
        .values_list("category", flat=True)
        .distinct()[:500]
    ]


PURCHASE_EXTRAS = {"days": DAYS_EXTRA, "channel": CHANNEL_EXTRA}
CONDITIONS = (
    Condition(
        key="purchase_count",
        label=_("Number of purchases"),
        group=PURCHASES,
        ops={**RANGE_OPS_INT, "eq": Op("int", _("exactly"))},
        extras=PURCHASE_EXTRAS,
        compile=compile_purchase_count,
    ),
    Condition(
        key="total_spent",
        label=_("Total spent"),
        group=PURCHASES,
        ops=RANGE_OPS_NUMBER,
        extras=PURCHASE_EXTRAS,
        compile=compile_total_spent,
    ),
    Condition(
        key="average_order_value",
        label=_("Average order value"),
        group=PURCHASES,
        ops=RANGE_OPS_NUMBER,
        compile=compile_aov,
    ),
    Condition(
        key="purchased_product",
        label=_("Bought product"),
        group=PURCHASES,
        ops={"in": Op("sku_list", _("any of"))},
        extras={"days": DAYS_EXTRA},
        compile=compile_purchased_product,
    ),
    Condition(
        key="purchased_category",
        label=_("Bought from category"),
        group=PURCHASES,
        ops={"in": Op("category_list", _("any of"))},
        extras={"days": DAYS_EXTRA},
        compile=compile_purchased_category,
        compiled_from=category_products,
        choices=_categories,
    ),
    Condition(
        key="last_purchase",
        label=_("Last purchase"),
        group=PURCHASES,
        ops={**TIME_OPS, "never": Op("none", _("never bought"))},
        compile=compile_last_purchase,
    ),
    Condition(
        key="first_purchase",
        label=_("First purchase"),
        group=PURCHASES,
        ops={"within_last_days": TIME_OPS["within_last_days"]},
        compile=lambda cond, ctx: time_compile("first_purchase_at", cond, ctx),
    ),
    Condition(
        key="replenishment_due",
        label=_("Due to restock"),
        group=PURCHASES,
        ops={"in_next_days": Op("int", _("in the next N days"))},
        compile=compile_replenishment,
        compiled_from=replenishment_cycles,
        help=_("Bought a product with a replenishment cycle that runs out in the next N days."),
    ),
)
