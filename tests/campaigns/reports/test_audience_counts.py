"""The counts the database keeps for the audience KPIs and channel ROMI (campaigns.reports.counts) equal what the
rows say after every kind of write: each figure read from them equals the same figure read from the rows, at
moments and over periods around the lifecycle thresholds and midnights, before and after a fold, and the tables
themselves equal a recount. Runs on SQLite and on PostgreSQL alike."""

import datetime as dt
from collections import Counter
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Sum
from django.urls import reverse

from campaigns.models import Campaign, EmailTemplate
from campaigns.reports import attribution
from campaigns.reports.audience import audience_now, audience_scan, distinct_members, signups
from campaigns.reports.counts import AudienceCount, ChannelCount, DistinctCount, DistinctDay, SignupCount
from campaigns.reports.folding import counts_fold, counts_recount
from campaigns.reports.models import Attribution
from campaigns.reports.period import Period
from campaigns.reports.spend import CENTS, channel_revenue, channel_revenue_between
from contacts import ingest, services
from contacts.models import Activity, Contact, Purchase, VisitorIdentity
from tests.contacts.test_admin import contact_form_data
from tests.contacts.test_import_export import import_file
from tests.factories import ActivityFactory, ContactFactory, PurchaseFactory

from .credited import attribute

pytestmark = pytest.mark.django_db

ISRAEL = ZoneInfo("Asia/Jerusalem")
NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=ISRAEL)
# Moments around the thresholds of the lifecycle rule (30, 90 and 180 days) and around UTC midnight.
MOMENTS = [
    NOW,
    NOW + dt.timedelta(hours=13),
    NOW + dt.timedelta(days=1, hours=-10, minutes=-1),
    NOW + dt.timedelta(days=40),
]
PERIODS = [
    Period(dt.date(2026, 6, 15), dt.date(2026, 6, 15)),
    Period(dt.date(2026, 6, 1), dt.date(2026, 6, 30)),
    Period(dt.date(2025, 6, 16), dt.date(2026, 6, 15)),
    Period(dt.date(2026, 3, 1), dt.date(2026, 3, 31)),
]
KINDS = ("anonymous", "promoter")


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


def at(days: float, hours: float = 0) -> dt.datetime:
    """`days` days and `hours` hours before NOW."""
    return NOW - dt.timedelta(days=days, hours=hours)


# ------------------------------------------------------------------ the rows' own answers


def _raw_signups(period: Period) -> Counter:
    start, end = period.bounds()
    rows = Contact.objects.filter(signed_up_at__gte=start, signed_up_at__lt=end).values("source").order_by()
    return Counter({row["source"]: row["n"] for row in rows.annotate(n=Count("pk"))})


def _raw_members(kind: str, period: Period) -> int:
    start, end = period.bounds()
    events = Activity.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
    if kind == "anonymous":
        linked = VisitorIdentity.objects.filter(anonymous_id=OuterRef("anonymous_id"))
        events = events.filter(contact__isnull=True, anonymous_id__isnull=False).exclude(Exists(linked))
        return len(set(events.values_list("anonymous_id", flat=True)))
    promoters = events.filter(type__in=["review", "referral"], contact__isnull=False)
    return len(set(promoters.values_list("contact_id", flat=True)))


def _raw_channels(period: Period) -> dict:
    start, end = period.bounds()
    return {channel: amount.quantize(CENTS) for channel, (_n, amount) in channel_revenue_between(start, end).items()}


def _tables() -> dict:
    def summed(model, keys, value="n"):
        rows = model.objects.values(*keys).order_by().annotate(total=Sum(value), n_total=Sum("n"))
        return {tuple(row[key] for key in keys): row["total"] for row in rows if row["n_total"]}

    return {
        "audience": summed(
            AudienceCount,
            ["funnel_stage", "consenting", "first_purchase_at", "first_clamped", "last_purchase_at", "last_clamped"],
        ),
        "signups": summed(SignupCount, ["day", "source"]),
        "distinct": summed(DistinctCount, ["kind", "day", "prev_day"]),
        "days": sorted(DistinctDay.objects.values_list("kind", "member", "day", "prev_day")),
        "channel orders": summed(ChannelCount, ["day", "channel"]),
        "channel revenue": summed(ChannelCount, ["day", "channel"], "revenue"),
    }


