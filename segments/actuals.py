"""What the contact actually has, next to each condition of the why-page: "last purchase 210 days ago",
"spent ₪1,240 of ₪2,000". Read from the contact's stored fields (no query beyond the club row and the
lifecycle), in the admin's language; a condition without a plain figure to show gets none."""

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

from django.core.exceptions import ObjectDoesNotExist
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from contacts.lifecycle import lifecycle_of
from contacts.models import Contact, Lifecycle

from .registry import Context

Reader = Callable[[Contact, dict, Context], str | None]


def money(value) -> str:
    return "₪" + formats.number_format(Decimal(str(value)), 0, use_l10n=True, force_grouping=True)


def _days_ago(when: dt.datetime | None, ctx: Context, what: str) -> str | None:
    if when is None:
        return _("no %(what)s yet") % {"what": what}
    days = (ctx.today - when.astimezone(ctx.tz).date()).days
    return ngettext("%(what)s %(n)d day ago", "%(what)s %(n)d days ago", days) % {"what": what, "n": days}


def _of_target(actual: str, node: dict, fmt: Callable) -> str:
    """'₪1,240 of ₪2,000' for at least / at most; the bare figure for a range."""
    if node.get("op") in ("gte", "lte") and node.get("value") is not None:
        return _("%(actual)s of %(target)s") % {"actual": actual, "target": fmt(node["value"])}
    return actual


def _filtered(node: dict) -> bool:
    """Purchase figures limited to some days or a channel are not the stored totals: no figure."""
    return node.get("days") is not None or bool(node.get("channel"))


def _spent(contact, node, ctx):
    if _filtered(node):
        return None
    return _("spent %(amount)s") % {"amount": _of_target(money(contact.total_spent), node, money)}


def _orders(contact, node, ctx):
    if _filtered(node):
        return None
    return ngettext("%(n)d purchase", "%(n)d purchases", contact.purchase_count) % {"n": contact.purchase_count}


def _aov(contact, node, ctx):
    if not contact.purchase_count:
        return _("no purchases yet")
    average = contact.total_spent / contact.purchase_count
    return _("average order %(amount)s") % {"amount": _of_target(money(average), node, money)}


def _text(field: str) -> Reader:
    def read(contact, node, ctx):
        display = getattr(contact, f"get_{field}_display", None)
        value = display() if display else getattr(contact, field)
        return str(value) if value else _("empty")

    return read


def _age(contact, node, ctx):
    born = contact.birth_date
    if born is None:
        return _("no birth date")
    years = ctx.today.year - born.year - ((ctx.today.month, ctx.today.day) < (born.month, born.day))
    return ngettext("age %(n)d", "age %(n)d", years) % {"n": years}


def _date(field: str) -> Reader:
    def read(contact, node, ctx):
        value = getattr(contact, field)
        return formats.date_format(value, "MONTH_DAY_FORMAT") if value else _("no date")

    return read


def _club(attr: str) -> Reader:
    def read(contact, node, ctx):
        try:
            member = contact.club
        except ObjectDoesNotExist:
            return _("not in the club")
        if attr == "tier":
            return member.get_tier_display()
        return ngettext("%(n)d point", "%(n)d points", member.points) % {"n": member.points}

    return read


def _score(field: str) -> Reader:
    def read(contact, node, ctx):
        value = getattr(contact, field)
        return _("score %(n)s") % {"n": value} if value is not None else _("no score yet")

    return read


def _lifecycle(contact, node, ctx):
    stage = lifecycle_of(contact)
    return str(Lifecycle(stage).label) if stage else _("empty")


READERS: dict[str, Reader] = {
    **{key: _text(key) for key in ("city", "region", "country", "language", "gender", "marital_status", "source")},
    "funnel_stage": _text("funnel_stage"),
    "age": _age,
    "birthday": _date("birth_date"),
    "wedding_anniversary": _date("wedding_date"),
    "signed_up": lambda c, n, ctx: _days_ago(c.signed_up_at, ctx, _("signed up")),
    "last_purchase": lambda c, n, ctx: _days_ago(c.last_purchase_at, ctx, _("last purchase")),
    "first_purchase": lambda c, n, ctx: _days_ago(c.first_purchase_at, ctx, _("first purchase")),
    "purchase_count": _orders,
    "total_spent": _spent,
    "average_order_value": _aov,
    "club_tier": _club("tier"),
    "club_points": _club("points"),
    "rfm_recency": _score("rfm_recency"),
    "rfm_frequency": _score("rfm_frequency"),
    "rfm_monetary": _score("rfm_monetary"),
    "email_consent": lambda c, n, ctx: _("opted in") if c.email_opt_in else _("not opted in"),
    "lifecycle": _lifecycle,
}


def actual_value(node: dict, contact: Contact, ctx: Context) -> str | None:
    """The contact's own figure for this condition, or None where there is no single figure to show."""
    reader = READERS.get(node.get("field", ""))
    return reader(contact, node, ctx) if reader else None
