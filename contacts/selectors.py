"""Reads of the audience that the back office (and later reports) share.

Everything here is read-only and bounded: a contact with years of site activity still costs one
query that returns at most `limit` rows.
"""

import dataclasses
import datetime as dt
import re
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import BooleanField, CharField, DecimalField, F, Q, QuerySet, TextChoices, Value
from django.db.models.functions import Cast
from django.utils.translation import gettext as _

from . import hooks, normalize
from .models import Activity, Channel, ConsentEvent, Contact, LoyaltyMember, PointsEntry, Purchase

TIMELINE_LIMIT = 100
# Prefixed so the annotations never clash with a model field of the same name.
TIMELINE_COLUMNS = ("tl_kind", "tl_ref", "tl_at", "tl_title", "tl_detail", "tl_amount", "tl_granted")
PHONE_LIKE = re.compile(r"^\+?[\d\s\-().]{6,}$")


@dataclasses.dataclass(frozen=True)
class TimelineEntry:
    kind: str  # a registered TimelineSource's kind: "activity", "purchase", "consent", "email"…
    ref: int
    at: dt.datetime
    title: str
    detail: str
    amount: Decimal | None = None
    granted: bool | None = None


def _timeline_part(
    qs: QuerySet, *, at: str, title: str, detail: str, kind: str, amount: str | None = None, granted: str | None = None
) -> QuerySet:
    """One branch of the timeline union: the same column names and types from every table."""
    # Typed NULLs: PostgreSQL will not match an untyped NULL parameter with boolean/numeric.
    no_decimal = Cast(Value(None), DecimalField(max_digits=14, decimal_places=2))
    no_bool = Cast(Value(None), BooleanField())
    part = (
        qs.annotate(
            tl_kind=Value(kind, output_field=CharField()),
            tl_ref=F("pk"),
            tl_at=F(at),
            tl_title=Cast(title, CharField()),
            tl_detail=Cast(detail, CharField()),
            tl_amount=F(amount) if amount else no_decimal,
            tl_granted=F(granted) if granted else no_bool,
        )
        .values_list(*TIMELINE_COLUMNS)
        .order_by()
    )
    return part


def _latest(qs: QuerySet, limit: int) -> QuerySet:
    """Cap each branch where the database allows LIMIT inside a UNION (PostgreSQL does, SQLite not)."""
    if connection.features.supports_slicing_ordering_in_compound:
        return qs.order_by("-tl_at", "-tl_ref")[:limit]
    return qs


def contact_timeline(*, contact: Contact, limit: int = TIMELINE_LIMIT) -> list[TimelineEntry]:
    """Activity, purchases, consent changes and whatever the apps above add (campaign mail events) of
    one contact, newest first, in one UNION query over the registered `hooks.TimelineSource`s."""
    parts = [_latest(_source_rows(source, contact), limit) for source in hooks.timeline_sources()]
    union = parts[0].union(*parts[1:], all=True)
    rows = union.order_by("-tl_at", "-tl_ref")[:limit]
    return [
        TimelineEntry(
            kind=row[0],
            ref=row[1],
            at=row[2],
            title=row[3],
            detail=row[4] or "",
            amount=_money(row[5]),
            granted=None if row[6] is None else bool(row[6]),
        )
        for row in rows
    ]


def _source_rows(source: hooks.TimelineSource, contact: Contact) -> QuerySet:
    return _timeline_part(
        source.model._default_manager.filter(contact=contact),
        kind=source.kind,
        at=source.at,
        title=source.title,
        detail=source.detail,
        amount=source.amount,
        granted=source.granted,
    )


def _money(value) -> Decimal | None:
    """UNION columns skip the field converters: SQLite hands back a float for a decimal."""
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"))


