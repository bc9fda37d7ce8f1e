"""Site behaviour: events, abandoned carts, the funnel stage and the lifecycle stage."""

from django.db.models import Count, Exists, OuterRef, Q
from django.db.models.lookups import IsNull
from django.utils.translation import gettext_lazy as _

from contacts.lifecycle import lifecycle_in
from contacts.models import Activity, FunnelStage, LastEvent, Lifecycle

from ..registry import Condition, Context, Extra, Op
from .base import BEHAVIOUR, CHOICE_ONE_OF_OPS, DAYS_EXTRA, chosen_values, norm, per_contact_total
from .dates import TIME_OPS

STAGE_NAMES = {
    "none": FunnelStage.NONE,
    "visitor": FunnelStage.VISITOR,
    "interested": FunnelStage.INTERESTED,
    "cart": FunnelStage.CART,
    "purchaser": FunnelStage.PURCHASER,
}


def compile_event(cond: dict, ctx: Context) -> Q:
    events = Activity.objects.filter(type=cond["event"])
    if cond.get("days") is not None:
        events = events.filter(occurred_at__gte=ctx.days_ago(cond["days"]))
    if cond.get("product"):
        events = events.filter(product__sku=str(cond["product"]).strip())
    needed = cond["value"]
    if needed <= 0:
        return ~Q(pk__in=[])
    if needed == 1 and not cond.get("product"):
        # Once, of any product: the contact's last event of the type, one row per contact (`LastEvent`).
        last = LastEvent.objects.filter(type=cond["event"])
        if cond.get("days") is not None:
            last = last.filter(occurred_at__gte=ctx.days_ago(cond["days"]))
        return Q(Exists(last.filter(contact=OuterRef("pk"))))
    if needed == 1:
        return Q(Exists(events.filter(contact=OuterRef("pk"))))
    return per_contact_total(events, Count("*"), "gte", needed, ctx)


def compile_cart_abandoned(cond: dict, ctx: Context) -> Q:
    """An add-to-cart in the window with no purchase at or after it ⇔ the contact's last add-to-cart is in
    the window and later than its last purchase (or there is no purchase at all): one row per contact
    (`LastEvent`), in one EXISTS, so the planner may run it as a semi-join from either side."""
    carts = LastEvent.objects.filter(
        Q(IsNull(OuterRef("last_purchase_at"), True)) | Q(occurred_at__gt=OuterRef("last_purchase_at")),
        contact=OuterRef("pk"),
        type=Activity.Type.ADD_TO_CART,
        occurred_at__gte=ctx.days_ago(cond["value"]),
    )
    return Q(Exists(carts))


def compile_funnel(cond: dict, ctx: Context) -> Q:
    op, value = cond["op"], cond["value"]
    if op == "in":
        return Q(funnel_stage__in=[STAGE_NAMES[norm(v)] for v in value])
    if op == "gte":
        return Q(funnel_stage__gte=STAGE_NAMES[norm(value)])
    return Q(funnel_stage=STAGE_NAMES[norm(value)])


def compile_lifecycle(cond: dict, ctx: Context) -> Q:
    """The contacts app's own rule (contacts.lifecycle), at the evaluation's "now"."""
    return lifecycle_in([norm(value) for value in chosen_values(cond)], now=ctx.now)


CONDITIONS = (
    Condition(
        key="event",
        label=_("Site/app event"),
        group=BEHAVIOUR,
        ops={"count_gte": Op("int", _("happened at least N times"))},
        extras={
            "event": Extra("choice", _("event"), required=True, choices=lambda: Activity.Type.choices),
            "days": DAYS_EXTRA,
            "product": Extra("text", _("product SKU")),
        },
        compile=compile_event,
        events_read=lambda cond: {str(cond.get("event", ""))},
    ),
    Condition(
        key="cart_abandoned",
        label=_("Abandoned a cart"),
        group=BEHAVIOUR,
        ops={"within_last_days": TIME_OPS["within_last_days"]},
        compile=compile_cart_abandoned,
        events_read=lambda cond: {Activity.Type.ADD_TO_CART},
    ),
    Condition(
        key="funnel_stage",
        label=_("Funnel stage"),
        group=BEHAVIOUR,
        ops={**CHOICE_ONE_OF_OPS, "gte": Op("choice", _("reached at least"))},
        choices=lambda: [(name, FunnelStage(value).label) for name, value in STAGE_NAMES.items()],
        compile=compile_funnel,
    ),
    Condition(
        key="lifecycle",
        label=_("Customer lifecycle"),
        group=BEHAVIOUR,
        ops=CHOICE_ONE_OF_OPS,
        choices=lambda: Lifecycle.choices,
        compile=compile_lifecycle,
    ),
)
