"""The §7 rule case by case: which mail a purchase is credited to, at ingestion (service, API, bulk), after a
merge, and when `recompute_attribution` applies other windows to a period."""

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from campaigns.models import Campaign, EmailTemplate, Message, TrackingEvent
from campaigns.reports.models import Attribution
from contacts import merging
from contacts.ingest import purchases_record_bulk
from contacts.models import Purchase
from contacts.services import purchase_record
from tests.factories import ContactFactory, MemberFactory

pytestmark = pytest.mark.django_db

AT = dt.datetime(2026, 5, 10, 9, 0, tzinfo=dt.UTC)  # when the purchases of these tests are made
MICRO = dt.timedelta(microseconds=1)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
CLICK, OPEN = TrackingEvent.Kind.CLICK, TrackingEvent.Kind.OPEN


@pytest.fixture
def mailing():
    """`mailing("Spring")`: a sent campaign (or, with kind="flow", an automation's mail step)."""
    template = EmailTemplate.objects.create(name="T", subject="Hi", html="<p>Hi</p>", language="en")

    def make(name: str = "Spring", kind: str = Campaign.Kind.BROADCAST) -> Campaign:
        return Campaign.objects.create(name=name, template=template, kind=kind, status=Campaign.Status.SENT)

    return make


def touch(campaign, contact, kind=CLICK, at=AT - HOUR, *, machine=False) -> TrackingEvent:
    message, _created = Message.objects.get_or_create(
        campaign=campaign, contact=contact, defaults={"status": Message.Status.SENT, "sent_at": AT - 10 * DAY}
    )
    return TrackingEvent.objects.create(
        message=message, campaign=campaign, contact=contact, kind=kind, occurred_at=at, is_machine=machine
    )


def buy(contact, at=AT, *, channel="online", total="120.00", external_id=None) -> Purchase:
    return purchase_record(
        contact=contact,
        source="shop",
        external_id=external_id,
        channel=channel,
        purchased_at=at,
        total=Decimal(total),
        currency="ILS",
        store=None,
        items=[],
    )[0]


def credit(purchase: Purchase) -> Attribution | None:
    return Attribution.objects.filter(purchase=purchase).first()


def credited_event(purchase: Purchase) -> tuple | None:
    row = credit(purchase)
    return None if row is None else (row.message_id, row.touch, row.touched_at)


def as_credit(event: TrackingEvent) -> tuple:
    return (event.message_id, event.kind, event.occurred_at)


# ---------------------------------------------------------------- the rule


def test_a_purchase_is_credited_to_the_latest_human_click_and_keeps_a_copy_of_the_purchase(mailing):
    contact = ContactFactory()
    spring, summer = mailing("Spring"), mailing("Summer")
    touch(spring, contact, CLICK, AT - 3 * DAY)
    latest = touch(summer, contact, CLICK, AT - 2 * DAY)

    purchase = buy(contact, channel="in_store", total="349.90")

    row = credit(purchase)
    assert (row.message_id, row.campaign_id, row.contact_id) == (latest.message_id, summer.pk, contact.pk)
    assert (row.touch, row.touched_at, row.purchased_at) == ("click", AT - 2 * DAY, AT)
    assert (row.total, row.channel) == (Decimal("349.90"), "in_store")


def test_machine_opens_and_clicks_never_take_the_credit(mailing):
    contact = ContactFactory()
    spring, summer = mailing("Spring"), mailing("Summer")
    human = touch(spring, contact, CLICK, AT - 4 * DAY)
    touch(summer, contact, CLICK, AT - HOUR, machine=True)
    touch(summer, contact, OPEN, AT - dt.timedelta(minutes=5), machine=True)
    only_machines = ContactFactory()
    touch(summer, only_machines, CLICK, AT - HOUR, machine=True)
    touch(summer, only_machines, OPEN, AT - HOUR, machine=True)

    assert credited_event(buy(contact)) == as_credit(human)
    assert credit(buy(only_machines)) is None


def test_a_click_beats_a_later_open(mailing):
    contact = ContactFactory()
    clicked = touch(mailing("Monday"), contact, CLICK, AT - DAY - HOUR)
    touch(mailing("Tuesday"), contact, OPEN, AT - HOUR)

    assert credited_event(buy(contact)) == as_credit(clicked)


def test_without_a_click_the_latest_human_open_of_the_last_day_takes_the_credit(mailing):
    contact = ContactFactory()
    touch(mailing("Early"), contact, OPEN, AT - 5 * HOUR)
    opened = touch(mailing("Late"), contact, OPEN, AT - HOUR)

    assert credited_event(buy(contact)) == as_credit(opened)


