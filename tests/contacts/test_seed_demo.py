import datetime as dt
import re
from decimal import Decimal

import phonenumbers
import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count, DecimalField, ExpressionWrapper, F, Sum
from django_celery_beat.models import PeriodicTask

from contacts import demo, hooks, services
from contacts.lifecycle import with_lifecycle
from contacts.management.commands.seed_demo import Command as SeedDemoCommand
from contacts.models import (
    Activity,
    ConsentEvent,
    Contact,
    CustomField,
    FunnelStage,
    LoyaltyMember,
    PointsEntry,
    Purchase,
    PurchaseItem,
)
from contacts.tasks import RECOMPUTE_TASK

pytestmark = pytest.mark.django_db

SIZE = 400
DERIVED = (
    "funnel_stage",
    "purchase_count",
    "total_spent",
    "first_purchase_at",
    "last_purchase_at",
    "rfm_recency",
    "rfm_frequency",
    "rfm_monetary",
)


@pytest.fixture(scope="class")
def seeded(shared_rows):
    """One seed for all the tests of `TestASeededDatabase`: they read it (what one writes is rolled back
    after it), and the tests that seed for themselves stay outside the class, so never see it."""
    with shared_rows(lambda: call_command("seed_demo", contacts=SIZE, seed=7, stdout=None)):
        yield


def snapshot() -> dict:
    """The seeded data by natural keys, so two loads can be compared whatever their row ids."""
    contact_fields = (
        "email",
        "phone",
        "first_name",
        "last_name",
        "gender",
        "birth_date",
        "wedding_date",
        "city",
        "region",
        "source",
        "source_detail",
        "signed_up_at",
        "attributes",
        "email_opt_in",
        "sms_opt_in",
        "email_status",
        "funnel_stage",
        "purchase_count",
        "total_spent",
    )
    return {
        "contacts": list(Contact.objects.order_by("email", "phone").values_list(*contact_fields)),
        "purchases": list(
            Purchase.objects.order_by("external_id").values_list(
                "external_id", "contact__email", "channel", "store__code", "purchased_at", "total"
            )
        ),
        "items": sorted(
            PurchaseItem.objects.values_list("purchase__external_id", "product__sku", "quantity", "unit_price")
        ),
        "events": sorted(
            Activity.objects.values_list(
                "contact__phone", "contact__email", "anonymous_id", "type", "occurred_at", "product__sku"
            ),
            key=repr,
        ),
        "members": list(
            LoyaltyMember.objects.order_by("card_number").values_list(
                "card_number", "contact__email", "tier", "points", "joined_at"
            )
        ),
        "tags": sorted(
            Contact.tags.through.objects.values_list("contact__email", "contact__phone", "tag__name"), key=repr
        ),
    }


def delete_demo_data() -> None:
    Activity.objects.all().delete()
    Contact.objects.all().delete()


