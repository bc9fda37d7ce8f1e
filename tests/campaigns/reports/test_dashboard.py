"""The marketer's home page: the KPI block on the admin index and at /admin/reports/dashboard/, who sees it,
the period picker and what it does with bad input, the links behind the figures, escaping, Hebrew, and a
cost that does not grow with the data."""

import datetime as dt
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns.models import Campaign, EmailTemplate
from campaigns.reports.kpis import kpis
from contacts.models import Contact, FunnelStage, Purchase, QueuedActivity, UncountedPurchase
from contacts.services import contacts_refresh_purchase_stats
from tests.factories import ContactFactory, PurchaseFactory

from .credited import attribute

pytestmark = pytest.mark.django_db

ZONE = ZoneInfo("Asia/Jerusalem")
NOW = dt.datetime(2026, 3, 20, 12, 0, tzinfo=ZONE)
DASHBOARD = "/admin/reports/dashboard/"
SCRIPT = "<script>alert(1)</script>"


def days_ago(days: int) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


def campaign_with_revenue(name: str, purchase: Purchase) -> Campaign:
    template = EmailTemplate.objects.create(name=f"T {name}", subject="S", html="<p>x</p>")
    campaign = Campaign.objects.create(name=name, template=template)
    attribute(purchase, campaign)
    return campaign


@pytest.fixture
def shop(clock):
    """Two buyers and a contact with a full cart; two purchases in the last 30 days (one online, credited to
    a campaign whose name is markup, one in store), one 60 days ago."""
    ann = ContactFactory(funnel_stage=FunnelStage.PURCHASER, source="web_form", signed_up_at=days_ago(5))
    ben = ContactFactory(funnel_stage=FunnelStage.PURCHASER, source="in_store", signed_up_at=days_ago(40))
    cai = ContactFactory(funnel_stage=FunnelStage.CART, source="", signed_up_at=days_ago(5))
    online = PurchaseFactory(contact=ann, channel="online", total=Decimal("100.00"), purchased_at=days_ago(3))
    PurchaseFactory(contact=ann, channel="in_store", total=Decimal("50.00"), purchased_at=days_ago(10))
    PurchaseFactory(contact=ben, channel="app", total=Decimal("30.00"), purchased_at=days_ago(60))
    contacts_refresh_purchase_stats(contact_ids=[ann.pk, ben.pk])
    campaign_with_revenue(SCRIPT, online)
    return {"ann": ann, "ben": ben, "cai": cai}


def figure(html: str, key: str) -> str:
    """The text of the figure `key` of the KPI block."""
    match = re.search(rf'data-key="{key}">.*?class="kpi-figure-value[^>]*>([^<]*)<', html, re.S)
    assert match, f"no figure {key}"
    return match.group(1)


def figure_link(html: str, key: str) -> str:
    match = re.search(rf'data-key="{key}">.*?<a class="kpi-figure-value" href="([^"]+)"', html, re.S)
    assert match, f"no link on figure {key}"
    return match.group(1).replace("&amp;", "&")


# ------------------------------------------------------------------ who sees it


@pytest.mark.parametrize("role", ["Marketer", "Analyst"])
def test_marketers_and_analysts_see_the_kpis_above_the_app_list(login, shop, role):
    html = login(role).get("/admin/").content.decode()
    assert 'class="kpi-dashboard"' in html
    assert html.index('class="kpi-dashboard"') < html.index('id="content-main"')
    assert 'class="kpi-chart kpi-funnel"' in html
    assert figure(html, "revenue") == "150.00"


def test_a_superuser_sees_the_kpis_too(admin_client, shop):
    assert 'class="kpi-dashboard"' in admin_client.get("/admin/").content.decode()


def test_plain_staff_get_the_usual_home_page_and_no_dashboard(login, shop):
    staff = login("Staff")
    home = staff.get("/admin/")
    assert home.status_code == 200
    assert "kpi-dashboard" not in home.content.decode()
    assert staff.get(DASHBOARD).status_code == 403
    assert staff.get(DASHBOARD, {"format": "csv"}).status_code == 403


