"""Contact data and marketer HTML never run script: escaped wherever text lands in HTML, scripts and
handlers stripped from every mail, pages of mail HTML served sandboxed, and a started campaign
keeps the template it was sent with."""

import datetime as dt
import re
from html.parser import HTMLParser

import pytest
from django.core import mail as django_mail
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from campaigns import html_safety, services
from campaigns.models import Message
from campaigns.tokens import message_token
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db
SCRIPT_NAME = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def hostile_contact(**fields):
    return ContactFactory(first_name=SCRIPT_NAME, last_name="</title><script>alert(3)</script>", **fields)


class _Markup(HTMLParser):
    """The elements and attributes a browser would build from a page."""

    def __init__(self, page: str):
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += [(name, value or "") for name, value in attrs]


def assert_inert(html: str) -> None:
    markup = _Markup(html)
    assert "script" not in markup.tags
    assert not [name for name, _value in markup.attributes if name.startswith("on")]
    assert not [
        value
        for name, value in markup.attributes
        if name in ("href", "src") and "script:" in "".join(value.split()).lower()
    ]


@pytest.fixture
def hostile_template(make_template):
    return make_template(
        subject="Hi {{ contact.first_name }}",
        preheader="For {{ contact.first_name }}",
        html="<p>Hi {{ contact.first_name }} {{ contact.last_name }}</p>",
        text="Hi {{ contact.first_name }}",
    )


# ------------------------------------------------------------------ escaping


def test_the_preheader_made_from_contact_fields_is_escaped_in_the_mail(hostile_template):
    rendered = services.campaign_preview(template=hostile_template, contact=hostile_contact())
    assert_inert(rendered.html)
    preheader = re.search(r'<span class="preheader"[^>]*>(.*?)</span>', rendered.html).group(1)
    assert preheader.startswith("For &lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x")


def test_the_text_part_stays_plain_text_and_the_preview_page_escapes_it(admin_client, hostile_template):
    contact = hostile_contact()

    response = admin_client.get(
        reverse("admin:campaigns_emailtemplate_preview", args=[hostile_template.pk]), {"contact": contact.pk}
    )

    assert response.context["rendered"].text.startswith(f"Hi {SCRIPT_NAME}")
    page = response.content.decode()
    assert SCRIPT_NAME not in page and "<script>alert" not in page
    assert "Hi &lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_preview_frame_is_a_sandboxed_document_with_the_contact_escaped(admin_client, hostile_template):
    contact = hostile_contact()

    response = admin_client.get(
        reverse("admin:campaigns_emailtemplate_preview_html", args=[hostile_template.pk]), {"contact": contact.pk}
    )

    assert response.status_code == 200
    assert response["Content-Security-Policy"].startswith("sandbox")
    assert "allow-scripts" not in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert_inert(response.content.decode())


def test_the_preview_frame_of_an_unknown_contact_is_a_bad_request(admin_client, hostile_template):
    response = admin_client.get(
        reverse("admin:campaigns_emailtemplate_preview_html", args=[hostile_template.pk]),
        {"contact": "nobody@example.com"},
    )
    assert response.status_code == 400


