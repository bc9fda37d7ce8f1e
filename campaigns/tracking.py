"""What people (and machines) do with a campaign mail: opens, clicks, unsubscribes, the browser view.

The open pixel and the click redirect are the hot paths. On PostgreSQL each hit is one SQL
statement (an UPDATE of the message's counters and the INSERT of its event in one data-modifying
CTE, by primary key); elsewhere it is a SELECT, then UPDATE and INSERT in one transaction.

Machine detection (`is_machine`, `machine_reason`) is owned by `campaigns.machine`: its rules give
both the Python test of the ORM path and the SQL of the single statement.
Machine events are recorded and counted (Message.open_count, machine_open_count, click_count)
but never set first_opened_at / first_clicked_at and never count for segment conditions.
"""

import datetime as dt
import functools
import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Expression, F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from contacts import services as contact_services
from contacts.models import ConsentEvent, Contact, EmailStatus

from . import links, machine, personalization, rendering
from .machine import Visitor
from .models import Campaign, Link, Message, TrackingEvent
from .tokens import message_id_from_token, message_token

logger = logging.getLogger(__name__)

# A transparent 1×1 GIF (43 bytes).
PIXEL_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
ENGAGEMENT_KEYS = ("email_opened", "email_clicked", "email_not_opened")
ENGAGEMENT_CHECK_SECONDS = 60


# ------------------------------------------------------------------ segments


