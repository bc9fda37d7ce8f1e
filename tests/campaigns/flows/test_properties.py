"""The engine's promises, checked on generated populations, flows, start times and orders of ticks.

Whatever hypothesis makes of them: no enrollment is mailed twice for one step; nobody is mailed without
consent, while unsubscribed, bounced or complained, inside QUIET_HOURS, or when held out; no wait is cut
short; and every other contact gets exactly the mails of the steps its way through the flow reaches. The
ticks come duplicated, some while another worker's claim still holds, and that worker may finish its
stale claims after its lease has run out and a later tick took them over.

Time is simulated (time-machine), mail goes to the locmem outbox and the sender's tasks run in-process
once each engine transaction commits, as in test_engine.py. What was delivered is judged against a plain
reference written here: the contact's consent as the test last set it, the quiet window read off the
local clock, and each contact's way through the flow walked from its tags and club membership.
"""

import datetime as dt
from collections import Counter
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.db import transaction
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, example, given, note, settings
from hypothesis import strategies as st

from campaigns.flows import engine, timing
from campaigns.flows.enrollment import enroll
from campaigns.flows.models import Enrollment, StepRun
from campaigns.flows.services import flow_activate, flow_create
from campaigns.flows.steps import wait_end
from campaigns.models import Message
from campaigns.services import template_create
from contacts.models import Contact, EmailStatus
from contacts.services import tags_get_or_create
from tests.factories import ContactFactory, MemberFactory

pytestmark = pytest.mark.django_db

LOCAL = ZoneInfo("Asia/Jerusalem")
# An ordinary day, the evening before clocks go forward (27 March 2026, 02:00 → 03:00) and the evening
# before they go back (25 October 2026, 02:00 → 01:00); starts run up to a day and a half past midnight.
DAYS = [dt.date(2026, 3, 10), dt.date(2026, 3, 26), dt.date(2026, 10, 24)]
# The default window (across midnight), one that ends in the hour skipped in spring, and none at all.
QUIET = ["21:00-08:00", "23:00-02:30", ""]
STATUSES = [EmailStatus.ACTIVE, *EmailStatus]  # each status, "active" twice as often
SKIP_REASONS = {
    EmailStatus.UNSUBSCRIBED: Message.SkipReason.UNSUBSCRIBED,
    EmailStatus.BOUNCED: Message.SkipReason.BOUNCED,
    EmailStatus.COMPLAINED: Message.SkipReason.COMPLAINED,
}
READER = {"opt_in": True, "status": EmailStatus.ACTIVE, "member": False, "vip": False}
RULES = {
    "vip": {"field": "tag", "op": "has", "value": "vip"},
    "member": {"field": "club_member", "op": "is", "value": True},
    "unseen": {"not": {"field": "tag", "op": "has", "value": "seen"}},
}

people = st.lists(
    st.fixed_dictionaries(
        {
            "opt_in": st.booleans(),
            "status": st.sampled_from(STATUSES),
            "member": st.booleans(),
            "vip": st.booleans(),
        }
    ),
    min_size=1,
    max_size=4,
)
waits = st.one_of(
    st.sampled_from([1, 30, 90]).map(lambda n: {"type": "wait", "minutes": n}),
    st.sampled_from([1, 5, 23]).map(lambda n: {"type": "wait", "hours": n}),
    st.sampled_from([1, 2]).map(lambda n: {"type": "wait", "days": n}),
    st.sampled_from(["00:00", "01:30", "02:30", "08:00", "21:30"]).map(lambda t: {"type": "wait_until", "time": t}),
)
actions = st.one_of(
    st.just({"type": "send_email"}),  # its template, one per step, is added when the flow is made
    st.sampled_from(["vip", "seen"]).map(lambda tag: {"type": "add_tag", "tag": tag}),
    st.just({"type": "remove_tag", "tag": "vip"}),
)


def step_lists(depth: int, min_size: int = 1) -> st.SearchStrategy[list[dict]]:
    single = st.one_of(actions, waits, actions)
    if depth:
        sides = step_lists(depth - 1, min_size=0)
        branch = st.builds(
            lambda rule, yes, no: {"type": "branch", "rules": RULES[rule], "yes": yes, "no": no},
            st.sampled_from(sorted(RULES)),
            sides,
            sides,
        )
        single = st.one_of(single, branch)
    return st.lists(single, min_size=min_size, max_size=3)


