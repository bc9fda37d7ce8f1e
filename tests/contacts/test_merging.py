"""A merge loses nothing: every row of the duplicate ends on the survivor, conflicts follow the rule."""

import datetime as dt

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.utils import timezone

from campaigns.models import Campaign, EmailTemplate, Message, TrackingEvent
from contacts import hooks, services
from contacts.models import ConsentEvent, Contact, LoyaltyMember, PointsEntry
from segments.models import Segment, SegmentMembership
from segments.services import segment_create, static_add
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def ago(days: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=days)


def make_campaign(name="Spring") -> Campaign:
    template = EmailTemplate.objects.create(name=name, subject="Hi", html="<p>Hi</p>", language="en")
    return Campaign.objects.create(name=name, template=template, status=Campaign.Status.SENT)


def sent(campaign, contact, **fields) -> Message:
    return Message.objects.create(
        campaign=campaign, contact=contact, status=Message.Status.SENT, sent_at=ago(2), **fields
    )


def track(message, kind=TrackingEvent.Kind.OPEN, **fields) -> TrackingEvent:
    return TrackingEvent.objects.create(
        message=message, campaign_id=message.campaign_id, contact_id=message.contact_id, kind=kind, **fields
    )


@pytest.fixture
def pair():
    return ContactFactory(email="keep@example.com"), ContactFactory(email="dup@example.com")


# ---------------------------------------------------------------- campaigns


def test_the_duplicates_messages_and_their_tracking_move_to_the_survivor(pair):
    survivor, duplicate = pair
    message = sent(make_campaign(), duplicate, open_count=1)
    event = track(message)
    services.contact_merge(target=survivor, source=duplicate)
    message.refresh_from_db()
    event.refresh_from_db()
    assert message.contact_id == survivor.pk
    assert (event.contact_id, event.message_id) == (survivor.pk, message.pk)


def test_when_both_got_a_campaign_the_survivors_message_takes_the_duplicates_opens_and_clicks(pair):
    survivor, duplicate = pair
    campaign = make_campaign()
    kept = sent(campaign, survivor, open_count=1, first_opened_at=ago(1))
    dropped = sent(
        campaign, duplicate, open_count=2, click_count=1, first_opened_at=ago(1.5), first_clicked_at=ago(1.4)
    )
    events = [track(kept), track(dropped), track(dropped, kind=TrackingEvent.Kind.CLICK)]
    services.contact_merge(target=survivor, source=duplicate)
    assert not Message.objects.filter(pk=dropped.pk).exists()
    kept.refresh_from_db()
    assert (kept.open_count, kept.click_count) == (3, 1)
    assert abs(kept.first_opened_at - ago(1.5)) < dt.timedelta(minutes=1)
    assert abs(kept.first_clicked_at - ago(1.4)) < dt.timedelta(minutes=1)
    assert set(TrackingEvent.objects.filter(message=kept).values_list("pk", flat=True)) == {e.pk for e in events}
    assert Message.objects.filter(campaign=campaign).count() == 1


def test_automation_mails_of_different_enrollments_both_move_and_only_the_same_enrollments_merge(pair):
    survivor, duplicate = pair
    step = make_campaign("Step mail")
    Campaign.objects.filter(pk=step.pk).update(kind=Campaign.Kind.FLOW)
    kept = sent(step, survivor, occurrence=7, open_count=1)
    same_enrollment = sent(step, duplicate, occurrence=7, click_count=1)
    other_enrollments = [sent(step, duplicate, occurrence=8), sent(step, duplicate, occurrence=9)]
    services.contact_merge(target=survivor, source=duplicate)
    assert not Message.objects.filter(pk=same_enrollment.pk).exists()
    kept.refresh_from_db()
    assert (kept.open_count, kept.click_count) == (1, 1)
    moved = Message.objects.filter(pk__in=[m.pk for m in other_enrollments])
    assert set(moved.values_list("contact_id", "occurrence")) == {(survivor.pk, 8), (survivor.pk, 9)}


# ---------------------------------------------------------------- segments


def test_static_list_stays_move_and_a_shared_list_keeps_one_stay_from_the_earlier_join(pair):
    survivor, duplicate = pair
    both = segment_create(name="Both", kind="static")
    static_add(segment=both, contact_ids=[survivor.pk, duplicate.pk])
    SegmentMembership.objects.filter(contact=duplicate, segment=both).update(joined_at=ago(30))
    only_duplicate = segment_create(name="Only dup", kind="static")
    static_add(segment=only_duplicate, contact_ids=[duplicate.pk])
    past = SegmentMembership.objects.create(
        segment=only_duplicate, contact=duplicate, joined_at=ago(90), left_at=ago(60)
    )
    services.contact_merge(target=survivor, source=duplicate)
    current = SegmentMembership.objects.filter(contact=survivor, left_at__isnull=True)
    assert set(current.values_list("segment_id", flat=True)) == {both.pk, only_duplicate.pk}
    assert abs(current.get(segment=both).joined_at - ago(30)) < dt.timedelta(minutes=1)
    past.refresh_from_db()
    assert past.contact_id == survivor.pk
    both.refresh_from_db()
    assert both.member_count == 1
    assert not SegmentMembership.objects.filter(contact_id=duplicate.pk).exists()


