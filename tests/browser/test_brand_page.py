"""The brand page in headless Chromium, in Hebrew and English, wide and phone-sized: a marketer uploads a
logo, picks colours, fills the sender and the postal address, and sees the sample mail wear them.
Screenshots go to var/screenshots/brand/ (not committed) to be looked at."""

import struct
import zlib
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from campaigns.branding import current_brand
from tests.browser.session import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = Path(django_settings.BASE_DIR) / "var" / "screenshots" / "brand"
SIZES = {"wide": (1440, 900), "narrow": (390, 844)}
TEXT = {
    "he": {"name": "זית ושות׳", "address": "רחוב הרצל 1, תל אביב", "saved": "נשמרו", "lang": "he-IL"},
    "en": {"name": "Olive & Co", "address": "1 Herzl St, Tel Aviv", "saved": "saved", "lang": "en-US"},
}


def solid_png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A real PNG of one colour, so the logo shows in the screenshots."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def branded_settings(settings, live_server, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.SITE_URL = live_server.url
    return settings


@pytest.mark.parametrize("language", ["he", "en"])
@pytest.mark.parametrize("size", ["wide", "narrow"])
def test_a_marketer_brands_every_mail_from_the_brand_page(
    browser, live_server, django_user_model, branded_settings, tmp_path, language, size
):
    text = TEXT[language]
    width, height = SIZES[size]
    django_user_model.objects.create_superuser("marketer", "m@example.com", "pw-Marketer-1")
    context = browser.new_context(locale=text["lang"], viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(15000)
    try:
        log_in(page, live_server)

        page.goto(f"{live_server.url}/admin/campaigns/brand/")
        assert page.url.endswith("/admin/campaigns/brand/1/change/")
        assert page.get_attribute("html", "lang") == language
        assert page.locator(".messagelist .warning").count() == 1  # no postal address yet

        logo = tmp_path / "logo.png"
        logo.write_bytes(solid_png(160, 48, (34, 102, 68)))
        page.fill("#id_name", text["name"])
        page.set_input_files("#id_logo", str(logo))
        page.fill("#id_header_color", "#1b4332")
        page.fill("#id_accent_color", "#b5179e")
        page.fill("#id_sender_name", text["name"])
        page.fill("#id_sender_email", "hello@olive.example")
        page.fill("#id_postal_address", text["address"])
        page.fill("#id_footer_he", "קיבלת את המייל כי הצטרפת למועדון של זית.")
        page.fill("#id_footer_en", "You get this mail as a member of the Olive club.")
        with page.expect_navigation():
            page.press("#id_sender_name", "Enter")  # the form's first button: Save
        page.wait_for_selector(".messagelist .success")
        assert page.locator(".messagelist .warning").count() == 0

        brand = current_brand()
        assert (brand.name, brand.header_color, brand.postal_address) == (text["name"], "#1b4332", text["address"])
        frame = page.frame_locator(f'iframe[src$="/preview/{language}/"]')
        frame.locator("td.brand img").wait_for()
        loaded = frame.locator("td.brand img").evaluate("img => img.complete && img.naturalWidth")
        assert loaded == 160
        assert text["address"] in frame.locator("td.footer").inner_text()
        assert frame.locator("html").get_attribute("dir") == ("rtl" if language == "he" else "ltr")

        logo_link = page.locator(".file-upload a").first
        assert page.request.get(live_server.url + logo_link.get_attribute("href")).ok

        SHOTS.mkdir(parents=True, exist_ok=True)
        preview = page.locator(".brand-preview")
        preview.scroll_into_view_if_needed()
        page.wait_for_timeout(500)  # the sandboxed frames paint on their own
        preview.screenshot(path=str(SHOTS / f"brand-{language}-{size}-sample-mails.png"))
        page.screenshot(path=str(SHOTS / f"brand-{language}-{size}.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0
    finally:
        context.close()