starts = st.builds(
    lambda day, minutes: (
        dt.datetime.combine(day, dt.time(0, 0), tzinfo=LOCAL).astimezone(dt.UTC) + dt.timedelta(minutes=minutes)
    ),
    st.sampled_from(DAYS),
    st.one_of(st.integers(0, 36 * 60), st.sampled_from([20 * 60 + 59, 21 * 60, 23 * 60 + 59, 24 * 60, 26 * 60 + 29])),
)
moves = st.lists(
    st.one_of(
        st.tuples(st.just("shift"), st.one_of(st.integers(1, 59), st.sampled_from([4, 6, 60, 420, 780, 1440, 2880]))),
        st.just(("tick",)),
        st.just(("tick_twice",)),
        st.just(("claim",)),  # another worker claims what is due and is slow to go on
        st.just(("finish_claims",)),  # that worker goes on with its claims, however stale
        st.tuples(st.just("consent"), st.integers(0, 3), st.booleans(), st.sampled_from(STATUSES)),
    ),
    max_size=10,
)


def walk(steps: list[dict], tags: set[str], member: bool, prefix: str = "") -> list[str]:
    """The paths a contact goes through, in order, told from its tags and club membership alone."""
    holds = {"vip": lambda: "vip" in tags, "member": lambda: member, "unseen": lambda: "seen" not in tags}
    way = []
    for index, step in enumerate(steps):
        path = f"{prefix}{index}"
        way.append(path)
        if step["type"] == "add_tag":
            tags.add(step["tag"])
        elif step["type"] == "remove_tag":
            tags.discard(step["tag"])
        elif step["type"] == "branch":
            rule = next(name for name, rule in RULES.items() if rule == step["rules"])
            side = "yes" if holds[rule]() else "no"
            way += walk(step[side], tags, member, f"{path}.{side}.")
    return way


def step_at(steps: list[dict], path: str) -> dict:
    parts = path.split(".")
    step = steps[int(parts[0])]
    for side, index in zip(parts[1::2], parts[2::2], strict=True):
        step = step[side][int(index)]
    return step


def inside_quiet_hours(moment: dt.datetime, window: str) -> bool:
    if not window:
        return False
    start, end = (dt.time.fromisoformat(part) for part in window.split("-"))
    clock = moment.astimezone(LOCAL).time()
    return start <= clock < end if start < end else (clock >= start or clock < end)


def available_at(enrollment: Enrollment) -> dt.datetime:
    """When a tick may take the enrollment: once it is due and any claim on it has lapsed."""
    assert enrollment.run_at is not None
    if enrollment.claimed_until is None:
        return enrollment.run_at
    return max(enrollment.run_at, enrollment.claimed_until + dt.timedelta(seconds=1))


def with_templates(steps: list[dict], prefix: str = "") -> list[dict]:
    """A copy of `steps` whose every send step has a template of its own, its subject naming the step."""
    made = []
    for index, generated in enumerate(steps):
        path, step = f"{prefix}{index}", dict(generated)  # hypothesis may hand out one dict for several steps
        if step["type"] == "send_email":
            step["template"] = template_create(name=path, subject=f"Step {path}", html="<p>Hi</p>", language="en").pk
        elif step["type"] == "branch":
            step["yes"] = with_templates(step["yes"], f"{path}.yes.")
            step["no"] = with_templates(step["no"], f"{path}.no.")
        made.append(step)
    return made