@pytest.mark.parametrize("url", ["/admin/", DASHBOARD, f"{DASHBOARD}?format=csv"])
def test_anonymous_visitors_are_sent_to_the_login_page(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("role", ["Marketer", "Analyst"])
def test_the_dashboard_has_a_page_of_its_own(login, shop, role):
    response = login(role).get(DASHBOARD)
    assert response.status_code == 200
    html = response.content.decode()
    assert "kpi-page" in html
    assert figure(html, "orders") == "2"


def test_it_says_how_many_uploaded_purchases_are_still_being_counted(login, shop):
    marketer = login("Marketer")
    assert "kpi-queued" not in marketer.get(DASHBOARD).content.decode()
    UncountedPurchase.objects.bulk_create(UncountedPurchase(purchase=p) for p in Purchase.objects.all()[:2])

    html = marketer.get(DASHBOARD).content.decode()
    assert "2 purchases just uploaded are still being added to these figures" in html


# ------------------------------------------------------------------ the period


def test_it_shows_the_last_30_days_by_default_and_90_days_when_asked(login, shop):
    marketer = login("Marketer")
    default = marketer.get(DASHBOARD).content.decode()
    assert figure(default, "revenue") == "150.00"
    assert "(30 days)" in default
    ninety = marketer.get(DASHBOARD, {"period": "last_90"}).content.decode()
    assert figure(ninety, "revenue") == "180.00"
    assert "(90 days)" in ninety
    assert 'class="selected" aria-current="true">Last 90 days' in ninety


def test_this_month_runs_from_its_first_day_to_today(login, shop):
    html = login("Marketer").get(DASHBOARD, {"period": "this_month"}).content.decode()
    assert "March 1, 2026 – March 20, 2026 (20 days)" in html
    assert figure(html, "revenue") == "150.00"


def test_a_custom_period_counts_its_days_both_included(login, shop):
    day = days_ago(60).date().isoformat()
    html = login("Marketer").get(DASHBOARD, {"period": "custom", "from": day, "to": day}).content.decode()
    assert figure(html, "revenue") == "30.00"
    assert f'name="from" value="{day}"' in html
    assert "kpi-errors" not in html


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"period": "custom", "from": "2026-02-30", "to": "2026-03-10"}, "Date has wrong format"),
        ({"period": "custom", "from": "yesterday", "to": "2026-03-10"}, "Date has wrong format"),
        ({"period": "custom", "from": "2026-03-10", "to": "2026-03-01"}, "Must not be before “from”"),
        ({"period": "custom", "from": "2025-01-01", "to": "2026-03-01"}, "at most 366 days"),
        ({"period": "custom", "from": "0001-01-01", "to": "0001-01-02"}, "between the years 1900 and 9000"),
        ({"period": "custom", "from": "9999-12-30", "to": "9999-12-31"}, "between the years 1900 and 9000"),
        ({"period": "custom", "from": "2026-03-01"}, "Pick both a start and an end date"),
        ({"to": "2026-03-01"}, "Pick both a start and an end date"),
        ({"period": "forever"}, "There is no such period"),
    ],
)
def test_bad_period_input_is_named_and_the_last_30_days_shown(login, shop, params, problem):
    response = login("Marketer").get(DASHBOARD, params)
    assert response.status_code == 200
    html = response.content.decode()
    errors = re.search(r'<ul class="errorlist kpi-errors" role="alert">(.*?)</ul>', html, re.S)
    assert errors and problem in errors.group(1)
    assert "Showing the last 30 days instead." in errors.group(1)
    assert figure(html, "revenue") == "150.00"


def test_bad_input_on_the_csv_export_falls_back_the_same_way(login, shop):
    response = login("Marketer").get(DASHBOARD, {"format": "csv", "period": "custom", "from": "x", "to": "y"})
    assert response.status_code == 200
    assert "sales,revenue,150.00" in response.content.decode()


# ------------------------------------------------------------------ figures, links, nulls