@pytest.mark.parametrize(
    ("kind", "before", "credited"),
    [
        (CLICK, 5 * DAY, True),
        (CLICK, 5 * DAY + MICRO, False),
        (OPEN, DAY, True),
        (OPEN, DAY + MICRO, False),
        (CLICK, dt.timedelta(0), True),
        (OPEN, dt.timedelta(0), True),
        (CLICK, -MICRO, False),
        (OPEN, -MICRO, False),
    ],
)
def test_the_windows_include_both_edges_to_the_microsecond(mailing, kind, before, credited):
    """Exactly 5 × 24 h (clicks) or 24 h (opens) before counts, a microsecond more does not; a touch at the
    purchase's instant counts, one a microsecond after it does not."""
    contact = ContactFactory()
    event = touch(mailing(), contact, kind, AT - before)

    assert credited_event(buy(contact)) == (as_credit(event) if credited else None)


def test_a_touch_after_the_purchase_never_takes_its_credit(mailing):
    contact = ContactFactory()
    before = touch(mailing("Before"), contact, OPEN, AT - 2 * HOUR)
    touch(mailing("After"), contact, CLICK, AT + dt.timedelta(minutes=1))

    assert credited_event(buy(contact)) == as_credit(before)


def test_two_touches_at_the_same_instant_credit_the_one_recorded_last(mailing):
    contact = ContactFactory()
    touch(mailing("First"), contact, CLICK, AT - HOUR)
    last = touch(mailing("Second"), contact, CLICK, AT - HOUR)

    assert credited_event(buy(contact)) == as_credit(last)


@pytest.mark.parametrize("kind", ["delivered", "deferred", "bounce", "complaint", "unsubscribe"])
def test_other_mail_events_never_take_the_credit(mailing, kind):
    contact = ContactFactory()
    touch(mailing(), contact, kind, AT - HOUR)

    assert credit(buy(contact)) is None


def test_only_the_buyers_own_touches_count(mailing):
    buyer, neighbour = ContactFactory(), ContactFactory()
    touch(mailing(), neighbour, CLICK, AT - HOUR)

    assert credit(buy(buyer)) is None


def test_an_automation_mail_is_credited_like_a_campaign(mailing):
    contact = ContactFactory()
    step = mailing("Welcome, step 2", kind=Campaign.Kind.FLOW)
    clicked = touch(step, contact, CLICK, AT - DAY)

    row = credit(buy(contact))

    assert (row.message_id, row.campaign_id) == (clicked.message_id, step.pk)


# ---------------------------------------------------------------- ingestion paths


def test_an_in_store_purchase_by_club_card_through_the_api_is_credited(mailing, make_client):
    member = MemberFactory(card_number="900000004242")
    clicked = touch(mailing(), member.contact, CLICK, AT - 2 * DAY)
    body = {
        "external_id": "TLV-1",
        "source": "pos",
        "card_number": "900000004242",
        "channel": "in_store",
        "purchased_at": AT.isoformat(),
        "total": "89.90",
    }

    response = make_client("purchases:write").post("/api/v1/purchases/", body, format="json")

    assert response.status_code == 201
    row = credit(Purchase.objects.get(pk=response.json()["id"]))
    assert (row.message_id, row.channel, row.total) == (clicked.message_id, "in_store", Decimal("89.90"))


def test_a_store_sale_imported_the_next_day_is_credited_as_if_it_had_arrived_at_once(mailing):
    """What counts is when the sale was made: the open of the evening after it, which the import already
    finds stored, does not take its credit."""
    member = MemberFactory(card_number="900000007777")
    clicked = touch(mailing("Friday"), member.contact, CLICK, AT - 4 * DAY)
    touch(mailing("Evening"), member.contact, OPEN, AT + 8 * HOUR)
    sale = {"external_id": "TLV-9", "source": "pos", "card_number": "900000007777", "channel": "in_store"}

    with time_machine.travel(AT + DAY + 6 * HOUR, tick=False):
        result = purchases_record_bulk(items=[{**sale, "purchased_at": AT.isoformat(), "total": "250.00"}])

    assert result["created"] == 1
    assert credited_event(Purchase.objects.get(external_id="TLV-9")) == as_credit(clicked)


def test_a_bulk_batch_is_credited_with_one_insert_whatever_its_size(mailing):
    spring = mailing()
    buyers = [ContactFactory() for _n in range(6)]
    clicks = {c.pk: touch(spring, c, CLICK, AT - n * HOUR) for n, c in enumerate(buyers[:4])}
    items = [
        {"external_id": f"W-{n}", "source": "shop", "contact": c.pk, "purchased_at": AT.isoformat(), "total": "10"}
        for n, c in enumerate(buyers)
    ]

    with CaptureQueriesContext(connection) as queries:
        assert purchases_record_bulk(items=items)["created"] == 6

    inserts = [q for q in queries.captured_queries if q["sql"].replace('"', "").startswith("INSERT INTO reports_attr")]
    assert len(inserts) == 1
    stored = {row.contact_id: row.message_id for row in Attribution.objects.all()}
    assert stored == {pk: event.message_id for pk, event in clicks.items()}


# ---------------------------------------------------------------- merges


def test_after_a_merge_the_click_of_one_credits_the_purchase_of_the_other(mailing):
    survivor, duplicate = ContactFactory(), ContactFactory()
    clicked = touch(mailing(), duplicate, CLICK, AT - DAY)
    purchase = buy(survivor)
    assert credit(purchase) is None

    merging.merge(survivor=survivor, duplicate=duplicate)

    row = credit(purchase)
    assert (row.message_id, row.contact_id) == (clicked.message_id, survivor.pk)


