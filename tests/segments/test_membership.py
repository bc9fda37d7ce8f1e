import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone

from contacts import ingest
from contacts import services as contact_services
from contacts.models import Contact
from segments import services
from segments.models import Segment, SegmentMembership
from segments.selectors import daily_movement, membership_events
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db(transaction=True)

HAIFA = {"field": "city", "op": "eq", "value": "Haifa"}


def members(segment):
    return set(
        SegmentMembership.objects.filter(segment=segment, left_at__isnull=True).values_list("contact_id", flat=True)
    )


def test_refresh_records_entries_and_closes_exits_without_deleting_history():
    stays, leaves = ContactFactory(city="Haifa"), ContactFactory(city="Haifa")
    ContactFactory(city="Eilat")
    segment = services.segment_create(name="Haifa", rules=HAIFA, refresh=False)

    first = services.segment_refresh(segment=segment)
    assert (first.entered, first.left, first.members) == (2, 0, 2)

    Contact.objects.filter(pk=leaves.pk).update(city="Eilat")  # drift the per-contact path did not see
    second = services.segment_refresh(segment=segment)

    assert (second.entered, second.left, second.members) == (0, 1, 1)
    assert members(segment) == {stays.pk}
    history = SegmentMembership.objects.get(segment=segment, contact=leaves)
    assert history.left_at is not None and history.joined_at <= history.left_at


def test_refresh_twice_changes_nothing():
    ContactFactory(city="Haifa")
    segment = services.segment_create(name="Haifa", rules=HAIFA, refresh=False)
    services.segment_refresh(segment=segment)
    again = services.segment_refresh(segment=segment)
    assert (again.entered, again.left) == (0, 0)
    assert SegmentMembership.objects.count() == 1


def test_a_contact_that_comes_back_gets_a_second_stay():
    contact = ContactFactory(city="Haifa")
    segment = services.segment_create(name="Haifa", rules=HAIFA, refresh=False)
    services.segment_refresh(segment=segment)
    contact_services.contact_update(contact=contact, city="Eilat")
    contact_services.contact_update(contact=contact, city="Haifa")
    stays = SegmentMembership.objects.filter(segment=segment, contact=contact).order_by("joined_at")
    assert stays.count() == 2
    assert stays[0].left_at is not None and stays[1].left_at is None


def test_creating_a_segment_fills_it_right_away():
    contact = ContactFactory(city="Haifa")
    segment = services.segment_create(name="Haifa", rules=HAIFA)
    segment.refresh_from_db()
    assert members(segment) == {contact.pk}
    assert segment.member_count == 1 and segment.last_refreshed_at is not None


def test_a_purchase_moves_the_contact_into_a_segment_at_once():
    contact = ContactFactory()
    segment = services.segment_create(name="Buyers", rules={"field": "purchase_count", "op": "gte", "value": 1})
    assert members(segment) == set()
    ingest.purchase_ingest(data={"contact": contact.pk, "external_id": "o-1", "total": "99.90"})
    assert members(segment) == {contact.pk}
    segment.refresh_from_db()
    assert segment.member_count == 1


def test_an_event_moves_the_contact_into_a_segment_that_reads_events_at_once(monkeypatch):
    """A second referral changes no funnel stage, yet the segment of "two referrals" must hear of it, through
    the single endpoint and a bulk batch alike; a segment reading no events is not re-evaluated for it."""
    ana, ben = ContactFactory(), ContactFactory()
    twice = {"field": "event", "op": "count_gte", "value": 2, "event": "referral", "days": 30}
    segment = services.segment_create(name="Referred twice", rules={"all": [twice]})
    for contact in (ana, ben):
        ingest.activity_ingest(data={"contact": contact.pk, "type": "referral"})
    assert members(segment) == set()

    ingest.activity_ingest(data={"contact": ana.pk, "type": "referral"})
    ingest.activities_track_bulk(items=[{"contact": ben.pk, "type": "referral"}])
    assert members(segment) == {ana.pk, ben.pk}

    segment.delete()
    services.segment_create(name="Haifa", rules=HAIFA)
    heard = []
    monkeypatch.setattr(services, "contacts_changed_receiver", lambda sender, contact_ids: heard.append(contact_ids))
    ingest.activity_ingest(data={"contact": ana.pk, "type": "referral"})
    assert heard == []


def test_only_events_of_the_types_a_segment_reads_re_evaluate_their_contacts(monkeypatch):
    """A segment of "two referrals" reads referrals: a batch's page views re-evaluate no one, its referral does,
    and only for the contact who made it; "abandoned a cart" reads add-to-carts."""
    ana, ben = ContactFactory(), ContactFactory()
    services.segment_create(
        name="Referred twice", rules={"field": "event", "op": "count_gte", "value": 2, "event": "referral"}
    )
    heard: list[list[int]] = []
    monkeypatch.setattr(services, "contacts_changed_receiver", lambda sender, contact_ids: heard.append(contact_ids))

    ingest.activities_track_bulk(
        items=[{"contact": ana.pk, "type": "page_view"}, {"contact": ben.pk, "type": "signup"}]
    )
    assert heard == []
    ingest.activities_track_bulk(
        items=[{"contact": ana.pk, "type": "page_view"}, {"contact": ben.pk, "type": "referral"}]
    )
    assert heard == [[ben.pk]]

    assert services.event_types_read() == {"referral"}
    services.segment_create(name="Carts", rules={"field": "cart_abandoned", "op": "within_last_days", "value": 7})
    assert services.event_types_read() == {"referral", "add_to_cart"}


