"""Spend in the back office: the list with its channel ROMI panel, the YYYY-MM form, and who may do what."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from campaigns.reports.models import Spend
from campaigns.reports.services import spend_set
from tests.factories import PurchaseFactory

pytestmark = pytest.mark.django_db
ZONE = ZoneInfo("Asia/Jerusalem")
LIST = reverse("admin:reports_spend_changelist")
ADD = reverse("admin:reports_spend_add")
TODAY = dt.datetime(2026, 3, 20, 10, tzinfo=ZONE)


def change_url(spend: Spend) -> str:
    return reverse("admin:reports_spend_change", args=[spend.pk])


def panel(response) -> str:
    html = response.content.decode()
    start = html.index('id="channel-romi"')
    return html[start : html.index("</section>", start)]


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel(TODAY, tick=False):
        yield


@pytest.fixture
def march_numbers():
    spend_set(channel="google", month="2026-03", amount="3100", note="Search ads")
    PurchaseFactory(total=Decimal("1500"), utm_source="google", purchased_at=dt.datetime(2026, 3, 4, 12, tzinfo=ZONE))


# ------------------------------------------------------------------ the list and the ROMI panel


def test_the_list_shows_each_spend_with_its_month_as_yyyy_mm(login):
    spend_set(channel="facebook", month="2026-02", amount="4200", note="Winter sale")

    page = login("Marketer").get(LIST)

    assert page.status_code == 200
    html = page.content.decode()
    assert "facebook" in html and "2026-02" in html and "Winter sale" in html


def test_the_panel_shows_this_months_romi_by_default(login, march_numbers):
    html = panel(login("Marketer").get(LIST))

    # 1–20 March: 20/31 of 3,100 spent, 1,500 earned → ROMI (1500 − 2000) / 2000.
    assert "google" in html
    assert "1,500.00" in html and "2,000.00" in html and "-25.0%" in html


def test_a_preset_period_is_picked_from_the_query(login, march_numbers):
    page = login("Marketer").get(LIST, {"romi-period": "last_90"})

    assert page.status_code == 200
    assert page.context["romi_period"].start == dt.date(2025, 12, 21)
    assert page.context["romi_period"].end == dt.date(2026, 3, 20)


def test_a_custom_period_is_picked_with_its_days(login, march_numbers):
    page = login("Marketer").get(LIST, {"romi-period": "custom", "romi-start": "2026-03-01", "romi-end": "2026-03-10"})

    html = panel(page)
    assert "1,000.00" in html and "50.0%" in html


@pytest.mark.parametrize(
    "query",
    [
        {"romi-period": "custom", "romi-start": "2026-03-10", "romi-end": "2026-03-01"},
        {"romi-period": "custom", "romi-start": "2026-03-10"},
        {"romi-period": "custom", "romi-start": "0001-01-01", "romi-end": "2026-03-01"},
        {"romi-period": "custom", "romi-start": "yesterday", "romi-end": "2026-03-01"},
        {"romi-period": "next-year"},
    ],
)
def test_a_period_it_cannot_use_is_named_and_this_month_shown(login, query):
    page = login("Marketer").get(LIST, query)

    assert page.status_code == 200
    assert page.context["romi_period"].start == dt.date(2026, 3, 1)
    assert 'class="errornote"' in panel(page)


def test_the_period_goes_along_with_the_lists_own_filters(login, march_numbers):
    spend_set(channel="facebook", month="2026-03", amount="10")

    page = login("Marketer").get(LIST, {"channel": "google", "romi-period": "last_30"})

    assert page.status_code == 200  # the changelist did not take romi-period for an unknown filter
    assert page.context["cl"].result_count == 1
    assert page.context["romi_period"].start == dt.date(2026, 2, 19)
    presets = panel(page)
    assert "channel=google&amp;romi-period=last_90" in presets


def test_channel_names_from_the_data_are_escaped(login):
    PurchaseFactory(
        total=Decimal("5"), utm_source="<script>x</script>", purchased_at=dt.datetime(2026, 3, 4, tzinfo=ZONE)
    )

    html = panel(login("Marketer").get(LIST))

    assert "<script>x</script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html


# ------------------------------------------------------------------ the form


def test_a_marketer_adds_a_spend_with_the_month_as_yyyy_mm(login):
    client = login("Marketer")

    response = client.post(ADD, {"channel": "Instagram", "month": "2026-03", "amount": "250.00", "note": ""})

    assert response.status_code == 302
    spend = Spend.objects.get()
    assert (spend.channel, spend.month, spend.amount) == ("instagram", dt.date(2026, 3, 1), Decimal("250.00"))


def test_the_edit_form_shows_the_month_as_yyyy_mm_and_saves_a_change(login):
    spend, _created = spend_set(channel="facebook", month="2026-03", amount="10")
    client = login("Marketer")

    form = client.get(change_url(spend)).content.decode()
    assert 'value="2026-03"' in form and 'type="month"' in form

    response = client.post(change_url(spend), {"channel": "facebook", "month": "2026-04", "amount": "12", "note": "x"})
    assert response.status_code == 302
    spend.refresh_from_db()
    assert (spend.month, spend.amount, spend.note) == (dt.date(2026, 4, 1), Decimal("12.00"), "x")


@pytest.mark.parametrize(
    "data, field",
    [
        ({"channel": "face book", "month": "2026-03", "amount": "1"}, "channel"),
        ({"channel": "facebook", "month": "March", "amount": "1"}, "month"),
        ({"channel": "facebook", "month": "2026-03", "amount": "-1"}, "amount"),
    ],
)
def test_bad_input_comes_back_on_its_field(login, data, field):
    response = login("Marketer").post(ADD, data)

    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not Spend.objects.exists()


def test_a_second_spend_for_the_same_channel_and_month_is_refused(login):
    spend_set(channel="facebook", month="2026-03", amount="10")

    response = login("Marketer").post(ADD, {"channel": "FACEBOOK", "month": "2026-03", "amount": "20"})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert Spend.objects.get().amount == Decimal("10.00")


def test_moving_a_spend_onto_a_taken_month_is_refused_on_the_form(login):
    spend_set(channel="facebook", month="2026-03", amount="10")
    april, _created = spend_set(channel="facebook", month="2026-04", amount="20")

    response = login("Marketer").post(change_url(april), {"channel": "facebook", "month": "2026-03", "amount": "20"})

    assert response.status_code == 200
    april.refresh_from_db()
    assert april.month == dt.date(2026, 4, 1)


def test_a_marketer_deletes_a_spend(login):
    spend, _created = spend_set(channel="facebook", month="2026-03", amount="10")

    response = login("Marketer").post(reverse("admin:reports_spend_delete", args=[spend.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert not Spend.objects.exists()


# ------------------------------------------------------------------ roles


def test_an_analyst_sees_the_list_and_the_panel_but_changes_nothing(login, march_numbers):
    spend = Spend.objects.get()
    client = login("Analyst")

    page = client.get(LIST)
    assert page.status_code == 200 and "google" in panel(page)
    assert ADD not in page.content.decode()
    assert client.get(ADD).status_code == 403
    form = client.get(change_url(spend))
    assert form.status_code == 200 and 'name="_save"' not in form.content.decode()
    client.post(change_url(spend), {"channel": "google", "month": "2026-03", "amount": "1"})
    spend.refresh_from_db()
    assert spend.amount == Decimal("3100.00")
    assert client.post(reverse("admin:reports_spend_delete", args=[spend.pk]), {"post": "yes"}).status_code == 403


@pytest.mark.parametrize("role", ["Staff", "no role"])
def test_roles_without_measurement_get_neither_the_list_nor_the_panel(login, django_user_model, client, role):
    if role == "no role":
        client.force_login(django_user_model.objects.create_user("nobody", password=None, is_staff=True))
    else:
        client = login(role)

    assert client.get(LIST).status_code == 403
    assert client.get(LIST, {"romi-period": "last_30"}).status_code == 403
