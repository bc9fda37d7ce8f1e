"""The flow builder in headless Chromium: a marketer builds a flow visually (trigger, wait, mail, branch with
a rule), sees the server's error on the step it names, saves it; and turns a ready-made flow into an active
one in two clicks."""

import pytest
from django.utils import timezone

from campaigns.flows import engine, triggers
from campaigns.flows.models import Enrollment, Flow
from campaigns.services import template_create
from contacts.models import PointsEntry
from tests.campaigns.conftest import SmtpSink
from tests.factories import ContactFactory, MemberFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TOP = "#content-main .fb-builder.fb-steps > .fb-list"


def add_step(page, kind: str, within: str = TOP) -> None:
    page.select_option(f"{within} > .fb-add .fb-new-type", kind)
    page.click(f"{within} > .fb-add .fb-add-step")


def test_a_marketer_builds_a_flow_in_the_visual_builder_and_saves_it(logged_in, live_server):
    page = logged_in
    template = template_create(name="Cart reminder", subject="Still there?", html="<p>Come back</p>", language="en")

    page.goto(f"{live_server.url}/admin/flows/flow/add/")
    assert not page.is_visible("#id_steps")  # the JSON stays behind "Edit as JSON"
    page.fill("#id_name", "Cart rescue")
    page.select_option(".fb-trigger-type", "event")
    page.select_option(".fb-builder.fb-trigger .fb-event", "add_to_cart")

    add_step(page, "wait")
    page.fill(f"{TOP} > .fb-step-wait .fb-wait-amount", "2")
    page.select_option(f"{TOP} > .fb-step-wait .fb-wait-unit", "hours")
    add_step(page, "send_email")
    add_step(page, "branch")
    branch = page.locator(f"{TOP} > .fb-step-branch")
    branch.locator(".fb-rules .sb-add-condition").first.click()
    branch.locator(".fb-rules .sb-field").select_option("tag")
    branch.locator(".fb-rules .sb-value").fill("vip")

    page.click("input[name=_save]")  # the mail step has no template yet
    page.wait_for_selector(".errornote")
    mail = page.locator(f"{TOP} > .fb-step-send_email")
    assert "fb-has-error" in mail.get_attribute("class")
    assert "fb-invalid" in mail.locator(".fb-template").get_attribute("class")
    assert "Step 2 (template)" in page.inner_text(".field-steps .errorlist")

    mail.locator(".fb-template").select_option(str(template.pk))
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")

    flow = Flow.objects.get(name="Cart rescue")
    assert flow.status == "draft"
    assert flow.trigger == {"type": "event", "event": "add_to_cart"}
    assert flow.steps == [
        {"type": "wait", "hours": 2},
        {"type": "send_email", "template": template.pk},
        {"type": "branch", "rules": {"all": [{"field": "tag", "op": "has", "value": "vip"}]}, "yes": [], "no": []},
    ]

    page.goto(f"{live_server.url}/admin/flows/flow/{flow.pk}/change/")
    assert page.locator(f"{TOP} > .fb-step").count() == 3
    assert page.input_value(f"{TOP} > .fb-step-wait .fb-wait-amount") == "2"
    page.click(".field-trigger .fb-json-toggle")  # the trigger as JSON, and back to the visual builder
    page.fill("#id_trigger", '{"type": "purchase", "channel": "online"}')
    page.click(".field-trigger .fb-json-toggle")
    assert page.input_value(".fb-trigger-type") == "purchase"
    assert page.input_value(".fb-builder.fb-trigger .fb-channel") == "online"
    page.click(f"{TOP} > .fb-step-wait .fb-down")  # the wait moves below the mail
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")
    flow.refresh_from_db()
    assert flow.trigger == {"type": "purchase", "channel": "online"}
    assert [step["type"] for step in flow.steps] == ["send_email", "wait", "branch"]


@pytest.fixture
def sink(settings):
    sink = SmtpSink().start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = sink.host, sink.port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.QUIET_HOURS = ""  # whatever the hour the suite runs at
    yield sink
    sink.stop()


def test_a_ready_made_flow_is_active_in_two_clicks(logged_in, live_server, sink):
    page = logged_in
    page.goto(f"{live_server.url}/admin/flows/flow/")
    page.click(".flow-presets-link")

    page.click("#flow-preset-birthday button[type=submit]")
    page.wait_for_selector(".messagelist .success")
    assert "Draft created" in page.inner_text(".messagelist")
    page.click(".flow-status-form button.flow-activate")
    page.wait_for_selector(".flow-status[data-status=active]")

    flow = Flow.objects.get(preset="birthday")
    assert flow.status == "active"
    assert flow.trigger["type"] == "date"

    # A member whose birthday is today enters at the day's run, and at 09:00 gets points and the mail.
    today = timezone.localdate()
    dana = ContactFactory(
        first_name="דנה", email="dana@example.com", language="he", birth_date=today.replace(year=1992)
    )
    MemberFactory(contact=dana)
    assert triggers.enroll_date_flows(today) == 1
    Enrollment.objects.filter(flow=flow).update(run_at=timezone.now())  # as if 09:00 had come
    engine.tick(seconds=5)

    page.reload()
    mail_row = page.locator('tr.flow-step-row[data-step="1.no.0"]')  # Hebrew speakers: the "no" side
    assert mail_row.locator("td").nth(4).inner_text() == "1"  # sent
    assert page.inner_text(".flow-entered") == "1"
    assert PointsEntry.objects.filter(member__contact=dana, delta=50).count() == 1
    [received] = sink.messages
    assert received["To"] == "dana@example.com"
    assert "דנה" in str(received["Subject"])
