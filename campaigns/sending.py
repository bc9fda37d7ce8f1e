"""Sending a campaign: a set-based recipient snapshot, then claimed batches sent over one held connection.

Who gets the campaign lives in `campaigns.audience`, the SMTP connection in `campaigns.outbox`; this
module claims batches, renders them, hands them to the outbox and records what happened.

Exactly once rests on three things. The snapshot is one INSERT … SELECT guarded by the
(campaign, contact) unique constraint, so running it again adds no one twice. A batch is claimed
(status "claimed", stamped with the claim time) under `SELECT … FOR UPDATE SKIP LOCKED`, so
workers never share a message. And over SMTP a message is marked sent *before* the final "." of
DATA: a worker that dies before that commit leaves a claim the server never completed (it
discards the mail) and the claim goes back to the queue; the commit is conditional on the claim
stamp, so a worker whose claim was taken over abandons the mail instead of sending it twice. The
"." is written inside the transaction that marks the message sent, just before its COMMIT, so the
in-doubt window is the gap between those two writes, not a database round trip.
"""

import datetime as dt
import functools
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import connection, transaction
from django.db.models import Case, CharField, F, Value, When
from django.utils import timezone

from . import mail
from .audience import skip_ineligible
from .branding import current_brand
from .models import Campaign, EmailTemplate, Message
from .outbox import Lockstep, Outbox, SendError, TransientSendError, begin_all, open_lanes, read_ends
from .personalization import batch_contexts
from .rendering import Compiled, campaign_template, render, template_compile

TASK_SECONDS = 20


def claim_lease() -> dt.timedelta:
    """How long a claim may stay unfinished before another worker takes the messages back."""
    return dt.timedelta(seconds=settings.CAMPAIGN_CLAIM_LEASE_SECONDS)


def retry_delay(attempts: int) -> dt.timedelta:
    """Exponential backoff after a temporary failure: base, 2×base, 4×base…"""
    base = settings.CAMPAIGN_RETRY_SECONDS
    return dt.timedelta(seconds=base * 2 ** max(attempts - 1, 0))


# ------------------------------------------------------------------ claims


def claim(campaign_id: int, *, after: int, size: int) -> tuple[list[int], dt.datetime]:
    """Take up to `size` due queued messages with id > after; rows other workers hold are skipped."""
    stamp = timezone.now()
    with transaction.atomic():
        ids = list(
            Message.objects.select_for_update(skip_locked=True)
            .filter(campaign_id=campaign_id, status=Message.Status.QUEUED, queued_at__lte=stamp, id__gt=after)
            .order_by("id")
            .values_list("id", flat=True)[:size]
        )
        if ids:
            Message.objects.filter(id__in=ids).update(status=Message.Status.CLAIMED, claimed_at=stamp)
    return ids, stamp


def release_claims(campaign_id: int, *, older_than: dt.timedelta | None = None) -> int:
    """Give claims back to the queue: all of them, or those older than `older_than` (dead workers)."""
    claimed = Message.objects.filter(campaign_id=campaign_id, status=Message.Status.CLAIMED)
    if older_than is not None:
        claimed = claimed.filter(claimed_at__lt=timezone.now() - older_than)
    return claimed.update(status=Message.Status.QUEUED, claimed_at=None)


def release_batch(ids: list[int], stamp: dt.datetime) -> None:
    Message.objects.filter(id__in=ids, status=Message.Status.CLAIMED, claimed_at=stamp).update(
        status=Message.Status.QUEUED, claimed_at=None
    )


# ------------------------------------------------------------------ recording outcomes


def mark_sent(
    message: Message, stamp: dt.datetime, message_id: str, *, esp_id: str | None = None, guarded: bool
) -> bool:
    rows = Message.objects.filter(pk=message.pk)
    if guarded:
        rows = rows.filter(status=Message.Status.CLAIMED, claimed_at=stamp)
    return (
        rows.update(
            status=Message.Status.SENT,
            sent_at=timezone.now(),
            message_id=message_id,
            esp_message_id=esp_id,
            attempts=F("attempts") + 1,
            error="",
        )
        == 1
    )


def mark_failed(message: Message, error: SendError) -> None:
    """A temporary failure goes back to the queue after a backoff until CAMPAIGN_MAX_ATTEMPTS."""
    attempts = message.attempts + 1
    fields: dict[str, Any] = {"status": Message.Status.FAILED}
    if error.temporary and attempts < settings.CAMPAIGN_MAX_ATTEMPTS:
        fields = {
            "status": Message.Status.QUEUED,
            "claimed_at": None,
            "queued_at": timezone.now() + retry_delay(attempts),
        }
    Message.objects.filter(pk=message.pk, status__in=[Message.Status.CLAIMED, Message.Status.SENT]).update(
        attempts=attempts, error=error.reason[:2000], **fields
    )