def engagement_rules_in_use() -> bool:
    """Whether any dynamic segment has an email-engagement condition.

    Only those segments can change when someone opens or clicks, so the hot paths skip the
    per-contact re-evaluation while no segment looks at engagement. The answer is recomputed as
    soon as a segment is created, edited or deleted (`segments.selectors.rules_version`, shared
    through the cache), so a new engagement segment counts from the next open; the once-a-minute
    recheck only backs up processes that do not share a cache."""
    from segments.selectors import rules_version

    return _engagement_used(rules_version(), int(time.monotonic() // ENGAGEMENT_CHECK_SECONDS))


@functools.lru_cache(maxsize=1)
def _engagement_used(rules_version: str | None, period: int) -> bool:
    """The answer for one version of the segments' rules within one period of ENGAGEMENT_CHECK_SECONDS."""
    from segments.models import Segment

    rules = Segment.objects.filter(kind=Segment.Kind.DYNAMIC).values_list("rules", flat=True)
    return any(key in str(r) for r in rules.iterator() for key in ENGAGEMENT_KEYS)


def engagement_check_reset() -> None:
    _engagement_used.cache_clear()


def _engagement_changed(contact_id: int) -> None:
    if engagement_rules_in_use():
        contact_services.contact_changed([contact_id])


# ------------------------------------------------------------------ opens and clicks


@dataclass(frozen=True)
class Recorded:
    """What an open or click was: whose, flagged how, and (for a click) where it leads."""

    contact_id: int
    machine_reason: str
    url: str = ""

    @property
    def is_machine(self) -> bool:
        return bool(self.machine_reason)


# On PostgreSQL each hit is ONE statement: the counters move and the event row is inserted by a
# data-modifying CTE, atomic on its own, with the time-based machine rules evaluated in SQL (the
# expression comes from `campaigns.machine`). Other databases take the ORM path below (a SELECT,
# then UPDATE and INSERT in a transaction). Built once per set of machine rules.


@functools.lru_cache(maxsize=4)
def open_sql(rules: tuple[machine.TimeRule, ...]) -> str:
    message, contact, event = (Message._meta.db_table, Contact._meta.db_table, TrackingEvent._meta.db_table)
    reason = machine.reason_sql(machine.OPEN, message, rules)
    return f"""
WITH m AS (
  UPDATE {message} SET
    open_count = open_count + 1,
    machine_open_count = machine_open_count + CASE WHEN {reason} <> '' THEN 1 ELSE 0 END,
    first_opened_at = CASE WHEN {reason} = '' THEN COALESCE(first_opened_at, %(now)s) ELSE first_opened_at END
  WHERE id = %(message)s AND NOT EXISTS (
    SELECT 1 FROM {contact} c WHERE c.id = {message}.contact_id AND c.erased_at IS NOT NULL)
  RETURNING id, campaign_id, contact_id, {reason} AS reason
), e AS (
  INSERT INTO {event}
    (message_id, campaign_id, contact_id, kind, occurred_at, is_machine, machine_reason, user_agent, detail)
  SELECT id, campaign_id, contact_id, 'open', %(now)s, reason <> '', reason, %(agent)s, '{{}}' FROM m
)
SELECT contact_id, reason FROM m
"""


@functools.lru_cache(maxsize=4)
def click_sql(rules: tuple[machine.TimeRule, ...]) -> str:
    message, contact, event = (Message._meta.db_table, Contact._meta.db_table, TrackingEvent._meta.db_table)
    link = Link._meta.db_table
    reason = machine.reason_sql(machine.CLICK, message, rules)
    return f"""
WITH m AS (
  UPDATE {message} SET
    click_count = {message}.click_count + 1,
    first_clicked_at = CASE WHEN {reason} = ''
      THEN COALESCE({message}.first_clicked_at, %(now)s) ELSE {message}.first_clicked_at END
  FROM {link} l
  WHERE {message}.id = %(message)s AND l.id = %(link)s AND l.campaign_id = {message}.campaign_id
    AND NOT EXISTS (SELECT 1 FROM {contact} c WHERE c.id = {message}.contact_id AND c.erased_at IS NOT NULL)
  RETURNING {message}.id, {message}.campaign_id, {message}.contact_id, l.url, {reason} AS reason
), e AS (
  INSERT INTO {event}
    (message_id, campaign_id, contact_id, kind, link_id, occurred_at, is_machine, machine_reason, user_agent, detail)
  SELECT id, campaign_id, contact_id, 'click', %(link)s, %(now)s, reason <> '', reason, %(agent)s, '{{}}' FROM m
)
SELECT contact_id, reason, url FROM m
"""


def _single_statement(sql: str, params: dict) -> tuple | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def record_open(*, token: str, visitor: Visitor, now: dt.datetime | None = None) -> Recorded | None:
    """Count an open of the message behind `token`; None (and nothing written) for a bad token."""
    message_pk = message_id_from_token(token)
    if message_pk is None:
        return None
    now = now or timezone.now()
    if connection.vendor == "postgresql":
        row = _single_statement(
            open_sql(machine.TIME_RULES),
            {
                "message": message_pk,
                "now": now,
                "agent": visitor.user_agent,
                **machine.sql_params(machine.OPEN, visitor, now),
            },
        )
        recorded = Recorded(contact_id=row[0], machine_reason=row[1]) if row else None
    else:
        recorded = _record_open_orm(message_pk, visitor, now)
    if recorded is not None and not recorded.is_machine:
        _engagement_changed(recorded.contact_id)
    return recorded


def _record_open_orm(message_pk: int, visitor: Visitor, now: dt.datetime) -> Recorded | None:
    row = (
        Message.objects.filter(pk=message_pk, contact__erased_at__isnull=True)
        .values_list("campaign_id", "contact_id", "sent_at")
        .first()
    )
    if row is None:
        return None
    campaign_id, contact_id, sent_at = row
    reason = machine.open_machine_reason(visitor, sent_at=sent_at, now=now)
    updates: dict[str, Expression] = {"open_count": F("open_count") + 1}
    if reason:
        updates["machine_open_count"] = F("machine_open_count") + 1
    else:
        updates["first_opened_at"] = Coalesce(F("first_opened_at"), Value(now))
    with transaction.atomic():
        Message.objects.filter(pk=message_pk).update(**updates)
        TrackingEvent.objects.create(
            message_id=message_pk,
            campaign_id=campaign_id,
            contact_id=contact_id,
            kind=TrackingEvent.Kind.OPEN,
            occurred_at=now,
            is_machine=bool(reason),
            machine_reason=reason,
            user_agent=visitor.user_agent,
        )
    return Recorded(contact_id=contact_id, machine_reason=reason)


def record_click(*, token: str, link_id: int, visitor: Visitor, now: dt.datetime | None = None) -> Recorded | None:
    """Count a click and return where to send the person; None unless the link is one of the
    message's own campaign (so the redirect can never be pointed anywhere else)."""
    message_pk = message_id_from_token(token)
    if message_pk is None:
        return None
    now = now or timezone.now()
    if connection.vendor == "postgresql":
        row = _single_statement(
            click_sql(machine.TIME_RULES),
            {
                "message": message_pk,
                "link": link_id,
                "now": now,
                "agent": visitor.user_agent,
                **machine.sql_params(machine.CLICK, visitor, now),
            },
        )
        recorded = Recorded(contact_id=row[0], machine_reason=row[1], url=row[2]) if row else None
    else:
        recorded = _record_click_orm(message_pk, link_id, visitor, now)
    if recorded is not None and not recorded.is_machine:
        _engagement_changed(recorded.contact_id)
    return recorded


def _record_click_orm(message_pk: int, link_id: int, visitor: Visitor, now: dt.datetime) -> Recorded | None:
    row = (
        Message.objects.filter(pk=message_pk, campaign__links__id=link_id, contact__erased_at__isnull=True)
        .values_list("campaign_id", "contact_id", "sent_at", "first_opened_at", "campaign__links__url")
        .first()
    )
    if row is None:
        return None
    campaign_id, contact_id, sent_at, first_opened_at, url = row
    reason = machine.click_machine_reason(visitor, sent_at=sent_at, opened=first_opened_at is not None, now=now)
    updates: dict[str, Expression] = {"click_count": F("click_count") + 1}
    if not reason:
        updates["first_clicked_at"] = Coalesce(F("first_clicked_at"), Value(now))
    with transaction.atomic():
        Message.objects.filter(pk=message_pk).update(**updates)
        TrackingEvent.objects.create(
            message_id=message_pk,
            campaign_id=campaign_id,
            contact_id=contact_id,
            kind=TrackingEvent.Kind.CLICK,
            link_id=link_id,
            occurred_at=now,
            is_machine=bool(reason),
            machine_reason=reason,
            user_agent=visitor.user_agent,
        )
    return Recorded(contact_id=contact_id, machine_reason=reason, url=url)


# ------------------------------------------------------------------ unsubscribe and browser view


def message_for_token(token: str) -> Message | None:
    """The message behind a token, with its campaign, template and contact; None for a bad token."""
    message_pk = message_id_from_token(token)
    if message_pk is None:
        return None
    return (
        Message.objects.select_related("campaign__template", "contact")
        .filter(pk=message_pk, contact__erased_at__isnull=True)
        .first()
    )


def _already_unsubscribed(contact: Contact) -> bool:
    """Whether an unsubscribe already took effect (consent off and the status moved off active), so a
    repeat records nothing. Not "may receive marketing email" (`contacts.marketing`): a contact who
    never opted in, or who bounced, is not marketable yet still gets its unsubscribe recorded."""
    return not contact.email_opt_in and contact.email_status != EmailStatus.ACTIVE


def unsubscribe(
    *,
    message: Message,
    one_click: bool = False,
    now: dt.datetime | None = None,
    detail: dict | None = None,
    text_shown: str = "",
) -> TrackingEvent | None:
    """Opt the contact out of email with a consent-log entry naming the campaign (and the words the page
    showed, when the request came from one of our pages rather than a mail client).

    Safe to repeat (mail clients may POST the one-click body more than once): a contact who is
    already out gets no second log entry and no second event; then the result is None."""
    now = now or timezone.now()
    contact = message.contact
    with transaction.atomic():
        Message.objects.filter(pk=message.pk, unsubscribed_at__isnull=True).update(unsubscribed_at=now)
        message.unsubscribed_at = message.unsubscribed_at or now
        if _already_unsubscribed(contact):
            return None
        contact_services.consent_change(
            contact=contact,
            channel=ConsentEvent.ConsentChannel.EMAIL,
            granted=False,
            source=f"campaign:{message.campaign_id}",
            occurred_at=now,
            unsubscribe=True,
            text_shown=text_shown,
        )
        return TrackingEvent.objects.create(
            message=message,
            campaign_id=message.campaign_id,
            contact=contact,
            kind=TrackingEvent.Kind.UNSUBSCRIBE,
            occurred_at=now,
            detail={"one_click": one_click, **(detail or {})},
        )


def message_urls(message: Message, campaign: Campaign) -> dict:
    """The per-message part of a template context: its own unsubscribe and browser URLs."""
    token = message_token(message.pk)
    return {
        "unsubscribe_url": links.unsubscribe_url(token),
        "view_in_browser_url": links.browser_url(token),
        "campaign": {"name": campaign.name},
    }


def browser_view(*, message: Message) -> str:
    """The message's HTML as its contact got it: rendered again now, from the template as the
    campaign froze it when it started (not as the template may read after later edits).

    Links go through the click redirect (a click here counts like one in the mail); there is no
    open pixel, so looking at the page in the browser is not counted as an open. A render past a
    template limit raises `sandbox.TemplateLimitError`."""
    campaign = message.campaign
    compiled = rendering.template_compile(rendering.campaign_template(campaign))
    context = personalization.batch_contexts(
        compiled, [message.contact], {message.contact_id: message_urls(message, campaign)}
    )
    rendered = rendering.render(compiled, context[message.contact_id])
    return links.rewrite_links(rendered.html, campaign=campaign, token=message_token(message.pk))


def page_language(message: Message | None) -> str:
    """The language of a public page: the contact's, else the mail's, else the site default."""
    available = {code for code, _name in settings.LANGUAGES}
    if message is not None:
        for code in (message.contact.language, message.campaign.template.language):
            code = (code or "").strip().lower()[:2]
            if code in available:
                return code
    return settings.LANGUAGE_CODE
