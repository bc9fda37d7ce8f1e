"""Machine opens and clicks have one owner: the rules of `campaigns.machine`, from which both the Python
test (the ORM path) and the SQL expression (PostgreSQL's single statement) are made."""

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from campaigns import machine, tracking
from campaigns.models import Campaign, EmailTemplate, Message, TrackingEvent
from campaigns.tokens import message_token
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db
HUMAN_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0"
OPEN, CLICK = machine.OPEN, machine.CLICK

# (kind, user agent, ip, seconds since sending (None: not sent), has a human open, reason)
CASES = [
    (OPEN, HUMAN_UA, "198.51.100.7", 3600, False, ""),
    (OPEN, "Mozilla/5.0", "198.51.100.7", 3600, False, "apple_privacy"),
    (OPEN, " mozilla/5.0 ", "", 3600, False, "apple_privacy"),
    (OPEN, HUMAN_UA, "17.58.1.2", 3600, False, "apple_privacy"),
    (OPEN, "Mozilla/5.0", "", 0.5, False, "apple_privacy"),
    (OPEN, "Barracuda Sentinel (EE)", "", 3600, False, "scanner"),
    (OPEN, "python-requests/2.31", "", 0.5, False, "scanner"),
    (OPEN, HUMAN_UA, "not an address", 0.5, False, "too_fast"),
    (OPEN, HUMAN_UA, "", 5, False, ""),
    (OPEN, HUMAN_UA, "", None, False, ""),
    (CLICK, HUMAN_UA, "", 3600, False, ""),
    (CLICK, "Mozilla/5.0", "17.58.1.2", 3600, False, ""),
    (CLICK, "Mozilla/5.0 Microsoft SafeLinks", "", 3600, True, "scanner"),
    (CLICK, HUMAN_UA, "", 3, False, "click_before_open"),
    (CLICK, HUMAN_UA, "", 3, True, ""),
    (CLICK, HUMAN_UA, "", 30, False, ""),
    (CLICK, HUMAN_UA, "", None, False, ""),
    (CLICK, "curl/8.0", "", 3, False, "scanner"),
]


@pytest.fixture
def campaign(db):
    template = EmailTemplate.objects.create(name="T", subject="Hi", html="<p>Hi</p>", language="en")
    return Campaign.objects.create(name="C", template=template, status=Campaign.Status.SENT)


def _message(campaign, now, sent_ago, opened) -> Message:
    sent_at = None if sent_ago is None else now - dt.timedelta(seconds=sent_ago)
    return Message.objects.create(
        campaign=campaign,
        contact=ContactFactory(),
        status=Message.Status.SENT,
        sent_at=sent_at,
        first_opened_at=now - dt.timedelta(seconds=1) if opened else None,
    )


def _in_sql(kind, message, visitor, now, rules=None) -> str:
    table = Message._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {machine.reason_sql(kind, table, rules)} FROM {table} WHERE id = %(message)s",
            {**machine.sql_params(kind, visitor, now), "message": message.pk},
        )
        return cursor.fetchone()[0]


@pytest.mark.parametrize(("kind", "agent", "ip", "sent_ago", "opened", "reason"), CASES)
def test_python_and_sql_name_the_same_reason(campaign, settings, kind, agent, ip, sent_ago, opened, reason):
    settings.MACHINE_OPEN_SECONDS, settings.MACHINE_CLICK_SECONDS = 2, 10
    now = timezone.now().replace(microsecond=123456)
    message = _message(campaign, now, sent_ago, opened)
    visitor = machine.Visitor(user_agent=agent, ip=ip)

    in_python = machine.machine_reason(kind, visitor, sent_at=message.sent_at, opened=opened, now=now)

    assert in_python == reason
    assert _in_sql(kind, message, visitor, now) == reason


def test_a_new_time_rule_reaches_both_paths_and_the_single_statement(campaign, settings, monkeypatch):
    settings.MACHINE_LATE_SECONDS = 3600
    late = machine.TimeRule("late", OPEN, "MACHINE_LATE_SECONDS")
    monkeypatch.setattr(machine, "TIME_RULES", (*machine.TIME_RULES, late))
    now = timezone.now()
    message = _message(campaign, now, 60, False)
    visitor = machine.Visitor(user_agent=HUMAN_UA)

    assert machine.open_machine_reason(visitor, sent_at=message.sent_at, now=now) == "late"
    assert _in_sql(OPEN, message, visitor, now) == "late"
    assert late.sql(Message._meta.db_table) in tracking.open_sql(machine.TIME_RULES)
    tracking.record_open(token=message_token(message.pk), visitor=visitor, now=now)
    assert TrackingEvent.objects.get(message=message).machine_reason == "late"


def test_the_single_statements_are_built_from_the_rules():
    table = Message._meta.db_table
    for build, kind in ((tracking.open_sql, OPEN), (tracking.click_sql, CLICK)):
        sql = build(machine.TIME_RULES)
        assert machine.reason_sql(kind, table) in sql
        assert all(rule.sql(table) in sql for rule in machine.time_rules(kind))
