"""Sending a campaign: a set-based recipient snapshot, then claimed batches sent over one held connection.

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
import re
import smtplib
import socket
import time
from contextlib import contextmanager
from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import get_connection
from django.core.mail.backends.filebased import EmailBackend as FileBackend
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.core.mail.message import sanitize_address
from django.db import connection, transaction
from django.db.models import Case, CharField, Count, F, Q, QuerySet, Value, When
from django.utils import timezone

from contacts.models import Contact, EmailStatus
from segments.selectors import audience, segment_contacts

from . import mail
from .models import Campaign, Message
from .rendering import Compiled, batch_contexts, campaign_template, render, template_compile

TASK_SECONDS = 20
STATUS_REASONS = {EmailStatus.UNSUBSCRIBED: Message.SkipReason.UNSUBSCRIBED,
                  EmailStatus.BOUNCED: Message.SkipReason.BOUNCED,
                  EmailStatus.COMPLAINED: Message.SkipReason.COMPLAINED}


def claim_lease() -> dt.timedelta:
    """How long a claim may stay unfinished before another worker takes the messages back."""
    return dt.timedelta(seconds=settings.CAMPAIGN_CLAIM_LEASE_SECONDS)


def retry_delay(attempts: int) -> dt.timedelta:
    """Exponential backoff after a temporary failure: base, 2×base, 4×base…"""
    base = settings.CAMPAIGN_RETRY_SECONDS
    return dt.timedelta(seconds=base * 2 ** max(attempts - 1, 0))


class SendError(Exception):
    def __init__(self, reason: str, *, temporary: bool, connection_lost: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.temporary = temporary
        self.connection_lost = connection_lost


class TransientSendError(Exception):
    """The mail server cannot be reached; the batch went back to the queue untouched."""


# ------------------------------------------------------------------ audience

def recipients(campaign: Campaign) -> QuerySet:
    """Contacts of the included segments minus those of the excluded ones, as one query."""
    included = Q()
    for segment in campaign.segments.all():
        included |= Q(pk__in=segment_contacts(segment).values("pk"))
    if not included:
        return Contact.objects.none()
    contacts = audience().filter(included)
    for segment in campaign.exclude_segments.all():
        contacts = contacts.exclude(pk__in=segment_contacts(segment).values("pk"))
    return contacts


def capped_contacts(*, contact_ids=None, exclude_campaign_id: int | None = None) -> QuerySet:
    """Contact ids that already got FREQUENCY_CAP_COUNT mails in the last FREQUENCY_CAP_DAYS."""
    since = timezone.now() - dt.timedelta(days=settings.FREQUENCY_CAP_DAYS)
    sent = Message.objects.filter(status=Message.Status.SENT, sent_at__gte=since)
    if contact_ids is not None:
        sent = sent.filter(contact_id__in=contact_ids)
    if exclude_campaign_id is not None:
        sent = sent.exclude(campaign_id=exclude_campaign_id)
    return (sent.values("contact_id").annotate(n=Count("id")).filter(n__gte=settings.FREQUENCY_CAP_COUNT)
            .values("contact_id"))


def eligible(contacts: QuerySet) -> QuerySet:
    """Those who may get a marketing mail right now (the same rules the sender applies per batch)."""
    contacts = contacts.filter(email__isnull=False, email_opt_in=True, email_status=EmailStatus.ACTIVE,
                               erased_at__isnull=True).exclude(email="")
    if settings.FREQUENCY_CAP_COUNT > 0:
        contacts = contacts.exclude(pk__in=capped_contacts())
    return contacts


def snapshot(campaign: Campaign) -> int:
    """One queued Message per recipient, written by the database; existing rows are kept."""
    sql, params = recipients(campaign).order_by("pk").values(recipient_id=F("pk")).query.sql_with_params()
    table = Message._meta.db_table
    insert = (
        f"INSERT INTO {table} (campaign_id, contact_id, status, skip_reason, error, attempts, message_id, "
        f"queued_at, open_count, machine_open_count, click_count, bounce_type) "
        f"SELECT %s, r.recipient_id, %s, '', '', 0, '', %s, 0, 0, 0, '' FROM ({sql}) AS r WHERE 1 = 1 "
        f"ON CONFLICT (campaign_id, contact_id) DO NOTHING")
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(insert, (campaign.pk, Message.Status.QUEUED, now, *params))
        return cursor.rowcount


# ------------------------------------------------------------------ claims

def claim(campaign_id: int, *, after: int, size: int) -> tuple[list[int], dt.datetime]:
    """Take up to `size` due queued messages with id > after; rows other workers hold are skipped."""
    stamp = timezone.now()
    with transaction.atomic():
        ids = list(Message.objects.select_for_update(skip_locked=True)
                   .filter(campaign_id=campaign_id, status=Message.Status.QUEUED, queued_at__lte=stamp, id__gt=after)
                   .order_by("id").values_list("id", flat=True)[:size])
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
        status=Message.Status.QUEUED, claimed_at=None)


# ------------------------------------------------------------------ the mail connection

def _dot_stuffed(data: bytes) -> bytes:
    data = re.sub(rb"(?:\r\n|\n|\r(?!\n))", b"\r\n", data)
    data = re.sub(rb"(?m)^\.", b"..", data)
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def _expect(reply: tuple[int, bytes], codes: tuple[int, ...]) -> None:
    code, text = reply
    if code not in codes:
        raise smtplib.SMTPResponseException(code, text)


def smtp_error(exc: Exception) -> SendError:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return SendError(f"{exc.smtp_code} {text}", temporary=exc.smtp_code < 500)
    return SendError(str(exc) or exc.__class__.__name__, temporary=True, connection_lost=True)


class Outbox:
    """Django's mail backend, held open across batches. Over SMTP the message is handed over in two
    phases around `commit`; other backends (files, memory, ESPs) are marked sent once they return."""

    def __init__(self):
        self.backend = get_connection()
        self.two_phase = isinstance(self.backend, SMTPBackend)
        self.is_open = False
        self._extra: list[Outbox] = []
        self.max_width = settings.CAMPAIGN_SMTP_CONNECTIONS

    def open(self) -> None:
        if self.is_open or isinstance(self.backend, FileBackend):
            return
        try:
            self.backend.open()
        except (OSError, smtplib.SMTPException) as exc:
            raise TransientSendError(str(exc)) from exc
        self.is_open = True
        sock = getattr(getattr(self.backend, "connection", None), "sock", None)
        if sock is not None:  # the lone "." must not wait for the body's ACK (Nagle)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self) -> None:
        for lane in self._extra:
            lane.close()
        try:
            self.backend.close()
        except (OSError, smtplib.SMTPException):
            pass
        self.is_open = False

    def abort(self) -> None:
        """Drop the socket without QUIT: a server in the middle of DATA discards the mail."""
        smtp = getattr(self.backend, "connection", None)
        if smtp is not None:
            smtp.close()
            self.backend.connection = None
        self.is_open = False

    def send(self, message, commit) -> bool:
        """Deliver one mail; `commit()` records it sent and says whether the claim still holds."""
        self.open()
        if self.two_phase:
            return self._send_smtp(message, commit)
        try:
            delivered = self.backend.send_messages([message])
        except smtplib.SMTPException as exc:
            raise smtp_error(exc) from exc
        except Exception as exc:  # an ESP's API error: retried, then failed with its text
            raise SendError(str(exc), temporary=_esp_error_is_temporary(exc)) from exc
        if not delivered:
            raise SendError("not accepted by the mail backend", temporary=True)
        return commit()

    def _send_smtp(self, message, commit) -> bool:
        self.begin(message)
        return self._finish_data(self.backend.connection, commit)

    def begin(self, message) -> None:
        """MAIL, RCPT, DATA and the body: everything but the final "." that completes the mail."""
        self.open()
        smtp = self.backend.connection
        encoding = message.encoding or settings.DEFAULT_CHARSET
        data = _dot_stuffed(message.message().as_bytes(linesep="\r\n"))
        try:
            smtp.ehlo_or_helo_if_needed()
            _expect(smtp.mail(sanitize_address(message.from_email, encoding)), (250,))
            _expect(smtp.rcpt(sanitize_address(message.to[0], encoding)), (250, 251))
            _expect(smtp.docmd("data"), (354,))
            smtp.send(data)
        except smtplib.SMTPResponseException as exc:
            self._reset(smtp)
            raise smtp_error(exc) from exc
        except (OSError, smtplib.SMTPException) as exc:
            self.abort()
            raise smtp_error(exc) from exc

    def write_end(self) -> None:
        """The final "." of a begun mail; a broken connection is a temporary failure of this mail."""
        try:
            self.backend.connection.send(b".\r\n")
        except (OSError, smtplib.SMTPException) as exc:
            self.abort()
            raise smtp_error(exc) from exc

    def read_end(self) -> None:
        try:
            _expect(self.backend.connection.getreply(), (250,))
        except smtplib.SMTPResponseException as exc:
            raise smtp_error(exc) from exc
        except (OSError, smtplib.SMTPException) as exc:
            self.abort()
            raise smtp_error(exc) from exc

    def lanes(self, count: int) -> list["Outbox"]:
        """This connection and `count - 1` more, so a group of mails can be completed together."""
        count = min(count, self.max_width)
        while len(self._extra) < count - 1:
            self._extra.append(Outbox())
        return [self, *self._extra[:count - 1]]

    def limit_lanes(self, count: int) -> None:
        """The server refused connection number `count + 1`: from now on use at most `count`."""
        for lane in self._extra[count - 1:]:
            lane.close()
        self._extra = self._extra[:count - 1]
        self.max_width = max(count, 1)

    def _finish_data(self, smtp, commit) -> bool:
        """Record the mail sent, write the final "." and only then let the transaction commit.

        Dying before the "." leaves the claim (the server discards the mail); dying after it, the
        COMMIT is already on its way. The window between the two writes is a few microseconds.
        """
        try:
            with transaction.atomic():
                if not commit():
                    self.abort()
                    return False
                smtp.send(b".\r\n")
            _expect(smtp.getreply(), (250,))
        except smtplib.SMTPResponseException as exc:
            raise smtp_error(exc) from exc
        except (OSError, smtplib.SMTPException) as exc:
            self.abort()
            raise smtp_error(exc) from exc
        return True

    def _reset(self, smtp) -> None:
        try:
            smtp.rset()
        except (OSError, smtplib.SMTPException):
            self.abort()


def _esp_error_is_temporary(exc: Exception) -> bool:
    from anymail.exceptions import AnymailInvalidAddress, AnymailRecipientsRefused

    return not isinstance(exc, (AnymailRecipientsRefused, AnymailInvalidAddress))


# ------------------------------------------------------------------ recording outcomes

def mark_sent(message: Message, stamp: dt.datetime, message_id: str, *, esp_id: str | None = None,
              guarded: bool) -> bool:
    rows = Message.objects.filter(pk=message.pk)
    if guarded:
        rows = rows.filter(status=Message.Status.CLAIMED, claimed_at=stamp)
    return rows.update(status=Message.Status.SENT, sent_at=timezone.now(), message_id=message_id,
                       esp_message_id=esp_id, attempts=F("attempts") + 1, error="") == 1


def mark_failed(message: Message, error: SendError) -> None:
    """A temporary failure goes back to the queue after a backoff until CAMPAIGN_MAX_ATTEMPTS."""
    attempts = message.attempts + 1
    fields = {"status": Message.Status.FAILED}
    if error.temporary and attempts < settings.CAMPAIGN_MAX_ATTEMPTS:
        fields = {"status": Message.Status.QUEUED, "claimed_at": None,
                  "queued_at": timezone.now() + retry_delay(attempts)}
    Message.objects.filter(pk=message.pk, status__in=[Message.Status.CLAIMED, Message.Status.SENT]).update(
        attempts=attempts, error=error.reason[:2000], **fields)


def skip_reason(contact: Contact, capped: set) -> str | None:
    if contact.erased_at:
        return Message.SkipReason.ERASED
    if not contact.email:
        return Message.SkipReason.NO_EMAIL
    if contact.email_status != EmailStatus.ACTIVE:
        return STATUS_REASONS.get(contact.email_status, Message.SkipReason.NO_CONSENT)
    if not contact.email_opt_in:
        return Message.SkipReason.NO_CONSENT
    if contact.pk in capped:
        return Message.SkipReason.FREQUENCY_CAP
    return None


def skip_ineligible(messages: list[Message], stamp: dt.datetime, campaign_id: int) -> list[Message]:
    """Consent and frequency cap checked now, one query each; the rest is returned to be sent."""
    capped: set = set()
    if settings.FREQUENCY_CAP_COUNT > 0:
        capped = set(capped_contacts(contact_ids=[m.contact_id for m in messages],
                                     exclude_campaign_id=campaign_id).values_list("contact_id", flat=True))
    by_reason: dict[str, list[int]] = defaultdict(list)
    sendable = []
    for message in messages:
        reason = skip_reason(message.contact, capped)
        if reason:
            by_reason[reason].append(message.pk)
        else:
            sendable.append(message)
    for reason, ids in by_reason.items():
        Message.objects.filter(id__in=ids, status=Message.Status.CLAIMED, claimed_at=stamp).update(
            status=Message.Status.SKIPPED, skip_reason=reason)
    return sendable


# ------------------------------------------------------------------ batches

_compiled: dict[tuple, Compiled] = {}


def compiled_template(campaign: Campaign) -> Compiled:
    """The campaign's frozen template, compiled once per process."""
    template = campaign_template(campaign)
    key = (campaign.pk, campaign.frozen_at) if campaign.frozen_at else (template.pk, template.updated_at)
    if key not in _compiled:
        if len(_compiled) > 100:
            _compiled.clear()
        _compiled[key] = template_compile(template)
    return _compiled[key]


