"""Enrollments in the back office: a read-only list with each contact's step in words, filters and search,
the steps an enrollment went through, and a contact's automations on the contact page."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaigns.flows import engine
from campaigns.flows.enrollment import enroll
from campaigns.flows.models import Enrollment, Flow
from contacts.models import Contact
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

NOON = dt.datetime(2026, 3, 10, 12, 0, tzinfo=ZoneInfo("Asia/Jerusalem"))
HOSTILE = "<script>alert(1)</script>"
CHANGELIST = "admin:flows_enrollment_changelist"


def make_flow(steps, name="Birthday") -> Flow:
    trigger = {"type": "event", "event": "signup"}
    return Flow.objects.create(name=name, trigger=trigger, steps=steps, status=Flow.Status.ACTIVE)


def changelist(client, **params):
    return client.get(reverse(CHANGELIST), params)


def listed(response) -> set[int]:
    assert response.status_code == 200
    return {enrollment.pk for enrollment in response.context["cl"].result_list}


def change_url(enrollment: Enrollment) -> str:
    return reverse("admin:flows_enrollment_change", args=[enrollment.pk])


@pytest.fixture
def birthday(make_template, django_capture_on_commit_callbacks):
    """Two contacts tagged, mailed and now waiting two days before their points; a third left another flow."""
    flow = make_flow(
        [
            {"type": "add_tag", "tag": "vip"},
            {"type": "send_email", "template": make_template(name="Birthday").pk},
            {"type": "wait", "days": 2},
            {"type": "award_points", "points": 100, "reason": "Gift"},
        ]
    )
    other = make_flow([{"type": "exit"}], name="Welcome")
    with time_machine.travel(NOON, tick=False):
        ContactFactory(email="dana@example.com", phone="+972501234567")
        ContactFactory(email="noa@example.com")
        enroll(flow=flow, contacts=Contact.objects.all())
        leaver = ContactFactory(email="tal@example.com")
        enroll(flow=other, contacts=Contact.objects.filter(pk=leaver.pk))
        with django_capture_on_commit_callbacks(execute=True):
            engine.tick(seconds=5)
    return flow


def test_the_list_names_each_contacts_step_in_words(login, birthday):
    response = changelist(login("Marketer"))

    page = response.content.decode()
    assert page.count("Award 100 points") == 2
    assert "dana@example.com" in page and "tal@example.com" in page
    assert "Reached an exit step" in page
    assert len(listed(response)) == 3


def test_the_list_filters_by_flow_state_holdout_and_entered_date(login, birthday):
    client = login("Marketer")
    ours = set(Enrollment.objects.filter(flow=birthday).values_list("pk", flat=True))
    exited = set(Enrollment.objects.filter(state="exited").values_list("pk", flat=True))
    Enrollment.objects.filter(pk=min(ours)).update(holdout=True, entered_at=NOON - dt.timedelta(days=40))

    assert listed(changelist(client, flow__id__exact=birthday.pk)) == ours
    assert listed(changelist(client, state__exact="exited")) == exited
    assert listed(changelist(client, holdout__exact="1")) == {min(ours)}
    week = {"entered_at__gte": str(NOON - dt.timedelta(days=7)), "entered_at__lt": str(NOON + dt.timedelta(days=1))}
    this_week = listed(changelist(client, **week))
    assert min(ours) not in this_week and max(ours) in this_week


def test_the_list_finds_a_contact_by_email_or_phone(login, birthday):
    client = login("Marketer")
    dana = Enrollment.objects.get(contact__email="dana@example.com")

    assert listed(changelist(client, q="DANA@example.com")) == {dana.pk}
    assert listed(changelist(client, q="050-123-4567")) == {dana.pk}
    assert listed(changelist(client, q="nobody@example.com")) == set()


def test_a_page_of_enrollments_costs_the_same_queries_for_more_flows(login, birthday, make_template):
    client = login("Marketer")
    changelist(client)  # the session and permissions are cached from here on
    with CaptureQueriesContext(connection) as few:
        changelist(client)
    for number in range(4):
        flow = make_flow([{"type": "send_email", "template": make_template(name=f"Mail {number}").pk}])
        enroll(flow=flow, contacts=Contact.objects.filter(email="noa@example.com"), run_at=NOON + dt.timedelta(days=9))
    with CaptureQueriesContext(connection) as more:
        response = changelist(client)

    assert "Send “Mail 3”" in response.content.decode()
    assert len(more.captured_queries) == len(few.captured_queries)


def test_the_page_of_an_enrollment_shows_the_steps_it_went_through(login, birthday):
    enrollment = Enrollment.objects.get(contact__email="dana@example.com")

    page = login("Marketer").get(change_url(enrollment)).content.decode()

    history = page[page.index("enrollment-history") :]
    for text in ("Add tag vip", "Send “Birthday”", "Wait 2 days", "Mail queued", "Sent"):
        assert text in history
    assert history.index("Add tag vip") < history.index("Send “Birthday”") < history.index("Wait 2 days")
    template_id = enrollment.step_runs.get(step="1").message.campaign.template_id
    assert (
        f"{reverse('admin:campaigns_emailtemplate_preview', args=[template_id])}?contact={enrollment.contact_id}"
        in (history)
    )


@pytest.mark.parametrize("role", ["Marketer", "Analyst"])
def test_enrollments_are_read_only_for_everyone(login, birthday, role):
    client = login(role)
    enrollment = Enrollment.objects.get(contact__email="dana@example.com")

    page = client.get(change_url(enrollment))
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert changelist(client).status_code == 200
    assert client.post(change_url(enrollment), {"state": "exited"}).status_code == 403
    assert client.get(reverse("admin:flows_enrollment_add")).status_code == 403
    assert (
        client.post(reverse("admin:flows_enrollment_delete", args=[enrollment.pk]), {"post": "yes"}).status_code == 403
    )
    enrollment.refresh_from_db()
    assert enrollment.state == Enrollment.State.ACTIVE


def test_a_superuser_cannot_change_an_enrollment_either(admin_client, birthday):
    enrollment = Enrollment.objects.get(contact__email="dana@example.com")

    assert admin_client.post(change_url(enrollment), {"state": "exited"}).status_code == 403
    assert "delete_selected" not in changelist(admin_client).content.decode()


# ---------------------------------------------------------------- the contact page


def contact_page(client, contact) -> str:
    response = client.get(reverse("admin:contacts_contact_change", args=[contact.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_contact_page_shows_its_automations_and_where_it_is(admin_client, birthday):
    dana = Contact.objects.get(email="dana@example.com")

    page = contact_page(admin_client, dana)

    section = page[page.index('id="section-flows"') :]
    assert "Automations" in section and "Birthday" in section and "In the flow" in section
    assert "Award 100 points" in section
    assert f"?contact__id__exact={dana.pk}" in section


def test_the_contact_page_escapes_a_hostile_flow_name(admin_client, birthday):
    Flow.objects.filter(pk=birthday.pk).update(name=HOSTILE)
    dana = Contact.objects.get(email="dana@example.com")

    page = contact_page(admin_client, dana)

    assert HOSTILE not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page[page.index('id="section-flows"') :]


def test_the_contact_page_shows_automations_only_to_who_may_see_them(login, birthday):
    dana = Contact.objects.get(email="dana@example.com")

    assert 'id="section-flows"' not in contact_page(login("Staff"), dana)


def test_an_analyst_sees_the_automations_of_a_contact(login, birthday):
    tal = Contact.objects.get(email="tal@example.com")

    section = contact_page(login("Analyst"), tal).split('id="section-flows"')[1]

    assert "Welcome" in section and "Exited" in section
