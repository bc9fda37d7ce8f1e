import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from contacts import services
from contacts.models import ConsentEvent, Contact, FunnelStage, Lifecycle, LoyaltyMember, PointsEntry
from contacts.paginator import EstimatedCountPaginator
from tests.factories import (
    ActivityFactory,
    ConsentEventFactory,
    ContactFactory,
    MemberFactory,
    PurchaseFactory,
    PurchaseItemFactory,
    TagFactory,
)

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:contacts_contact_changelist")


def change_url(contact):
    return reverse("admin:contacts_contact_change", args=[contact.pk])


def listed_ids(response):
    return {row.pk for row in response.context["cl"].result_list}


# ---------------------------------------------------------------- changelist


def test_changelist_loads_with_members_without_a_query_per_row(admin_client):
    for _ in range(5):
        MemberFactory(tier=LoyaltyMember.Tier.GOLD)
    ContactFactory()
    with CaptureQueriesContext(connection) as few:
        admin_client.get(CHANGELIST)
    for _ in range(10):
        MemberFactory()
    with CaptureQueriesContext(connection) as many:
        response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    assert "Gold" in response.content.decode()
    assert len(many) == len(few)


def test_changelist_does_not_count_the_whole_table_twice(admin_client):
    ContactFactory.create_batch(3)
    with CaptureQueriesContext(connection) as queries:
        admin_client.get(CHANGELIST)
    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper() and "contacts_contact" in q["sql"]]
    assert len(counts) <= 1


@pytest.mark.parametrize(
    "term",
    [
        "dana.cohen@example.com",
        "DANA.COHEN@example.com ",
        "050-123-4567",
        "+972501234567",
        "900012345678",
        "Dana",
        "coh",
        "dana coh",
    ],
)
def test_search_finds_a_contact_by_email_phone_card_or_name(admin_client, term):
    dana = ContactFactory(first_name="Dana", last_name="Cohen", email="dana.cohen@example.com", phone="+972501234567")
    MemberFactory(contact=dana, card_number="900012345678")
    ContactFactory(first_name="Avi", last_name="Levi", email="avi@example.com", phone="+972521111111")
    response = admin_client.get(CHANGELIST, {"q": term})
    assert response.status_code == 200
    assert listed_ids(response) == {dana.pk}


def test_search_with_an_unknown_email_finds_nobody(admin_client):
    ContactFactory(email="someone@example.com")
    response = admin_client.get(CHANGELIST, {"q": "nobody@example.com"})
    assert listed_ids(response) == set()


def days_ago(days: int) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=days)


@pytest.mark.parametrize(
    "params, match, other",
    [
        ({"funnel_stage__exact": FunnelStage.CART}, {"funnel_stage": FunnelStage.CART}, {}),
        (
            {"lifecycle": Lifecycle.AT_RISK},
            {"first_purchase_at": days_ago(300), "last_purchase_at": days_ago(120)},
            {"first_purchase_at": days_ago(300), "last_purchase_at": days_ago(10)},
        ),
        ({"region": "Northern District"}, {"region": "Northern District"}, {}),
        ({"city": "Haifa"}, {"city": "Haifa"}, {}),
        ({"source__exact": "in_store"}, {"source": "in_store"}, {"source": "web_form"}),
        ({"email_opt_in__exact": "0"}, {"email_opt_in": False}, {}),
        ({"email_status__exact": "unsubscribed"}, {"email_status": "unsubscribed"}, {}),
    ],
)
def test_each_profile_filter_narrows_the_list(admin_client, params, match, other):
    wanted = ContactFactory(**match)
    ContactFactory(**other)
    response = admin_client.get(CHANGELIST, params)
    assert response.status_code == 200
    assert listed_ids(response) == {wanted.pk}


def test_tier_filter_lists_members_of_that_tier(admin_client):
    gold = MemberFactory(tier=LoyaltyMember.Tier.GOLD).contact
    MemberFactory(tier=LoyaltyMember.Tier.BASIC)
    ContactFactory()
    response = admin_client.get(CHANGELIST, {"club__tier__exact": "gold"})
    assert listed_ids(response) == {gold.pk}