def test_dynamic_segments_are_recomputed_for_the_survivor(django_capture_on_commit_callbacks):
    survivor = ContactFactory(city="")
    duplicate = ContactFactory(city="Nazareth")
    with django_capture_on_commit_callbacks(execute=True):
        segment = segment_create(name="Nazareth", rules={"field": "city", "op": "eq", "value": "Nazareth"})
    assert SegmentMembership.objects.filter(segment=segment, contact=duplicate, left_at__isnull=True).exists()
    with django_capture_on_commit_callbacks(execute=True):
        services.contact_merge(target=survivor, source=duplicate)
    assert SegmentMembership.objects.filter(segment=segment, contact=survivor, left_at__isnull=True).exists()
    assert Segment.objects.get(pk=segment.pk).member_count == 1


# ---------------------------------------------------------------- consent


def test_the_most_recent_consent_event_per_channel_wins_and_both_logs_are_kept(pair):
    survivor, duplicate = pair
    services.consent_change(contact=survivor, channel="email", granted=True, source="web", occurred_at=ago(10))
    services.consent_change(contact=duplicate, channel="email", granted=False, source="shop", occurred_at=ago(1))
    services.consent_change(contact=duplicate, channel="sms", granted=True, source="pos", occurred_at=ago(20))
    services.consent_change(contact=survivor, channel="sms", granted=False, source="pos", occurred_at=ago(2))
    services.contact_merge(target=survivor, source=duplicate)
    survivor.refresh_from_db()
    assert (survivor.email_opt_in, survivor.sms_opt_in) == (False, False)
    assert ConsentEvent.objects.filter(contact=survivor).count() == 4


def test_a_newer_opt_in_of_the_duplicate_wins(pair):
    survivor, duplicate = pair
    services.consent_change(contact=survivor, channel="email", granted=False, source="web", occurred_at=ago(10))
    services.consent_change(contact=duplicate, channel="email", granted=True, source="shop", occurred_at=ago(1))
    services.contact_merge(target=survivor, source=duplicate)
    survivor.refresh_from_db()
    assert survivor.email_opt_in is True


# ---------------------------------------------------------------- club


def test_when_both_are_members_the_ledgers_join_and_the_points_add_up(pair):
    survivor, duplicate = pair
    mine = services.member_create(contact=survivor, card_number="100", tier="silver", joined_at=ago(100))
    theirs = services.member_create(contact=duplicate, card_number="200", tier="gold", joined_at=ago(400))
    services.points_adjust(member=mine, delta=10, reason="A", reference="order-1")
    services.points_adjust(member=theirs, delta=30, reason="B", reference="order-1")
    services.points_adjust(member=theirs, delta=-5, reason="C")
    services.points_adjust(member=mine, delta=7, reason="D")
    services.contact_merge(target=survivor, source=duplicate)
    member = LoyaltyMember.objects.get(contact=survivor)
    assert (member.card_number, member.points, member.tier) == ("100", 42, "gold")
    assert abs(member.joined_at - ago(400)) < dt.timedelta(minutes=1)
    ledger = list(PointsEntry.objects.filter(member=member).order_by("pk"))
    assert [(e.reason, e.balance_after) for e in ledger] == [("A", 10), ("B", 40), ("C", 35), ("D", 42)]
    assert sorted(e.reference or "" for e in ledger) == ["", "", "200:order-1", "order-1"]
    assert not LoyaltyMember.objects.filter(card_number="200").exists()


# ---------------------------------------------------------------- profile, history, rules


def test_survivors_custom_fields_win_and_empty_ones_are_filled(pair):
    survivor, duplicate = pair
    Contact.objects.filter(pk=survivor.pk).update(attributes={"size": "M", "pet": ""})
    Contact.objects.filter(pk=duplicate.pk).update(attributes={"size": "L", "pet": "dog", "shoe": 38})
    survivor.refresh_from_db()
    duplicate.refresh_from_db()
    services.contact_merge(target=survivor, source=duplicate)
    survivor.refresh_from_db()
    assert survivor.attributes == {"size": "M", "pet": "dog", "shoe": 38}


def test_the_duplicates_admin_history_moves_to_the_survivor(pair, admin_user):
    survivor, duplicate = pair
    LogEntry.objects.log_actions(
        user_id=admin_user.pk, queryset=[duplicate], action_flag=CHANGE, change_message="edited", single_object=True
    )
    services.contact_merge(target=survivor, source=duplicate)
    entry = LogEntry.objects.get(content_type=ContentType.objects.get_for_model(Contact))
    assert entry.object_id == str(survivor.pk)


def test_merging_an_erased_contact_is_refused(pair):
    survivor, duplicate = pair
    services.contact_erase(contact=duplicate)
    with pytest.raises(ValidationError) as excinfo:
        services.contact_merge(target=survivor, source=duplicate)
    assert set(excinfo.value.message_dict) == {"duplicate"}
    assert Contact.objects.filter(pk=duplicate.pk).exists()


def test_merge_runs_the_handlers_other_apps_registered(pair, monkeypatch):
    seen = []
    monkeypatch.setattr(hooks, "_merged", [*hooks._merged, lambda s, d: seen.append((s, d))])
    survivor, duplicate = pair
    services.contact_merge(target=survivor, source=duplicate)
    assert seen == [(survivor.pk, duplicate.pk)]