def _figures_match() -> None:
    for moment in MOMENTS:
        assert audience_now(now=moment) == audience_scan(now=moment), moment
    for period in PERIODS:
        assert signups(period) == +_raw_signups(period), period
        for kind in KINDS:
            assert distinct_members(kind, period) == _raw_members(kind, period), (kind, period)
        assert channel_revenue(period) == _raw_channels(period), period


def assert_counts_exact() -> None:
    """Figures from the counts = figures from the rows, unfolded and folded; the tables = a recount."""
    _figures_match()
    with transaction.atomic():
        counts_fold(now=NOW)
        _figures_match()
        folded = _tables()
        with transaction.atomic():
            counts_recount(now=NOW)
            counts_fold(now=NOW)
            assert _tables() == folded
            transaction.set_rollback(True)


def buyer(*purchase_days: float, **fields) -> Contact:
    contact = ContactFactory(**fields)
    for days in purchase_days:
        PurchaseFactory(contact=contact, purchased_at=at(days))
    services.contacts_refresh_purchase_stats(contact_ids=[contact.pk])
    return contact


@pytest.fixture
def audience():
    """Contacts across every lifecycle stage, with days right at the thresholds, a few sign-ups by source, an
    erased contact, promoters and anonymous visitors (one of them identified)."""
    people = [
        ContactFactory(email_opt_in=False, source="web_form", signed_up_at=at(0, 1)),
        buyer(2, email_opt_in=False, sms_opt_in=True, source="social", signed_up_at=at(3)),
        buyer(30, 29.9, source="in_store", signed_up_at=at(31)),
        buyer(200, 89.99, signed_up_at=at(200)),
        buyer(400, 90.01, email_opt_in=False),
        buyer(500, 180),
        buyer(700, 181, source="api", signed_up_at=at(400)),
    ]
    services.contact_erase(contact=buyer(10, source="import", signed_up_at=at(12)))
    ActivityFactory(contact=people[2], type=Activity.Type.REVIEW, occurred_at=at(5))
    ActivityFactory(contact=people[3], type=Activity.Type.REFERRAL, occurred_at=at(0, 11.5))
    ActivityFactory(contact=people[3], type=Activity.Type.REVIEW, occurred_at=at(45))
    for anonymous_id, days in [("v-1", 0.4), ("v-1", 20), ("v-2", 100), ("v-3", 2), ("v-3", 450)]:
        ActivityFactory(contact=None, anonymous_id=anonymous_id, occurred_at=at(days))
    VisitorIdentity.objects.create(anonymous_id="v-2", contact=people[0])
    for contact, days, utm in [(people[1], 1, "Facebook"), (people[2], 29.9, "google"), (people[5], 0.45, "facebook")]:
        PurchaseFactory(contact=contact, purchased_at=at(days), utm_source=utm, total=Decimal("35.50"))
    credit(people[2].purchases.get(utm_source="google"))
    credit(people[3].purchases.earliest("purchased_at"))
    services.contacts_refresh_purchase_stats(contact_ids=[c.pk for c in people])
    return people


def credit(purchase: Purchase) -> Attribution:
    """The purchase credited to a mail of a campaign (as `attribution.attribute` writes it)."""
    template, _new = EmailTemplate.objects.get_or_create(name="T", subject="S", html="<p>x</p>")
    campaign, _new = Campaign.objects.get_or_create(name="Spring", template=template)
    return attribute(purchase, campaign)


# ------------------------------------------------------------------ every kind of write


def test_the_starting_audience_is_counted_exactly(audience):
    assert AudienceCount.objects.exists() and DistinctDay.objects.exists()
    assert_counts_exact()