def test_sales_figures_show_their_change_against_the_period_before(login, shop, clock):
    PurchaseFactory(contact=shop["ben"], total=Decimal("60.00"), purchased_at=days_ago(45))
    PurchaseFactory(contact=shop["ben"], total=Decimal("70.00"), purchased_at=days_ago(50))
    html = login("Marketer").get(DASHBOARD).content.decode()
    change = re.search(r'data-key="revenue">.*?<span class="kpi-change up" title="([^"]*)">([^<]*)<', html, re.S)
    assert change, "no change on revenue"
    assert change.group(2) == "▲ 15.4%"  # 150 against 130
    assert change.group(1) == "The period before: 130.00"
    orders = re.search(r'data-key="orders">.*?<span class="kpi-change (\w*)"[^>]*>([^<]*)<', html, re.S)
    assert orders and orders.groups() == ("flat", "= 0.0%")


def test_empty_figures_show_a_dash_that_says_why(login, clock):
    html = login("Marketer").get(DASHBOARD).content.decode()
    assert re.search(
        r'data-key="aov">.*?<span class="kpi-figure-value kpi-null" title="No orders in this period.">—<', html, re.S
    )
    assert re.search(r'data-key="retention">.*?class="kpi-figure-value kpi-null" title="Nobody bought', html, re.S)
    assert "No campaign brought revenue in this period." in html


def test_money_figures_link_to_the_purchases_of_the_period(login, shop):
    marketer = login("Marketer")
    link = figure_link(marketer.get(DASHBOARD).content.decode(), "revenue")
    assert link.startswith("/admin/contacts/purchase/?")
    listed = marketer.get(link)
    assert listed.status_code == 200
    assert sorted(p.total for p in listed.context["cl"].queryset) == [Decimal("50.00"), Decimal("100.00")]


def list_behind(client, html: str, label: str) -> list:
    """The rows of the admin list the chart element titled `label` links to."""
    match = re.search(rf'<a href="([^"]+)"><title>{re.escape(label)}', html)
    assert match, f"no link titled {label}"
    response = client.get(match.group(1).replace("&amp;", "&"))
    assert response.status_code == 200
    assert "?e=1" not in response.get("Location", "")
    return list(response.context["cl"].queryset)


def test_chart_elements_link_to_the_contacts_and_purchases_behind_them(login, shop):
    marketer = login("Marketer")
    html = marketer.get(DASHBOARD).content.decode()
    buyers = sorted([shop["ann"].pk, shop["ben"].pk])
    assert sorted(c.pk for c in list_behind(marketer, html, "Purchaser: 2 contacts")) == buyers
    assert [c.pk for c in list_behind(marketer, html, "Add to cart: 1 contact at")] == [shop["cai"].pk]
    assert [c.pk for c in list_behind(marketer, html, "Active customer: 1")] == [shop["ben"].pk]
    assert [c.pk for c in list_behind(marketer, html, "New customer: 1")] == [shop["ann"].pk]
    assert [c.pk for c in list_behind(marketer, html, "Web form: 1")] == [shop["ann"].pk]
    assert [c.pk for c in list_behind(marketer, html, "No source: 1")] == [shop["cai"].pk]
    assert [p.channel for p in list_behind(marketer, html, "In store: 50.00 from 1 order<")] == ["in_store"]


def test_the_funnel_leaves_erased_contacts_out_and_so_does_its_link(login, shop):
    ContactFactory(funnel_stage=FunnelStage.PURCHASER, erased_at=NOW)
    marketer = login("Marketer")
    html = marketer.get(DASHBOARD).content.decode()
    assert len(list_behind(marketer, html, "Purchaser: 2 contacts")) == 2


