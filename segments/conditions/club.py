"""Club conditions: each reads the contact's ACTIVE membership only."""

from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from contacts.models import LoyaltyMember

from ..registry import Condition, Context
from .base import BOOL_OPS, CHOICE_ONE_OF_OPS, CLUB, RANGE_OPS_INT, chosen_values, norm
from .dates import ANNIVERSARY_NEXT_OP, TIME_OPS, time_compile


def active_members(**filters) -> QuerySet:
    return LoyaltyMember.objects.filter(contact=OuterRef("pk"), status=LoyaltyMember.Status.ACTIVE, **filters)


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


def compile_club_joined(cond: dict, ctx: Context) -> Q:
    return Q(Exists(active_members().filter(time_compile("joined_at", cond, ctx))))


CONDITIONS = (
    Condition(
        key="club_member",
        label=_("Club member"),
        group=CLUB,
        ops=BOOL_OPS,
        compile=lambda cond, ctx: Q(Exists(active_members())) if cond["value"] else ~Q(Exists(active_members())),
    ),
    Condition(
        key="club_tier",
        label=_("Club tier"),
        group=CLUB,
        ops=CHOICE_ONE_OF_OPS,
        choices=lambda: LoyaltyMember.Tier.choices,
        compile=lambda cond, ctx: Q(Exists(active_members(tier__in=[norm(v) for v in chosen_values(cond)]))),
    ),
    Condition(key="club_points", label=_("Club points"), group=CLUB, ops=RANGE_OPS_INT, compile=compile_points),
    Condition(
        key="club_joined",
        label=_("Joined the club"),
        group=CLUB,
        ops={**TIME_OPS, "anniversary_in_next_days": ANNIVERSARY_NEXT_OP},
        compile=compile_club_joined,
    ),
)
