import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from campaigns import services
from campaigns.models import Campaign, EmailTemplate
from tests.campaigns.conftest import HEBREW_HTML
from tests.factories import ContactFactory, MemberFactory, ProductFactory, PurchaseFactory, PurchaseItemFactory

pytestmark = pytest.mark.django_db


def errors_of(call) -> dict:
    with pytest.raises(ValidationError) as error:
        call()
    return error.value.message_dict


def test_a_template_with_a_syntax_error_is_refused_with_field_and_line(make_template):
    errors = errors_of(lambda: make_template(html="<p>Hi</p>\n<p>{% if contact.city %}open</p>"))
    assert list(errors) == ["html"]
    assert "line 2" in errors["html"][0]
    assert EmailTemplate.objects.count() == 0


def test_an_unknown_variable_is_refused_with_its_name_and_line(make_template):
    errors = errors_of(
        lambda: make_template(subject="Hi {{ contact.nickname }}", html="<p>a</p>\n\n<p>{{ settings.SECRET_KEY }}</p>")
    )
    assert errors["subject"] == ["line 1: unknown variable “contact.nickname”."]
    assert errors["html"] == ["line 3: unknown variable “settings.SECRET_KEY”."]


def test_a_template_cannot_load_other_tag_libraries(make_template):
    errors = errors_of(lambda: make_template(html="{% load static %}<p>{% static 'x' %}</p>"))
    assert "html" in errors


def test_required_fields_are_named(make_template):
    errors = errors_of(lambda: make_template(name="", subject=""))
    assert {"name", "subject"} <= set(errors)


def test_saving_a_valid_template_updates_it(make_template):
    template = make_template()
    services.template_update(template=template, subject="New subject")
    template.refresh_from_db()
    assert template.subject == "New subject"


def preview(template, contact):
    return services.campaign_preview(template=template, contact=contact)


def test_the_name_falls_back_on_the_default(make_template):
    template = make_template()
    assert preview(template, ContactFactory(first_name="")).subject == "Hello friend"
    assert preview(template, ContactFactory(first_name="Maya")).subject == "Hello Maya"


def test_club_tier_and_points_are_personalized(make_template):
    template = make_template(
        html="<p>{{ club.tier_label }}: {{ club.points }} points, card {{ club.card_number }}</p>"
        "{% if not club %}<p>Join the club</p>{% endif %}"
    )
    member = MemberFactory(points=350, card_number="900012345678")
    html = preview(template, member.contact).html
    assert "350 points, card 900012345678" in html and "Join the club" not in html
    assert "Join the club" in preview(template, ContactFactory()).html


def test_the_last_purchase_lists_its_items(make_template):
    template = make_template(
        html="{% for item in last_purchase.items %}<li>{{ item.name }} × {{ item.quantity }}</li>"
        "{% empty %}<p>Nothing yet</p>{% endfor %}"
    )
    contact = ContactFactory()
    older = PurchaseFactory(contact=contact, purchased_at=timezone.now() - dt.timedelta(days=30))
    PurchaseItemFactory(purchase=older, product=ProductFactory(name="Old boots"))
    latest = PurchaseFactory(contact=contact, purchased_at=timezone.now() - dt.timedelta(days=1))
    PurchaseItemFactory(purchase=latest, product=ProductFactory(name="Rain coat"), quantity=2)
    html = preview(template, contact).html
    assert "Rain coat × 2" in html and "Old boots" not in html
    assert "Nothing yet" in preview(template, ContactFactory()).html


def test_recommended_products_come_from_the_categories_bought_and_skip_owned_ones(make_template):
    template = make_template(html="{% for p in recommended %}<li>{{ p.name }}</li>{% endfor %}")
    shoes = [ProductFactory(name=f"Shoe {n}", category="shoes") for n in range(3)]
    ProductFactory(name="Hat", category="hats")
    buyer, fan = ContactFactory(), ContactFactory()
    for product in shoes:
        PurchaseItemFactory(purchase=PurchaseFactory(contact=fan), product=product)
    PurchaseItemFactory(purchase=PurchaseFactory(contact=buyer), product=shoes[0])
    html = preview(template, buyer).html
    assert "Shoe 1" in html and "Shoe 2" in html and "Shoe 0" not in html
    assert html.index("Shoe 1") < html.index("Hat")


def test_a_hebrew_template_renders_right_to_left(make_template):
    template = make_template(subject="שלום {{ contact.first_name|default:'חבר' }}", html=HEBREW_HTML, language="he")
    rendered = preview(template, ContactFactory(first_name=""))
    assert rendered.subject == "שלום חבר"
    assert 'dir="rtl"' in rendered.html and "שלום חבר" in rendered.text


def test_a_preview_has_no_tracking(make_template):
    template = make_template(html='<a href="{{ unsubscribe_url }}">out</a> <a href="https://shop.example.com/">in</a>')
    html = preview(template, ContactFactory()).html
    assert 'href="#unsubscribe"' in html and 'href="https://shop.example.com/"' in html
    assert "/t/c/" not in html and "/t/o/" not in html


def test_a_campaign_needs_a_name_a_template_and_a_segment():
    errors = errors_of(lambda: services.campaign_create(name="", from_email="nope", cost=Decimal("-1"), segments=[]))
    assert {"name", "template", "segments", "from_email", "cost"} <= set(errors)


def test_a_campaign_keeps_its_segments_and_exclusions(make_template, static_segment):
    include, exclude = static_segment([ContactFactory()]), static_segment([], name="VIP")
    campaign = services.campaign_create(
        name="Sale",
        template=make_template().pk,
        cost="120.50",
        segments=[include.pk],
        exclude_segments=[exclude],
    )
    assert list(campaign.segments.all()) == [include] and list(campaign.exclude_segments.all()) == [exclude]
    assert campaign.status == Campaign.Status.DRAFT and campaign.cost == Decimal("120.50")

    services.campaign_update(campaign=campaign, name="Big sale")
    campaign.refresh_from_db()
    assert campaign.name == "Big sale" and campaign.segments.count() == 1


def test_an_unknown_segment_is_named(make_template):
    errors = errors_of(lambda: services.campaign_create(name="x", template=make_template(), segments=[999999]))
    assert errors["segments"] == ["Unknown segment."]


def test_the_text_part_is_made_once_from_the_html_source_with_the_layout_lines():
    from campaigns.models import EmailTemplate
    from campaigns.rendering import render, template_compile

    template = EmailTemplate(
        name="t",
        subject="s",
        language="he",
        html=(
            "<p>שלום {{ contact.first_name|default:'חבר' }}</p>"
            "{% for p in recommended %}<a href='https://shop.example.com/{{ p.sku }}'>{{ p.name }}</a>{% endfor %}"
            "<a href='{{ site_url }}/sale'>למבצע</a>"
        ),
    )
    compiled = template_compile(template)
    assert compiled.text is not None
    text = render(
        compiled,
        {
            "contact": {"first_name": "דנה"},
            "recommended": [{"sku": "L1", "name": "עדשות"}],
            "unsubscribe_url": "https://crm.example.com/u/t/",
            "site_url": "https://shop.example.com",
        },
    ).text
    assert "שלום דנה" in text
    assert "למבצע (https://shop.example.com/sale)" in text
    assert "עדשות (https://shop.example.com/L1)" in text
    assert "(https://crm.example.com/u/t/)" in text