def test_creating_contacts_through_the_api_and_the_admin(audience, make_client, admin_client):
    api = make_client("contacts:write")
    answer = api.post("/api/v1/contacts/", {"email": "new@example.com", "email_opt_in": True}, format="json")
    assert answer.status_code == 201, answer.content
    data = contact_form_data(Contact(), email="admin@example.com", source="landing_page", signed_up_at_0="2026-06-14")
    data["signed_up_at_1"] = "23:30:00"
    assert admin_client.post(reverse("admin:contacts_contact_add"), data).status_code == 302
    assert Contact.objects.get(email="admin@example.com").source == "landing_page"
    assert_counts_exact()


def test_editing_a_contact_in_the_admin_and_through_the_api(audience, make_client, admin_client):
    contact = audience[2]
    data = contact_form_data(contact, source="referral", signed_up_at_0="2026-01-02", signed_up_at_1="01:00:00")
    assert admin_client.post(reverse("admin:contacts_contact_change", args=[contact.pk]), data).status_code == 302
    answer = make_client("contacts:write").patch(
        f"/api/v1/contacts/{audience[4].pk}/", {"sms_opt_in": True}, format="json"
    )
    assert answer.status_code == 200, answer.content
    assert_counts_exact()


def test_bulk_ingestion_of_purchases_and_events(audience, make_client):
    api = make_client("purchases:write", "events:write")
    orders = [
        {
            "external_id": f"B-{n}",
            "source": "shop",
            "contact": contact.pk,
            "total": "10.00",
            "purchased_at": when,
            "utm_source": ["Google", "", "newsletter"][n],
        }
        for n, (contact, when) in enumerate(
            [(audience[0], at(0, 2).isoformat()), (audience[3], at(1).isoformat()), (audience[6], at(95).isoformat())]
        )
    ]
    assert api.post("/api/v1/purchases/bulk/", {"purchases": orders}, format="json").json()["created"] == 3
    events = [
        {"type": "add_to_cart", "contact": audience[0].pk, "event_id": "e-1"},
        {"type": "review", "contact": audience[5].pk, "event_id": "e-2", "occurred_at": at(3).isoformat()},
        {"type": "page_view", "anonymous_id": "v-9", "event_id": "e-3", "occurred_at": at(60).isoformat()},
        {"type": "page_view", "anonymous_id": "v-1", "event_id": "e-4", "occurred_at": at(1).isoformat()},
    ]
    assert api.post("/api/v1/events/bulk/", {"events": events}, format="json").json()["created"] == 4
    assert_counts_exact()


def test_one_purchase_and_one_event_at_a_time(audience):
    services.purchase_record(
        contact=audience[4],
        source="pos",
        external_id="P-1",
        channel="in_store",
        purchased_at=at(29.99),
        total=Decimal("50.00"),
        currency="ILS",
        store=None,
        items=[],
    )
    ingest.activity_ingest(
        data={"type": "product_view", "contact": audience[1].pk, "occurred_at": at(0, 3).isoformat()}
    )
    ingest.activity_ingest(data={"type": "page_view", "anonymous_id": "v-3", "occurred_at": at(90).isoformat()})
    assert_counts_exact()


def test_importing_contacts_from_a_csv_file(audience, admin_client):
    csv = "email,phone,first_name,email_opt_in\nimported@example.com,,Ima,yes\nother@example.com,,Oz,no\n"
    import_file(admin_client, "contact", csv)
    assert Contact.objects.filter(email="imported@example.com").exists()
    assert_counts_exact()


def test_merging_two_contacts(audience):
    survivor, duplicate = audience[1], audience[3]
    VisitorIdentity.objects.create(anonymous_id="v-3", contact=duplicate)
    services.contact_merge(target=survivor, source=duplicate)
    assert not Contact.objects.filter(pk=duplicate.pk).exists()
    assert_counts_exact()


def test_erasing_and_deleting_contacts(audience):
    services.contact_erase(contact=audience[3])
    services.contacts_erase(contact_ids=[audience[5].pk])
    services.contact_delete(contact=audience[2])
    services.contact_delete(contact=audience[0])  # the one identified visitor v-2 was
    assert_counts_exact()