@pytest.mark.usefixtures("seeded")
class TestASeededDatabase:
    def test_it_creates_the_requested_number_of_contacts_with_history(self):
        assert Contact.objects.count() == SIZE
        assert Purchase.objects.count() > SIZE * 2
        assert Activity.objects.count() > SIZE * 7
        assert Activity.objects.filter(contact__isnull=True, anonymous_id__isnull=False).exists()
        assert CustomField.objects.filter(key__in=["pet_type", "shoe_size", "wedding_day"]).count() == 3
        assert Contact.objects.exclude(attributes={}).exists()
        assert Contact.objects.filter(wedding_date__isnull=False).exists()
        assert Contact.tags.through.objects.filter(tag__name="vip").exists()

    def test_the_funnel_is_a_pyramid(self):
        counts = dict(Contact.objects.values_list("funnel_stage").annotate(n=Count("id")))
        layers = [
            counts.get(s, 0)
            for s in (FunnelStage.VISITOR, FunnelStage.INTERESTED, FunnelStage.CART, FunnelStage.PURCHASER)
        ]
        assert layers == sorted(layers, reverse=True)
        assert len(set(layers)) == 4
        assert layers[-1] > 0

    def test_every_purchaser_also_has_site_activity(self):
        assert not Contact.objects.filter(purchase_count__gt=0, activities__isnull=True).exists()

    def test_about_forty_percent_are_club_members_with_tiers(self):
        share = LoyaltyMember.objects.count() / SIZE
        assert 0.32 <= share <= 0.48
        assert LoyaltyMember.objects.values("tier").distinct().count() >= 3

    def test_every_members_points_balance_equals_its_ledger(self):
        ledger = dict(PointsEntry.objects.values_list("member").annotate(s=Sum("delta")))
        for member_id, points in LoyaltyMember.objects.values_list("id", "points"):
            assert ledger[member_id] == points
            entries = list(PointsEntry.objects.filter(member_id=member_id).order_by("created_at", "id"))
            running = 0
            for entry in entries:
                running += entry.delta
                assert entry.balance_after == running >= 0

    def test_phones_are_valid_israeli_mobiles_in_e164(self):
        phones = list(Contact.objects.exclude(phone=None).values_list("phone", flat=True))
        assert len(phones) > SIZE / 2
        for phone in phones:
            number = phonenumbers.parse(phone)
            assert phonenumbers.is_valid_number(number)
            assert phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE
            assert phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == phone
            assert phone.startswith("+9725")

    def test_names_are_in_hebrew_and_in_english(self):
        names = list(Contact.objects.values_list("first_name", flat=True))
        hebrew = sum(1 for n in names if re.match(r"^[\u0590-\u05FF]", n))
        english = sum(1 for n in names if re.match(r"^[A-Za-z]", n))
        assert hebrew + english == SIZE
        assert 0.5 <= hebrew / SIZE <= 0.7

    def test_every_contact_can_be_reached_and_consent_is_logged(self):
        assert not Contact.objects.filter(email=None, phone=None).exists()
        opted_in = Contact.objects.filter(email_opt_in=True)
        assert opted_in.exists() and Contact.objects.filter(email_opt_in=False).exists()
        assert not opted_in.exclude(consent_events__channel="email", consent_events__granted=True).exists()
        assert Contact.objects.filter(email_status="unsubscribed", email_opt_in=False).exists()
        assert ConsentEvent.objects.filter(granted=False, contact__email_status="unsubscribed").exists()

    def test_in_store_purchases_have_a_store_and_online_ones_do_not(self):
        assert Purchase.objects.filter(channel="in_store").exists()
        assert Purchase.objects.filter(channel="online").exists()
        assert not Purchase.objects.filter(channel="in_store", store=None).exists()
        assert not Purchase.objects.exclude(channel="in_store").exclude(store=None).exists()

    def test_a_share_of_online_orders_and_page_views_came_from_ads_with_their_utm_tags(self):
        ads = {"google", "facebook", "instagram"}
        online = Purchase.objects.filter(channel="online")
        from_ads = online.filter(utm_source__in=ads)
        assert 0.2 <= from_ads.count() / online.count() <= 0.7
        assert set(from_ads.values_list("utm_source", flat=True)) == ads
        assert not from_ads.filter(utm_campaign="").exists()
        assert not Purchase.objects.exclude(channel="online").exclude(utm_source="").exists()
        page_views = Activity.objects.filter(type="page_view")
        assert 0.15 <= page_views.filter(utm_source__in=ads).count() / page_views.count() <= 0.5
        assert not Activity.objects.exclude(type="page_view").exclude(utm_source="").exists()

    def test_purchase_totals_are_the_sum_of_their_items(self):
        line = ExpressionWrapper(
            F("items__quantity") * F("items__unit_price"), output_field=DecimalField(max_digits=14, decimal_places=2)
        )
        for total, items in Purchase.objects.annotate(items_total=Sum(line)).values_list("total", "items_total"):
            assert items is not None
            assert Decimal(total) == Decimal(items).quantize(Decimal("0.01"))

    def test_derived_fields_match_a_recomputation(self):
        before = {row[0]: row[1:] for row in Contact.objects.values_list("id", *DERIVED)}
        counts = dict(Purchase.objects.values_list("contact").annotate(n=Count("id")))
        for contact_id, row in before.items():
            assert row[1] == counts.get(contact_id, 0)
        services.contacts_refresh_purchase_stats(contact_ids=list(before))
        services.contacts_recompute_all()
        after = {row[0]: row[1:] for row in Contact.objects.values_list("id", *DERIVED)}
        assert after == before
        assert {"new", "active", "lapsed", "prospect"} <= set(
            with_lifecycle(Contact.objects.all()).values_list("lifecycle", flat=True)
        )
        assert Contact.objects.filter(rfm_recency=5).exists()

    def test_all_timestamps_are_in_the_past(self):
        anchor = demo.default_anchor()
        assert not Purchase.objects.filter(purchased_at__gt=anchor).exists()
        assert not Activity.objects.filter(occurred_at__gt=anchor).exists()
        assert not Contact.objects.filter(signed_up_at__gt=anchor).exists()
        assert Contact.objects.filter(signed_up_at__lt=anchor - dt.timedelta(days=700)).exists()

    def test_a_second_run_does_nothing(self, capsys):
        before = snapshot()
        call_command("seed_demo", contacts=SIZE, seed=7)
        assert "already present" in capsys.readouterr().out
        assert snapshot() == before


