"""The header's language switch, as a marketer uses it: from English to Hebrew and back, on a wide screen
and a phone. Screenshots go to var/screenshots/language/ (not committed) to be looked at."""

from pathlib import Path

import pytest
from django.conf import settings as django_settings

from tests.browser.session import MARKETER, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path(django_settings.BASE_DIR) / "var" / "screenshots" / "language"


@pytest.mark.parametrize("width, height", [(1440, 900), (390, 844)])
def test_the_switch_turns_the_back_office_to_hebrew_and_back(browser, live_server, django_user_model, width, height):
    django_user_model.objects.create_superuser(MARKETER[0], "m@example.com", MARKETER[1])
    context = browser.new_context(locale="en-US", viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(15000)
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        log_in(page, live_server)
        page.goto(f"{live_server.url}/admin/contacts/contact/")
        assert page.get_attribute("html", "lang") == "en"

        page.click("#user-tools .language-switch button[lang=he]")
        page.wait_for_selector("html[lang=he]")
        assert page.url.endswith("/admin/contacts/contact/")  # the same page, now in Hebrew
        assert page.get_attribute("html", "dir") == "rtl"
        assert page.locator("#user-tools .language-switch button").inner_text() == "English"
        page.screenshot(path=str(SHOTS / f"switch-he-{width}.png"))

        page.goto(f"{live_server.url}/admin/")  # the choice holds on every page
        assert page.get_attribute("html", "lang") == "he"

        page.click("#user-tools .language-switch button[lang=en]")
        page.wait_for_selector("html[lang=en]")
        assert page.get_attribute("html", "dir") == "ltr"
        page.screenshot(path=str(SHOTS / f"switch-en-{width}.png"))
    finally:
        context.close()
