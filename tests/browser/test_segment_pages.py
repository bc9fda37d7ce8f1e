"""The segment builder and the why-page as a marketer sees them, in English and Hebrew, on a wide screen
and a phone. Screenshots go to var/screenshots/segments/ (not committed) to be looked at."""

from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from playwright.sync_api import expect

from segments import services
from tests.browser.session import MARKETER, log_in
from tests.factories import ContactFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path(django_settings.BASE_DIR) / "var" / "screenshots" / "segments"
SIZES = [(1440, 900), (390, 844)]


@pytest.fixture
def open_page(browser, live_server, django_user_model):
    django_user_model.objects.create_superuser(MARKETER[0], "m@example.com", MARKETER[1])
    contexts = []
    SHOTS.mkdir(parents=True, exist_ok=True)

    def open_(language, width, height):
        context = browser.new_context(locale="en-US", viewport={"width": width, "height": height})
        contexts.append(context)
        context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
        page = context.new_page()
        page.set_default_timeout(15000)
        log_in(page, live_server)
        return page

    yield open_
    for context in contexts:
        context.close()


@pytest.mark.parametrize("language", ["en", "he"])
@pytest.mark.parametrize("width, height", SIZES)
def test_the_count_follows_the_rules_as_they_are_typed(open_page, live_server, language, width, height):
    for city in ("Haifa", "Haifa", "Eilat"):
        ContactFactory(city=city)
    page = open_page(language, width, height)
    page.goto(f"{live_server.url}/admin/segments/segment/add/")
    page.click("#segment-builder > fieldset > .sb-buttons .sb-add-condition")
    page.select_option("#segment-builder .sb-field", "city")
    page.type("#segment-builder .sb-value", "Hai")
    expect(page.locator(".sb-count-number")).to_have_text("0")
    page.type("#segment-builder .sb-value", "fa")
    expect(page.locator(".sb-count-number")).to_have_text("2")
    page.wait_for_selector("#segment-builder datalist.sb-suggestions option[value='Haifa']", state="attached")

    page.click("#segment-builder > fieldset > .sb-buttons .sb-add-condition")
    page.locator("#segment-builder .sb-field").last.select_option("purchase_count")
    page.locator("#segment-builder .sb-value").last.fill("-3")
    error = page.wait_for_selector("#segment-builder .sb-condition.sb-invalid .sb-row-error")
    assert "2 — " in error.inner_text()  # the row's number, then what is wrong with it
    page.screenshot(path=str(SHOTS / f"builder-{language}-{width}.png"), full_page=True)

    page.select_option("#segment-starter", "funnel_purchaser")
    assert page.locator("#segment-builder .sb-field").first.input_value() == "funnel_stage"
    expect(page.locator(".sb-count-number")).to_have_text("0")


@pytest.mark.parametrize("language", ["en", "he"])
@pytest.mark.parametrize("width, height", SIZES)
def test_the_segment_page_and_the_why_page_read_plainly(open_page, live_server, language, width, height):
    contact = ContactFactory(
        city="Haifa",
        first_name="Dana",
        email="dana.with.a.rather.long.address.for.a.phone@example-shop.co.il",
        purchase_count=3,
        total_spent=Decimal("1240"),
        last_purchase_at=timezone.now() - timezone.timedelta(days=210),
    )
    ContactFactory(city="Haifa")
    segment = services.segment_create(name="Haifa people", rules={"field": "city", "op": "eq", "value": "Haifa"})
    services.segment_create(
        name="Big spenders",
        rules={
            "all": [
                {"field": "total_spent", "op": "gte", "value": 2000},
                {"field": "city", "op": "eq", "value": "Haifa"},
            ]
        },
    )
    page = open_page(language, width, height)
    page.goto(f"{live_server.url}/admin/segments/segment/{segment.pk}/change/")
    page.wait_for_selector(".sb-count-number")
    assert page.locator("svg.sb-chart text.sb-tick").count() == 6
    page.screenshot(path=str(SHOTS / f"segment-{language}-{width}.png"), full_page=True)
    overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1  # a wide table scrolls inside its box; the page itself is never wider than the screen
    page.locator(".sb-size").screenshot(path=str(SHOTS / f"chart-{language}-{width}.png"))

    page.goto(f"{live_server.url}/admin/segments/segment/why/{contact.pk}/")
    names = page.locator(".sb-why-name")
    assert names.all_inner_texts() == ["Haifa people", "Big spenders"]
    assert names.first.evaluate("e => getComputedStyle(e).color") != names.first.evaluate(
        "e => getComputedStyle(e).backgroundColor"
    )
    if language == "en":
        assert "spent ₪1,240 of ₪2,000" in page.inner_text(".sb-why")
    page.screenshot(path=str(SHOTS / f"why-{language}-{width}.png"), full_page=True)
