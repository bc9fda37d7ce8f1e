"""The campaign flow in headless Chromium, end to end: a marketer writes a Hebrew template, previews it
as a contact, sends a test, sends a campaign to a segment minus an exclusion segment through a real
SMTP server on loopback, and watches the report fill in as the received mails are opened and clicked
against the live server."""

import re

import pytest

from campaigns.models import Campaign, EmailTemplate
from segments.models import Segment
from segments.services import segment_create, static_add
from tests.campaigns.conftest import SmtpSink
from tests.factories import ContactFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
MAIL_CLIENT_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)


@pytest.fixture
def sink():
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def mail_settings(settings, sink, live_server):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = sink.host, sink.port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.SITE_URL = live_server.url
    settings.MACHINE_OPEN_SECONDS = 0
    return settings


@pytest.fixture
def audience():
    dana = ContactFactory(first_name="דנה", city="Haifa", email="dana@example.com", language="he")
    yossi = ContactFactory(first_name="יוסי", city="Haifa", email="yossi@example.com", language="he")
    noa = ContactFactory(first_name="נועה", city="Haifa", email="noa@example.com", language="he")
    ContactFactory(city="Eilat", email="eilat@example.com")
    haifa = segment_create(name="Haifa", rules={"field": "city", "op": "eq", "value": "Haifa"})
    staff = segment_create(name="Staff and family", kind=Segment.Kind.STATIC)
    static_add(segment=staff, contact_ids=[noa.pk])
    return {"dana": dana, "yossi": yossi, "noa": noa, "haifa": haifa, "staff": staff}


def html_part(mail) -> str:
    return mail.get_body(preferencelist=("html",)).get_content()


def number(page, key: str) -> str:
    return page.inner_text(f'.campaign-stats [data-key="{key}"]').strip()


def test_a_marketer_sends_a_hebrew_campaign_and_watches_the_stats_fill_in(
    logged_in, live_server, browser, mail_settings, sink, audience
):
    """One marketer's session end to end in one browser, each step on the page the previous one left:
    long on purpose, since splitting it would repeat the set-up of every earlier step."""
    page = logged_in
    shop_url = f"{live_server.url}/admin/login/"

    # A Hebrew template
    page.goto(f"{live_server.url}/admin/campaigns/emailtemplate/add/")
    page.fill("#id_name", "מבצע אביב")
    page.select_option("#id_language", "he")
    page.fill("#id_subject", "{{ contact.first_name|default:'חבר' }}, המבצע התחיל!")
    html = f"<h1>שלום {{{{ contact.first_name|default:'חבר' }}}}</h1>\n<p><a href=\"{shop_url}\">לחנות</a></p>"
    page.locator(".mail-code-editor").evaluate("(box, html) => ace.edit(box).setValue(html, -1)", html)
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    template = EmailTemplate.objects.get(name="מבצע אביב")

    # Preview as Dana
    page.click(".campaign-preview-link")
    page.fill("#id_contact", "dana@example.com")
    page.click(".campaign-picker button[type=submit]")
    assert page.inner_text(".campaign-subject") == "דנה, המבצע התחיל!"
    frame = page.frame_locator("iframe.campaign-html")
    assert frame.locator("h1").inner_text() == "שלום דנה"
    assert frame.locator("html").get_attribute("dir") == "rtl"
    assert "שלום דנה" in page.inner_text(".campaign-text")

    # A test to the marketer's own address
    page.fill("#id_emails", "marketer@example.com")
    page.click(".campaign-test-send input[type=submit]")
    page.wait_for_selector(".messagelist .success")
    assert sink.recipients() == ["marketer@example.com"]
    assert "דנה" in sink.messages[0]["Subject"]

    # A campaign to Haifa minus the staff list
    page.goto(f"{live_server.url}/admin/campaigns/campaign/add/")
    page.fill("#id_name", "Spring in Haifa")
    page.select_option("#id_template", str(template.pk))
    page.select_option("#id_segments_from", str(audience["haifa"].pk))  # listed as "Haifa (3)"
    page.click("#id_segments_add")
    page.select_option("#id_exclude_segments_from", str(audience["staff"].pk))
    page.click("#id_exclude_segments_add")
    page.fill("#id_from_email", "club@shop.example.com")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    campaign = Campaign.objects.get(name="Spring in Haifa")
    assert list(campaign.exclude_segments.all()) == [audience["staff"]]
    assert page.inner_text(".campaign-total") == "2"
    assert page.inner_text(".campaign-eligible") == "2"

    # Send, after confirming
    page.click(".campaign-verb-send")
    assert "2" in page.inner_text(".campaign-confirm")
    page.click("input[name=confirm]")
    page.wait_for_selector(".messagelist .success")
    assert Campaign.objects.get(pk=campaign.pk).status == "sent"
    mails = {m["To"]: m for m in sink.messages[1:]}
    assert set(mails) == {"dana@example.com", "yossi@example.com"}
    assert "יוסי" in html_part(mails["yossi@example.com"])

    # The report before anyone reads the mail
    page.goto(f"{live_server.url}/admin/campaigns/campaign/{campaign.pk}/report/")
    assert number(page, "sent") == "2"
    assert number(page, "unique_opens") == "0"
    assert number(page, "open_rate") == "0.0%"

    # Dana's and Yossi's mail clients load the pixel; Dana clicks. A headless browser's fetch is a machine.
    reader = browser.new_context(user_agent=MAIL_CLIENT_AGENT).new_page()
    for address, mail in mails.items():
        body = html_part(mail)
        pixel = re.search(r'<img[^>]*src="([^"]+/t/o/[^"]+)"', body).group(1)
        assert reader.goto(pixel).status == 200
        if address == "dana@example.com":
            page.request.get(pixel)
            click = re.search(r'href="([^"]+/t/c/[^"]+)"', body).group(1)
            reader.goto(click.replace("&amp;", "&"))
            assert reader.url.startswith(shop_url)
            assert "utm_campaign=" in reader.url
    reader.context.close()

    # The numbers fill in on the open report page, without a reload
    page.wait_for_function(
        "() => document.querySelector('.campaign-stats [data-key=\"unique_opens\"]').textContent.trim() === '2'",
        timeout=20000,
    )
    assert number(page, "opens") == "2"
    assert number(page, "machine_opens") == "1"
    assert number(page, "raw_opens") == "3"
    assert number(page, "unique_clicks") == "1"
    assert number(page, "open_rate") == "100.0%"
    assert number(page, "click_rate") == "50.0%"

    # After a reload: the chart, the link and each recipient's state
    page.reload()
    assert page.locator(".campaign-chart rect.opens").count() > 0
    assert shop_url in page.inner_text(".campaign-links")
    rows = page.inner_text(".campaign-recipients")
    assert "dana@example.com" in rows and "yossi@example.com" in rows and "noa@example.com" not in rows
    assert page.locator(".campaign-recipients tr.state-clicked").count() == 1
    assert page.locator(".campaign-recipients tr.state-opened").count() == 1
