"""The campaigns part of `manage.py seed_demo`: sent mailings whose reports tell the measurement story."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone

from campaigns.audience import holdout_bucket
from campaigns.demo.content import MAILINGS
from campaigns.models import Campaign, EmailTemplate, Message, TrackingEvent
from campaigns.rendering import template_snapshot
from campaigns.reports.models import Attribution, Spend
from campaigns.selectors import campaign_stats
from contacts import demo
from contacts.models import Activity, Contact, Purchase
from segments.models import Segment

pytestmark = pytest.mark.django_db

SIZE = 600
SEED = 42
PAID = ("facebook", "google", "instagram")


def fresh_ids() -> None:
    """Ids as a new install has them. PostgreSQL's sequences are not rolled back with the tests run before on
    this worker, and the holdout draw hashes the campaign's and the contacts' ids: without this, who is held
    out (and so the lift the story shows) would depend on which tests ran first. The sequences of empty
    tables start again at 1; SQLite's counters are rolled back anyway."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for sequence in connection.introspection.sequence_list():
            table, column = sequence["table"], sequence["column"]
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {connection.ops.quote_name(table)})")
            if not cursor.fetchone()[0]:
                cursor.execute("SELECT setval(pg_get_serial_sequence(%s, %s), 1, false)", [table, column])


def seed() -> None:
    fresh_ids()
    call_command("seed_demo", contacts=SIZE, seed=SEED, stdout=None)


@pytest.fixture(scope="class")
def seeded(shared_rows):
    with shared_rows(seed):
        yield


def holdout_campaign() -> Campaign:
    return Campaign.objects.get(holdout_percent__gt=0)


def mail_snapshot() -> dict:
    """The mail part by natural keys, so two loads can be compared whatever their row ids."""
    return {
        "campaigns": list(
            Campaign.objects.order_by("name").values_list(
                "name", "status", "started_at", "finished_at", "cost", "holdout_percent", "frozen_template"
            )
        ),
        "messages": sorted(
            Message.objects.values_list(
                "campaign__name",
                "contact__email",
                "status",
                "sent_at",
                "first_opened_at",
                "open_count",
                "machine_open_count",
                "first_clicked_at",
                "click_count",
            )
        ),
        "events": sorted(
            TrackingEvent.objects.values_list(
                "campaign__name", "contact__email", "kind", "occurred_at", "is_machine", "link__url"
            ),
            key=repr,
        ),
        "purchases": sorted(
            Purchase.objects.filter(external_id__contains="-M").values_list(
                "external_id", "contact__email", "channel", "store__code", "purchased_at", "total", "utm_campaign"
            )
        ),
        "attribution": sorted(
            Attribution.objects.values_list("purchase__external_id", "campaign__name", "touch", "total")
        ),
        "spend": list(Spend.objects.order_by("channel", "month").values_list("channel", "month", "amount")),
    }