def batch_mails(campaign: Campaign, messages: list[Message]) -> list[tuple[Message, object]]:
    """(message, mail) pairs ready to go; a message that fails to render is failed with the reason."""
    compiled = compiled_template(campaign)
    urls = {m.contact_id: mail.message_urls(m.pk) for m in messages}
    extra = {cid: {**mail.campaign_context(campaign), "unsubscribe_url": u["unsubscribe_url"],
                   "view_in_browser_url": u["view_in_browser_url"]} for cid, u in urls.items()}
    contexts = batch_contexts(compiled, [m.contact for m in messages], extra)
    ready = []
    for message in messages:
        try:
            rendered = render(compiled, contexts[message.contact_id])
            ready.append((message, mail.campaign_mail(
                campaign=campaign, compiled=compiled, rendered=rendered, to=message.contact.email,
                urls=urls[message.contact_id], message_id=mail.new_message_id(campaign))))
        except Exception as exc:  # one broken contact record must not stall the campaign
            mark_failed(message, SendError(f"rendering: {exc}", temporary=False))
    return ready


def send_batch(campaign: Campaign, ids: list[int], stamp: dt.datetime, outbox: Outbox) -> int:
    """Send one claimed batch; returns how many mails went out."""
    messages = list(Message.objects.filter(id__in=ids, status=Message.Status.CLAIMED, claimed_at=stamp)
                    .select_related("contact", "contact__club").order_by("id"))
    sendable = skip_ineligible(messages, stamp, campaign.pk)
    pairs = batch_mails(campaign, sendable)
    width = settings.CAMPAIGN_SMTP_CONNECTIONS if outbox.two_phase else 1
    sent = 0
    start = 0
    while start < len(pairs):
        width = min(width, outbox.max_width)
        group = pairs[start:start + width]
        try:
            sent += deliver(outbox, *group[0], stamp) if width == 1 else deliver_group(outbox.lanes(width), group,
                                                                                       stamp)
        except TransientSendError:
            release_batch([m.pk for m, _e in pairs[start:]], stamp)
            raise
        start += len(group)
    return sent