class World:
    """One generated run: the contacts, the flow, what the test says each contact consents to, and the
    claims a slow worker holds."""

    def __init__(self, population: list[dict], steps: list[dict], holdout_percent: int, quiet: str, committed):
        self.quiet = quiet
        self.committed = committed
        self.contacts: list[Contact] = []
        for person in population:
            contact = ContactFactory(email_opt_in=person["opt_in"], email_status=person["status"])
            if person["member"]:
                MemberFactory(contact=contact)
            if person["vip"]:
                contact.tags.add(*tags_get_or_create(["vip"]))
            self.contacts.append(contact)
        self.population = {c.pk: dict(p) for c, p in zip(self.contacts, population, strict=True)}
        self.consent = {c.pk: (p["opt_in"], p["status"]) for c, p in zip(self.contacts, population, strict=True)}
        self.flow = flow_activate(
            flow=flow_create(
                name="Generated",
                trigger={"type": "event", "event": "signup"},
                steps=with_templates(steps),
                holdout_percent=holdout_percent,
            )
        )
        assert enroll(flow=self.flow, contacts=Contact.objects.filter(pk__in=self.population)) == len(self.contacts)
        self.held: list[int] = []
        self.seen = 0

    def run_engine(self, work) -> None:
        """Run engine work with the mail it queues sent once its transactions commit, then judge that mail."""
        with self.committed(execute=True):
            work()
        self.judge_new_mail()

    def apply(self, move: tuple, clock) -> None:
        kind = move[0]
        if kind == "shift":
            clock.shift(dt.timedelta(minutes=move[1]))
        elif kind in ("tick", "tick_twice"):
            for _time in range(1 if kind == "tick" else 2):
                self.run_engine(lambda: engine.tick(seconds=5))
        elif kind == "claim":
            self.held += engine.claim()
        elif kind == "finish_claims":
            held, self.held = self.held, []
            self.run_engine(lambda: [engine.advance(enrollment_id) for enrollment_id in held])
        else:
            _kind, who, opt_in, status = move
            contact = self.contacts[who % len(self.contacts)]
            Contact.objects.filter(pk=contact.pk).update(email_opt_in=opt_in, email_status=status)
            self.consent[contact.pk] = (opt_in, status)

    def drain(self, clock) -> None:
        """The slow worker finishes, then time goes on from one due moment to the next until everyone is through."""
        self.apply(("finish_claims",), clock)
        for _round in range(200):
            active = list(Enrollment.objects.filter(flow=self.flow, state=Enrollment.State.ACTIVE))
            if not active:
                return
            ready = min(available_at(enrollment) for enrollment in active)
            if ready > timezone.now():
                clock.move_to(ready)
            self.apply(("tick",), clock)
        raise AssertionError("the flow never finished")

    def expected_outcome(self, contact_id: int) -> tuple[str, str]:
        opt_in, status = self.consent[contact_id]
        if status != EmailStatus.ACTIVE:
            return Message.Status.SKIPPED, SKIP_REASONS[status]
        if not opt_in:
            return Message.Status.SKIPPED, Message.SkipReason.NO_CONSENT
        return Message.Status.SENT, ""

    def judge_new_mail(self) -> None:
        """Every message made since the last look: never for a held-out enrollment, sent exactly when the
        contact may be mailed now, and never inside the quiet hours."""
        fresh = Message.objects.filter(campaign__flow_mail__flow=self.flow, pk__gt=self.seen).order_by("pk")
        for message in fresh:
            enrollment = Enrollment.objects.get(pk=message.occurrence)
            assert enrollment.contact_id == message.contact_id
            assert not enrollment.holdout, "a held-out contact got a message"
            assert (message.status, message.skip_reason) == self.expected_outcome(message.contact_id)
            if message.status == Message.Status.SENT:
                assert message.sent_at is not None
                assert not inside_quiet_hours(message.sent_at, self.quiet), f"sent at {message.sent_at}"
            self.seen = message.pk

    def check_everyone_went_their_way(self) -> None:
        steps = self.flow.steps
        for enrollment in Enrollment.objects.filter(flow=self.flow):
            person = self.population[enrollment.contact_id]
            way = walk(steps, {"vip"} if person["vip"] else set(), person["member"])
            runs = {run.step: run for run in StepRun.objects.filter(enrollment=enrollment)}
            assert enrollment.state == Enrollment.State.COMPLETED
            assert sorted(runs) == sorted(way), "a step of its way did not run, or one off it did"
            self.check_waits(enrollment, way, runs, steps)
            mails = [path for path in way if step_at(steps, path)["type"] == "send_email"]
            messages = list(
                Message.objects.filter(occurrence=enrollment.pk).values_list("campaign__flow_mail__step", "pk")
            )
            if enrollment.holdout:
                assert messages == []
                assert all(runs[path].outcome == StepRun.Outcome.HOLDOUT for path in mails)
            else:
                assert sorted(messages) == sorted((path, runs[path].message_id) for path in mails)
                assert all(runs[path].outcome == StepRun.Outcome.SENT for path in mails)

    def check_waits(self, enrollment: Enrollment, way: list[str], runs: dict, steps: list[dict]) -> None:
        """What follows a wait ran no earlier than the wait's end (the end of the flow included). When a wait
        ends is the timing rules' to say (days on the local calendar, hours elapsed; tested on their own)."""
        for position, path in enumerate(way):
            step, began = step_at(steps, path), runs[path].ran_at
            if step["type"] == "wait":
                end = wait_end(began, step)
            elif step["type"] == "wait_until":
                end = timing.next_local_time(began, dt.time.fromisoformat(step["time"]))
            else:
                continue
            following = runs[way[position + 1]].ran_at if position + 1 < len(way) else enrollment.completed_at
            assert following >= end, f"step {path} of enrollment {enrollment.pk} ended at {following}, before {end}"

    def check_delivered(self) -> None:
        """The outbox holds each sent message's mail once, and nothing else."""
        delivered = Counter((m.to[0], m.subject) for m in mail.outbox)
        sent = Message.objects.filter(campaign__flow_mail__flow=self.flow, status=Message.Status.SENT)
        expected = Counter((m.contact.email, f"Step {m.campaign.flow_mail.step}") for m in sent)
        assert delivered == expected
        assert max(delivered.values(), default=1) == 1


