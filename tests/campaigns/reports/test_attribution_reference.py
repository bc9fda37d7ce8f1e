"""What ingestion, merges and `recompute_attribution` store agrees with the plain-Python reading of §7
(`attribution_reference`) on random purchases and tracking events: machine and human touches, every kind of
event, touches on the windows' edges (to the microsecond) and after the purchase, buyers named by id, club
card or email, and a span that crosses the change to summer time. Runs on SQLite and on PostgreSQL alike."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns.models import Campaign, EmailTemplate, Message, TrackingEvent
from contacts import merging
from contacts.ingest import purchase_ingest, purchases_record_bulk
from contacts.models import Contact, LoyaltyMember
from contacts.services import purchase_record
from tests.examples import rolled_back

from . import attribution_reference as reference

pytestmark = pytest.mark.django_db

# Israel moves to summer time on 27 March 2026: local days are 23 hours there, windows stay 24-hour multiples.
START = dt.datetime(2026, 3, 24, 21, 30, tzinfo=dt.UTC)
MICRO = dt.timedelta(microseconds=1)
DAY = dt.timedelta(days=1)
# How long before a purchase a touch happens: the windows' edges on both sides, the purchase's instant and after.
BEFORE = [
    dt.timedelta(0),
    MICRO,
    dt.timedelta(hours=1),
    DAY - MICRO,
    DAY,
    DAY + MICRO,
    3 * DAY,
    5 * DAY - MICRO,
    5 * DAY,
    5 * DAY + MICRO,
    6 * DAY,
    -MICRO,
    -dt.timedelta(hours=2),
]
KINDS = ["click", "click", "open", "open", "delivered", "bounce", "unsubscribe", "complaint"]
CONTACTS = 4
CARDS = {0: "900000000100", 1: "900000000101"}  # contacts 0 and 1 are club members

sales = st.lists(
    st.fixed_dictionaries(
        {
            "contact": st.integers(0, CONTACTS - 1),
            "minutes": st.integers(0, 12 * 24 * 60),
            "micro": st.sampled_from([0, 1, 999_999]),
            "channel": st.sampled_from(["online", "in_store", "app"]),
            "total": st.sampled_from([Decimal("0.00"), Decimal("49.90"), Decimal("350.50")]),
            "buyer": st.sampled_from(["contact", "card", "email"]),
        }
    ),
    min_size=1,
    max_size=6,
)
touches = st.lists(
    st.fixed_dictionaries(
        {
            "contact": st.integers(0, CONTACTS - 1),
            "campaign": st.integers(0, 2),
            "kind": st.sampled_from(KINDS),
            "machine": st.booleans(),
            # Most touches sit at a distance from some purchase that matters; the others anywhere.
            "sale": st.one_of(st.none(), st.integers(0, 5)),
            "before": st.sampled_from(BEFORE),
            "minutes": st.integers(-6 * 24 * 60, 12 * 24 * 60),
            # The same touch of another mailing at the very same instant: the one recorded last wins.
            "twin": st.booleans(),
        }
    ),
    max_size=14,
)
paths = st.sampled_from(["service", "single", "bulk"])
EXAMPLES = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture
def people():
    """Contacts (two of them club members) and three mailings: two campaigns and an automation's mail."""
    template = EmailTemplate.objects.create(name="T", subject="Hi", html="<p>Hi</p>", language="en")
    campaigns = [
        Campaign.objects.create(name="Spring", template=template, status=Campaign.Status.SENT),
        Campaign.objects.create(name="Summer", template=template, status=Campaign.Status.SENT),
        Campaign.objects.create(name="Welcome step", template=template, kind=Campaign.Kind.FLOW),
    ]
    contacts = [Contact.objects.create(email=f"buyer{n}@example.com") for n in range(CONTACTS)]
    for n, card in CARDS.items():
        LoyaltyMember.objects.create(contact=contacts[n], card_number=card)
    return contacts, campaigns


def sale_times(drawn_sales: list[dict]) -> list[dt.datetime]:
    return [START + dt.timedelta(minutes=s["minutes"], microseconds=s["micro"]) for s in drawn_sales]


def record_touches(drawn: list[dict], times: list[dt.datetime], contacts: list, campaigns: list) -> None:
    """The opens, clicks and other events, recorded before the purchases arrive (in the order drawn)."""
    for t in drawn:
        if t["sale"] is None:
            at = START + dt.timedelta(minutes=t["minutes"])
        else:
            at = times[t["sale"] % len(times)] - t["before"]
        contact = contacts[t["contact"]]
        for campaign in campaigns[t["campaign"] :][: 1 + t["twin"]]:
            message, _created = Message.objects.get_or_create(
                campaign=campaign, contact=contact, defaults={"status": Message.Status.SENT, "sent_at": START - DAY}
            )
            TrackingEvent.objects.create(
                message=message,
                campaign=campaign,
                contact=contact,
                kind=t["kind"],
                is_machine=t["machine"],
                occurred_at=at,
            )


