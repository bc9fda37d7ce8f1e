"""Machine opens and clicks: one declarative list of signs, from which both the Python test and the SQL come.

A TrackingEvent gets `is_machine` and a `machine_reason` when one of these signs holds:

- ``apple_privacy`` (opens): Apple Mail Privacy Protection pre-fetches every image through Apple's
  proxies, whether the mail is read or not. Those fetches come from Apple's own network (17.0.0.0/8)
  and carry the bare user agent ``Mozilla/5.0`` (or none at all). Either sign flags the open.
- ``scanner`` (opens and clicks): security gateways that fetch or follow everything in a mail before
  the person sees it (Barracuda, Mimecast, Proofpoint, Microsoft Defender / Safe Links, and others
  listed in SCANNER_AGENTS), recognised by their user agent; also plain HTTP libraries and crawlers.
- ``too_fast`` (opens): an open within MACHINE_OPEN_SECONDS of sending; nobody reads that quickly.
- ``click_before_open`` (clicks): a click on a mail that has no human open yet, within
  MACHINE_CLICK_SECONDS (default 10) of sending, is a link scanner.

The signs of the request (AGENT_RULES) are read in Python only: the SQL path gets their verdict as the
`%(reason)s` parameter from `agent_reason`. The signs of timing (TIME_RULES) depend on the message row,
so each rule gives both its Python test (`TimeRule.holds`) and its SQL condition (`TimeRule.sql`);
`machine_reason` and `reason_sql` walk the same lists in the same order, the first sign that holds
naming the reason (tests/campaigns/test_machine.py checks the two against a table of cases).

The client address is the first X-Forwarded-For entry when a proxy sets one, else REMOTE_ADDR;
it only ever flags events, it grants nothing, so a forged header can at worst skew the counts.
"""

import datetime as dt
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.db.models import Field

from .models import Message, TrackingEvent

OPEN, CLICK = TrackingEvent.Kind.OPEN, TrackingEvent.Kind.CLICK
APPLE_NETWORKS = (ipaddress.ip_network("17.0.0.0/8"),)
APPLE_PROXY_AGENT = "mozilla/5.0"
SCANNER_AGENTS = (
    "barracuda",
    "mimecast",
    "proofpoint",
    "safelinks",
    "safe links",
    "microsoft defender",
    "msdefender",
    "office365 atp",
    "symantec",
    "messagelabs",
    "forcepoint",
    "trend micro",
    "trendmicro",
    "sophos",
    "fortiguard",
    "ironport",
    "cisco",
    "zscaler",
    "checkpoint",
    "check point",
    "avanan",
    "bitdefender",
    "abnormal security",
    "hornetsecurity",
    "spamtitan",
    "mailcontrol",
    "urldefense",
    "python-requests",
    "python-urllib",
    "aiohttp",
    "curl/",
    "wget/",
    "go-http-client",
    "okhttp",
    "java/",
    "libwww-perl",
    "headlesschrome",
    "phantomjs",
    "bot/",
    "bot;",
    "crawler",
    "spider",
)
USER_AGENT_MAX = 500


@dataclass(frozen=True)
class Visitor:
    """Who fetched a tracking URL, as far as the request tells."""

    user_agent: str = ""
    ip: str = ""

    @classmethod
    def from_request(cls, request) -> "Visitor":
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        ip = forwarded.split(",")[0].strip() if forwarded else request.META.get("REMOTE_ADDR", "")
        return cls(user_agent=request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_MAX], ip=ip)


def _from_apple(ip: str) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in network for network in APPLE_NETWORKS)


def scanner_agent(user_agent: str) -> bool:
    agent = user_agent.lower()
    return any(token in agent for token in SCANNER_AGENTS)


def _apple_proxy(visitor: Visitor) -> bool:
    return visitor.user_agent.strip().lower() == APPLE_PROXY_AGENT or _from_apple(visitor.ip)


@dataclass(frozen=True)
class AgentRule:
    """A sign in the request itself (user agent, address)."""

    reason: str
    kinds: tuple[str, ...]
    holds: Callable[[Visitor], bool]


