"""Spend and channel ROMI over the partner API: `/api/v1/spend/` (CONTRACT §7)."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from campaigns.reports.models import Spend
from campaigns.reports.services import spend_set
from tests.factories import PurchaseFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/spend/"
ROMI = "/api/v1/spend/romi/"
ZONE = ZoneInfo("Asia/Jerusalem")


@pytest.fixture
def api(make_client):
    return make_client("campaigns:read", "campaigns:write")


def post(api, **body):
    return api.post(URL, body, format="json")


# ------------------------------------------------------------------ create or replace


def test_posting_a_new_channel_and_month_creates_it(api):
    response = post(api, channel="Facebook", month="2026-03", amount="4200.00", note="Spring")

    assert response.status_code == 201
    body = response.json()
    assert {k: body[k] for k in ("channel", "month", "amount", "note")} == {
        "channel": "facebook",
        "month": "2026-03",
        "amount": "4200.00",
        "note": "Spring",
    }
    assert Spend.objects.get(pk=body["id"]).month == dt.date(2026, 3, 1)


def test_posting_the_same_channel_and_month_again_replaces_it(api):
    first = post(api, channel="facebook", month="2026-03", amount="4200", note="Estimate").json()

    again = post(api, channel="FACEBOOK", month="2026-03", amount=4350.5)

    assert again.status_code == 200
    assert again.json()["id"] == first["id"]
    assert (again.json()["amount"], again.json()["note"]) == ("4350.50", "")
    assert Spend.objects.count() == 1


@pytest.mark.parametrize(
    "body, field, code",
    [
        ({"month": "2026-03", "amount": "1"}, "channel", "required"),
        ({"channel": "face book", "month": "2026-03", "amount": "1"}, "channel", "invalid"),
        ({"channel": "x" * 101, "month": "2026-03", "amount": "1"}, "channel", "invalid"),
        ({"channel": 7, "month": "2026-03", "amount": "1"}, "channel", "invalid"),
        ({"channel": "facebook", "month": "2026-3", "amount": "1"}, "month", "invalid"),
        ({"channel": "facebook", "month": "2026-03-01", "amount": "1"}, "month", "invalid"),
        ({"channel": "facebook", "month": ["2026-03"], "amount": "1"}, "month", "invalid"),
        ({"channel": "facebook", "month": "2026-03", "amount": "-0.01"}, "amount", "min_value"),
        ({"channel": "facebook", "month": "2026-03", "amount": "1e400"}, "amount", "invalid"),
        ({"channel": "facebook", "month": "2026-03", "amount": "9" * 13}, "amount", "invalid"),
        ({"channel": "facebook", "month": "2026-03", "amount": {"x": 1}}, "amount", "invalid"),
        ({"channel": "facebook", "month": "2026-03", "amount": "1", "note": "a\x00b"}, "note", None),
        ({"channel": "face\x00book", "month": "2026-03", "amount": "1"}, "channel", None),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api, body, field, code):
    response = post(api, **body)

    assert response.status_code == 400
    errors = response.json()
    assert field in errors
    if code:
        assert errors["error_codes"][field] == [code]
    assert not Spend.objects.exists()


def test_a_body_that_is_not_an_object_is_a_400(api):
    assert api.post(URL, [1, 2], format="json").status_code == 400
    assert api.post(URL, "2026-03", format="json").status_code == 400


# ------------------------------------------------------------------ read, change, delete


def test_the_list_filters_by_channel_and_month_range(api):
    for channel, month in [
        ("facebook", "2026-01"),
        ("facebook", "2026-02"),
        ("facebook", "2026-04"),
        ("google", "2026-02"),
    ]:
        spend_set(channel=channel, month=month, amount="10")

    def listed(query):
        response = api.get(URL + query)
        assert response.status_code == 200
        return sorted((row["channel"], row["month"]) for row in response.json()["results"])

    assert listed("?channel=Facebook&from=2026-02&to=2026-03") == [("facebook", "2026-02")]
    assert listed("?from=2026-02") == [("facebook", "2026-02"), ("facebook", "2026-04"), ("google", "2026-02")]
    assert listed("?to=2026-01") == [("facebook", "2026-01")]
    assert listed("?from=&to=") == listed("")


@pytest.mark.parametrize("query", ["?from=2026-13", "?to=26-01", "?from=2026-01-01", "?to=%00"])
def test_a_bad_month_in_the_list_filter_is_a_400(api, query):
    response = api.get(URL + query)
    assert response.status_code == 400
    assert query[1:].split("=")[0] in response.json()


def test_the_list_is_paginated(api):
    for month in ("2026-01", "2026-02", "2026-03"):
        spend_set(channel="facebook", month=month, amount="10")

    page = api.get(URL + "?page_size=2").json()

    assert len(page["results"]) == 2 and page["next"]
    rest = api.get(page["next"]).json()
    assert len(rest["results"]) == 1


def test_one_spend_is_read_changed_and_deleted(api):
    spend, _created = spend_set(channel="facebook", month="2026-03", amount="10")
    url = f"{URL}{spend.pk}/"

    assert api.get(url).json()["month"] == "2026-03"
    changed = api.patch(url, {"amount": "12.5", "month": "2026-04"}, format="json")
    assert changed.status_code == 200
    assert (changed.json()["amount"], changed.json()["month"], changed.json()["channel"]) == (
        "12.50",
        "2026-04",
        "facebook",
    )
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404


def test_moving_a_spend_onto_a_taken_month_is_a_400_naming_the_month(api):
    spend_set(channel="facebook", month="2026-03", amount="10")
    april, _created = spend_set(channel="facebook", month="2026-04", amount="20")

    response = api.patch(f"{URL}{april.pk}/", {"month": "2026-03"}, format="json")

    assert response.status_code == 400
    assert response.json()["error_codes"] == {"month": ["unique"]}


def test_a_bad_patch_is_a_400_and_changes_nothing(api):
    spend, _created = spend_set(channel="facebook", month="2026-03", amount="10")

    response = api.patch(f"{URL}{spend.pk}/", {"amount": "-1", "channel": ""}, format="json")

    assert response.status_code == 400
    assert set(response.json()["error_codes"]) == {"amount", "channel"}
    spend.refresh_from_db()
    assert (spend.channel, spend.amount) == ("facebook", Decimal("10.00"))


# ------------------------------------------------------------------ channel ROMI


def test_channel_romi_for_a_period(api):
    spend_set(channel="google", month="2026-03", amount="3100")
    PurchaseFactory(total=Decimal("1500"), utm_source="google", purchased_at=dt.datetime(2026, 3, 4, 12, tzinfo=ZONE))

    response = api.get(ROMI + "?from=2026-03-01&to=2026-03-10")

    assert response.status_code == 200
    assert response.json() == {
        "from": "2026-03-01",
        "to": "2026-03-10",
        "channels": {"google": {"revenue": "1500.00", "spend": "1000.00", "romi": 0.5}},
    }


def test_channel_romi_is_null_where_nothing_was_spent(api):
    PurchaseFactory(total=Decimal("80"), utm_source="partner", purchased_at=dt.datetime(2026, 3, 4, 12, tzinfo=ZONE))

    channels = api.get(ROMI + "?from=2026-03-01&to=2026-03-31").json()["channels"]

    assert channels == {"partner": {"revenue": "80.00", "spend": "0.00", "romi": None}}


@time_machine.travel(dt.datetime(2026, 3, 31, 10, tzinfo=ZONE), tick=False)
def test_without_dates_channel_romi_covers_the_last_30_days(api):
    body = api.get(ROMI).json()
    assert (body["from"], body["to"]) == ("2026-03-02", "2026-03-31")
    body = api.get(ROMI + "?to=2026-02-28").json()
    assert (body["from"], body["to"]) == ("2026-01-30", "2026-02-28")


@pytest.mark.parametrize(
    "query, field, code",
    [
        ("?from=2026-03-10&to=2026-03-01", "to", "conflict"),
        ("?from=2026-02-30&to=2026-03-01", "from", "invalid"),
        ("?from=2027-02-29&to=2027-03-01", "from", "invalid"),
        ("?from=2026-03-01&to=31/03/2026", "to", "invalid"),
        ("?from=&to=2026-03-01", "from", "invalid"),
        ("?from=0001-01-01&to=2026-03-01", "from", "invalid"),
        ("?from=2026-03-01&to=9999-12-31", "to", "invalid"),
        ("?from=2026-03-01%00&to=2026-03-02", "from", "null_characters_not_allowed"),
    ],
)
def test_a_bad_period_is_a_400_naming_the_field(api, query, field, code):
    response = api.get(ROMI + query)

    assert response.status_code == 400
    assert response.json()["error_codes"] == {field: [code]}


def test_a_leap_day_is_a_day(api):
    assert api.get(ROMI + "?from=2028-02-29&to=2028-02-29").status_code == 200
    assert api.get(ROMI + "?from=2000-02-29&to=2000-02-29").status_code == 200
    assert api.get(ROMI + "?from=2100-02-29&to=2100-03-01").status_code == 400


def test_channel_romi_takes_a_period_of_any_length(api):
    spend_set(channel="google", month="2026-03", amount="10")
    response = api.get(ROMI + "?from=1900-01-01&to=2999-12-31")
    assert response.status_code == 200
    assert response.json()["channels"]["google"]["spend"] == "10.00"


# ------------------------------------------------------------------ scopes


def test_reading_takes_campaigns_read_and_writing_campaigns_write(make_client):
    spend, _created = spend_set(channel="facebook", month="2026-03", amount="10")
    body = {"channel": "google", "month": "2026-03", "amount": "5"}
    reader, writer, other = make_client("campaigns:read"), make_client("campaigns:write"), make_client("contacts:read")

    for url in (URL, f"{URL}{spend.pk}/", ROMI):
        assert reader.get(url).status_code == 200
        assert writer.get(url).status_code == 403
        assert other.get(url).status_code == 403
    assert reader.post(URL, body, format="json").status_code == 403
    assert reader.patch(f"{URL}{spend.pk}/", {"amount": "1"}, format="json").status_code == 403
    assert reader.delete(f"{URL}{spend.pk}/").status_code == 403
    assert other.post(URL, body, format="json").status_code == 403
    assert writer.post(URL, body, format="json").status_code == 201
    assert writer.patch(f"{URL}{spend.pk}/", {"amount": "1"}, format="json").status_code == 200
    assert writer.delete(f"{URL}{spend.pk}/").status_code == 204