# ------------------------------------------------------------------ batches


TEMPLATE_CONTENT = ("subject", "preheader", "html", "text", "language", "direction", "layout")


@dataclass(frozen=True)
class _TemplateVersion:
    """Which content a campaign's mail is made from (its frozen copy, or its template as last saved): the
    content itself is the key, so a cached compilation is never another version's. Only `key` is compared."""

    key: tuple
    template: EmailTemplate = field(compare=False, hash=False)


@functools.lru_cache(maxsize=128)
def _compile_version(version: _TemplateVersion) -> Compiled:
    return template_compile(version.template)


def compiled_template(campaign: Campaign) -> Compiled:
    """The campaign's frozen template, compiled once per process."""
    template = campaign_template(campaign)
    key = tuple(getattr(template, name) for name in TEMPLATE_CONTENT)
    return _compile_version(_TemplateVersion(key=key, template=template))


def batch_mails(campaign: Campaign, messages: list[Message]) -> list[tuple[Message, EmailMultiAlternatives]]:
    """(message, mail) pairs ready to go; a message that fails to render is failed with the reason."""
    compiled = compiled_template(campaign)
    urls = {m.contact_id: mail.message_urls(m.pk) for m in messages}
    extra = {
        cid: {
            **mail.campaign_context(campaign),
            "unsubscribe_url": u["unsubscribe_url"],
            "view_in_browser_url": u["view_in_browser_url"],
        }
        for cid, u in urls.items()
    }
    brand = current_brand()
    contexts = batch_contexts(compiled, [m.contact for m in messages], extra, brand=brand)
    ready = []
    for message in messages:
        assert message.contact.email is not None  # contacts without an address were skipped before
        try:
            rendered = render(compiled, contexts[message.contact_id])
            ready.append(
                (
                    message,
                    mail.campaign_mail(
                        campaign=campaign,
                        compiled=compiled,
                        rendered=rendered,
                        to=message.contact.email,
                        urls=urls[message.contact_id],
                        message_id=mail.new_message_id(campaign, brand),
                        brand=brand,
                    ),
                )
            )
        except Exception as exc:  # noqa: BLE001 - one broken contact record must not stall the campaign
            mark_failed(message, SendError(f"rendering: {exc}", temporary=False))
    return ready


def send_batch(campaign: Campaign, ids: list[int], stamp: dt.datetime, outbox: Outbox) -> int:
    """Send one claimed batch; returns how many mails went out."""
    messages = list(
        Message.objects.filter(id__in=ids, status=Message.Status.CLAIMED, claimed_at=stamp)
        .select_related("contact", "contact__club")
        .order_by("id")
    )
    sendable = skip_ineligible(messages, stamp, campaign)
    pairs = batch_mails(campaign, sendable)
    width = settings.CAMPAIGN_SMTP_CONNECTIONS if outbox.two_phase else 1
    sent = 0
    start = 0
    while start < len(pairs):
        width = min(width, outbox.max_width)
        group = pairs[start : start + width]
        try:
            sent += (
                deliver(outbox, *group[0], stamp) if width == 1 else deliver_group(outbox.lanes(width), group, stamp)
            )
        except TransientSendError:
            release_batch([m.pk for m, _e in pairs[start:]], stamp)
            raise
        start += len(group)
    return sent


def deliver_group(lanes: list[Outbox], group: list[tuple[Message, Any]], stamp: dt.datetime) -> int:
    """Hand a group of mails over on as many SMTP connections, then complete them together: one
    transaction marks the group sent and, before it commits, writes each connection's final "."."""
    opened = open_lanes(list(zip(lanes, group, strict=False)))
    _settle(opened, stamp)
    begun = begin_all(opened.live)
    _settle(begun, stamp)
    if not begun.live:
        return 0
    ended = _complete(begun.live, stamp)
    _settle(ended, stamp)
    accepted = read_ends([(lane, message) for lane, message, _email in ended.live])
    _settle(accepted, stamp)
    return len(accepted.live)


def _complete(begun: list, stamp: dt.datetime) -> Lockstep:
    """Mark the begun mails sent and write each final "." before that transaction commits; a mail whose
    claim was taken over meanwhile is abandoned (its connection dropped, so the server discards it)."""
    ended = Lockstep(live=[])
    with transaction.atomic():
        kept = mark_group_sent([(message, email) for _lane, message, email in begun], stamp)
        for lane, message, email in begun:
            if message.pk not in kept:
                lane.abort()
                continue
            try:
                lane.write_end()
                ended.live.append((lane, message, email))
            except SendError as error:
                ended.failed.append((message, error))
    return ended