def _item(n: int, drawn: dict, at: dt.datetime, contact: Contact) -> dict:
    buyer = drawn["buyer"]
    if buyer == "card" and drawn["contact"] not in CARDS:
        buyer = "contact"
    ref = {"contact": {"contact": contact.pk}, "card": {"card_number": CARDS.get(drawn["contact"])}}.get(
        buyer, {"email": contact.email}
    )
    return {
        "external_id": f"order-{n}",
        "source": "pos",
        **ref,
        "channel": drawn["channel"],
        "purchased_at": at.isoformat(),
        "total": str(drawn["total"]),
    }


def ingest(path: str, drawn: list[dict], times: list[dt.datetime], contacts: list) -> None:
    """The purchases through the service, the single-item API path (as `POST /purchases/`) or the bulk path."""
    items = [_item(n, s, at, contacts[s["contact"]]) for n, (s, at) in enumerate(zip(drawn, times, strict=True))]
    if path == "bulk":
        assert purchases_record_bulk(items=items)["created"] == len(items)
        return
    for item, s, at in zip(items, drawn, times, strict=True):
        if path == "single":
            assert purchase_ingest(data=item)[1]
        else:
            purchase_record(
                contact=contacts[s["contact"]],
                source="pos",
                external_id=item["external_id"],
                channel=s["channel"],
                purchased_at=at,
                total=s["total"],
                currency="ILS",
                store=None,
                items=[],
            )


def expected(*, click_days: int = 5, open_days: int = 1) -> dict[int, reference.Credit]:
    return reference.credits(*reference.load(), click_days=click_days, open_days=open_days)


def test_ingested_purchases_are_credited_as_the_reference_says(people):
    contacts, campaigns = people

    @EXAMPLES
    @given(drawn_sales=sales, drawn_touches=touches, path=paths)
    def check(drawn_sales, drawn_touches, path):
        with rolled_back():
            times = sale_times(drawn_sales)
            record_touches(drawn_touches, times, contacts, campaigns)
            ingest(path, drawn_sales, times, contacts)
            assert reference.stored() == expected()

    check()


def test_after_a_merge_the_purchases_are_credited_as_the_reference_says(people):
    contacts, campaigns = people

    @EXAMPLES
    @given(
        drawn_sales=sales,
        drawn_touches=touches,
        pair=st.lists(st.integers(0, CONTACTS - 1), min_size=2, max_size=2, unique=True),
    )
    def check(drawn_sales, drawn_touches, pair):
        with rolled_back():
            times = sale_times(drawn_sales)
            record_touches(drawn_touches, times, contacts, campaigns)
            ingest("bulk", drawn_sales, times, contacts)
            survivor, duplicate = (Contact.objects.get(pk=contacts[n].pk) for n in pair)
            merging.merge(survivor=survivor, duplicate=duplicate)
            assert reference.stored() == expected()

    check()


def _local_day(moment: dt.datetime) -> dt.date:
    return timezone.localtime(moment).date()


def test_recompute_with_other_windows_credits_the_period_anew_and_leaves_the_rest(people):
    contacts, campaigns = people

    @EXAMPLES
    @given(
        drawn_sales=sales,
        drawn_touches=touches,
        click_days=st.integers(0, 7),
        open_days=st.integers(0, 3),
        first=st.integers(0, 13),
        length=st.integers(0, 13),
    )
    def check(drawn_sales, drawn_touches, click_days, open_days, first, length):
        with rolled_back():
            times = sale_times(drawn_sales)
            record_touches(drawn_touches, times, contacts, campaigns)
            ingest("bulk", drawn_sales, times, contacts)
            before = reference.stored()
            start = _local_day(START) + dt.timedelta(days=first)
            end = start + dt.timedelta(days=length)
            with override_settings(ATTRIBUTION_CLICK_DAYS=click_days, ATTRIBUTION_OPEN_DAYS=open_days):
                for _run in range(2):  # the second run changes nothing
                    call_command("recompute_attribution", "--from", str(start), "--to", str(end), verbosity=0)
                    sales_now, _touches = reference.load()
                    inside = {s.id for s in sales_now if start <= _local_day(s.purchased_at) <= end}
                    anew = expected(click_days=click_days, open_days=open_days)
                    kept = {pk: c for pk, c in before.items() if pk not in inside}
                    assert reference.stored() == {**kept, **{pk: c for pk, c in anew.items() if pk in inside}}

    check()