def deliver_group(lanes: list[Outbox], group: list[tuple[Message, object]], stamp: dt.datetime) -> int:
    """Hand a group of mails over on as many SMTP connections, then complete them together: one
    transaction marks the group sent and, before it commits, writes each connection's final "."."""
    begun = begin_all(list(zip(lanes, group)), stamp)
    if not begun:
        return 0
    broken = []
    with transaction.atomic():
        kept = mark_group_sent([(m, e) for _lane, m, e in begun], stamp)
        for lane, message, _email in begun:
            if message.pk not in kept:
                lane.abort()
                continue
            try:
                lane.write_end()
            except SendError as error:
                broken.append((message, error))
    for message, error in broken:
        mark_failed(message, error)
    unfinished = {m.pk for m, _error in broken}
    return _read_ends([(lane, m) for lane, m, _e in begun if m.pk in kept and m.pk not in unfinished])


def begin_all(work: list[tuple[Outbox, tuple[Message, object]]],
              stamp: dt.datetime) -> list[tuple[Outbox, Message, object]]:
    """MAIL, RCPT, DATA and the body on every connection in lockstep: each command goes out on all
    connections before any reply is read, so the server works on them while the next is written.

    A server that takes fewer connections than asked for is used with as many as it takes: the
    mails of the refused ones go back to the queue, and later groups are that much smaller."""
    live = []
    for index, (lane, (message, email)) in enumerate(work):
        try:
            lane.open()
            lane.backend.connection.ehlo_or_helo_if_needed()
            live.append((lane, message, email))
        except TransientSendError:
            if index == 0:
                raise
            work[0][0].limit_lanes(index)
            release_batch([m.pk for _lane, (m, _e) in work[index:]], stamp)
            break
        except (OSError, smtplib.SMTPException) as exc:
            lane.abort()
            mark_failed(message, smtp_error(exc))
    for step in ("mail", "rcpt", "data"):
        live = _step(live, step)
    for lane, message, email in list(live):
        try:
            lane.backend.connection.send(_payload(email))
        except (OSError, smtplib.SMTPException) as exc:
            lane.abort()
            mark_failed(message, smtp_error(exc))
            live.remove((lane, message, email))
    return live