def _settle(step: Lockstep, stamp: dt.datetime) -> None:
    """Record what a lockstep step left behind: failed mails fail (or wait for a retry), the mails of
    connections the server refused go back to the queue."""
    for message, error in step.failed:
        mark_failed(message, error)
    if step.refused:
        release_batch([message.pk for message in step.refused], stamp)


def mark_group_sent(pairs: list[tuple[Message, EmailMultiAlternatives]], stamp: dt.datetime) -> set[int]:
    """Mark the messages whose claim still holds as sent (one locked read, one UPDATE); their ids."""
    ids = [m.pk for m, _e in pairs]
    kept = set(
        Message.objects.select_for_update()
        .filter(pk__in=ids, status=Message.Status.CLAIMED, claimed_at=stamp)
        .values_list("pk", flat=True)
    )
    if kept:
        message_ids = Case(
            *[When(pk=m.pk, then=Value(e.extra_headers["Message-ID"])) for m, e in pairs if m.pk in kept],
            output_field=CharField(),
        )
        Message.objects.filter(pk__in=kept).update(
            status=Message.Status.SENT,
            sent_at=timezone.now(),
            message_id=message_ids,
            attempts=F("attempts") + 1,
            error="",
        )
    return kept


def deliver(outbox: Outbox, message: Message, email, stamp: dt.datetime) -> int:
    message_id = email.extra_headers["Message-ID"]

    def commit() -> bool:
        esp_id = getattr(getattr(email, "anymail_status", None), "message_id", None)
        return mark_sent(message, stamp, message_id, esp_id=esp_id, guarded=outbox.two_phase)

    try:
        return int(outbox.send(email, commit))
    except SendError as error:
        mark_failed(message, error)
        return 0


# ------------------------------------------------------------------ the chain of batches


@dataclass
class Outcome:
    """What a worker should do next: continue after `after`, come back in `wait` seconds, or stop."""

    more: bool = False
    after: int = 0
    wait: float = 0.0


def pace(sent: int, started: float) -> None:
    """Keep each of the CAMPAIGN_SEND_CONCURRENCY chains to its share of CAMPAIGN_SEND_RATE."""
    if settings.CAMPAIGN_SEND_RATE <= 0 or not sent:
        return
    share = settings.CAMPAIGN_SEND_RATE / max(settings.CAMPAIGN_SEND_CONCURRENCY, 1)
    time.sleep(max(0.0, sent / share - (time.monotonic() - started)))


def send_batches(*, campaign_id: int, after: int = 0, seconds: float = TASK_SECONDS) -> Outcome:
    """Claim and send batches for up to `seconds`; the caller re-enqueues according to the outcome."""
    deadline = time.monotonic() + seconds
    outbox = Outbox()
    try:
        with commits_without_flush_wait():
            return _send_until(campaign_id, after, deadline, outbox)
    finally:
        outbox.close()


@contextmanager
def commits_without_flush_wait():
    """On PostgreSQL, per-message commits do not wait for the WAL flush (synchronous_commit off).

    A killed worker loses nothing by this: committed is committed. Only a crash of PostgreSQL
    itself within a fraction of a second could forget a "sent" mark and resend that mail.
    """
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


def _send_until(campaign_id: int, after: int, deadline: float, outbox: Outbox) -> Outcome:
    while time.monotonic() < deadline:
        campaign = Campaign.objects.select_related("template").filter(pk=campaign_id).first()
        if campaign is None or campaign.status != Campaign.Status.SENDING:
            return Outcome()
        ids, stamp = claim(campaign_id, after=after, size=settings.CAMPAIGN_BATCH_SIZE)
        if not ids and after:
            after = 0
            continue
        if not ids:
            return when_idle(campaign)
        started = time.monotonic()
        pace(send_batch(campaign, ids, stamp, outbox), started)
        after = ids[-1]
    return Outcome(more=True, after=after)


def when_idle(campaign: Campaign) -> Outcome:
    """Nothing to claim now: take back dead workers' claims, wait for retries, or finish."""
    if release_claims(campaign.pk, older_than=claim_lease()):
        return Outcome(more=True)
    pending = Message.objects.filter(campaign=campaign, status__in=[Message.Status.QUEUED, Message.Status.CLAIMED])
    next_retry = (
        pending.filter(status=Message.Status.QUEUED).order_by("queued_at").values_list("queued_at", flat=True).first()
    )
    if next_retry is not None:
        return Outcome(wait=max((next_retry - timezone.now()).total_seconds(), 0.0) + 0.5)
    if pending.exists():
        return Outcome(wait=claim_lease().total_seconds())
    if campaign.kind == Campaign.Kind.FLOW:
        return Outcome()  # an automation's step sends as its contacts reach it: never "sent" as a whole
    Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.SENDING).update(
        status=Campaign.Status.SENT, finished_at=timezone.now()
    )
    return Outcome()
