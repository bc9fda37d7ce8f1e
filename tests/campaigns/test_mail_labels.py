"""Labels inside a mail — club tier, dates, money, channel — read in the recipient's language, whoever
sends the mail and whatever language the sender's back office speaks."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import translation

from campaigns.labels import label_language, money_label
from contacts.models import LoyaltyMember
from tests.factories import ContactFactory, MemberFactory, PurchaseFactory

pytestmark = pytest.mark.django_db

LABELS = (
    "{{ club.tier_label }} | {{ club.joined_at|date:'j F Y' }} | {{ last_purchase.total_label }} | "
    "{{ last_purchase.channel }}"
)
HEBREW_HTML = f"<p>דרגת {LABELS}</p>"
ENGLISH_HTML = f"<p>Tier {LABELS}</p>"


def recipient(language: str):
    contact = ContactFactory(language=language)
    MemberFactory(contact=contact, tier=LoyaltyMember.Tier.GOLD, joined_at=dt.datetime(2026, 3, 5, 10, tzinfo=dt.UTC))
    PurchaseFactory(contact=contact, total=Decimal("1234.50"), currency="ILS", channel="online")
    return contact


def sent_html(smtp_sink) -> str:
    return smtp_sink.messages[-1].get_body(("html",)).get_content()


def sent_text(smtp_sink) -> str:
    return smtp_sink.messages[-1].get_body(("plain",)).get_content()


def test_a_hebrew_recipient_reads_hebrew_labels_in_a_mail_an_english_admin_sends(
    smtp_settings, smtp_sink, make_template, make_campaign, run_campaign
):
    template = make_template(language="he", html=HEBREW_HTML, subject="{{ club.tier_label }}")
    campaign = make_campaign([recipient("he")], template=template)
    with translation.override("en"):  # the marketer's back office, where "send now" runs
        run_campaign(campaign)
    expected = "זהב | 5 מרץ 2026 | 1,234.50 ₪ | אונליין"
    assert f"דרגת {expected}" in sent_html(smtp_sink)
    assert f"דרגת {expected}" in sent_text(smtp_sink)
    assert str(smtp_sink.messages[-1]["Subject"]) == "זהב"


def test_an_english_recipient_reads_english_labels_in_a_mail_a_hebrew_admin_sends(
    smtp_settings, smtp_sink, make_template, make_campaign, run_campaign
):
    template = make_template(language="en", html=ENGLISH_HTML)
    campaign = make_campaign([recipient("en")], template=template)
    with translation.override("he"):
        run_campaign(campaign)
    expected = "Tier Gold | 5 March 2026 | ₪1,234.50 | Online"
    assert expected in sent_html(smtp_sink) and expected in sent_text(smtp_sink)


def test_the_preview_a_hebrew_admin_opens_shows_an_english_recipients_labels(admin_client, make_template):
    template = make_template(language="en", html=ENGLISH_HTML)
    contact = recipient("en")
    url = f"/admin/campaigns/emailtemplate/{template.pk}/preview/html/?contact={contact.pk}"
    response = admin_client.get(url, HTTP_ACCEPT_LANGUAGE="he")
    assert response.status_code == 200
    assert "Tier Gold | 5 March 2026 | ₪1,234.50 | Online" in response.content.decode()


def test_the_preview_an_english_admin_opens_shows_a_hebrew_recipients_labels(admin_client, make_template):
    template = make_template(language="he", html=HEBREW_HTML)
    contact = recipient("he")
    url = f"/admin/campaigns/emailtemplate/{template.pk}/preview/html/?contact={contact.pk}"
    response = admin_client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert "דרגת זהב | 5 מרץ 2026 | 1,234.50 ₪ | אונליין" in response.content.decode()


def test_the_layout_keeps_the_mail_language_while_labels_follow_the_recipient(
    smtp_settings, smtp_sink, make_template, make_campaign, run_campaign
):
    template = make_template(language="he", html=HEBREW_HTML)
    run_campaign(make_campaign([recipient("en")], template=template))
    html = sent_html(smtp_sink)
    assert "דרגת Gold | 5 March 2026 | ₪1,234.50 | Online" in html
    assert "הסרה מרשימת התפוצה" in html and 'dir="rtl"' in html


@pytest.mark.parametrize(
    ("language", "expected"),
    [("he", "he"), ("he-IL", "he"), ("EN_us", "en"), ("en", "en"), ("", "he"), (None, "he"), ("fr", "he")],
)
def test_the_label_language_is_the_recipients_when_the_site_speaks_it(language, expected):
    assert label_language(language, "he") == expected


@pytest.mark.parametrize(
    ("language", "amount", "currency", "expected"),
    [
        ("en", Decimal("1234.5"), "ILS", "₪1,234.50"),
        ("he", Decimal("1234.5"), "ILS", "1,234.50 ₪"),
        ("en", 12, "USD", "$12.00"),
        ("en", Decimal("999999.999"), "EUR", "€1,000,000.00"),
        ("en", Decimal("5"), "CHF", "CHF 5.00"),
        ("he", Decimal("5"), "CHF", "5.00 CHF"),
        ("en", None, "ILS", ""),
    ],
)
def test_money_reads_as_the_active_language_writes_it(language, amount, currency, expected):
    with translation.override(language):
        assert money_label(amount, currency) == expected


def test_recommended_products_carry_a_price_label(make_template):
    from campaigns.personalization import batch_contexts
    from campaigns.rendering import render, template_compile
    from tests.factories import ProductFactory

    ProductFactory(name="Olive oil", price=Decimal("49.90"))
    contact = ContactFactory(language="he")
    template = make_template(
        language="en",
        layout="none",
        html="{% for p in recommended %}<p>{{ p.name }}: {{ p.price_label }}</p>{% endfor %}",
    )
    compiled = template_compile(template)
    with translation.override("en"):
        contexts = batch_contexts(compiled, [contact], {})
    assert "Olive oil: 49.90 ₪" in render(compiled, contexts[contact.pk]).html