def test_the_same_seed_gives_the_same_data_and_another_seed_does_not():
    call_command("seed_demo", contacts=150, seed=11)
    first = snapshot()
    delete_demo_data()
    call_command("seed_demo", contacts=150, seed=11)
    assert snapshot() == first
    delete_demo_data()
    call_command("seed_demo", contacts=150, seed=12)
    assert snapshot()["contacts"] != first["contacts"]


def test_the_apps_above_add_their_part_once_contacts_and_derived_fields_are_in(monkeypatch):
    calls = []

    def add_mail(anchor, seed):
        calls.append((anchor, seed, Contact.objects.count(), Contact.objects.filter(purchase_count__gt=0).exists()))

    monkeypatch.setattr(hooks, "_demo", [])
    hooks.on_demo_seeded(add_mail)
    anchor = demo.default_anchor() - dt.timedelta(days=3)
    demo.seed_demo(contacts=30, seed=3, anchor=anchor)
    demo.seed_demo(contacts=30, seed=3, anchor=anchor)  # contacts present: nothing is loaded, no one is called
    assert calls == [(anchor, 3, 30, True)]


def test_the_daily_recompute_is_registered_once_whatever_loads_the_demo():
    call_command("seed_demo", contacts=10)
    call_command("seed_demo", contacts=10)
    assert PeriodicTask.objects.filter(task=RECOMPUTE_TASK).count() == 1  # installed by migrate


def test_help_describes_the_options():
    text = SeedDemoCommand().create_parser("manage.py", "seed_demo").format_help()
    assert "--contacts" in text and "--seed" in text


def test_it_rejects_a_size_below_one():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("seed_demo", contacts=0)


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the planner's statistics are PostgreSQL's")
def test_the_planner_knows_the_written_tables_before_the_derived_fields_are_computed(monkeypatch):
    """Everything is written in one transaction, which autovacuum cannot see: the seed gives the planner the
    tables' statistics itself, else it plans the derived fields' statements for nearly empty tables."""
    seen = {}

    def estimated(lo, hi):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT relname, reltuples FROM pg_class WHERE relname IN "
                "('contacts_contact', 'contacts_purchase', 'contacts_purchaseitem')"
            )
            seen.update(cursor.fetchall())

    monkeypatch.setattr(demo.seed, "derived_refresh", estimated)
    demo.seed_demo(contacts=50, seed=5)
    assert seen == {
        "contacts_contact": 50,
        "contacts_purchase": Purchase.objects.count(),
        "contacts_purchaseitem": PurchaseItem.objects.count(),
    }