def _payload(email) -> bytes:
    return _dot_stuffed(email.message().as_bytes(linesep="\r\n"))


def _command(step: str, email) -> tuple[str, str]:
    encoding = email.encoding or settings.DEFAULT_CHARSET
    if step == "mail":
        return "mail", "FROM:" + smtplib.quoteaddr(sanitize_address(email.from_email, encoding))
    if step == "rcpt":
        return "rcpt", "TO:" + smtplib.quoteaddr(sanitize_address(email.to[0], encoding))
    return "data", ""


def _step(live: list, step: str) -> list:
    expected = {"mail": (250,), "rcpt": (250, 251), "data": (354,)}[step]
    written = []
    for lane, message, email in live:
        try:
            lane.backend.connection.putcmd(*_command(step, email))
            written.append((lane, message, email))
        except (OSError, smtplib.SMTPException) as exc:
            lane.abort()
            mark_failed(message, smtp_error(exc))
    still = []
    for lane, message, email in written:
        smtp = lane.backend.connection
        try:
            _expect(smtp.getreply(), expected)
            still.append((lane, message, email))
        except smtplib.SMTPResponseException as exc:
            lane._reset(smtp)
            mark_failed(message, smtp_error(exc))
        except (OSError, smtplib.SMTPException) as exc:
            lane.abort()
            mark_failed(message, smtp_error(exc))
    return still


