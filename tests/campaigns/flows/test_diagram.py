"""The read-only diagram of a flow: every step in words with its live numbers, nested branches side by
side, whatever a marketer typed escaped, right to left in Hebrew, and a fixed number of queries."""

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from campaigns.flows import engine
from campaigns.flows.diagram import flow_diagram
from campaigns.flows.enrollment import enroll
from campaigns.flows.models import Flow
from campaigns.models import Message, TrackingEvent
from contacts.models import Contact
from segments.services import segment_create
from tests.campaigns.tracked import tracked
from tests.factories import ContactFactory, MemberFactory

pytestmark = pytest.mark.django_db

NOON = dt.datetime(2026, 3, 10, 12, 0, tzinfo=ZoneInfo("Asia/Jerusalem"))


def make_flow(steps, **fields) -> Flow:
    values = {"name": "Birthday", "trigger": {"type": "date", "field": "birthday", "offset_days": 0}, **fields}
    return Flow.objects.create(steps=steps, status=Flow.Status.ACTIVE, **values)


def texts(svg: str) -> list[str]:
    return re.findall(r"<text[^>]*>([^<]*)</text>", svg)


@pytest.fixture
def nested_flow(make_template):
    """Tag, mail, then a branch on the city: Haifa gets points and a wait, others go down a nested branch."""
    template = make_template(name="Birthday")
    return make_flow(
        [
            {"type": "add_tag", "tag": "vip"},
            {"type": "send_email", "template": template.pk},
            {
                "type": "branch",
                "rules": {"field": "city", "op": "eq", "value": "Haifa"},
                "yes": [
                    {"type": "award_points", "points": 100, "reason": "Happy birthday"},
                    {"type": "wait", "days": 2},
                ],
                "no": [
                    {
                        "type": "branch",
                        "rules": {"field": "tag", "op": "has", "value": "vip"},
                        "yes": [{"type": "remove_tag", "tag": "vip"}],
                        "no": [],
                    },
                    {"type": "exit"},
                ],
            },
            {"type": "wait_until", "time": "10:00"},
        ]
    )


@pytest.fixture
def ran(nested_flow, django_capture_on_commit_callbacks):
    """Three contacts through the flow up to their waits; one of them opened the mail and clicked."""
    with time_machine.travel(NOON, tick=False):
        MemberFactory(contact=ContactFactory(city="Haifa"))
        ContactFactory(city="Haifa")
        ContactFactory(city="Eilat")
        enroll(flow=nested_flow, contacts=Contact.objects.all())
        with django_capture_on_commit_callbacks(execute=True):
            engine.tick(seconds=5)
    reader = Message.objects.order_by("pk").first()
    for kind in (TrackingEvent.Kind.OPEN, TrackingEvent.Kind.CLICK):
        tracked(reader, kind)
    return nested_flow


def test_a_nested_flow_shows_each_step_in_words(ran):
    shown = texts(flow_diagram(ran))

    for label in (
        "Birthday, 09:00",
        "Add tag vip",
        "Send “Birthday”",
        "If City is Haifa (yes / no)",
        "Award 100 points",
        "Happy birthday",
        "Wait 2 days",
        "If Tag has vip (yes / no)",
        "Remove tag vip",
        "Exit",
        "Wait until 10:00",
        "End",
    ):
        assert any(label in text for text in shown), (label, shown)
    assert shown.count("yes") == 2 and shown.count("no") == 2


def test_each_step_shows_its_live_numbers(ran):
    shown = texts(flow_diagram(ran))

    assert "entered 3" in shown
    assert "sent 3 · opened 1 · clicked 1" in shown
    assert shown.count("waiting now 0 · passed 3") == 3  # the tag, the mail, the first branch
    assert "waiting now 0 · passed 2" in shown  # the points for Haifa's two
    # The Eilat contact went down "no" and left at the exit step; the Haifa two wait 2 days before 10:00.
    assert "waiting now 2 · passed 0" in shown
    assert "waiting now 0 · completed 0 · exited 1" in shown


def test_a_mail_that_sold_nothing_yet_shows_its_zeros(ran):
    shown = texts(flow_diagram(ran))

    assert "converted 0 · purchases 0" in shown
    assert "revenue 0.00 · in store 0.00" in shown
    assert "0.00 per delivered mail" in shown


def test_what_a_marketer_typed_is_escaped(make_template):
    hostile = "<script>alert(1)</script>"
    template = make_template(name=hostile)
    segment = segment_create(name=f"{hostile}&", rules={"field": "city", "op": "eq", "value": "Haifa"})
    flow = make_flow(
        [
            {"type": "send_email", "template": template.pk},
            {"type": "add_tag", "tag": '"><img src=x onerror=alert(1)>'},
            {"type": "award_points", "points": 5, "reason": hostile},
            {"type": "branch", "rules": {"field": "in_segment", "op": "is", "value": True, "segment": segment.pk}},
        ],
        name=hostile,
        trigger={"type": "segment_entered", "segment": segment.pk},
    )

    svg = str(flow_diagram(flow))

    assert "<script" not in svg and "<img" not in svg
    assert "&lt;script&gt;" in svg
    assert "&amp;lt;" not in svg  # escaped once, not twice


def test_an_empty_flow_still_draws_its_trigger_and_its_end():
    flow = make_flow([], trigger={})

    svg = str(flow_diagram(flow))

    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert texts(svg)[0] == "No trigger yet"
    assert "End" in texts(svg)


def test_the_picture_has_no_script_and_no_reference_to_anything_outside(ran):
    svg = str(flow_diagram(ran))

    for outside in ("<script", "href", "url(", "http", "<image", "<foreignObject", "<style"):
        assert outside not in svg
    assert 'width="100%"' in svg and "viewBox" in svg


def test_in_hebrew_it_reads_right_to_left_with_yes_on_the_right(ran):
    def yes_x(svg: str) -> int:
        return int(re.search(r'<text x="(\d+)"[^>]*>(כן|yes)</text>', svg).group(1))

    english = str(flow_diagram(ran))
    with translation.override("he"):
        hebrew = str(flow_diagram(ran))

    assert 'direction="rtl"' in hebrew and 'direction="ltr"' in english
    assert yes_x(english) < yes_x(hebrew)


def test_the_query_count_does_not_grow_with_the_steps(make_template, django_capture_on_commit_callbacks):
    def numbered(steps: int) -> Flow:
        templates = [make_template(name=f"Mail {n}") for n in range(steps)]
        flow = make_flow(
            [{"type": "send_email", "template": template.pk} for template in templates]
            + [{"type": "branch", "rules": {"field": "tag", "op": "has", "value": "x"}, "yes": [{"type": "exit"}]}]
        )
        with time_machine.travel(NOON, tick=False):
            enroll(flow=flow, contacts=Contact.objects.filter(pk=ContactFactory().pk))
            with django_capture_on_commit_callbacks(execute=True):
                engine.tick(seconds=5)
        return flow

    small, large = numbered(1), numbered(8)
    with CaptureQueriesContext(connection) as few:
        flow_diagram(small)
    with CaptureQueriesContext(connection) as many:
        flow_diagram(large)

    assert len(many.captured_queries) == len(few.captured_queries)
    assert "Send “Mail 7”" in flow_diagram(large)
