"""The mail editor and the campaign form in headless Chromium, in Hebrew and English, wide and phone-sized:
a marketer starts from a ready mail, types in the code editor and sees the preview follow, previews as a
member of a segment with a warning for an empty variable, switches to the mobile width, fills blocks; then
picks segments on a campaign form and reads how many it will go to before saving. Nothing is fetched from
another host. Screenshots go to the artifact folder (BROWSER_ARTIFACTS, default var/screenshots/)."""

import os
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from segments.models import Segment
from segments.services import segment_create, static_add
from tests.browser.session import log_in
from tests.factories import ContactFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
ARTIFACTS = Path(os.environ.get("BROWSER_ARTIFACTS", Path(settings.BASE_DIR) / "var" / "screenshots")) / "editor"
SIZES = {"wide": (1440, 900), "narrow": (390, 844)}
LOCALES = {"he": "he-IL", "en": "en-US"}
# Per line of the editor: whether it holds Hebrew, and whether Ace shows it right to left.
LINE_DIRECTIONS = """box => {
  const session = ace.edit(box).session, rows = [];
  for (let row = 0; row < session.getLength(); row++) {
    rows.push([/[\\u0590-\\u05ff]/.test(session.getLine(row)), session.$bidiHandler.isRtlLine(row)]);
  }
  return rows;
}"""
TYPED = {"he": "שורה חדשה מהעורך", "en": "A new line from the editor"}


@pytest.fixture
def marketer_page(browser, live_server, django_user_model, request):
    language, size = request.param if hasattr(request, "param") else ("en", "wide")
    django_user_model.objects.create_superuser("marketer", "m@example.com", "pw-Marketer-1")
    width, height = SIZES[size]
    context = browser.new_context(locale=LOCALES[language], viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(15000)
    elsewhere: list[str] = []
    page.on(
        "request",
        lambda r: elsewhere.append(r.url) if not r.url.startswith((live_server.url, "data:", "about:")) else None,
    )
    log_in(page, live_server)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield page, elsewhere
    context.close()


def both() -> list[tuple[str, str]]:
    return [(language, size) for language in ("he", "en") for size in SIZES]


def type_at_the_end(page, text: str) -> None:
    page.click(".mail-code-editor .ace_content")
    page.keyboard.press("Control+End")
    page.keyboard.press("Enter")
    page.keyboard.type(f"<p>{text}</p>")


@pytest.mark.parametrize("marketer_page", both(), indirect=True, ids=lambda p: "-".join(p))
def test_a_marketer_writes_a_mail_beside_its_live_preview(marketer_page, live_server):
    page, elsewhere = marketer_page
    language = page.evaluate("document.documentElement.lang")
    size = "wide" if page.viewport_size["width"] > 1000 else "narrow"
    haifa = segment_create(name="Haifa", rules={"field": "city", "op": "eq", "value": "Haifa"})
    Segment.objects.filter(pk=haifa.pk).update(member_count=1)
    ContactFactory(city="Haifa", first_name="", email="nameless@example.com")

    page.goto(f"{live_server.url}/admin/campaigns/emailtemplate/add/?ready=welcome-{language}")
    frame = page.frame_locator(".mail-preview-frame")
    frame.locator("h1").wait_for()
    assert page.locator(".mail-code-editor.ace_editor").count() == 1
    assert page.locator("#id_html").is_hidden()
    rows = page.locator(".mail-code-editor").evaluate(LINE_DIRECTIONS)
    assert all(hebrew == rtl for hebrew, rtl in rows)  # Hebrew lines right to left, markup lines left to right
    assert any(rtl for _hebrew, rtl in rows) == (language == "he")
    assert frame.locator("html").get_attribute("dir") == ("rtl" if language == "he" else "ltr")

    type_at_the_end(page, TYPED[language])
    frame.get_by_text(TYPED[language]).wait_for()
    saved = page.input_value("#id_html")
    assert f"<p>{TYPED[language]}</p>" in saved and "\u202b" not in saved  # the source as typed, no marks
    page.wait_for_timeout(300)  # the line's direction follows its text a moment after the typing
    typed_row = page.locator(".mail-code-editor").evaluate(
        "box => { const s = ace.edit(box).session; return s.$bidiHandler.isRtlLine(s.getLength() - 1); }"
    )
    assert typed_row == (language == "he")

    page.select_option(".mail-preview-segment", label="Haifa (1)")
    expect(page.locator(".mail-preview-email")).to_have_text("nameless@example.com")
    page.locator(".mail-preview-warnings li").first.wait_for()
    assert "contact.first_name" in page.inner_text(".mail-preview-warnings")

    page.click(".mail-width-desktop")
    page.screenshot(path=str(ARTIFACTS / f"editor-{language}-{size}.png"), full_page=True)
    page.click(".mail-width-mobile")
    assert page.locator(".mail-preview-frame").evaluate("f => f.style.width") == "375px"  # laid out as on a phone
    stage = page.locator(".mail-preview-stage")
    stage.scroll_into_view_if_needed()
    height = page.locator(".mail-preview-frame").evaluate("f => parseFloat(f.style.height)")
    inner = page.locator(".mail-preview-frame").evaluate("f => f.contentDocument.documentElement.scrollHeight")
    assert height >= inner  # the whole mail shows, nothing cut at the bottom
    stage.screenshot(path=str(ARTIFACTS / f"editor-{language}-{size}-mobile-preview.png"))

    page.click("#mail-blocks summary")
    page.fill("#id_blocks-hero_title", "Blocks & more")
    page.fill("#id_blocks-button_label", "Go")
    page.fill("#id_blocks-button_url", "https://shop.example.com/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click(".mail-blocks-apply")
    frame.get_by_text("Blocks & more").wait_for()
    assert "Blocks &amp; more" in page.input_value("#id_html")
    page.locator("#mail-blocks").screenshot(path=str(ARTIFACTS / f"editor-{language}-{size}-blocks.png"))
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert elsewhere == []


@pytest.mark.parametrize("marketer_page", both(), indirect=True, ids=lambda p: "-".join(p))
def test_the_campaign_form_says_how_many_it_will_go_to_before_saving(marketer_page, live_server):
    page, elsewhere = marketer_page
    language = page.evaluate("document.documentElement.lang")
    size = "wide" if page.viewport_size["width"] > 1000 else "narrow"
    haifa = segment_create(name="Haifa", rules={"field": "city", "op": "eq", "value": "Haifa"})
    staff = segment_create(name="Staff", kind=Segment.Kind.STATIC)
    people = [ContactFactory(city="Haifa") for _ in range(3)]
    static_add(segment=staff, contact_ids=[people[0].pk])
    Segment.objects.filter(pk=haifa.pk).update(member_count=3)
    Segment.objects.filter(pk=staff.pk).update(member_count=1)

    page.goto(f"{live_server.url}/admin/campaigns/campaign/add/")
    page.select_option("#id_segments_from", label="Haifa (3)")
    page.click("#id_segments_add")
    line = page.locator(".campaign-audience-count")
    expect(line).to_contain_text("3")
    page.select_option("#id_exclude_segments_from", label="Staff (1)")
    page.click("#id_exclude_segments_add")
    expect(line).to_contain_text("2")
    assert line.evaluate("p => p.closest('fieldset').querySelector('#id_segments_to') !== null")
    line.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / f"campaign-form-{language}-{size}.png"), full_page=True)
    assert elsewhere == []