@dataclass(frozen=True)
class TimeRule:
    """A sign in the timing: the event came within `window_setting` seconds of sending (and, if
    `unopened_only`, while the message had no human open yet)."""

    reason: str
    kind: str
    window_setting: str
    unopened_only: bool = False

    @property
    def param(self) -> str:
        return f"{self.reason}_cutoff"

    def cutoff(self, now: dt.datetime) -> dt.datetime:
        return now - dt.timedelta(seconds=getattr(settings, self.window_setting))

    def holds(self, *, sent_at: dt.datetime | None, opened: bool, now: dt.datetime) -> bool:
        if self.unopened_only and opened:
            return False
        return sent_at is not None and sent_at > self.cutoff(now)

    def sql(self, table: str) -> str:
        """The same test on a message row of `table`; NULL (never true) when it was not sent."""
        condition = f"{table}.{_column('sent_at')} > %({self.param})s"
        if self.unopened_only:
            condition = f"{table}.{_column('first_opened_at')} IS NULL AND {condition}"
        return condition


AGENT_RULES: tuple[AgentRule, ...] = (
    AgentRule("apple_privacy", (OPEN,), _apple_proxy),
    AgentRule("scanner", (OPEN, CLICK), lambda visitor: scanner_agent(visitor.user_agent)),
)
TIME_RULES: tuple[TimeRule, ...] = (
    TimeRule("too_fast", OPEN, "MACHINE_OPEN_SECONDS"),
    TimeRule("click_before_open", CLICK, "MACHINE_CLICK_SECONDS", unopened_only=True),
)


def _column(name: str) -> str:
    field = Message._meta.get_field(name)
    assert isinstance(field, Field) and field.column is not None, f"{name} is not a concrete field"
    return field.column


def agent_reason(kind: str, visitor: Visitor) -> str:
    """The part of the rules that needs only the request, or "" when none of its signs holds."""
    return next((rule.reason for rule in AGENT_RULES if kind in rule.kinds and rule.holds(visitor)), "")


def time_rules(kind: str, rules: tuple[TimeRule, ...] | None = None) -> tuple[TimeRule, ...]:
    """The time rules of one kind of event, from TIME_RULES unless `rules` are given."""
    return tuple(rule for rule in (TIME_RULES if rules is None else rules) if rule.kind == kind)


def machine_reason(kind: str, visitor: Visitor, *, sent_at: dt.datetime | None, opened: bool, now: dt.datetime) -> str:
    """Why an open or click is a machine's, or "" for a person."""
    reason = agent_reason(kind, visitor)
    if reason:
        return reason
    return next((rule.reason for rule in time_rules(kind) if rule.holds(sent_at=sent_at, opened=opened, now=now)), "")


def open_machine_reason(visitor: Visitor, *, sent_at: dt.datetime | None, now: dt.datetime) -> str:
    return machine_reason(OPEN, visitor, sent_at=sent_at, opened=False, now=now)


def click_machine_reason(visitor: Visitor, *, sent_at: dt.datetime | None, opened: bool, now: dt.datetime) -> str:
    return machine_reason(CLICK, visitor, sent_at=sent_at, opened=opened, now=now)


def reason_sql(kind: str, table: str, rules: tuple[TimeRule, ...] | None = None) -> str:
    """`machine_reason` as a SQL expression over a message row of `table`: the request's verdict
    (parameter `reason`), else the first time rule that holds, else ''. Parameters: `sql_params`."""
    whens = "".join(f" WHEN {rule.sql(table)} THEN '{rule.reason}'" for rule in time_rules(kind, rules))
    return f"(CASE WHEN %(reason)s <> '' THEN %(reason)s{whens} ELSE '' END)"


def sql_params(kind: str, visitor: Visitor, now: dt.datetime) -> dict:
    """The parameters `reason_sql` needs, adapted for the database in use."""
    adapt = connection.ops.adapt_datetimefield_value
    return {"reason": agent_reason(kind, visitor), **{rule.param: adapt(rule.cutoff(now)) for rule in time_rules(kind)}}
