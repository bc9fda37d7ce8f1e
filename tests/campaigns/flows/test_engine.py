"""The automation engine on simulated time: steps run once each, waits wait, quiet hours hold mail back,
holdout contacts are never mailed, exit rules and branches decide, paused flows hold their contacts."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail

from campaigns.flows import engine
from campaigns.flows.enrollment import enroll
from campaigns.flows.models import Enrollment, Flow, StepRun
from campaigns.models import Campaign, Message
from contacts.models import Contact, PointsEntry
from tests.factories import ContactFactory, MemberFactory

pytestmark = pytest.mark.django_db

LOCAL = ZoneInfo("Asia/Jerusalem")
NOON = dt.datetime(2026, 3, 10, 12, 0, tzinfo=LOCAL)


@pytest.fixture
def clock():
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """One engine tick, with the mail it queues sent (tasks run eagerly once the transaction commits)."""

    def tick() -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return engine.tick(seconds=5)

    return tick


@pytest.fixture
def make_flow(db):
    def make(steps, **fields) -> Flow:
        values = {"name": "Welcome", "trigger": {"type": "event", "event": "signup"}, "status": "active", **fields}
        return Flow.objects.create(steps=steps, **values)

    return make


def enroll_one(flow: Flow, contact: Contact) -> Enrollment:
    assert enroll(flow=flow, contacts=Contact.objects.filter(pk=contact.pk)) == 1
    return Enrollment.objects.get(flow=flow, contact=contact)


def test_a_series_sends_its_first_mail_at_once_and_the_next_after_the_wait(clock, run, make_flow, make_template):
    first, second = make_template(subject="Welcome"), make_template(subject="Two days on")
    flow = make_flow(
        [
            {"type": "send_email", "template": first.pk},
            {"type": "wait", "days": 2},
            {"type": "send_email", "template": second.pk},
        ]
    )
    enrollment = enroll_one(flow, ContactFactory(email="dana@example.com"))

    run()
    assert [m.subject for m in mail.outbox] == ["Welcome"]
    enrollment.refresh_from_db()
    assert (enrollment.step, enrollment.run_at) == ("2", NOON + dt.timedelta(days=2))

    clock.shift(dt.timedelta(days=2) - dt.timedelta(minutes=1))
    run()
    assert len(mail.outbox) == 1

    clock.shift(dt.timedelta(minutes=1))
    run()
    run()
    assert [m.subject for m in mail.outbox] == ["Welcome", "Two days on"]
    enrollment.refresh_from_db()
    assert enrollment.state == Enrollment.State.COMPLETED
    assert StepRun.objects.filter(enrollment=enrollment).count() == 3


def test_the_mail_is_a_message_of_the_steps_own_campaign_counted_like_any_other(clock, run, make_flow, make_template):
    flow = make_flow([{"type": "send_email", "template": make_template().pk}])
    contact = ContactFactory()
    enroll_one(flow, contact)

    run()

    message = Message.objects.get(contact=contact)
    assert message.status == Message.Status.SENT
    assert message.campaign.kind == Campaign.Kind.FLOW
    assert message.campaign.flow_mail.flow == flow
    assert StepRun.objects.get(step="0").message == message
    assert "List-Unsubscribe" in mail.outbox[0].extra_headers


def test_a_mail_due_in_quiet_hours_waits_for_their_end(run, make_flow, make_template, settings):
    settings.QUIET_HOURS = "21:00-08:00"
    flow = make_flow([{"type": "send_email", "template": make_template().pk}])
    with time_machine.travel(dt.datetime(2026, 3, 10, 22, 30, tzinfo=LOCAL), tick=False) as clock:
        enrollment = enroll_one(flow, ContactFactory())
        run()
        assert mail.outbox == []
        enrollment.refresh_from_db()
        assert enrollment.run_at == dt.datetime(2026, 3, 11, 8, 0, tzinfo=LOCAL)

        clock.move_to(dt.datetime(2026, 3, 11, 8, 0, tzinfo=LOCAL))
        run()
    assert len(mail.outbox) == 1


def test_holdout_contacts_go_through_the_flow_but_are_never_mailed(clock, run, make_flow, make_template):
    flow = make_flow([{"type": "send_email", "template": make_template().pk}, {"type": "add_tag", "tag": "seen"}])
    enrollment = enroll_one(flow, ContactFactory())
    Enrollment.objects.filter(pk=enrollment.pk).update(holdout=True)

    run()

    assert mail.outbox == []
    assert not Message.objects.exists()
    assert StepRun.objects.get(step="0").outcome == StepRun.Outcome.HOLDOUT
    enrollment.refresh_from_db()
    assert enrollment.state == Enrollment.State.COMPLETED
    assert enrollment.contact.tags.filter(name="seen").exists()


def test_a_holdout_share_is_drawn_the_same_way_every_time(clock, make_flow):
    flow = make_flow([{"type": "wait", "days": 1}], holdout_percent=20)
    ContactFactory.create_batch(400)

    enroll(flow=flow, contacts=Contact.objects.all())

    held = set(Enrollment.objects.filter(flow=flow, holdout=True).values_list("contact_id", flat=True))
    assert 40 <= len(held) <= 120
    Enrollment.objects.filter(flow=flow).update(state=Enrollment.State.COMPLETED)
    flow.reentry = Flow.Reentry.ALWAYS
    flow.save()
    enroll(flow=flow, contacts=Contact.objects.all())
    again = set(Enrollment.objects.filter(flow=flow, holdout=True, state="active").values_list("contact_id", flat=True))
    assert again == held


def test_exit_rules_are_checked_before_every_step(clock, run, make_flow, make_template):
    flow = make_flow(
        [{"type": "wait", "hours": 1}, {"type": "send_email", "template": make_template().pk}],
        exit_rules={"field": "tag", "op": "has", "value": "bought"},
    )
    contact = ContactFactory()
    enrollment = enroll_one(flow, contact)
    run()
    contact.tags.add(*__import__("contacts.services", fromlist=["x"]).tags_get_or_create(["bought"]))

    clock.shift(dt.timedelta(hours=1))
    run()

    enrollment.refresh_from_db()
    assert (enrollment.state, enrollment.exit_reason) == (Enrollment.State.EXITED, "exit_rules")
    assert mail.outbox == []


def test_a_branch_sends_each_contact_down_its_side(clock, run, make_flow):
    flow = make_flow(
        [
            {
                "type": "branch",
                "rules": {"field": "city", "op": "eq", "value": "Haifa"},
                "yes": [{"type": "add_tag", "tag": "north"}],
                "no": [{"type": "add_tag", "tag": "elsewhere"}, {"type": "exit"}],
            },
            {"type": "add_tag", "tag": "after"},
        ]
    )
    haifa, eilat = ContactFactory(city="Haifa"), ContactFactory(city="Eilat")
    enroll(flow=flow, contacts=Contact.objects.all())

    run()

    assert set(haifa.tags.values_list("name", flat=True)) == {"north", "after"}
    assert set(eilat.tags.values_list("name", flat=True)) == {"elsewhere"}
    states = dict(Enrollment.objects.values_list("contact_id", "exit_reason"))
    assert states == {haifa.pk: "", eilat.pk: "exit_step"}


def test_points_are_awarded_once_to_members_and_skipped_for_others(clock, run, make_flow):
    flow = make_flow([{"type": "award_points", "points": 50, "reason": "Birthday"}])
    member = MemberFactory(contact=ContactFactory())
    outsider = ContactFactory()
    enroll(flow=flow, contacts=Contact.objects.all())

    run()
    run()

    assert PointsEntry.objects.filter(member=member).values_list("delta", flat=True).get() == 50
    assert StepRun.objects.get(enrollment__contact=outsider).detail == "not_a_member"


def test_a_step_that_already_ran_is_not_run_again_when_its_enrollment_is_retried(clock, run, make_flow, make_template):
    flow = make_flow([{"type": "send_email", "template": make_template().pk}, {"type": "add_tag", "tag": "done"}])
    enrollment = enroll_one(flow, ContactFactory())
    # A worker recorded the mail step and died before moving the enrollment on.
    StepRun.objects.create(enrollment=enrollment, flow=flow, step="0", outcome=StepRun.Outcome.SENT)

    run()

    assert mail.outbox == []
    enrollment.refresh_from_db()
    assert enrollment.state == Enrollment.State.COMPLETED
    assert enrollment.contact.tags.filter(name="done").exists()


def test_a_paused_flow_holds_its_contacts_and_resuming_continues(clock, run, make_flow, make_template):
    flow = make_flow([{"type": "wait", "hours": 1}, {"type": "send_email", "template": make_template().pk}])
    enrollment = enroll_one(flow, ContactFactory())
    run()
    Flow.objects.filter(pk=flow.pk).update(status=Flow.Status.PAUSED)

    clock.shift(dt.timedelta(hours=2))
    run()
    assert mail.outbox == []

    Flow.objects.filter(pk=flow.pk).update(status=Flow.Status.ACTIVE)
    run()
    assert len(mail.outbox) == 1
    enrollment.refresh_from_db()
    assert enrollment.state == Enrollment.State.COMPLETED


def test_consent_and_the_frequency_cap_apply_unless_the_flow_bypasses_the_cap(
    clock, run, make_flow, make_template, settings
):
    settings.FREQUENCY_CAP_COUNT = 1
    template = make_template()
    capped = make_flow([{"type": "send_email", "template": template.pk}], name="Capped")
    bypass = make_flow([{"type": "send_email", "template": template.pk}], name="Bypass", bypass_frequency_cap=True)
    no_consent = ContactFactory(email_opt_in=False)
    reader = ContactFactory()
    enroll(flow=capped, contacts=Contact.objects.all())
    run()
    assert Message.objects.get(contact=no_consent).skip_reason == Message.SkipReason.NO_CONSENT
    assert Message.objects.get(contact=reader).status == Message.Status.SENT

    second = make_flow([{"type": "send_email", "template": template.pk}], name="Second")
    enroll(flow=second, contacts=Contact.objects.filter(pk=reader.pk))
    enroll(flow=bypass, contacts=Contact.objects.filter(pk=reader.pk))
    run()

    statuses = dict(
        Message.objects.filter(contact=reader).values_list("campaign__flow_mail__flow__name", "skip_reason")
    )
    assert statuses == {"Capped": "", "Second": Message.SkipReason.FREQUENCY_CAP, "Bypass": ""}


def test_a_wait_at_the_end_completes_the_flow_when_it_is_over(clock, run, make_flow):
    flow = make_flow([{"type": "add_tag", "tag": "x"}, {"type": "wait", "days": 1}])
    enrollment = enroll_one(flow, ContactFactory())
    run()
    enrollment.refresh_from_db()
    assert enrollment.state == Enrollment.State.ACTIVE

    clock.shift(dt.timedelta(days=1))
    run()
    enrollment.refresh_from_db()
    assert enrollment.state == Enrollment.State.COMPLETED


def test_a_contact_has_one_open_enrollment_per_flow(clock, make_flow):
    flow = make_flow([{"type": "wait", "days": 1}], reentry=Flow.Reentry.ALWAYS)
    contact = ContactFactory()
    assert enroll(flow=flow, contacts=Contact.objects.filter(pk=contact.pk)) == 1
    assert enroll(flow=flow, contacts=Contact.objects.filter(pk=contact.pk)) == 0


def test_only_an_active_flow_enrolls(make_flow):
    for status in (Flow.Status.DRAFT, Flow.Status.PAUSED, Flow.Status.ARCHIVED):
        flow = make_flow([{"type": "wait", "days": 1}], status=status)
        assert enroll(flow=flow, contacts=Contact.objects.filter(pk=ContactFactory().pk)) == 0