def test_tag_filter_lists_tagged_contacts(admin_client):
    tag = TagFactory(name="vip")
    tagged = ContactFactory()
    tagged.tags.add(tag)
    ContactFactory()
    response = admin_client.get(CHANGELIST, {"tags__id__exact": tag.pk})
    assert listed_ids(response) == {tagged.pk}


def test_city_filter_is_a_text_box_not_a_list_of_every_city(admin_client):
    ContactFactory(city="Eilat")
    response = admin_client.get(CHANGELIST)
    html = response.content.decode()
    assert 'name="city"' in html
    assert "?city=Eilat" not in html


def test_paginator_caps_filtered_counts():
    ContactFactory.create_batch(5)
    paginator = EstimatedCountPaginator(Contact.objects.filter(country="IL").order_by("pk"), 2)
    paginator.cap = 3
    assert paginator.count == 3
    assert paginator.count_is_capped
    unfiltered = EstimatedCountPaginator(Contact.objects.order_by("pk"), 2)
    assert unfiltered.count == 5


def test_changelist_says_more_than_when_the_count_is_capped(admin_client, monkeypatch):
    monkeypatch.setattr(EstimatedCountPaginator, "cap", 2)
    ContactFactory.create_batch(3, city="Haifa")
    response = admin_client.get(CHANGELIST, {"city": "Haifa"})
    assert "more than 2" in response.content.decode()


@pytest.mark.postgres
def test_paginator_reads_the_planner_estimate_on_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("reltuples is PostgreSQL's")
    ContactFactory.create_batch(3)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE contacts_contact")
    paginator = EstimatedCountPaginator(Contact.objects.order_by("pk"), 2)
    paginator.estimate_from = 1
    assert paginator.count == 3
    assert paginator.count_is_estimate


# ---------------------------------------------------------------- contact page


def test_contact_page_shows_the_timeline_newest_first(admin_client):
    contact = ContactFactory()
    now = timezone.now()
    ActivityFactory(contact=contact, type="product_view", occurred_at=now - dt.timedelta(days=3))
    PurchaseFactory(contact=contact, purchased_at=now - dt.timedelta(days=2), total=Decimal("321.50"))
    ConsentEventFactory(contact=contact, granted=False, occurred_at=now - dt.timedelta(days=1))
    response = admin_client.get(change_url(contact))
    assert response.status_code == 200
    kinds = [entry.kind for entry, _label in response.context["timeline"]]
    assert kinds == ["consent", "purchase", "activity"]
    html = response.content.decode()
    html = html[html.index('id="timeline"') :]
    assert html.index("Email consent revoked") < html.index("321.50") < html.index("Product view")


def test_timeline_is_limited_to_the_latest_entries(admin_client):
    contact = ContactFactory()
    start = timezone.now() - dt.timedelta(days=1)
    for minute in range(105):
        ActivityFactory(contact=contact, occurred_at=start + dt.timedelta(minutes=minute))
    response = admin_client.get(change_url(contact))
    timeline = response.context["timeline"]
    assert len(timeline) == 100
    assert timeline[0][0].at == start + dt.timedelta(minutes=104)


def test_contact_page_shows_membership_and_recent_purchases(admin_client):
    member = MemberFactory(card_number="5550001")
    for day in range(12):
        PurchaseFactory(contact=member.contact, purchased_at=timezone.now() - dt.timedelta(days=day))
    response = admin_client.get(change_url(member.contact))
    html = response.content.decode()
    assert "5550001" in html
    purchases = next(tab for tab in response.context["tabs"] if tab.key == "purchases")
    assert len(purchases.rows) == 12


