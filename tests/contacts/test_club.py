import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum

from contacts import services
from contacts.models import LoyaltyMember, PointsEntry
from tests.factories import ContactFactory, MemberFactory

pytestmark = pytest.mark.django_db


def assert_ledgers_balance():
    from django.db.models import F, Value
    from django.db.models.functions import Coalesce

    bad = LoyaltyMember.objects.annotate(ledger_sum=Coalesce(Sum("ledger__delta"), Value(0))).exclude(
        points=F("ledger_sum")
    )
    assert list(bad.values_list("card_number", "points", "ledger_sum")) == []
    for member in LoyaltyMember.objects.all():
        running = 0
        for entry in member.ledger.order_by("created_at", "id"):
            running += entry.delta
            assert entry.balance_after == running


def test_member_create_gives_a_card_and_defaults():
    contact = ContactFactory()
    member = services.member_create(contact=contact)
    assert len(member.card_number) == 12 and member.card_number.isdigit()
    assert (member.tier, member.status, member.points) == ("basic", "active", 0)
    assert member.joined_at is not None


def test_member_create_with_a_card_in_use_names_card_number():
    MemberFactory(card_number="900000000001")
    with pytest.raises(ValidationError) as excinfo:
        services.member_create(contact=ContactFactory(), card_number=" 900000000001 ")
    assert set(excinfo.value.message_dict) == {"card_number"}
    assert LoyaltyMember.objects.count() == 1


def test_a_contact_joins_the_club_once():
    member = MemberFactory()
    with pytest.raises(ValidationError) as excinfo:
        services.member_create(contact=member.contact)
    assert set(excinfo.value.message_dict) == {"contact"}


def test_member_create_reads_tier_ignoring_case_and_rejects_unknown_tiers():
    member = services.member_create(contact=ContactFactory(), tier="GOLD")
    assert member.tier == "gold"
    with pytest.raises(ValidationError) as excinfo:
        services.member_create(contact=ContactFactory(), tier="diamond")
    assert set(excinfo.value.message_dict) == {"tier"}


def test_member_update_changes_card_but_not_to_one_in_use():
    MemberFactory(card_number="900000000001")
    member = MemberFactory(card_number="900000000002")
    services.member_update(member=member, card_number="900000000003", tier="silver")
    member.refresh_from_db()
    assert (member.card_number, member.tier) == ("900000000003", "silver")
    with pytest.raises(ValidationError) as excinfo:
        services.member_update(member=member, card_number="900000000001")
    assert set(excinfo.value.message_dict) == {"card_number"}


def test_points_adjust_keeps_balance_equal_to_the_ledger():
    member = services.member_create(contact=ContactFactory())
    services.points_adjust(member=member, delta=100, reason="Purchase")
    services.points_adjust(member=member, delta=-30, reason="Redeemed")
    entry = services.points_adjust(member=member, delta=5, reason="Birthday")
    member.refresh_from_db()
    assert member.points == 75
    assert entry.balance_after == 75
    assert [e.balance_after for e in member.ledger.order_by("id")] == [100, 70, 75]
    assert_ledgers_balance()


def test_points_adjust_refuses_to_go_negative_and_writes_nothing():
    member = services.member_create(contact=ContactFactory())
    services.points_adjust(member=member, delta=10, reason="Purchase")
    with pytest.raises(ValidationError) as excinfo:
        services.points_adjust(member=member, delta=-11, reason="Redeemed")
    assert set(excinfo.value.message_dict) == {"delta"}
    member.refresh_from_db()
    assert member.points == 10
    assert PointsEntry.objects.count() == 1


def test_points_adjust_with_a_stale_member_reads_the_current_balance():
    member = services.member_create(contact=ContactFactory())
    stale = LoyaltyMember.objects.get(pk=member.pk)
    services.points_adjust(member=member, delta=10, reason="Purchase")
    with pytest.raises(ValidationError):
        services.points_adjust(member=stale, delta=-20, reason="Redeemed")
    entry = services.points_adjust(member=stale, delta=-10, reason="Redeemed")
    assert entry.balance_after == 0
    assert_ledgers_balance()


def test_same_reference_is_applied_once():
    member = services.member_create(contact=ContactFactory())
    first = services.points_adjust(member=member, delta=50, reason="Order 1", reference="order-1")
    again = services.points_adjust(member=member, delta=50, reason="Order 1", reference="order-1")
    assert again.pk == first.pk
    member.refresh_from_db()
    assert member.points == 50
    assert PointsEntry.objects.count() == 1


def test_reference_longer_than_stored_is_an_error_naming_reference():
    member = services.member_create(contact=ContactFactory())
    with pytest.raises(ValidationError) as excinfo:
        services.points_adjust(member=member, delta=5, reason="Promo", reference="r" * 101)
    assert set(excinfo.value.message_dict) == {"reference"}
    assert not PointsEntry.objects.exists()


def test_blank_reference_means_no_reference():
    member = services.member_create(contact=ContactFactory())
    services.points_adjust(member=member, delta=5, reason="Promo", reference=" ")
    services.points_adjust(member=member, delta=5, reason="Promo", reference=" ")
    member.refresh_from_db()
    assert member.points == 10
    assert list(PointsEntry.objects.values_list("reference", flat=True)) == [None, None]


def test_same_reference_on_another_member_is_applied():
    one = services.member_create(contact=ContactFactory())
    two = services.member_create(contact=ContactFactory())
    services.points_adjust(member=one, delta=5, reason="Promo", reference="promo")
    services.points_adjust(member=two, delta=5, reason="Promo", reference="promo")
    assert PointsEntry.objects.count() == 2


@pytest.mark.parametrize(
    "delta, reason, field",
    [
        (0, "x", "delta"),
        (1.5, "x", "delta"),
        ("10", "x", "delta"),
        (True, "x", "delta"),
        (5, " ", "reason"),
    ],
)
def test_invalid_points_adjustment_names_the_field(delta, reason, field):
    member = services.member_create(contact=ContactFactory())
    with pytest.raises(ValidationError) as excinfo:
        services.points_adjust(member=member, delta=delta, reason=reason)
    assert set(excinfo.value.message_dict) == {field}
    assert not PointsEntry.objects.exists()


def test_every_members_points_equal_the_sum_of_their_ledger():
    members = [services.member_create(contact=ContactFactory()) for _ in range(3)]
    for n, member in enumerate(members):
        for delta in (100, -40, n + 1):
            services.points_adjust(member=member, delta=delta, reason="Activity")
    source = members[0].contact
    services.contact_merge(target=members[1].contact, source=source)
    assert_ledgers_balance()