def test_a_user_who_may_not_open_a_list_gets_no_link_to_it(django_user_model, client, shop):
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("viewer", password="pw-123-long", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_campaign", content_type__app_label="campaigns"))
    client.force_login(user)
    html = client.get(DASHBOARD).content.decode()
    assert figure(html, "revenue") == "150.00"
    assert "/admin/contacts/" not in html


def test_top_campaigns_link_to_their_report(login, shop):
    html = login("Marketer").get(DASHBOARD).content.decode()
    campaign = Campaign.objects.get()
    assert f'href="/admin/campaigns/campaign/{campaign.pk}/report/"' in html


# ------------------------------------------------------------------ escaping, language


def test_names_people_typed_are_shown_as_text(login, shop):
    Purchase.objects.filter(channel="in_store").update(utm_source="<b>ads</b>")
    html = login("Marketer").get("/admin/").content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert SCRIPT not in html
    assert "&lt;b&gt;ads&lt;/b&gt;" in html
    assert "<b>ads</b>" not in html


def test_the_hebrew_page_reads_right_to_left(login, shop):
    response = login("Marketer").get("/admin/", HTTP_ACCEPT_LANGUAGE="he")
    html = response.content.decode()
    assert '<html lang="he" dir="rtl">' in html
    assert 'class="kpi-chart kpi-funnel" role="img"' in html
    assert 'direction="rtl"' in html
    assert 'direction="ltr"' not in html


# ------------------------------------------------------------------ CSV


def csv_lines(response) -> list[str]:
    return response.content.decode().splitlines()


def test_the_csv_has_one_row_per_figure(login, shop):
    response = login("Marketer").get(DASHBOARD, {"format": "csv", "period": "last_90"})
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="kpis-2025-12-21-2026-03-20.csv"' in response["Content-Disposition"]
    lines = csv_lines(response)
    assert lines[0] == "section,key,value"
    for row in [
        "period,from,2025-12-21",
        "sales,revenue,180.00",
        "sales,orders,3",
        "funnel,purchaser,2",
        "funnel_conversion,purchaser,0.6667",
        "lifecycle,active,1",
        "lifecycle,new,1",
        "new_contacts,total,3",
        "new_contacts,by_source.web_form,1",
        "by_channel,app.revenue,30.00",
        "email,attributed_revenue,100.00",
        f"top_campaigns,1.name,{SCRIPT}",
        "top_campaigns,1.revenue,100.00",
        "previous,revenue,0.00",
        "previous,aov,",
    ]:
        assert row in lines


def test_the_csv_defuses_cells_a_spreadsheet_would_run(login, shop):
    Campaign.objects.update(name='=HYPERLINK("http://evil")')
    lines = csv_lines(login("Marketer").get(DASHBOARD, {"format": "csv"}))
    assert 'top_campaigns,1.name,"\'=HYPERLINK(""http://evil"")"' in lines


# ------------------------------------------------------------------ cost


def queries_for(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_page_costs_the_same_queries_however_much_data(login, shop):
    marketer = login("Marketer")
    marketer.get("/admin/")  # the session and permission caches warm up
    before = {url: queries_for(marketer, url) for url in ("/admin/", DASHBOARD, f"{DASHBOARD}?format=csv")}
    for index in range(5):
        contact = ContactFactory(funnel_stage=index % 5, source="social", signed_up_at=days_ago(index))
        purchase = PurchaseFactory(contact=contact, channel="online", purchased_at=days_ago(index + 1))
        campaign_with_revenue(f"Campaign {index}", purchase)
    contacts_refresh_purchase_stats(contact_ids=list(Contact.objects.values_list("pk", flat=True)))
    after = {url: queries_for(marketer, url) for url in before}
    assert after == before


def test_the_kpis_are_computed_once_per_page(login, shop, monkeypatch):
    from campaigns.reports import dashboard

    calls = []
    monkeypatch.setattr(dashboard, "kpis", lambda period: calls.append(period) or kpis(period))
    marketer = login("Marketer")
    for url in ("/admin/", DASHBOARD, f"{DASHBOARD}?format=csv"):
        calls.clear()
        assert marketer.get(url).status_code == 200
        assert len(calls) == 1


def test_it_says_how_many_uploaded_site_events_are_still_being_stored(login, shop):
    marketer = login("Marketer")
    QueuedActivity.objects.create(type="page_view", anonymous_id="<b>v</b>", occurred_at=timezone.now())

    html = marketer.get(DASHBOARD).content.decode()
    assert "1 site event just uploaded is still being added to these figures" in html
