"""The marketer's home page in headless Chromium: the KPI block with its funnel drawn and the revenue, a
switch to the last 90 days, and the same page in Hebrew, right to left with its charts mirrored; no script
error and nothing the Content Security Policy blocks."""

import datetime as dt
from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.utils import timezone

from contacts.models import FunnelStage
from contacts.services import contacts_refresh_purchase_stats
from tests.browser.session import log_in
from tests.factories import ContactFactory, PurchaseFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sales():
    now = timezone.now()
    ann = ContactFactory(funnel_stage=FunnelStage.PURCHASER, source="web_form", signed_up_at=now - dt.timedelta(days=5))
    ben = ContactFactory(funnel_stage=FunnelStage.CART, source="social", signed_up_at=now - dt.timedelta(days=40))
    PurchaseFactory(contact=ann, channel="online", total=Decimal("100.00"), purchased_at=now - dt.timedelta(days=3))
    PurchaseFactory(contact=ann, channel="in_store", total=Decimal("50.00"), purchased_at=now - dt.timedelta(days=9))
    PurchaseFactory(contact=ben, channel="app", total=Decimal("30.00"), purchased_at=now - dt.timedelta(days=60))
    contacts_refresh_purchase_stats(contact_ids=[ann.pk, ben.pk])


@pytest.fixture
def marketer(page, live_server, django_user_model):
    user = django_user_model.objects.create_user("mara", "mara@example.com", "pw-Marketer-1", is_staff=True)
    user.groups.add(Group.objects.get(name="Marketer"))
    problems: list[str] = []
    page.on(
        "console", lambda message: problems.append(message.text) if "Content Security Policy" in message.text else None
    )
    page.on("response", lambda answer: problems.append(answer.url) if answer.status >= 400 else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    log_in(page, live_server, "mara")
    page.problems = problems
    return page


def revenue(page) -> str:
    return page.inner_text('.kpi-sales [data-key="revenue"] .kpi-figure-value').strip()


def test_a_marketer_reads_the_kpis_on_the_home_page_in_english_and_hebrew(sales, marketer, live_server):
    page = marketer
    assert page.is_visible("svg.kpi-funnel")
    assert page.locator("svg.kpi-funnel a").count() == len(FunnelStage)
    assert revenue(page) == "150.00"
    assert page.locator(".kpi-dashboard").bounding_box()["y"] < page.locator(".app-contacts").bounding_box()["y"]

    page.click(".kpi-presets >> text=Last 90 days")
    page.wait_for_url("**/admin/?period=last_90")
    assert revenue(page) == "180.00"
    assert page.get_attribute(".kpi-presets a.selected", "href").endswith("period=last_90")

    page.context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": "he", "url": live_server.url}])
    page.reload()
    assert page.get_attribute("html", "lang") == "he"
    assert page.get_attribute("html", "dir") == "rtl"
    assert page.get_attribute("svg.kpi-funnel", "direction") == "rtl"
    assert revenue(page) == "180.00"
    # Read from the right: a layer's name stands to the right of its bar, as the page's text does.
    layer = page.locator("svg.kpi-funnel a").last
    bar = layer.locator("rect").bounding_box()
    assert layer.locator("text.kpi-label").bounding_box()["x"] >= bar["x"] + bar["width"]
    # Bars grow leftwards from the axis, which stands at the right.
    chart = page.locator("svg.kpi-bars").first
    axis = chart.locator("line.kpi-axis").bounding_box()
    drawn = [box for box in (rect.bounding_box() for rect in chart.locator("rect.kpi-bar").all()) if box["width"]]
    assert drawn and all(abs(box["x"] + box["width"] - axis["x"]) < 2 for box in drawn)

    page.click('.kpi-sales [data-key="revenue"] a')
    page.wait_for_url("**/admin/contacts/purchase/?*")
    assert page.locator("#result_list tbody tr").count() == 3
    assert page.problems == []
