import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from contacts import ingest, services
from contacts.models import (
    Activity,
    ConsentEvent,
    Contact,
    EmailStatus,
    FunnelStage,
    Lifecycle,
    LoyaltyMember,
    PointsEntry,
    Purchase,
)
from contacts.serializers import ContactUpsertSerializer, read_input
from tests.factories import ActivityFactory, ContactFactory

pytestmark = pytest.mark.django_db


def days_ago(days: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=days)


# ---------------------------------------------------------------- merge


def test_merge_moves_history_to_the_target_and_deletes_the_source():
    target = ContactFactory(email="dana@example.com")
    source = ContactFactory(email="dana.old@example.com")
    ingest.purchase_ingest(data={"contact": source.pk, "total": "70", "purchased_at": days_ago(200)})
    ingest.purchase_ingest(data={"contact": target.pk, "total": "30", "purchased_at": days_ago(100)})
    ingest.activity_ingest(data={"contact": source.pk, "type": "add_to_cart"})
    services.consent_change(contact=source, channel="sms", granted=True, source="pos", text_shown="SMS ok?")
    merged = services.contact_merge(target=target, source=source)
    assert merged.pk == target.pk
    assert not Contact.objects.filter(pk=source.pk).exists()
    assert Purchase.objects.filter(contact=target).count() == 2
    assert Activity.objects.filter(contact=target).count() == 1
    assert ConsentEvent.objects.filter(contact=target, text_shown="SMS ok?").exists()
    target.refresh_from_db()
    assert target.purchase_count == 2
    assert target.total_spent == Decimal("100.00")
    assert abs(target.first_purchase_at - days_ago(200)) < dt.timedelta(minutes=1)
    assert target.funnel_stage == FunnelStage.PURCHASER
    assert target.lifecycle == Lifecycle.AT_RISK


def test_merge_fills_blanks_and_keeps_the_targets_values():
    target = ContactFactory(
        email="dana@example.com",
        phone=None,
        first_name="Dana",
        city="",
        gender="unknown",
        birth_date=None,
        attributes={"pet": "cat"},
    )
    source = ContactFactory(
        email="old@example.com",
        phone="+972501234567",
        external_id="crm-9",
        first_name="D.",
        city="Haifa",
        gender="female",
        birth_date=dt.date(1990, 5, 17),
        attributes={"pet": "dog", "shoe_size": 38},
    )
    services.contact_merge(target=target, source=source)
    target.refresh_from_db()
    assert (target.email, target.phone, target.external_id) == ("dana@example.com", "+972501234567", "crm-9")
    assert (target.first_name, target.city, target.gender) == ("Dana", "Haifa", "female")
    assert target.birth_date == dt.date(1990, 5, 17)
    assert target.attributes == {"pet": "cat", "shoe_size": 38}


def test_merge_takes_the_union_of_tags():
    target, _ = services.contact_upsert(email="a@example.com", tags=["vip", "shoes"])
    source, _ = services.contact_upsert(email="b@example.com", tags=["shoes", "lenses"])
    services.contact_merge(target=target, source=source)
    assert sorted(target.tags.values_list("name", flat=True)) == ["lenses", "shoes", "vip"]


def test_merge_moves_the_membership_when_only_the_source_is_a_member():
    target = ContactFactory()
    source_member = services.member_create(contact=ContactFactory(), card_number="900000000007")
    services.points_adjust(member=source_member, delta=40, reason="Purchase")
    services.contact_merge(target=target, source=source_member.contact)
    member = LoyaltyMember.objects.get(contact=target)
    assert (member.pk, member.card_number, member.points) == (source_member.pk, "900000000007", 40)
    assert member.ledger.count() == 1
    assert services.contact_find(card_number="900000000007").pk == target.pk


def test_merge_adds_the_sources_points_when_both_are_members():
    target_member = services.member_create(contact=ContactFactory(), card_number="900000000001")
    source_member = services.member_create(contact=ContactFactory(), card_number="900000000002")
    services.points_adjust(member=target_member, delta=10, reason="Purchase")
    services.points_adjust(member=source_member, delta=25, reason="Purchase")
    services.contact_merge(target=target_member.contact, source=source_member.contact)
    target_member.refresh_from_db()
    assert target_member.points == 35
    assert target_member.ledger.order_by("id").last().balance_after == 35
    assert not LoyaltyMember.objects.filter(pk=source_member.pk).exists()


def test_merge_into_itself_is_refused():
    contact = ContactFactory()
    with pytest.raises(ValidationError) as excinfo:
        services.contact_merge(target=contact, source=contact)
    assert set(excinfo.value.message_dict) == {"duplicate"}
    assert Contact.objects.filter(pk=contact.pk).exists()


def test_merge_of_a_contact_the_target_was_referred_by_clears_the_referral():
    source = ContactFactory()
    target = ContactFactory(referred_by=source)
    friend = ContactFactory(referred_by=source)
    services.contact_merge(target=target, source=source)
    target.refresh_from_db()
    friend.refresh_from_db()
    assert target.referred_by_id is None
    assert friend.referred_by_id == target.pk


def test_merge_keeps_the_sources_suppression_when_its_email_moves_over():
    target = ContactFactory(email=None, phone="+972501234567")
    source = ContactFactory(email="dana@example.com", email_status=EmailStatus.UNSUBSCRIBED, email_opt_in=False)
    services.contact_merge(target=target, source=source)
    target.refresh_from_db()
    assert target.email == "dana@example.com"
    assert target.email_status == EmailStatus.UNSUBSCRIBED