@pytest.mark.django_db
def test_no_one_is_mailed_twice_unasked_at_night_or_held_out_and_everyone_else_gets_their_mails(
    django_capture_on_commit_callbacks,
):
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        population=people,
        steps=step_lists(depth=2),
        holdout_percent=st.sampled_from([0, 30, 50]),
        start=starts,
        quiet=st.sampled_from(QUIET),
        plan=moves,
    )
    # A worker is overtaken: its lease runs out, a later tick takes its claim over, then it goes on anyway.
    @example(
        population=[READER],
        steps=[{"type": "add_tag", "tag": "seen"}, {"type": "wait", "hours": 1}, {"type": "send_email"}],
        holdout_percent=0,
        start=dt.datetime(2026, 3, 10, 10, 0, tzinfo=LOCAL),
        quiet="21:00-08:00",
        plan=[("claim",), ("shift", 6), ("tick",), ("finish_claims",)],
    )
    # A tick while another worker's lease holds; a mail held past quiet hours that end in the hour skipped
    # when clocks go forward (02:30 on 27 March 2026 is 03:30).
    @example(
        population=[READER, {**READER, "opt_in": False}],
        steps=[{"type": "send_email"}, {"type": "wait", "minutes": 30}, {"type": "send_email"}],
        holdout_percent=0,
        start=dt.datetime(2026, 3, 27, 0, 10, tzinfo=LOCAL),
        quiet="23:00-02:30",
        plan=[("claim",), ("shift", 1), ("tick",), ("finish_claims",), ("shift", 200), ("tick_twice",)],
    )
    def check(population, steps, holdout_percent, start, quiet, plan):
        note(f"{population=}\n{steps=}\n{holdout_percent=}\n{start=}\n{quiet=}\n{plan=}")
        mail.outbox.clear()
        # The frequency cap has tests of its own; no generated flow mails anyone that often.
        limits = override_settings(QUIET_HOURS=quiet, FREQUENCY_CAP_COUNT=100)
        with transaction.atomic(), limits, time_machine.travel(start, tick=False) as clock:
            world = World(population, steps, holdout_percent, quiet, django_capture_on_commit_callbacks)
            for move in plan:
                world.apply(move, clock)
            world.drain(clock)
            world.check_everyone_went_their_way()
            world.check_delivered()
            transaction.set_rollback(True)

    check()