def test_profile_change_moves_the_contact_out_at_once():
    contact = ContactFactory(city="Haifa")
    segment = services.segment_create(name="Haifa", rules=HAIFA)
    contact_services.contact_update(contact=contact, city="Eilat")
    assert members(segment) == set()


def test_consent_and_club_changes_re_evaluate_the_contact():
    contact = ContactFactory(email_opt_in=True)
    reachable = services.segment_create(name="Reachable", rules={"field": "email_consent", "op": "is", "value": True})
    club = services.segment_create(name="Club", rules={"field": "club_member", "op": "is", "value": True})
    assert contact.pk in members(reachable)
    contact_services.consent_change(contact=contact, channel="email", granted=False, source="test", unsubscribe=True)
    assert contact.pk not in members(reachable)
    contact_services.member_create(contact=contact, card_number="123")
    assert contact.pk in members(club)


def test_erased_contacts_leave_every_segment():
    contact = ContactFactory(city="Haifa")
    segment = services.segment_create(name="Not Eilat", rules={"not": {"field": "city", "op": "eq", "value": "x"}})
    assert contact.pk in members(segment)
    contact_services.contact_erase(contact=contact)
    assert contact.pk not in members(segment)


def test_entries_and_exits_are_queryable_events_with_daily_counts():
    a, b = ContactFactory(city="Haifa"), ContactFactory(city="Haifa")
    segment = services.segment_create(name="Haifa", rules=HAIFA)
    contact_services.contact_update(contact=a, city="Eilat")
    since = timezone.now() - dt.timedelta(hours=1)
    events = membership_events(segment=segment, since=since)
    assert events.filter(left_at__isnull=False).count() == 1
    today = daily_movement(segment, days=7)[-1]
    assert today["day"] == timezone.localdate()
    assert (today["entries"], today["exits"]) == (2, 1)
    assert b.pk in members(segment)


def test_refresh_segments_command_reports_each_segment(capsys):
    ContactFactory(city="Haifa")
    segment = services.segment_create(name="Haifa", rules=HAIFA, refresh=False)
    call_command("refresh_segments", "--segment", str(segment.pk))
    out = capsys.readouterr().out
    assert "Haifa: 1 members (+1 / -0)" in out


def test_refresh_segments_command_names_an_unknown_id():
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="999"):
        call_command("refresh_segments", "--segment", "999")


def test_nested_segment_follows_the_inner_rules_live():
    inner = services.segment_create(name="Haifa", rules=HAIFA, refresh=False)
    outer = services.segment_create(
        name="Haifa buyers",
        rules={
            "all": [
                {"field": "in_segment", "op": "is", "value": True, "segment": inner.pk},
                {"field": "total_spent", "op": "gte", "value": 100},
            ]
        },
    )
    contact = ContactFactory(city="Haifa")
    ingest.purchase_ingest(data={"contact": contact.pk, "external_id": "o-2", "total": "150"})
    assert members(outer) == {contact.pk}


def test_a_cycle_through_in_segment_is_rejected_on_save():
    a = services.segment_create(name="A", rules=HAIFA, refresh=False)
    b = services.segment_create(
        name="B", rules={"field": "in_segment", "op": "is", "value": True, "segment": a.pk}, refresh=False
    )
    with pytest.raises(ValidationError) as excinfo:
        services.segment_update(segment=a, rules={"field": "in_segment", "op": "is", "value": False, "segment": b.pk})
    assert "include itself" in str(excinfo.value)
    with pytest.raises(ValidationError):
        services.segment_update(segment=a, rules={"field": "in_segment", "op": "is", "value": True, "segment": a.pk})


def test_deleting_a_segment_that_another_uses_is_refused_with_its_name():
    a = services.segment_create(name="Haifa", rules=HAIFA, refresh=False)
    services.segment_create(
        name="Haifa VIP", rules={"field": "in_segment", "op": "is", "value": True, "segment": a.pk}, refresh=False
    )
    with pytest.raises(ValidationError, match="Haifa VIP"):
        services.segment_delete(segment=a)
    assert Segment.objects.filter(pk=a.pk).exists()


def test_static_lists_add_and_remove_keep_history():
    a, b = ContactFactory(), ContactFactory()
    segment = services.segment_create(name="Shop event", kind=Segment.Kind.STATIC)
    assert services.static_add(segment=segment, contact_ids=[a.pk, b.pk]) == 2
    assert services.static_add(segment=segment, contact_ids=[a.pk]) == 0
    assert services.static_remove(segment=segment, contact_ids=[a.pk]) == 1
    segment.refresh_from_db()
    assert members(segment) == {b.pk} and segment.member_count == 1
    assert SegmentMembership.objects.filter(segment=segment).count() == 2


