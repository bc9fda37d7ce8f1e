"""The builder offers RFM, custom-date and child-age conditions with their pickers, in English and Hebrew,
on a desktop and a phone; screenshots go to var/screenshots/ (not committed) to be looked at."""

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from contacts.models import CustomField
from segments.models import Segment
from tests.browser.session import log_in
from tests.factories import ContactFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = Path(os.environ.get("SCREENSHOT_DIR", "var/screenshots"))


@pytest.fixture
def marketer(django_user_model):
    django_user_model.objects.create_superuser("marketer", "m@example.com", "pw-Marketer-1")
    CustomField.objects.create(key="pet_birthday", label="Pet's birthday", type=CustomField.Type.DATE)
    CustomField.objects.create(key="child_birth", label="Child's birth date", type=CustomField.Type.DATE)
    CustomField.objects.create(key="shoe_size", label="Shoe size", type=CustomField.Type.NUMBER)
    ContactFactory(rfm_recency=5, rfm_frequency=5, attributes={"child_birth": "2024-01-10"})
    ContactFactory(rfm_recency=1, rfm_frequency=1)


def _open(browser, live_server, language: str, width: int):
    context = browser.new_context(
        locale="he-IL" if language == "he" else "en-US", viewport={"width": width, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(15000)
    log_in(page, live_server)
    page.goto(f"{live_server.url}/admin/segments/segment/add/")
    return context, page


def _add(page, field: str):
    page.click("#segment-builder > fieldset > .sb-buttons .sb-add-condition")
    row = page.locator("#segment-builder .sb-condition").last
    row.locator(".sb-field").select_option(field)
    return page.locator("#segment-builder .sb-condition").last


@pytest.mark.parametrize("width", [1440, 390])
@pytest.mark.parametrize("language", ["en", "he"])
def test_the_builder_offers_rfm_custom_dates_and_child_ages(browser, live_server, marketer, language, width):
    context, page = _open(browser, live_server, language, width)
    try:
        assert page.get_attribute("html", "lang") == language
        page.fill("#id_name", f"Families {language} {width}")
        page.select_option("#segment-builder .sb-group-kind", "any")

        champions = _add(page, "rfm_segment")
        champions.locator(".sb-value").select_option("champions")

        child = _add(page, "child_age")
        child.locator(".sb-op").select_option("in")
        child = page.locator("#segment-builder .sb-condition").last
        child.locator(".sb-value").select_option(["baby", "toddler"])
        keys = child.locator(".sb-key option").all_inner_texts()
        assert keys == ["Child's birth date", "Pet's birthday"], "only date fields are offered"
        child.locator(".sb-key").select_option("child_birth")

        pet = _add(page, "attribute_date")
        pet.locator(".sb-op").select_option("anniversary_in_next_days")
        pet = page.locator("#segment-builder .sb-condition").last
        pet.locator(".sb-value").fill("7")
        pet.locator(".sb-key").select_option("pet_birthday")

        score = _add(page, "rfm_monetary")
        score.locator(".sb-op").select_option("between")
        score = page.locator("#segment-builder .sb-condition").last
        assert score.locator(".sb-value-0").get_attribute("max") == "5"
        score.locator(".sb-value-0").fill("4")
        score.locator(".sb-value-1").fill("5")

        expect(page.locator(".sb-count-number")).to_have_text("1")  # counted as the rules change
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"segment-builder-new-conditions-{language}-{width}.png"), full_page=True)

        page.click("input[name=_save]")
        page.wait_for_selector(".messagelist .success")
        rules = Segment.objects.get(name=f"Families {language} {width}").rules
        assert [c["field"] for c in rules["any"]] == ["rfm_segment", "child_age", "attribute_date", "rfm_monetary"]
        assert rules["any"][1] == {"field": "child_age", "op": "in", "value": ["baby", "toddler"], "key": "child_birth"}
    finally:
        context.close()
