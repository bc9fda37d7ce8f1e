import datetime as dt

import pytest
from django.utils import timezone

from campaigns import links
from campaigns.models import Campaign, EmailTemplate, Link

pytestmark = pytest.mark.django_db


def make_campaign(**extra):
    template = EmailTemplate.objects.create(name="t", subject="s", html="<p>x</p>")
    return Campaign.objects.create(name="Spring sale", template=template, **extra)


def test_links_get_utm_and_point_at_the_click_redirect():
    campaign = make_campaign()
    html = links.rewrite_links(
        '<a href="https://shop.example.com/p?id=1">x</a>'
        '<a href="mailto:a@b.c">m</a><a data-no-track="1" href="https://x.example/">u</a>',
        campaign=campaign,
        token="tok",
    )
    link = Link.objects.get(campaign=campaign)
    assert link.url == "https://shop.example.com/p?id=1&utm_source=crm&utm_medium=email&utm_campaign=spring-sale"
    assert f'href="{links.click_url("tok", link.pk)}"' in html
    assert 'href="mailto:a@b.c"' in html and 'href="https://x.example/"' in html


def test_existing_utm_parameters_are_kept():
    campaign = make_campaign()
    assert links.add_utm("https://s.example/?utm_source=fb", campaign).count("utm_source") == 1


def test_a_reused_campaign_id_never_gets_a_deleted_campaigns_link():
    first = make_campaign()
    stale = links.link_register(first, "https://shop.example.com/")
    first_id = first.pk
    first.delete()
    again = make_campaign(id=first_id, created_at=timezone.now() + dt.timedelta(seconds=1))
    fresh = links.link_register(again, "https://shop.example.com/")
    assert fresh != stale
    assert Link.objects.get(pk=fresh).campaign_id == again.pk