def test_saving_a_contact_goes_through_the_service(admin_client):
    contact = ContactFactory(email="old@example.com", email_opt_in=False)
    data = contact_form_data(contact, email=" New@Example.COM ", phone="052-765-4321", email_opt_in="on")
    response = admin_client.post(change_url(contact), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    contact.refresh_from_db()
    assert contact.email == "new@example.com"
    assert contact.phone == "+972527654321"
    assert ConsentEvent.objects.filter(contact=contact, channel="email", granted=True, source="admin").exists()


def test_adding_a_contact_normalizes_and_tags_it(admin_client):
    tag = TagFactory(name="newsletter")
    data = contact_form_data(Contact(), email="Fresh@Example.com", first_name="Noa", tags=[tag.pk])
    response = admin_client.post(reverse("admin:contacts_contact_add"), data)
    assert response.status_code == 302
    contact = Contact.objects.get(email="fresh@example.com")
    assert list(contact.tags.values_list("name", flat=True)) == ["newsletter"]


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("phone", "12", "not a valid phone number"),
        ("email", "taken@example.com", "already belongs to contact"),
        ("birth_date", "1800-01-01", "out of range"),
    ],
)
def test_an_invalid_value_is_reported_on_its_field(admin_client, field, value, message):
    ContactFactory(email="taken@example.com")
    contact = ContactFactory()
    response = admin_client.post(change_url(contact), contact_form_data(contact, **{field: value}))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert message in " ".join(errors[field])


def test_a_service_refusal_comes_back_on_the_form_and_writes_nothing(admin_client, monkeypatch):
    contact = ContactFactory(first_name="Before")

    def refuse(**kwargs):
        from contacts import normalize

        raise normalize.field_error("phone", "Refused by the service.")

    monkeypatch.setattr(services, "contact_update", refuse)
    response = admin_client.post(change_url(contact), contact_form_data(contact, first_name="After"))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["phone"] == ["Refused by the service."]
    contact.refresh_from_db()
    assert contact.first_name == "Before"


def contact_form_data(contact, **overrides):
    data = {
        "email": contact.email or "",
        "phone": contact.phone or "",
        "external_id": contact.external_id or "",
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "gender": contact.gender,
        "birth_date": "",
        "wedding_date": "",
        "marital_status": contact.marital_status,
        "city": contact.city,
        "region": contact.region,
        "country": contact.country,
        "language": contact.language,
        "source": contact.source,
        "source_detail": "",
        "signed_up_at_0": "",
        "signed_up_at_1": "",
        "attributes": "{}",
        "club-TOTAL_FORMS": 0,
        "club-INITIAL_FORMS": 0,
        "purchases-TOTAL_FORMS": 0,
        "purchases-INITIAL_FORMS": 0,
    }
    if contact.email_opt_in:
        data["email_opt_in"] = "on"
    data.update(overrides)
    return data


# ---------------------------------------------------------------- bulk actions


def run_action(client, action, contacts, **extra):
    data = {"action": action, ACTION_CHECKBOX_NAME: [c.pk for c in contacts], "index": 0, **extra}
    return client.post(CHANGELIST, data)


def test_add_tag_asks_for_the_name_first(admin_client):
    contact = ContactFactory()
    response = run_action(admin_client, "add_tag", [contact])
    assert response.status_code == 200
    assert 'name="name"' in response.content.decode()
    assert not contact.tags.exists()


def test_add_tag_tags_the_selected_contacts_through_the_service(admin_client, monkeypatch):
    first, second, untouched = ContactFactory(), ContactFactory(), ContactFactory()
    calls = []
    original = services.contacts_add_tag
    monkeypatch.setattr(services, "contacts_add_tag", lambda **kw: calls.append(kw) or original(**kw))
    response = run_action(admin_client, "add_tag", [first, second], name="  Summer  sale ", apply="1")
    assert response.status_code == 302
    assert len(calls) == 1
    assert set(Contact.objects.filter(tags__name="Summer sale").values_list("pk", flat=True)) == {first.pk, second.pk}
    assert not untouched.tags.exists()


def test_revoke_email_consent_logs_the_change(admin_client):
    contact = ContactFactory(email_opt_in=True)
    response = run_action(admin_client, "revoke_email_consent", [contact])
    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.email_opt_in is False
    event = ConsentEvent.objects.get(contact=contact)
    assert event.granted is False and event.source == "admin:boss"


def test_erase_asks_for_confirmation_then_anonymizes(admin_client):
    contact = ContactFactory(first_name="Secret", email="secret@example.com")
    PurchaseFactory(contact=contact, total=Decimal("80.00"))
    response = run_action(admin_client, "erase_contacts", [contact])
    assert response.status_code == 200
    assert "cannot be undone" in response.content.decode()
    contact.refresh_from_db()
    assert contact.erased_at is None

    response = run_action(admin_client, "erase_contacts", [contact], confirm="yes")
    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.erased_at is not None
    assert contact.email is None and contact.first_name == ""
    assert contact.purchases.get().total == Decimal("80.00")