def test_static_add_names_unknown_contact_ids_and_adds_nothing():
    a = ContactFactory()
    segment = services.segment_create(name="List", kind=Segment.Kind.STATIC)
    with pytest.raises(ValidationError) as excinfo:
        services.static_add(segment=segment, contact_ids=[a.pk, 987654])
    assert "987654" in str(excinfo.value)
    assert not SegmentMembership.objects.exists()


def test_contacts_cannot_be_added_by_hand_to_a_dynamic_segment():
    segment = services.segment_create(name="Haifa", rules=HAIFA, refresh=False)
    with pytest.raises(ValidationError, match="static"):
        services.static_add(segment=segment, contact_ids=[ContactFactory().pk])


def test_static_segments_are_not_touched_by_contact_changes():
    contact = ContactFactory(city="Haifa")
    segment = services.segment_create(name="List", kind=Segment.Kind.STATIC)
    services.static_add(segment=segment, contact_ids=[contact.pk])
    services.segment_create(name="Haifa", rules=HAIFA)
    contact_services.contact_update(contact=contact, city="Eilat")
    assert members(segment) == {contact.pk}


def test_large_changes_refresh_whole_segments(settings):
    settings.SEGMENT_CONTACT_REFRESH_LIMIT = 2
    contacts = [ContactFactory(city="Haifa") for _ in range(4)]
    segment = services.segment_create(name="Buyers", rules={"field": "total_spent", "op": "gte", "value": 1})
    for i, contact in enumerate(contacts):
        ingest.purchase_ingest(data={"contact": contact.pk, "external_id": f"x{i}", "total": "5"})
    contact_services.contacts_refresh_purchase_stats(contact_ids=[c.pk for c in contacts])
    assert members(segment) == {c.pk for c in contacts}


def test_rules_are_validated_with_a_path_to_the_bad_node():
    with pytest.raises(ValidationError) as excinfo:
        services.segment_create(
            name="Bad", rules={"all": [HAIFA, {"any": [{"field": "age", "op": "gte", "value": "old"}]}]}
        )
    assert "all[1].any[0].value" in str(excinfo.value)


@pytest.mark.parametrize(
    "rules, where",
    [
        ({"field": "nope", "op": "eq", "value": 1}, "field"),
        ({"field": "city", "op": "gte", "value": 1}, "op"),
        ({"field": "city", "op": "eq"}, "value"),
        ({"field": "attribute", "op": "exists"}, "key"),
        ({"field": "birthday", "op": "in_next_days", "value": 400}, "value"),
        ({"field": "purchased_product", "op": "in", "value": ["NO-SUCH-SKU"]}, "value[0]"),
        ({"field": "in_segment", "op": "is", "value": True, "segment": 4242}, "segment"),
        ({"field": "age", "op": "between", "value": [40, 20]}, "value"),
        ({"field": "city", "op": "eq", "value": "x", "colour": "red"}, "colour"),
        ({"all": [], "any": []}, "rules"),
        (["city"], "rules"),
    ],
)
def test_each_kind_of_bad_rule_names_where_it_is(rules, where):
    with pytest.raises(ValidationError) as excinfo:
        services.segment_create(name="Bad", rules=rules)
    message = excinfo.value.message_dict["rules"][0]
    assert message.startswith(where) or f".{where}" in message.split(":")[0]


def test_a_static_segment_needs_no_rules():
    segment = services.segment_create(name="List", kind=Segment.Kind.STATIC, rules=None)
    assert segment.rules is None


def test_a_segment_needs_a_name():
    with pytest.raises(ValidationError) as excinfo:
        services.segment_create(name=" ", rules=HAIFA)
    assert "name" in excinfo.value.message_dict


def test_total_spent_accepts_decimal_strings():
    contact = ContactFactory()
    ingest.purchase_ingest(data={"contact": contact.pk, "external_id": "d1", "total": "100.50"})
    segment = services.segment_create(name="Spenders", rules={"field": "total_spent", "op": "gte", "value": "100.5"})
    assert members(segment) == {contact.pk}
    assert Decimal(str(segment.rules["value"])) == Decimal("100.5")


@pytest.mark.django_db
def test_marketers_manage_segments_and_analysts_only_view_them():
    from django.contrib.auth.models import Group

    marketer = set(
        Group.objects.get(name="Marketer")
        .permissions.filter(content_type__app_label="segments")
        .values_list("codename", flat=True)
    )
    analyst = set(
        Group.objects.get(name="Analyst")
        .permissions.filter(content_type__app_label="segments")
        .values_list("codename", flat=True)
    )
    assert {"add_segment", "change_segment", "delete_segment", "view_segment"} <= marketer
    assert analyst == {"view_segment", "view_segmentmembership"}