def contact_search_q(term: str) -> Q:
    """What a search box term means: an email or its start, a phone or card number, or the start of a name.

    Every branch is answered by an index of the contacts table, so PostgreSQL ORs them in one bitmap scan
    and a search over a million contacts stays instant: exact matches on the normalized keys use their
    unique indexes, and the start of an email (stored in lower case) or of a name uses a prefix index
    (`varchar_pattern_ops`, migrations 0003 and 0014). The club card is looked up first, on its own
    unique index: as a join inside the OR it would turn the whole search into a walk over every contact.
    A term in the middle of an address ("gmail") would need a scan of every row, so it is not searched for.
    """
    term = " ".join(term.split())
    if not term:
        return Q()
    if "@" in term:
        return Q(email__startswith=term.lower())  # a whole address is its own start
    q = Q(external_id=term)
    card_holder = LoyaltyMember.objects.filter(card_number=term).values_list("contact_id", flat=True).first()
    if card_holder is not None:
        q |= Q(pk=card_holder)
    if PHONE_LIKE.match(term):
        try:
            q |= Q(phone=normalize.phone(term))
        except ValidationError:
            pass
        return q
    words = Q()
    for word in term.split(" "):
        words &= Q(first_name__istartswith=word) | Q(last_name__istartswith=word)
    if " " not in term:
        q |= Q(email__startswith=term.lower())
    return q | words


def contact_identity_owner(*, field: str, value: str, exclude_pk: int | None = None) -> Contact | None:
    """The other contact that already holds this email/phone/external id, if any."""
    owners = Contact.objects.filter(**{field: value})
    if exclude_pk is not None:
        owners = owners.exclude(pk=exclude_pk)
    return owners.only("pk").first()


def contact_latest_purchases(*, contact_id: int, limit: int) -> list[Purchase]:
    """The newest purchases of one contact, with their store (one query, on the contact's purchase index)."""
    latest = Purchase.objects.filter(contact_id=contact_id).select_related("store").order_by("-purchased_at", "-pk")
    return list(latest[:limit])


def contact_points_ledger(*, contact_id: int, limit: int) -> list[PointsEntry]:
    """The newest points ledger entries of one contact's club membership (one query)."""
    return list(PointsEntry.objects.filter(member__contact_id=contact_id).order_by("-created_at", "-pk")[:limit])


def contact_consent_log(*, contact: Contact) -> QuerySet:
    """The contact's consent log, latest recorded first (the API pages it by id)."""
    return ConsentEvent.objects.filter(contact=contact).order_by("-id")


def choice_label(choices: type[TextChoices], value: str) -> str:
    """The translated label of a stored choice value (the raw value when it is no longer a choice)."""
    return str(choices(value).label) if value in choices.values else value


def describe_timeline_entry(entry: TimelineEntry) -> str:
    """A short human label for one timeline row, in the active language."""
    source = hooks.timeline_source(entry.kind)
    return source.describe(entry) if source else entry.title


def _describe_activity(entry: TimelineEntry) -> str:
    return choice_label(Activity.Type, entry.title)


def _describe_purchase(entry: TimelineEntry) -> str:
    return _("Purchase · %(channel)s") % {"channel": choice_label(Channel, entry.title)}


def _describe_consent(entry: TimelineEntry) -> str:
    channel = choice_label(ConsentEvent.ConsentChannel, entry.title)
    if entry.granted:
        return _("%(channel)s consent granted") % {"channel": channel}
    return _("%(channel)s consent revoked") % {"channel": channel}


CONTACT_TIMELINE_SOURCES = (
    hooks.TimelineSource(
        kind="activity", model=Activity, at="occurred_at", title="type", detail="url", describe=_describe_activity
    ),
    hooks.TimelineSource(
        kind="purchase",
        model=Purchase,
        at="purchased_at",
        title="channel",
        detail="store__name",
        amount="total",
        describe=_describe_purchase,
    ),
    hooks.TimelineSource(
        kind="consent",
        model=ConsentEvent,
        at="occurred_at",
        title="channel",
        detail="source",
        granted="granted",
        describe=_describe_consent,
    ),
)