def test_a_sent_mail_carries_contact_data_as_text_only(make_campaign, run_campaign, hostile_template):
    contact = hostile_contact()

    run_campaign(make_campaign([contact], template=hostile_template))

    sent = django_mail.outbox[0]
    html = sent.alternatives[0][0]
    assert_inert(html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert sent.body.startswith(f"Hi {SCRIPT_NAME}")


# ------------------------------------------------------------------ stripping


def test_scripts_handlers_and_script_urls_are_stripped_from_what_is_rendered(make_template):
    template = make_template(
        html='<p title="{{ contact.first_name }}">x</p><a href="{{ contact.attributes.site }}">site</a>'
    )
    contact = ContactFactory(first_name='"><script>alert(1)</script>', attributes={"site": " java\tscript:alert(1)"})

    html = services.campaign_preview(template=template, contact=contact).html

    assert_inert(html)
    assert "javascript" not in html.replace("\t", "").lower()
    assert re.search(r'<a style="[^"]*">site</a>', html)


def test_a_template_with_a_script_or_a_handler_is_refused_with_the_line(make_template):
    with pytest.raises(ValidationError) as error:
        make_template(
            html='<p>Hi</p>\n<script>steal()</script>\n<img src="a.png" onload="x()">\n<a href="javascript:go()">go</a>'
        )
    problems = error.value.message_dict["html"]
    assert problems == [
        "line 2: <script> is not allowed in a mail.",
        "line 3: The attribute “onload” of <img> is not allowed in a mail.",
        "line 4: The link “javascript:go()” in <a href> is not allowed in a mail.",
    ]


def test_sanitizing_keeps_the_ordinary_mail_markup():
    page = (
        '<!DOCTYPE html><html lang="he" dir="rtl"><head><style>a > b { color: red }</style></head>'
        '<body><table role="presentation" cellpadding="0"><tr><td style="color:#333">'
        '<a href="https://shop.example.com/?a=1&amp;b=2" target="_blank">Shop &amp; more</a>'
        '<img src="cid:logo" alt="Logo" width="1" height="1"><a href="mailto:club@example.com">mail</a>'
        "</td></tr></table></body></html>"
    )
    assert html_safety.sanitize(page) == page


def test_style_sheets_cannot_open_a_tag():
    cleaned = html_safety.sanitize("<svg><style><img src=x onerror=alert(1)></style></svg>")
    assert "<img" not in cleaned and "<svg" not in cleaned


# ------------------------------------------------------------------ view in browser and frozen content


def sent_message(make_campaign, run_campaign, template, **contact_fields):
    contact = ContactFactory(**contact_fields)
    campaign = run_campaign(make_campaign([contact], template=template))
    return campaign, Message.objects.get(campaign=campaign)


def test_view_in_browser_is_served_sandboxed(client, make_campaign, run_campaign, make_template):
    _campaign, message = sent_message(make_campaign, run_campaign, make_template())

    response = client.get(f"/m/{message_token(message.pk)}/")

    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert policy.startswith("sandbox") and "allow-scripts" not in policy and "script-src 'none'" in policy


def test_view_in_browser_strips_script_that_contact_data_carries(client, make_campaign, run_campaign, hostile_template):
    _campaign, message = sent_message(make_campaign, run_campaign, hostile_template, first_name=SCRIPT_NAME)

    page = client.get(f"/m/{message_token(message.pk)}/").content.decode()

    assert_inert(page)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_editing_the_template_after_the_campaign_started_changes_nothing_it_shows(
    client, admin_client, make_campaign, run_campaign, make_template
):
    template = make_template(subject="Old subject", html="<p>Old offer for {{ contact.first_name }}</p>")
    campaign, message = sent_message(make_campaign, run_campaign, template, first_name="Dana")

    services.template_update(template=template, subject="New subject", html="<p>New offer</p>")

    page = client.get(f"/m/{message_token(message.pk)}/").content.decode()
    assert "Old offer for Dana" in page and "New offer" not in page
    preview = admin_client.get(
        reverse("admin:campaigns_campaign_preview", args=[campaign.pk]), {"contact": message.contact_id}
    )
    assert preview.context["rendered"].subject == "Old subject"
    frame = admin_client.get(
        reverse("admin:campaigns_campaign_preview_html", args=[campaign.pk]), {"contact": message.contact_id}
    )
    assert "Old offer for Dana" in frame.content.decode()
    campaign.refresh_from_db()
    assert campaign.frozen_template["html"] == "<p>Old offer for {{ contact.first_name }}</p>"


def test_a_draft_campaign_previews_the_template_as_it_is_now(make_campaign, make_template):
    template = make_template(subject="Old subject")
    campaign = make_campaign([ContactFactory()], template=template)

    services.template_update(template=template, subject="New subject")

    rendered = services.campaign_preview(template=template, contact=ContactFactory(), campaign=campaign)
    assert rendered.subject == "New subject" and campaign.frozen_at is None


def test_a_scheduled_campaign_freezes_its_template_when_it_starts(
    make_campaign, make_template, django_capture_on_commit_callbacks
):
    template = make_template(subject="At start")
    campaign = make_campaign([ContactFactory()], template=template, scheduled_at=timezone.now() + dt.timedelta(hours=1))
    services.campaign_start(campaign=campaign)
    services.template_update(template=template, subject="Edited while scheduled")
    type(campaign).objects.filter(pk=campaign.pk).update(scheduled_at=timezone.now())

    with django_capture_on_commit_callbacks(execute=True):
        services.campaigns_start_due()

    campaign.refresh_from_db()
    assert campaign.frozen_template["subject"] == "Edited while scheduled"
    assert django_mail.outbox[0].subject == "Edited while scheduled"
