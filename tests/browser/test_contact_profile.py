"""The contact profile in headless Chromium, in Hebrew and English, wide and phone-sized: the summary header
above the fold, tabs by mouse and keyboard with the chosen one kept in the address, typed custom fields saved
from the "Edit" tab, and the contacts list's empty search state. Screenshots go to
var/screenshots/contact-profile/ (not committed) to be looked at."""

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.utils import timezone

from contacts import services
from contacts.models import Contact, CustomField
from segments import services as segment_services
from segments.models import Segment
from tests.browser.session import log_in
from tests.factories import ActivityFactory, ContactFactory, MemberFactory, PurchaseFactory, StoreFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = Path(settings.BASE_DIR) / "var" / "screenshots" / "contact-profile"
SIZES = {"wide": (1440, 900), "narrow": (390, 844)}
PEOPLE = {
    "he": {"first_name": "נועה", "last_name": "כהן", "city": "חיפה", "store": "סניף הכרמל", "list": "לקוחות VIP"},
    "en": {
        "first_name": "Noa",
        "last_name": "Cohen",
        "city": "Haifa",
        "store": "Carmel branch",
        "list": "VIP customers",
    },
}


def a_customer(language: str) -> Contact:
    person = PEOPLE[language]
    contact = ContactFactory(
        email="noa.cohen@example.com",
        phone="+972521234567",
        first_name=person["first_name"],
        last_name=person["last_name"],
        city=person["city"],
        sms_opt_in=False,
        attributes={"shoe_size": 38, "pet": "dog", "shop_segment": "A"},
    )
    store = StoreFactory(name=person["store"])
    now = timezone.now()
    for days, total in ((3, "420.00"), (40, "180.50"), (95, "99.90")):
        PurchaseFactory(contact=contact, store=store, total=Decimal(total), purchased_at=now - dt.timedelta(days=days))
    ActivityFactory(contact=contact, type="product_view", occurred_at=now - dt.timedelta(days=1))
    services.contacts_refresh_purchase_stats(contact_ids=[contact.pk])
    member = MemberFactory(contact=contact, card_number="7700123", tier="gold")
    services.points_adjust(member=member, delta=350, reason="Welcome bonus")
    CustomField.objects.create(key="shoe_size", label="Shoe size", type=CustomField.Type.NUMBER)
    CustomField.objects.create(key="pet", label="Pet", type=CustomField.Type.CHOICE, choices=["dog", "cat"])
    CustomField.objects.create(key="wedding_day", label="Wedding day", type=CustomField.Type.DATE)
    CustomField.objects.create(key="vip", label="VIP", type=CustomField.Type.BOOLEAN)
    vips = segment_services.segment_create(name=person["list"], kind=Segment.Kind.STATIC)
    segment_services.static_add(segment=vips, contact_ids=[contact.pk])
    return contact


@pytest.fixture
def marketer_page(browser, live_server, django_user_model):
    user = django_user_model.objects.create_user("mara", "mara@example.com", "pw-Marketer-1", is_staff=True)
    user.groups.add(Group.objects.get(name="Marketer"))

    def open_as(language: str, size: str):
        width, height = SIZES[size]
        context = browser.new_context(locale="en-US", viewport={"width": width, "height": height})
        context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": live_server.url}])
        page = context.new_page()
        page.set_default_timeout(15000)
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
        page.on("response", lambda answer: problems.append(answer.url) if answer.status >= 400 else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        log_in(page, live_server, "mara")
        page.problems = problems
        return page

    return open_as


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


@pytest.mark.parametrize("language", ["he", "en"])
@pytest.mark.parametrize("size", ["wide", "narrow"])
def test_a_marketer_reads_a_contact_profile_and_edits_it(marketer_page, live_server, language, size):
    contact = a_customer(language)
    page = marketer_page(language, size)
    height = SIZES[size][1]
    page.goto(f"{live_server.url}/admin/contacts/contact/{contact.pk}/change/")
    assert page.get_attribute("html", "lang") == language
    assert page.get_attribute("html", "dir") == ("rtl" if language == "he" else "ltr")

    header = page.locator(".profile-header").bounding_box()
    assert header["y"] + header["height"] <= height, "the summary is above the fold"
    assert page.locator(".profile-tabs").bounding_box()["y"] < height
    assert page.inner_text(".profile-stats").count("700.40") == 1
    assert page.locator(".badge.funnel-4").is_visible()
    assert page.is_visible("#section-timeline") and not page.is_visible("#section-edit")
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1")
    shot(page, f"profile-{language}-{size}")

    # The keyboard moves along the tabs, mirrored on a right-to-left page; the address keeps the choice.
    page.focus("#tab-timeline-label")
    page.keyboard.press("ArrowLeft" if language == "he" else "ArrowRight")
    assert page.evaluate("document.activeElement.id") == "tab-purchases-label"
    assert page.url.endswith("#purchases")
    assert page.locator("#section-purchases tbody tr").count() == 3
    assert not page.is_visible("#section-timeline")
    shot(page, f"purchases-{language}-{size}")

    page.goto(f"{live_server.url}/admin/contacts/contact/{contact.pk}/change/#segments")
    assert page.is_visible("#section-segments")
    assert PEOPLE[language]["list"] in page.inner_text("#section-segments")
    page.click("#tab-ledger-label")
    assert "+350" in page.inner_text("#section-ledger")

    page.click("#tab-edit-label")
    assert page.url.endswith("#edit")
    assert page.locator("#section-edit .submit-row").count() == 2  # Save at the top and at the bottom
    assert page.input_value("#id_attributes__shoe_size") == "38"
    page.fill("#id_attributes__shoe_size", "39.5")
    page.select_option("#id_attributes__pet", "cat")
    page.fill("#id_attributes__wedding_day", "2019-06-14")
    page.locator("#id_attributes__shoe_size").scroll_into_view_if_needed()
    shot(page, f"edit-{language}-{size}")
    with page.expect_navigation():
        page.locator("#section-edit .submit-row").first.locator("input[name=_continue]").click()
    assert page.url.endswith("#edit")
    assert page.is_visible(".messagelist .success")
    assert page.is_visible("#section-edit")
    contact.refresh_from_db()
    assert contact.attributes == {"shoe_size": 39.5, "pet": "cat", "wedding_day": "2019-06-14", "shop_segment": "A"}
    assert page.problems == []


@pytest.mark.parametrize("language", ["he", "en"])
@pytest.mark.parametrize("size", ["wide", "narrow"])
def test_a_search_that_finds_nobody_explains_what_to_type(marketer_page, live_server, language, size):
    ContactFactory(email="dana.levi@example.com")
    page = marketer_page(language, size)
    page.goto(f"{live_server.url}/admin/contacts/contact/?q=dana.l")
    assert page.locator("#result_list tbody tr").count() == 1
    page.goto(f"{live_server.url}/admin/contacts/contact/?q=gmail")
    assert page.is_visible(".contacts-empty")
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1")
    shot(page, f"empty-search-{language}-{size}")
    assert page.problems == []