def test_after_a_merge_the_duplicates_purchase_follows_the_survivors_later_click(mailing):
    survivor, duplicate = ContactFactory(), ContactFactory()
    touch(mailing("Old"), duplicate, OPEN, AT - 2 * HOUR)
    later = touch(mailing("New"), survivor, CLICK, AT - HOUR)
    purchase = buy(duplicate)

    merging.merge(survivor=survivor, duplicate=duplicate)

    assert credited_event(purchase) == as_credit(later)
    assert Attribution.objects.get().contact_id == survivor.pk


def test_a_merge_of_two_recipients_of_the_same_campaign_keeps_the_credit_on_the_kept_message(mailing):
    spring = mailing()
    survivor, duplicate = ContactFactory(), ContactFactory()
    kept = touch(spring, survivor, OPEN, AT - 3 * DAY)
    clicked = touch(spring, duplicate, CLICK, AT - DAY)
    purchase = buy(duplicate)
    assert credit(purchase).message_id == clicked.message_id

    merging.merge(survivor=survivor, duplicate=duplicate)

    row = credit(purchase)
    assert (row.message_id, row.touch, row.touched_at) == (kept.message_id, "click", AT - DAY)


# ---------------------------------------------------------------- recompute_attribution


def recompute(*args: str) -> str:
    out = StringIO()
    call_command("recompute_attribution", *args, stdout=out)
    return out.getvalue()


def test_recompute_after_a_longer_click_window_credits_the_older_clicks_and_is_idempotent(mailing):
    contact = ContactFactory()
    clicked = touch(mailing(), contact, CLICK, AT - 6 * DAY)
    purchase, other = buy(contact), buy(ContactFactory())
    assert credit(purchase) is None

    with override_settings(ATTRIBUTION_CLICK_DAYS=7):
        first = recompute("--from", "2026-05-10", "--to", "2026-05-10")
        rows = list(Attribution.objects.values_list("purchase_id", "message_id", "touch", "touched_at"))
        again = recompute("--from", "2026-05-10", "--to", "2026-05-10")

    assert rows == [(purchase.pk, clicked.message_id, "click", AT - 6 * DAY)]
    assert list(Attribution.objects.values_list("purchase_id", "message_id", "touch", "touched_at")) == rows
    assert first == again == "2 purchases attributed anew, 1 of them to a mail.\n"
    assert credit(other) is None


def test_recompute_after_a_shorter_window_withdraws_the_credit_only_inside_the_period(mailing):
    contact = ContactFactory()
    spring = mailing()
    touch(spring, contact, CLICK, AT - 2 * HOUR)
    touch(spring, contact, CLICK, AT + 3 * DAY - 2 * HOUR)
    outside, inside = buy(contact, AT), buy(contact, AT + 3 * DAY)
    assert credit(outside) and credit(inside)

    with override_settings(ATTRIBUTION_CLICK_DAYS=0, ATTRIBUTION_OPEN_DAYS=0):
        recompute("--from", "2026-05-13", "--to", "2026-05-13")

    assert credit(inside) is None
    assert credit(outside) is not None


def test_recompute_takes_whole_local_days_both_ends_included(mailing):
    """Days are TIME_ZONE days (Asia/Jerusalem, UTC+3 in May): the first day starts at 21:00 UTC the evening
    before, and the last day ends at 21:00 UTC on it."""
    contact = ContactFactory()
    first_instant = dt.datetime(2026, 5, 9, 21, 0, tzinfo=dt.UTC)
    last_instant = dt.datetime(2026, 5, 11, 20, 59, 59, 999999, tzinfo=dt.UTC)
    touch(mailing(), contact, CLICK, first_instant - 2 * DAY)
    purchases = [buy(contact, at) for at in (first_instant - MICRO, first_instant, last_instant, last_instant + MICRO)]
    assert all(credit(p) for p in purchases)

    with override_settings(ATTRIBUTION_CLICK_DAYS=0, ATTRIBUTION_OPEN_DAYS=0):
        output = recompute("--from", "2026-05-10", "--to", "2026-05-11")

    assert output.startswith("2 purchases attributed anew")
    assert [credit(p) is not None for p in purchases] == [True, False, False, True]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--from", "2026-02-30", "--to", "2026-03-01"), "2026-02-30 is not a date (YYYY-MM-DD)."),
        (("--from", "2026-03-01", "--to", "March 5"), "March 5 is not a date (YYYY-MM-DD)."),
        (("--from", "2026-03-05", "--to", "2026-03-01"), "--to is before --from."),
        (("--from", "2026-03-05"), "the following arguments are required: --to"),
    ],
)
def test_recompute_refuses_bad_dates_with_a_clear_message(args, message):
    with pytest.raises(CommandError) as error:
        recompute(*args)

    assert message in str(error.value)