def test_merge_moves_consent_with_the_address_it_was_given_for():
    target = ContactFactory(email="a@example.com", email_opt_in=False, phone=None, sms_opt_in=False)
    source = ContactFactory(email="b@example.com", email_opt_in=True, phone="+972501234567", sms_opt_in=True)
    services.contact_merge(target=target, source=source)
    target.refresh_from_db()
    assert (target.email, target.email_opt_in) == ("a@example.com", False)
    assert (target.phone, target.sms_opt_in) == ("+972501234567", True)


def test_merge_recolors_the_target_from_the_sources_events():
    target = ContactFactory()
    source = ContactFactory()
    ingest.activity_ingest(data={"contact": target.pk, "type": "page_view"})
    ingest.activity_ingest(data={"contact": source.pk, "type": "product_view"})
    services.contact_merge(target=target, source=source)
    target.refresh_from_db()
    assert target.funnel_stage == FunnelStage.INTERESTED


# ---------------------------------------------------------------- erase


@pytest.fixture
def rich_contact():
    contact, _ = services.contact_upsert(
        **read_input(
            ContactUpsertSerializer,
            {
                "email": "dana@example.com",
                "phone": "0501234567",
                "external_id": "crm-1",
                "first_name": "Dana",
                "last_name": "Levi",
                "birth_date": "1990-05-17",
                "city": "Haifa",
                "gender": "female",
                "attributes": {"pet": "cat"},
                "tags": ["vip"],
                "email_opt_in": True,
            },
        )
    )
    services.member_create(contact=contact, card_number="900000000099")
    ingest.purchase_ingest(data={"contact": contact.pk, "external_id": "o-1", "total": "120"})
    ActivityFactory(
        contact=contact,
        anonymous_id="anon-9",
        url="https://shop.example.com/?email=dana",
        properties={"ip": "10.0.0.1"},
    )
    ConsentEvent.objects.update(text_shown="I agree to get mail")
    return contact


def test_erase_removes_personal_data(rich_contact):
    services.contact_erase(contact=rich_contact)
    contact = Contact.objects.get(pk=rich_contact.pk)
    assert (contact.email, contact.phone, contact.external_id) == (None, None, None)
    assert (contact.first_name, contact.last_name, contact.city) == ("", "", "")
    assert contact.birth_date is None and contact.gender == "unknown"
    assert contact.attributes == {}
    assert not contact.tags.exists()
    assert not contact.email_opt_in
    assert contact.erased_at is not None
    activity = Activity.objects.get(contact=contact)
    assert (activity.url, activity.properties, activity.anonymous_id) == ("", {}, None)


def test_erase_keeps_purchases_and_aggregates(rich_contact):
    services.contact_erase(contact=rich_contact)
    contact = Contact.objects.get(pk=rich_contact.pk)
    assert Purchase.objects.get(contact=contact).total == Decimal("120.00")
    assert contact.purchase_count == 1
    assert contact.total_spent == Decimal("120.00")
    assert contact.funnel_stage == FunnelStage.PURCHASER


def test_erase_replaces_the_club_card(rich_contact):
    services.contact_erase(contact=rich_contact)
    member = LoyaltyMember.objects.get(contact=rich_contact)
    assert member.card_number != "900000000099"
    assert member.status == LoyaltyMember.Status.CANCELLED
    assert services.contact_find(card_number="900000000099") is None


def test_erase_keeps_the_consent_log_without_its_text(rich_contact):
    count = ConsentEvent.objects.filter(contact=rich_contact).count()
    services.contact_erase(contact=rich_contact)
    events = ConsentEvent.objects.filter(contact=rich_contact)
    assert events.count() == count > 0
    assert set(events.values_list("text_shown", flat=True)) == {""}


def test_erased_identities_can_be_used_by_a_new_contact(rich_contact):
    services.contact_erase(contact=rich_contact)
    contact, created = services.contact_upsert(email="dana@example.com", phone="+972501234567")
    assert created and contact.pk != rich_contact.pk


def test_bulk_erase_skips_contacts_already_erased(rich_contact):
    other = ContactFactory()
    assert services.contacts_erase(contact_ids=[rich_contact.pk, other.pk]) == 2
    assert services.contacts_erase(contact_ids=[rich_contact.pk, other.pk]) == 0
    assert PointsEntry.objects.count() == 0


@pytest.mark.django_db
def test_bulk_erase_of_a_queryset_works_in_batches_and_replaces_each_card(monkeypatch):
    from contacts.models import LoyaltyMember

    monkeypatch.setattr("contacts.services.base.BULK_BATCH", 3)
    contacts = [ContactFactory(city="Haifa") for _ in range(7)]
    LoyaltyMember.objects.create(contact=contacts[4], card_number="555")
    keep = ContactFactory(city="Eilat")
    queries = []
    from contacts.services import removal

    real = removal._erase
    monkeypatch.setattr(removal, "_erase", lambda ids: (queries.append(list(ids)), real(ids)))
    assert services.contacts_erase(contact_ids=Contact.objects.filter(city="Haifa")) == 7
    assert [len(batch) for batch in queries] == [3, 3, 1]
    assert Contact.objects.filter(erased_at__isnull=False).count() == 7
    assert LoyaltyMember.objects.get(contact=contacts[4]).card_number == f"erased-{contacts[4].pk}"
    keep.refresh_from_db()
    assert keep.erased_at is None and keep.email


@pytest.mark.django_db
def test_bulk_tagging_a_queryset_tags_every_match_once():
    contacts = [ContactFactory(city="Haifa") for _ in range(4)]
    assert services.contacts_add_tag(contact_ids=Contact.objects.filter(city="Haifa"), name="VIP") == 4
    assert services.contacts_add_tag(contact_ids=Contact.objects.filter(city="Haifa"), name="vip") == 0
    assert all(c.tags.filter(name="VIP").exists() for c in contacts)
