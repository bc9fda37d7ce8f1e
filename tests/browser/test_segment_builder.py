import pytest
from playwright.sync_api import expect

from contacts import ingest
from segments.models import Segment
from tests.factories import ContactFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_marketer_builds_nests_previews_and_saves_a_segment(logged_in, live_server):
    page = logged_in
    buyer = ContactFactory(city="Haifa")
    ContactFactory(city="Haifa")
    ContactFactory(city="Eilat")
    ingest.purchase_ingest(data={"contact": buyer.pk, "external_id": "b-1", "total": "80"})

    page.goto(f"{live_server.url}/admin/segments/segment/add/")
    page.fill("#id_name", "Haifa buyers")
    page.click("#segment-builder .sb-add-condition")
    page.select_option("#segment-builder .sb-condition .sb-field", "city")
    page.fill("#segment-builder .sb-condition .sb-value", "haifa")

    page.click("#segment-builder > fieldset > .sb-buttons .sb-add-group")
    nested = page.locator("#segment-builder .sb-children .sb-group").first
    nested.locator(".sb-group-kind").select_option("any")
    nested.locator(".sb-field").select_option("purchase_count")
    nested.locator(".sb-op").select_option("gte")
    nested.locator(".sb-value").fill("1")

    expect(page.locator(".sb-count-number")).to_have_text("1")
    assert buyer.email in page.inner_text(".sb-preview-table")

    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")
    segment = Segment.objects.get(name="Haifa buyers")
    assert segment.rules == {
        "all": [
            {"field": "city", "op": "eq", "value": "haifa"},
            {"any": [{"field": "purchase_count", "op": "gte", "value": 1}]},
        ]
    }
    assert segment.member_count == 1


def test_the_builder_shows_server_errors_and_reloads_saved_rules(logged_in, live_server):
    page = logged_in
    segment = Segment.objects.create(
        name="Saved", rules={"not": {"any": [{"field": "club_tier", "op": "in", "value": ["gold"]}]}}
    )
    page.goto(f"{live_server.url}/admin/segments/segment/{segment.pk}/change/")
    assert page.locator("#segment-builder .sb-group-kind").first.input_value() == "none"
    assert page.locator("#segment-builder .sb-field").first.input_value() == "club_tier"

    page.click("#segment-builder > fieldset > .sb-buttons .sb-add-condition")
    page.locator("#segment-builder .sb-field").last.select_option("age")
    page.locator("#segment-builder .sb-op").last.select_option("between")
    page.wait_for_selector("#segment-builder .sb-condition.sb-invalid .sb-row-error")
    assert page.inner_text("#segment-builder .sb-row-error").startswith("Row 2 — Age: enter two numbers")
