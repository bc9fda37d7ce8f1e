"""The preference centre in headless Chromium, in English and in Hebrew (right to left), on a desktop and a
phone width: reached from the unsubscribe page, a frequency picked and saved, the choice stored and logged;
nothing sticks out sideways on a phone. Screenshots go to the artifact folder (BROWSER_ARTIFACTS, default
var/screenshots/), not to the repository."""

import os
from pathlib import Path

import pytest
from django.conf import settings

from campaigns.models import Campaign, EmailTemplate, Message
from campaigns.tokens import message_token
from contacts.models import ConsentEvent, Contact
from tests.factories import ContactFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
ARTIFACTS = Path(os.environ.get("BROWSER_ARTIFACTS", Path(settings.BASE_DIR) / "var" / "screenshots"))
WIDTHS = {"desktop": (1440, 900), "phone": (390, 844)}


def make_message(language: str) -> Message:
    contact = ContactFactory(
        email="dana.levi@example.com", first_name="דנה" if language == "he" else "Dana", language=language
    )
    template = EmailTemplate.objects.create(name="Sale", subject="Sale", html="<p>Sale</p>", language=language)
    campaign = Campaign.objects.create(name="Sale", template=template, status=Campaign.Status.SENT)
    return Message.objects.create(campaign=campaign, contact=contact, status=Message.Status.SENT)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("language", ["en", "he"])
def test_a_reader_picks_how_often_to_hear_from_us(browser, live_server, language, width):
    message = make_message(language)
    context = browser.new_context(locale="en-US", viewport=dict(zip(("width", "height"), WIDTHS[width], strict=True)))
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("response", lambda answer: problems.append(answer.url) if answer.status >= 400 else None)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = f"preference-centre-{language}-{width}"
    try:
        page.goto(f"{live_server.url}/u/{message_token(message.pk)}/")
        page.screenshot(path=str(ARTIFACTS / f"unsubscribe-confirm-{language}-{width}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.click("#preferences-link")
        page.wait_for_selector("#preferences-form")
        assert page.get_attribute("html", "dir") == ("rtl" if language == "he" else "ltr")
        assert page.inner_text("bdi") == "dana.levi@example.com"
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.screenshot(path=str(ARTIFACTS / f"{shot}.png"), full_page=True)

        page.check("input[value=monthly]")
        page.click("#preferences-save")
        page.wait_for_selector("#preferences-saved")
        assert page.is_checked("input[value=monthly]")
        page.screenshot(path=str(ARTIFACTS / f"{shot}-saved.png"), full_page=True)
    finally:
        context.close()
    assert Contact.objects.get(pk=message.contact_id).mail_frequency == "monthly"
    event = ConsentEvent.objects.get(contact_id=message.contact_id)
    assert event.mail_frequency == "monthly" and "dana.levi@example.com" in event.text_shown
    assert problems == []
