"""The mail connection that gives exactly-once delivery over SMTP, and its lockstep use of several connections.

Over SMTP a mail is handed over in two phases: MAIL, RCPT, DATA and the body first, then the final
"." that completes it, written inside the transaction that marks the message sent and just before
its COMMIT (see `campaigns.sending`). A server that never gets the "." discards the mail. Other
backends (files, memory, ESPs) are marked sent once they return.

This module speaks the protocol only. What happened to each mail is handed back to the caller,
which records it: messages are opaque here, carried along beside their connection and mail.
"""

import re
import smtplib
import socket
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.mail import get_connection
from django.core.mail.backends.filebased import EmailBackend as FileBackend
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.core.mail.message import sanitize_address
from django.db import transaction

REPLIES = {"mail": (250,), "rcpt": (250, 251), "data": (354,)}


class SendError(Exception):
    def __init__(self, reason: str, *, temporary: bool, connection_lost: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.temporary = temporary
        self.connection_lost = connection_lost


class TransientSendError(Exception):
    """The mail server cannot be reached; the batch went back to the queue untouched."""


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
        if isinstance(self.backend, SMTPBackend) and self.backend.connection is not None:
            self.backend.connection.close()
            self.backend.connection = None
        self.is_open = False

    @property
    def smtp(self) -> smtplib.SMTP:
        """The open SMTP connection; only the two-phase (SMTP) path reaches for it, after `open()`."""
        assert isinstance(self.backend, SMTPBackend) and self.backend.connection is not None
        return self.backend.connection

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
        return self._finish_data(self.smtp, commit)

    def begin(self, message) -> None:
        """MAIL, RCPT, DATA and the body: everything but the final "." that completes the mail."""
        self.open()
        smtp = self.smtp
        encoding = message.encoding or settings.DEFAULT_CHARSET
        data = _payload(message)
        try:
            smtp.ehlo_or_helo_if_needed()
            _expect(smtp.mail(sanitize_address(message.from_email, encoding)), REPLIES["mail"])
            _expect(smtp.rcpt(sanitize_address(message.to[0], encoding)), REPLIES["rcpt"])
            _expect(smtp.docmd("data"), REPLIES["data"])
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
            self.smtp.send(b".\r\n")
        except (OSError, smtplib.SMTPException) as exc:
            self.abort()
            raise smtp_error(exc) from exc

    def read_end(self) -> None:
        try:
            _expect(self.smtp.getreply(), (250,))
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
        return [self, *self._extra[: count - 1]]

    def limit_lanes(self, count: int) -> None:
        """The server refused connection number `count + 1`: from now on use at most `count`."""
        for lane in self._extra[count - 1 :]:
            lane.close()
        self._extra = self._extra[: count - 1]
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


# ------------------------------------------------------------------ several connections in lockstep

Lane = tuple[Outbox, Any, Any]  # (connection, message, mail)


@dataclass
class Lockstep:
    """Where a step over several connections left the mails: still going on their connection, failed
    (with why), or never started because the server refused their connection."""

    live: list[Lane]
    failed: list[tuple[Any, SendError]] = field(default_factory=list)
    refused: list[Any] = field(default_factory=list)


def open_lanes(work: list[tuple[Outbox, tuple[Any, Any]]]) -> Lockstep:
    """Open each connection for its (message, mail). A server that takes fewer connections than asked
    for is used with as many as it takes: the mails of the refused ones come back as `refused`, and
    the first connection remembers the limit so later groups are that much smaller."""
    opened = Lockstep(live=[])
    for index, (lane, (message, email)) in enumerate(work):
        try:
            lane.open()
            lane.smtp.ehlo_or_helo_if_needed()
            opened.live.append((lane, message, email))
        except TransientSendError:
            if index == 0:
                raise
            work[0][0].limit_lanes(index)
            opened.refused = [m for _lane, (m, _e) in work[index:]]
            break
        except (OSError, smtplib.SMTPException) as exc:
            lane.abort()
            opened.failed.append((message, smtp_error(exc)))
    return opened


def begin_all(live: list[Lane]) -> Lockstep:
    """MAIL, RCPT, DATA and the body on every connection in lockstep: each command goes out on all
    connections before any reply is read, so the server works on them while the next is written."""
    failed: list[tuple[Any, SendError]] = []
    for name in ("mail", "rcpt", "data"):
        step = _step(live, name)
        live, failed = step.live, failed + step.failed
    going = []
    for lane, message, email in live:
        try:
            lane.smtp.send(_payload(email))
            going.append((lane, message, email))
        except (OSError, smtplib.SMTPException) as exc:
            lane.abort()
            failed.append((message, smtp_error(exc)))
    return Lockstep(live=going, failed=failed)


def _payload(email) -> bytes:
    return _dot_stuffed(email.message().as_bytes(linesep="\r\n"))


def _command(step: str, email) -> tuple[str, str]:
    encoding = email.encoding or settings.DEFAULT_CHARSET
    if step == "mail":
        return "mail", "FROM:" + smtplib.quoteaddr(sanitize_address(email.from_email, encoding))
    if step == "rcpt":
        return "rcpt", "TO:" + smtplib.quoteaddr(sanitize_address(email.to[0], encoding))
    return "data", ""


def _step(live: list[Lane], step: str) -> Lockstep:
    """One command written on every connection, then every reply read."""
    result = Lockstep(live=[])
    written = []
    for lane, message, email in live:
        try:
            lane.smtp.putcmd(*_command(step, email))
            written.append((lane, message, email))
        except (OSError, smtplib.SMTPException) as exc:
            lane.abort()
            result.failed.append((message, smtp_error(exc)))
    for lane, message, email in written:
        smtp = lane.smtp
        try:
            _expect(smtp.getreply(), REPLIES[step])
            result.live.append((lane, message, email))
        except smtplib.SMTPResponseException as exc:
            lane._reset(smtp)
            result.failed.append((message, smtp_error(exc)))
        except (OSError, smtplib.SMTPException) as exc:
            lane.abort()
            result.failed.append((message, smtp_error(exc)))
    return result


def read_ends(completed: list[tuple[Outbox, Any]]) -> Lockstep:
    """The server's answer to each final "."; `live` holds the (connection, message) it accepted."""
    result = Lockstep(live=[])
    for lane, message in completed:
        try:
            lane.read_end()
            result.live.append((lane, message, None))
        except SendError as error:
            result.failed.append((message, error))
    return result
