"""The contact profile: a summary header a marketer reads at a glance, and the tabs of the contact page.

The header is built from the contact's own stored aggregates (no purchase is read); each tab reads a
bounded number of rows, the latest few with a link to the full, filtered list. The apps above contacts
add their tabs through `hooks.on_contact_page`, ordered by position among the page's own.
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.http import HttpRequest
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .. import hooks, selectors
from ..marketing import not_marketable_reason
from ..models import Contact, EmailStatus, LoyaltyMember, RfmSegment
from ..rfm import rfm_segment_of

PURCHASES_LIMIT = 20
LEDGER_LIMIT = 20
TIMELINE_POSITION, PURCHASES_POSITION, LEDGER_POSITION, EDIT_POSITION = 0, 10, 80, 90


@dataclass
class Tab:
    """One tab of the contact page; a table tab has headers and rows (plain values, escaped when shown, or
    `format_html` output), the other kinds ("timeline", "edit") are laid out by the template."""

    key: str
    title: str
    kind: str = "table"
    headers: tuple = ()
    rows: list[tuple] = field(default_factory=list)
    more_url: str = ""
    note: str = ""
    empty: str = ""


def money(value: Decimal | None) -> str:
    return "—" if value is None else formats.number_format(value, 2, use_l10n=True, force_grouping=True)


def filtered(changelist: str, contact_id: int) -> str:
    return reverse(f"admin:{changelist}") + f"?contact__id__exact={contact_id}"


def header_context(contact: Contact) -> dict:
    """The summary shown above the tabs."""
    member = LoyaltyMember.objects.filter(contact=contact).first()
    orders = contact.purchase_count
    return {
        "name": contact.full_name,
        "erased": contact.erased_at is not None,
        "funnel_stage": contact.funnel_stage,
        "funnel_label": contact.get_funnel_stage_display(),
        "lifecycle": contact.get_lifecycle_display(),
        "rfm": rfm_context(contact),
        "spent": money(contact.total_spent),
        "aov": money(contact.total_spent / orders) if orders else "—",
        "orders": orders,
        "last_purchase_at": contact.last_purchase_at,
        "days_since_purchase": days_since(contact.last_purchase_at),
        "club": club_context(member),
        "consent": consent_context(contact),
    }


def days_since(moment: dt.datetime | None) -> str:
    """Whole days since then, in words ("3 days"), with the plural form the catalogue already has."""
    if moment is None:
        return ""
    days = max((timezone.now() - moment).days, 0)
    return ngettext("%(days)d day", "%(days)d days", days) % {"days": days}


def rfm_context(contact: Contact) -> dict | None:
    scores = (contact.rfm_recency, contact.rfm_frequency, contact.rfm_monetary)
    if None in scores:
        return None
    name = rfm_segment_of(contact.rfm_recency, contact.rfm_frequency)
    return {
        "recency": scores[0],
        "frequency": scores[1],
        "monetary": scores[2],
        "segment": str(RfmSegment(name).label) if name else "",
    }


def club_context(member: LoyaltyMember | None) -> dict | None:
    if member is None:
        return None
    return {
        "tier": member.get_tier_display(),
        "tier_key": member.tier,
        "points": formats.number_format(member.points, force_grouping=True),
        "card_number": member.card_number,
        "status": member.get_status_display() if member.status != LoyaltyMember.Status.ACTIVE else "",
        "url": reverse("admin:contacts_loyaltymember_change", args=[member.pk]),
    }


def consent_context(contact: Contact) -> list[dict]:
    """Per channel: whether the contact agreed, and for email whether a marketing mail would reach them."""
    email_note = ""
    if contact.email_status != EmailStatus.ACTIVE:
        email_note = contact.get_email_status_display()
    elif contact.email_opt_in and not_marketable_reason(contact) == "no_email":
        email_note = _("no address")
    return [
        {"channel": _("Email"), "granted": contact.email_opt_in and not email_note, "note": email_note},
        {"channel": _("SMS"), "granted": contact.sms_opt_in, "note": ""},
    ]


def purchases_tab(contact_id: int) -> Tab:
    rows = [
        (
            format_html(
                '<a href="{}">{}</a>',
                reverse("admin:contacts_purchase_change", args=[purchase.pk]),
                formats.date_format(purchase.purchased_at, "SHORT_DATETIME_FORMAT"),
            ),
            purchase.get_channel_display(),
            purchase.store.name if purchase.store else None,
            f"{money(purchase.total)} {purchase.currency}",
            purchase.external_id or None,
        )
        for purchase in selectors.contact_latest_purchases(contact_id=contact_id, limit=PURCHASES_LIMIT)
    ]
    return Tab(
        key="purchases",
        title=_("Purchases"),
        headers=(_("When"), _("Channel"), _("store"), _("total"), _("Order number")),
        rows=rows,
        more_url=filtered("contacts_purchase_changelist", contact_id),
        note=_("The latest %(count)d purchases.") % {"count": PURCHASES_LIMIT},
    )


def ledger_tab(contact_id: int, club: dict | None) -> Tab:
    rows = [
        (
            formats.date_format(entry.created_at, "SHORT_DATETIME_FORMAT"),
            f"{entry.delta:+d}",
            entry.balance_after,
            entry.reason,
            entry.reference or None,
        )
        for entry in selectors.contact_points_ledger(contact_id=contact_id, limit=LEDGER_LIMIT)
    ]
    return Tab(
        key="ledger",
        title=_("Club points"),
        headers=(_("When"), _("Points"), _("balance after"), _("Reason"), _("reference")),
        rows=rows,
        more_url=club["url"] if club else "",
        note=_("The latest %(count)d ledger entries.") % {"count": LEDGER_LIMIT},
        empty=_("Not a club member.") if club is None else "",
    )


def section_tab(section: hooks.ContactSection, contact_id: int) -> Tab:
    return Tab(
        key=section.key,
        title=str(section.title),
        headers=section.headers,
        rows=section.rows(contact_id),
        more_url=section.more(contact_id) if section.more else "",
    )


def tabs_context(request: HttpRequest, contact_id: int, club: dict | None) -> list[Tab]:
    """The page's tabs in order: its own at their positions, the registered sections at theirs."""
    placed = [
        (TIMELINE_POSITION, Tab(key="timeline", title=_("Timeline"), kind="timeline")),
        (PURCHASES_POSITION, purchases_tab(contact_id)),
        (LEDGER_POSITION, ledger_tab(contact_id, club)),
        (EDIT_POSITION, Tab(key="edit", title=_("Edit"), kind="edit")),
    ]
    placed += [(section.position, section_tab(section, contact_id)) for section in hooks.contact_sections(request)]
    return [tab for _position, tab in sorted(placed, key=lambda pair: pair[0])]