def _read_ends(completed: list[tuple[Outbox, Message]]) -> int:
    sent = 0
    for lane, message in completed:
        try:
            lane.read_end()
            sent += 1
        except SendError as error:
            mark_failed(message, error)
    return sent


def mark_group_sent(pairs: list[tuple[Message, object]], stamp: dt.datetime) -> set[int]:
    """Mark the messages whose claim still holds as sent (one locked read, one UPDATE); their ids."""
    ids = [m.pk for m, _e in pairs]
    kept = set(Message.objects.select_for_update().filter(
        pk__in=ids, status=Message.Status.CLAIMED, claimed_at=stamp).values_list("pk", flat=True))
    if kept:
        message_ids = Case(*[When(pk=m.pk, then=Value(e.extra_headers["Message-ID"])) for m, e in pairs
                             if m.pk in kept], output_field=CharField())
        Message.objects.filter(pk__in=kept).update(
            status=Message.Status.SENT, sent_at=timezone.now(), message_id=message_ids, attempts=F("attempts") + 1,
            error="")
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
    next_retry = pending.filter(status=Message.Status.QUEUED).order_by("queued_at").values_list(
        "queued_at", flat=True).first()
    if next_retry is not None:
        return Outcome(wait=max((next_retry - timezone.now()).total_seconds(), 0.0) + 0.5)
    if pending.exists():
        return Outcome(wait=claim_lease().total_seconds())
    Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.SENDING).update(
        status=Campaign.Status.SENT, finished_at=timezone.now())
    return Outcome()
