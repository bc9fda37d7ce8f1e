"""Each list type marketers ask for, built, previewed, saved and exported through the admin."""

import csv
import datetime as dt
import io
import json

import pytest
from django.urls import reverse
from django.utils import timezone

from contacts import ingest
from contacts import services as contact_services
from contacts.models import Activity, LoyaltyMember
from segments.models import Segment
from tests.factories import ContactFactory, ProductFactory

pytestmark = pytest.mark.django_db(transaction=True)


def ago(days):
    return timezone.now() - dt.timedelta(days=days)


def make_in_area():
    return ContactFactory(region="North", city="Kiryat Shmona"), ContactFactory(region="Center")


def make_birthday_this_month():
    today = timezone.localdate()
    return (
        ContactFactory(birth_date=today.replace(year=1990, day=1)),
        ContactFactory(birth_date=(today.replace(day=1) - dt.timedelta(days=40)).replace(year=1990)),
    )


def make_anniversary_this_month():
    today = timezone.localdate()
    return (ContactFactory(wedding_date=today.replace(year=2015, day=1)), ContactFactory(wedding_date=None))


def make_signed_up_a_year_ago():
    anniversary = timezone.now() - dt.timedelta(days=365) + dt.timedelta(days=3)
    return ContactFactory(signed_up_at=anniversary), ContactFactory(signed_up_at=ago(100))


def make_landing_page():
    return (ContactFactory(source="landing_page", source_detail="Summer sale"), ContactFactory(source="in_store"))


def make_bought_x():
    lens = ProductFactory(sku="LENS-30", replenishment_days=30)
    buyer = ContactFactory()
    ingest.purchase_ingest(
        data={
            "contact": buyer.pk,
            "external_id": "x1",
            "total": "120",
            "items": [{"sku": lens.sku, "quantity": 1, "unit_price": "120"}],
        }
    )
    return buyer, ContactFactory()


def make_dormant():
    dormant, recent = ContactFactory(), ContactFactory()
    ingest.purchase_ingest(
        data={"contact": dormant.pk, "external_id": "d1", "total": "50", "purchased_at": ago(75).isoformat()}
    )
    ingest.purchase_ingest(
        data={"contact": recent.pk, "external_id": "d2", "total": "50", "purchased_at": ago(5).isoformat()}
    )
    return dormant, recent


def make_married():
    return ContactFactory(marital_status="married"), ContactFactory(marital_status="single")


def make_stage(event_type):
    def make():
        colored, other = ContactFactory(), ContactFactory()
        ingest.activity_ingest(data={"contact": colored.pk, "type": event_type})
        return colored, other

    return make


def make_purchaser():
    buyer, other = ContactFactory(), ContactFactory()
    ingest.activity_ingest(data={"contact": other.pk, "type": "add_to_cart"})
    ingest.purchase_ingest(data={"contact": buyer.pk, "external_id": "p1", "total": "10"})
    return buyer, other


def make_gold():
    gold, silver = ContactFactory(), ContactFactory()
    contact_services.member_create(contact=gold, card_number="111", tier=LoyaltyMember.Tier.GOLD)
    contact_services.member_create(contact=silver, card_number="222", tier=LoyaltyMember.Tier.SILVER)
    return gold, silver


def make_cart_abandoned():
    left, bought = ContactFactory(), ContactFactory()
    for contact in (left, bought):
        ingest.activity_ingest(data={"contact": contact.pk, "type": "add_to_cart", "occurred_at": ago(2).isoformat()})
    ingest.purchase_ingest(data={"contact": bought.pk, "external_id": "c1", "total": "10"})
    return left, bought


LISTS = {
    "area (north)": ({"field": "region", "op": "eq", "value": "north"}, make_in_area),
    "birthday this month": ({"field": "birthday", "op": "this_month"}, make_birthday_this_month),
    "wedding anniversary this month": (
        {"field": "wedding_anniversary", "op": "this_month"},
        make_anniversary_this_month,
    ),
    "signed up a year ago": (
        {"field": "signed_up", "op": "anniversary_in_next_days", "value": 7},
        make_signed_up_a_year_ago,
    ),
    "signed up from a landing page": ({"field": "source", "op": "eq", "value": "landing_page"}, make_landing_page),
    "bought product X": ({"field": "purchased_product", "op": "in", "value": ["LENS-30"]}, make_bought_x),
    "dormant 60+ days": ({"field": "last_purchase", "op": "more_than_days_ago", "value": 60}, make_dormant),
    "married": ({"field": "marital_status", "op": "eq", "value": "married"}, make_married),
    "funnel: visitors": ({"field": "funnel_stage", "op": "eq", "value": "visitor"}, make_stage("page_view")),
    "funnel: interested": ({"field": "funnel_stage", "op": "eq", "value": "interested"}, make_stage("product_view")),
    "funnel: cart": ({"field": "funnel_stage", "op": "eq", "value": "cart"}, make_stage("add_to_cart")),
    "funnel: purchasers": ({"field": "funnel_stage", "op": "eq", "value": "purchaser"}, make_purchaser),
    "club tier gold": ({"field": "club_tier", "op": "eq", "value": "gold"}, make_gold),
    "abandoned cart this week": (
        {"field": "cart_abandoned", "op": "within_last_days", "value": 7},
        make_cart_abandoned,
    ),
}


@pytest.mark.parametrize("name", sorted(LISTS))
def test_a_marketer_builds_previews_saves_and_exports_the_list(admin_client, name):
    rules, make = LISTS[name]
    wanted, unwanted = make()

    preview = admin_client.post(
        reverse("admin:segments_segment_preview"), json.dumps(rules), content_type="application/json"
    ).json()
    assert [c["id"] for c in preview["contacts"]] == [wanted.pk], preview

    saved = admin_client.post(
        reverse("admin:segments_segment_add"), {"name": name, "kind": "dynamic", "rules": json.dumps(rules)}
    )
    assert saved.status_code == 302
    segment = Segment.objects.get(name=name)
    assert segment.member_count == 1

    response = admin_client.get(reverse("admin:segments_segment_export", args=[segment.pk, "csv"]))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row[0] for row in rows[1:]] == [str(wanted.pk)]
    assert unwanted.pk != wanted.pk


def test_replenishment_list_catches_the_monthly_lens_buyer():
    lens = ProductFactory(sku="LENS-M", replenishment_days=30)
    due, fresh = ContactFactory(), ContactFactory()
    for contact, days in ((due, 27), (fresh, 2)):
        ingest.purchase_ingest(
            data={
                "contact": contact.pk,
                "external_id": f"r{contact.pk}",
                "total": "90",
                "purchased_at": ago(days).isoformat(),
                "items": [{"sku": lens.sku, "quantity": 1, "unit_price": "90"}],
            }
        )
    from segments.services import segment_create

    segment = segment_create(
        name="Lens reminder", rules={"field": "replenishment_due", "op": "in_next_days", "value": 5}
    )
    segment.refresh_from_db()
    assert segment.member_count == 1
    assert segment.memberships.get().contact_id == due.pk
    assert Activity.objects.count() == 0