@pytest.mark.usefixtures("seeded")
class TestTheDemoMail:
    def test_it_sends_four_to_six_campaigns_over_the_last_ninety_days(self):
        anchor = demo.default_anchor()
        campaigns = list(Campaign.objects.all())
        assert 4 <= len(campaigns) <= 6
        for campaign in campaigns:
            assert campaign.status == Campaign.Status.SENT
            assert anchor - dt.timedelta(days=90) <= campaign.started_at <= campaign.finished_at <= anchor
            assert campaign.created_at < campaign.started_at
            assert campaign.frozen_template == template_snapshot(campaign.template)
            assert campaign.frozen_at == campaign.started_at
            assert campaign.segments.filter(kind=Segment.Kind.DYNAMIC).exists()

    def test_templates_are_personalized_in_hebrew_and_english_with_the_default_layout(self):
        templates = list(EmailTemplate.objects.all())
        assert 2 <= len(templates) <= 3
        assert {t.language for t in templates} == {"he", "en"}
        for template in templates:
            assert template.layout == EmailTemplate.Layout.DEFAULT
            assert "{{ contact.first_name" in template.subject + template.html

    def test_the_segments_were_made_by_the_segments_service_and_refreshed(self):
        segments = Segment.objects.filter(kind=Segment.Kind.DYNAMIC)
        assert 2 <= segments.count() <= 3
        for segment in segments:
            assert segment.last_refreshed_at is not None
            assert segment.member_count == segment.memberships.filter(left_at__isnull=True).count() > 0

    def test_message_counters_agree_with_their_tracking_events(self):
        for message in Message.objects.prefetch_related("events"):
            events = sorted(message.events.all(), key=lambda e: e.occurred_at)
            opens = [e for e in events if e.kind == "open"]
            human_opens = [e.occurred_at for e in opens if not e.is_machine]
            clicks = [e for e in events if e.kind == "click"]
            human_clicks = [e.occurred_at for e in clicks if not e.is_machine]
            assert message.open_count == len(opens)
            assert message.machine_open_count == len(opens) - len(human_opens)
            assert message.click_count == len(clicks)
            assert message.first_opened_at == (human_opens[0] if human_opens else None)
            assert message.first_clicked_at == (human_clicks[0] if human_clicks else None)
            if events:
                assert message.sent_at is not None and message.sent_at < events[0].occurred_at

    def test_open_and_click_rates_are_those_of_real_mail_and_machine_opens_are_flagged(self):
        delivered = unique_opens = unique_clicks = 0
        for campaign in Campaign.objects.all():
            stats = campaign_stats(campaign)
            delivered += stats["sent"] - stats["bounced"]
            unique_opens += stats["unique_opens"]
            unique_clicks += stats["unique_clicks"]
            assert stats["machine_opens"] > 0
        assert 0.3 <= unique_opens / delivered <= 0.5
        assert 0.03 <= unique_clicks / delivered <= 0.1
        machine = TrackingEvent.objects.filter(is_machine=True)
        assert not machine.filter(machine_reason="").exists()
        assert machine.filter(kind="open", machine_reason="apple_privacy").exists()

    def test_campaigns_have_attributed_revenue_online_and_in_store_a_cost_and_a_romi(self):
        all_stats = [campaign_stats(campaign) for campaign in Campaign.objects.all()]
        for stats in all_stats:
            assert stats["cost"] > 0
            assert stats["romi"] is not None
        assert any(s["revenue"] > s["in_store_revenue"] > 0 for s in all_stats)
        assert Attribution.objects.filter(channel="online").exists()
        assert Attribution.objects.filter(channel="in_store", purchase__store__isnull=False).exists()
        assert Attribution.objects.filter(touch="click").exists() and Attribution.objects.filter(touch="open").exists()

    def test_in_store_purchases_after_mail_are_club_members_at_a_store(self):
        in_store = Purchase.objects.filter(external_id__startswith="POS-M")
        assert in_store.exists()
        assert not in_store.filter(Q(store__isnull=True) | Q(contact__club__isnull=True)).exists()
        online = Purchase.objects.filter(external_id__startswith="SHOP-M", channel="online")
        assert online.exclude(utm_source="").filter(utm_medium="email").exists()

    def test_the_holdout_campaign_holds_out_by_the_senders_draw_and_has_a_lift(self):
        campaign = holdout_campaign()
        assert campaign.holdout_percent == 10
        messages = Message.objects.filter(campaign=campaign).alias(bucket=holdout_bucket("contact_id", campaign.pk))
        held = messages.filter(status=Message.Status.HOLDOUT)
        assert held.exists()
        assert set(held.values_list("pk", flat=True)) == set(
            messages.filter(bucket__lt=10).values_list("pk", flat=True)
        )
        assert not held.filter(Q(sent_at__isnull=False) | Q(events__isnull=False)).exists()
        stats = campaign_stats(campaign)
        assert stats["holdout_size"] == held.count()
        assert stats["treated_conversion_rate"] > stats["holdout_conversion_rate"]
        assert stats["lift_ci95"] is not None and stats["lift_ci95"][1] > 0

    def test_mail_buyers_derived_fields_count_their_new_purchases(self):
        buyers = Contact.objects.filter(purchases__external_id__contains="-M").distinct()
        assert buyers.exists()
        counts = dict(Purchase.objects.filter(contact__in=buyers).values_list("contact").annotate(n=Count("id")))
        for contact in buyers:
            assert contact.purchase_count == counts[contact.pk]
            assert contact.last_purchase_at == contact.purchases.order_by("-purchased_at").first().purchased_at
            assert contact.funnel_stage == 4  # purchaser

    def test_clicks_land_on_the_shop_as_tagged_page_views(self):
        landed = Activity.objects.filter(type="page_view", utm_medium="email")
        assert landed.count() == TrackingEvent.objects.filter(kind="click", is_machine=False).count()

    def test_spend_covers_every_channel_for_the_demo_months(self):
        today = timezone.localtime(demo.default_anchor()).date()
        months = {today.replace(day=1)}
        while len(months) < 4:
            months.add((min(months) - dt.timedelta(days=1)).replace(day=1))
        for channel in (*PAID, "email"):
            rows = Spend.objects.filter(channel=channel)
            assert set(rows.values_list("month", flat=True)) == months
            assert all(amount > 0 for amount in rows.values_list("amount", flat=True))

    def test_every_campaign_report_opens(self, admin_client):
        for campaign in Campaign.objects.all():
            response = admin_client.get(reverse("admin:campaigns_campaign_report", args=[campaign.pk]))
            assert response.status_code == 200

    def test_a_second_run_adds_nothing(self):
        before = mail_snapshot()
        call_command("seed_demo", contacts=SIZE, seed=SEED, stdout=None)
        assert mail_snapshot() == before


def test_the_same_seed_gives_the_same_mail():
    call_command("seed_demo", contacts=200, seed=5, stdout=None)
    first = mail_snapshot()
    assert first["messages"] and first["attribution"]
    Activity.objects.all().delete()
    Contact.objects.all().delete()  # the demo's campaigns, templates and segments stay, and are used again
    call_command("seed_demo", contacts=200, seed=5, stdout=None)
    assert mail_snapshot() == first
    assert Campaign.objects.count() == len(MAILINGS)
