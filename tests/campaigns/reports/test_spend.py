"""Spend per channel and month, and channel ROMI (CONTRACT §7), through the services and `channel_romi`."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from campaigns.models import Campaign, EmailTemplate, Message, TrackingEvent
from campaigns.reports import attribution
from campaigns.reports.models import Spend
from campaigns.reports.period import Period
from campaigns.reports.services import spend_delete, spend_set, spend_update
from campaigns.reports.spend import channel_romi, channel_spend
from contacts.models import Purchase
from tests.factories import ContactFactory, PurchaseFactory

pytestmark = pytest.mark.django_db
ZONE = ZoneInfo("Asia/Jerusalem")
MARCH = Period(dt.date(2026, 3, 1), dt.date(2026, 3, 31))


def at(day: int, hour: int = 12, month: int = 3) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=ZONE)


def codes(error: ValidationError) -> dict[str, list[str]]:
    """The codes the API answers with (a message without one is `invalid`)."""
    return {field: [item.code or "invalid" for item in items] for field, items in error.error_dict.items()}


def bought(total: str, *, when: dt.datetime, utm_source: str = "", contact=None) -> Purchase:
    """A purchase attributed as ingestion attributes it (the hook's own function)."""
    purchase = PurchaseFactory(
        contact=contact or ContactFactory(), total=Decimal(total), purchased_at=when, utm_source=utm_source
    )
    attribution.purchases_stored([purchase.pk])
    return purchase


def clicked(contact, *, when: dt.datetime, machine: bool = False) -> None:
    template = EmailTemplate.objects.create(name="Sale", subject="Sale", html="<p>Hi</p>")
    campaign = Campaign.objects.create(name="Spring", template=template, status=Campaign.Status.SENT)
    message = Message.objects.create(campaign=campaign, contact=contact, status=Message.Status.SENT)
    TrackingEvent.objects.create(
        message=message,
        campaign=campaign,
        contact=contact,
        kind=TrackingEvent.Kind.CLICK,
        is_machine=machine,
        occurred_at=when,
    )


# ------------------------------------------------------------------ recording spend


def test_setting_a_spend_stores_the_channel_in_lower_case_and_the_month_as_its_first_day():
    spend, created = spend_set(channel="Google-Ads", month="2026-03", amount="1200.5")

    assert created
    spend.refresh_from_db()
    assert (spend.channel, spend.month, spend.amount) == ("google-ads", dt.date(2026, 3, 1), Decimal("1200.50"))


def test_setting_the_same_spend_again_changes_nothing():
    first, _created = spend_set(channel="facebook", month="2026-03", amount="100", note="Spring")
    updated_at = first.updated_at

    again, created = spend_set(channel="FACEBOOK", month=dt.date(2026, 3, 17), amount=Decimal("100.00"), note="Spring")

    assert not created and again.pk == first.pk
    again.refresh_from_db()
    assert again.updated_at == updated_at
    assert Spend.objects.count() == 1


def test_setting_an_existing_channel_and_month_replaces_its_amount_and_note():
    first, _created = spend_set(channel="facebook", month="2026-03", amount="100", note="Estimate")

    replaced, created = spend_set(channel="facebook", month="2026-03", amount="140.25")

    assert not created and replaced.pk == first.pk
    replaced.refresh_from_db()
    assert (replaced.amount, replaced.note) == (Decimal("140.25"), "")


@pytest.mark.parametrize(
    "channel",
    ["face book", "פייסבוק", "facebook!", "\u212a", "x" * 101, "", "   ", 12, None],
)
def test_a_channel_must_be_a_utm_source_like_name(channel):
    with pytest.raises(ValidationError) as caught:
        spend_set(channel=channel, month="2026-03", amount="1")  # type: ignore[arg-type]
    assert set(caught.value.error_dict) == {"channel"}
    assert not Spend.objects.exists()


@pytest.mark.parametrize("month", ["2026-13", "2026-3", "26-03", "2026-03-01", "1899-12", "March 2026", ""])
def test_a_month_must_be_written_yyyy_mm(month):
    with pytest.raises(ValidationError) as caught:
        spend_set(channel="facebook", month=month, amount="1")
    assert set(caught.value.error_dict) == {"month"}


@pytest.mark.parametrize("amount", ["-1", "abc", "1e12", "NaN", ""])
def test_an_amount_must_be_a_non_negative_sum_of_money(amount):
    with pytest.raises(ValidationError) as caught:
        spend_set(channel="facebook", month="2026-03", amount=amount)
    assert set(caught.value.error_dict) == {"amount"}


def test_every_bad_field_is_named_at_once():
    with pytest.raises(ValidationError) as caught:
        spend_set(channel="no spaces please", month="2026-00", amount="-5", note="x" * 201)
    assert codes(caught.value) == {
        "channel": ["invalid"],
        "month": ["invalid"],
        "amount": ["min_value"],
        "note": ["invalid"],
    }


def test_moving_a_spend_onto_a_taken_channel_and_month_is_refused_naming_the_month():
    spend_set(channel="facebook", month="2026-03", amount="100")
    april, _created = spend_set(channel="facebook", month="2026-04", amount="200")

    with pytest.raises(ValidationError) as caught:
        spend_update(spend=april, month="2026-03")

    assert codes(caught.value) == {"month": ["unique"]}
    april.refresh_from_db()
    assert april.month == dt.date(2026, 4, 1)


def test_an_update_changes_only_what_is_given():
    spend, _created = spend_set(channel="facebook", month="2026-03", amount="100", note="Kept")

    spend_update(spend=spend, amount="90", channel="Instagram")

    spend.refresh_from_db()
    assert (spend.channel, spend.month, spend.amount, spend.note) == (
        "instagram",
        dt.date(2026, 3, 1),
        Decimal("90.00"),
        "Kept",
    )


def test_a_deleted_spend_no_longer_counts():
    spend, _created = spend_set(channel="facebook", month="2026-03", amount="310")
    spend_delete(spend=spend)
    assert channel_spend(MARCH) == {}


# ------------------------------------------------------------------ proration


def test_a_month_covered_in_full_counts_in_full():
    spend_set(channel="facebook", month="2026-03", amount="3100")
    assert channel_spend(MARCH) == {"facebook": Decimal("3100.00")}


def test_part_of_a_month_counts_its_share_of_the_days():
    spend_set(channel="facebook", month="2026-03", amount="3100")
    assert channel_spend(Period(dt.date(2026, 3, 1), dt.date(2026, 3, 10))) == {"facebook": Decimal("1000.00")}
    assert channel_spend(Period(dt.date(2026, 3, 31), dt.date(2026, 3, 31))) == {"facebook": Decimal("100.00")}


def test_a_period_over_two_months_takes_its_days_of_each():
    spend_set(channel="facebook", month="2026-03", amount="3100")
    spend_set(channel="facebook", month="2026-04", amount="3000")
    spend_set(channel="facebook", month="2026-05", amount="9999")  # outside the period

    spent = channel_spend(Period(dt.date(2026, 3, 22), dt.date(2026, 4, 10)))

    assert spent == {"facebook": Decimal("2000.00")}  # 10/31 of March + 10/30 of April


def test_february_of_a_leap_year_has_29_days():
    spend_set(channel="google", month="2028-02", amount="2900")
    assert channel_spend(Period(dt.date(2028, 2, 1), dt.date(2028, 2, 10))) == {"google": Decimal("1000.00")}


def test_a_period_of_many_years_reads_only_the_months_it_covers():
    spend_set(channel="google", month="1999-12", amount="31")
    spend_set(channel="google", month="2026-03", amount="31")
    spend_set(channel="google", month="2031-01", amount="31")

    assert channel_spend(Period(dt.date(2000, 1, 1), dt.date(2030, 12, 31))) == {"google": Decimal("31.00")}


# ------------------------------------------------------------------ channel ROMI


def test_revenue_counts_under_the_purchases_utm_source_in_lower_case():
    spend_set(channel="facebook", month="2026-03", amount="100")
    bought("250", when=at(5), utm_source="facebook")
    bought("50", when=at(6), utm_source="Facebook")
    bought("999", when=at(6))  # no utm_source, not attributed: no channel

    assert channel_romi(MARCH) == {
        "facebook": {"revenue": Decimal("300.00"), "spend": Decimal("100.00"), "romi": 2.0},
    }


def test_revenue_attributed_through_a_human_click_counts_as_email_whatever_its_utm_source():
    buyer = ContactFactory()
    clicked(buyer, when=at(4))
    bought("120", when=at(5), utm_source="facebook", contact=buyer)
    bought("80", when=at(5), utm_source="facebook")

    romi = channel_romi(MARCH)

    assert romi["email"] == {"revenue": Decimal("120.00"), "spend": Decimal("0.00"), "romi": None}
    assert romi["facebook"]["revenue"] == Decimal("80.00")


def test_a_machine_click_credits_nothing_to_email():
    buyer = ContactFactory()
    clicked(buyer, when=at(4), machine=True)
    bought("120", when=at(5), utm_source="facebook", contact=buyer)

    assert set(channel_romi(MARCH)) == {"facebook"}


def test_romi_is_null_without_spend_and_minus_one_without_revenue():
    bought("75", when=at(5), utm_source="newsletter-partner")
    spend_set(channel="tiktok", month="2026-03", amount="310")

    romi = channel_romi(MARCH)

    assert romi["newsletter-partner"]["romi"] is None
    assert romi["tiktok"] == {"revenue": Decimal("0.00"), "spend": Decimal("310.00"), "romi": -1.0}


def test_romi_weighs_the_revenue_of_the_period_against_its_share_of_the_spend():
    spend_set(channel="google", month="2026-03", amount="3100")
    bought("1500", when=at(3), utm_source="google")
    bought("700", when=at(20), utm_source="google")  # after the period

    romi = channel_romi(Period(dt.date(2026, 3, 1), dt.date(2026, 3, 10)))

    assert romi == {"google": {"revenue": Decimal("1500.00"), "spend": Decimal("1000.00"), "romi": 0.5}}


def test_the_periods_days_are_time_zone_days():
    bought("10", when=dt.datetime(2026, 3, 31, 23, 30, tzinfo=ZONE), utm_source="google")
    bought("20", when=dt.datetime(2026, 4, 1, 0, 30, tzinfo=ZONE), utm_source="google")  # 21:30 UTC on the 31st

    assert channel_romi(MARCH)["google"]["revenue"] == Decimal("10.00")


def test_an_empty_period_has_no_channels():
    assert channel_romi(MARCH) == {}