# ---------------------------------------------------------------- other admins


def test_every_back_office_list_loads(admin_client):
    member = MemberFactory()
    services.points_adjust(member=member, delta=10, reason="welcome")
    PurchaseItemFactory(purchase=PurchaseFactory(contact=member.contact))
    ActivityFactory(contact=member.contact)
    ConsentEventFactory(contact=member.contact)
    TagFactory()
    for model in ("loyaltymember", "product", "store", "purchase", "activity", "consentevent", "tag", "customfield"):
        response = admin_client.get(reverse(f"admin:contacts_{model}_changelist"))
        assert response.status_code == 200, model


def test_purchase_page_shows_its_items(admin_client):
    item = PurchaseItemFactory(quantity=3)
    response = admin_client.get(reverse("admin:contacts_purchase_change", args=[item.purchase.pk]))
    assert response.status_code == 200
    assert item.product.name in response.content.decode()


def test_member_points_change_only_through_the_ledger(admin_client):
    member = MemberFactory(tier="basic")
    url = reverse("admin:contacts_loyaltymember_change", args=[member.pk])
    data = {
        "card_number": member.card_number,
        "tier": "silver",
        "status": "active",
        "joined_at_0": "2024-01-01",
        "joined_at_1": "10:00",
        "home_store": "",
        "points": 999,
        "points_delta": 25,
        "points_reason": "Birthday gift",
        "ledger-TOTAL_FORMS": 0,
        "ledger-INITIAL_FORMS": 0,
    }
    response = admin_client.post(url, data)
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.tier == "silver"
    assert member.points == 25
    assert PointsEntry.objects.get(member=member).reason == "Birthday gift"


def test_spending_more_points_than_the_balance_is_a_field_error(admin_client):
    member = MemberFactory()
    url = reverse("admin:contacts_loyaltymember_change", args=[member.pk])
    data = {
        "card_number": member.card_number,
        "tier": "basic",
        "status": "active",
        "joined_at_0": "2024-01-01",
        "joined_at_1": "10:00",
        "points_delta": -5,
        "points_reason": "Oops",
        "ledger-TOTAL_FORMS": 0,
        "ledger-INITIAL_FORMS": 0,
    }
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "Not enough points" in " ".join(response.context["adminform"].form.errors["points_delta"])
    assert not PointsEntry.objects.exists()


def test_adding_a_member_creates_the_membership_through_the_service(admin_client):
    contact = ContactFactory()
    data = {
        "contact": contact.pk,
        "card_number": "  777123 ",
        "tier": "gold",
        "status": "active",
        "joined_at_0": "2024-05-01",
        "joined_at_1": "09:00",
        "points_delta": 100,
        "points_reason": "Welcome",
        "ledger-TOTAL_FORMS": 0,
        "ledger-INITIAL_FORMS": 0,
    }
    response = admin_client.post(reverse("admin:contacts_loyaltymember_add"), data)
    assert response.status_code == 302
    member = LoyaltyMember.objects.get(contact=contact)
    assert member.card_number == "777123"
    assert member.points == 100


def test_consent_log_cannot_be_edited(admin_client):
    event = ConsentEventFactory()
    url = reverse("admin:contacts_consentevent_change", args=[event.pk])
    response = admin_client.get(url)
    assert response.status_code == 200
    assert 'name="_save"' not in response.content.decode()
    assert admin_client.get(reverse("admin:contacts_consentevent_add")).status_code == 403


def test_adding_an_activity_records_it_through_the_service(admin_client):
    contact = ContactFactory()
    data = {
        "contact": contact.pk,
        "type": "add_to_cart",
        "occurred_at_0": "2024-06-01",
        "occurred_at_1": "12:00",
        "url": "https://shop.example.com/cart",
        "properties": "{}",
        "anonymous_id": "",
        "event_id": "ev-1",
        "product": "",
    }
    response = admin_client.post(reverse("admin:contacts_activity_add"), data)
    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.funnel_stage == FunnelStage.CART
    assert contact.activities.get().event_id == "ev-1"