def test_consent_and_funnel_changes(audience):
    services.consent_change(contact=audience[0], channel="email", granted=True, source="form")
    services.consent_change(contact=audience[2], channel="sms", granted=False, source="form")
    services.contacts_revoke_consent(contact_ids=[audience[3].pk, audience[4].pk], channel="email", source="admin")
    services.activity_track(
        contact=audience[0],
        anonymous_id=None,
        event_id=None,
        type="add_to_cart",
        occurred_at=at(0, 1),
        product=None,
        url="",
        properties={},
    )
    services.contacts_refresh_funnel(contact_ids=[c.pk for c in audience])
    assert_counts_exact()


def test_identifying_and_forgetting_anonymous_visitors(audience):
    services.identify(anonymous_id="v-1", contact=audience[4])
    VisitorIdentity.objects.filter(anonymous_id="v-2").delete()
    VisitorIdentity.objects.create(anonymous_id="v-3", contact=audience[5])
    assert_counts_exact()


def test_repeat_visits_and_late_visits_of_known_visitors_in_batches(audience):
    """A batch that only repeats visitors' counted days changes no day; one with a late visit between two
    counted days, or a visitor's first day, recounts those visitors (the gap to the day after changes)."""
    days_before = set(DistinctDay.objects.values_list("kind", "member", "day", "prev_day"))

    def batch(*events: tuple[str, dt.datetime]) -> None:
        items = [{"type": "page_view", "anonymous_id": who, "occurred_at": when.isoformat()} for who, when in events]
        result = ingest.activities_track_bulk(items=items)
        assert result["created"] == len(items) and not result["errors"]

    counted = list(DistinctDay.objects.filter(kind="anonymous").values_list("member", "day"))
    assert counted
    batch(*[(member, dt.datetime.combine(day, dt.time(12), tzinfo=ISRAEL)) for member, day in counted])
    assert set(DistinctDay.objects.values_list("kind", "member", "day", "prev_day")) == days_before
    assert_counts_exact()
    batch(("v-3", at(45)), ("v-3", at(45, 1)), ("v-new", at(0, 3)), ("v-new", at(0, 2)), ("v-1", at(0, 1)))
    assert_counts_exact()


def test_writes_that_bypass_the_services(audience):
    Contact.objects.filter(pk=audience[6].pk).update(first_purchase_at=at(1), last_purchase_at=at(0.5))
    Contact.objects.filter(pk=audience[5].pk).update(last_purchase_at=None)  # a last purchase without a first
    Contact.objects.filter(pk=audience[4].pk).update(erased_at=NOW, signed_up_at=at(2), source="social")
    Activity.objects.filter(anonymous_id="v-3").update(occurred_at=at(0, 2))
    Activity.objects.filter(type=Activity.Type.REVIEW).update(type=Activity.Type.PAGE_VIEW)
    Activity.objects.filter(anonymous_id="v-1").delete()
    assert_counts_exact()


def test_crediting_a_purchase_again_and_taking_the_credit_back(audience):
    tagged = audience[5].purchases.get(utm_source="facebook")
    credit(tagged)
    attribution.attribute(Purchase.objects.filter(contact=audience[2]))  # no click behind them: credit withdrawn
    Attribution.objects.filter(purchase__contact=audience[3]).update(touch=Attribution.Touch.OPEN)
    assert not Attribution.objects.filter(purchase__contact=audience[2]).exists()
    assert_counts_exact()


def test_a_purchase_changed_or_deleted_by_hand(audience):
    Purchase.objects.filter(utm_source="Facebook").update(utm_source="Instagram", total=Decimal("12.00"))
    Purchase.objects.filter(utm_source="google").update(purchased_at=at(40))
    Attribution.objects.filter(purchase__utm_source="facebook").delete()
    Purchase.objects.filter(utm_source="facebook").delete()
    assert_counts_exact()


def test_deleting_everything_leaves_nothing_counted(audience):
    Activity.objects.all().delete()
    Contact.objects.all().delete()
    assert audience_now(now=NOW).contacts == 0
    counts_fold(now=NOW)
    assert not AudienceCount.objects.exists() and not SignupCount.objects.exists()
    assert not DistinctCount.objects.exists() and not DistinctDay.objects.exists()
    assert not ChannelCount.objects.exists()
