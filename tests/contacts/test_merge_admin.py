"""Merging in the back office: action, side-by-side confirmation, likely-duplicates list."""

import datetime as dt

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.urls import reverse

from contacts import services
from contacts.models import Contact, LoyaltyMember
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:contacts_contact_changelist")
MERGE = reverse("admin:contacts_contact_merge")
DUPLICATES = reverse("admin:contacts_contact_duplicates")


def test_the_merge_action_on_two_contacts_opens_the_side_by_side_confirmation(admin_client):
    first = ContactFactory(first_name="Noa", city="Haifa")
    second = ContactFactory(first_name="Noah", city="Eilat")
    response = admin_client.post(
        CHANGELIST, {"action": "merge_contacts", "index": 0, ACTION_CHECKBOX_NAME: [first.pk, second.pk]}
    )
    assert response.status_code == 302
    page = admin_client.get(response["Location"])
    assert page.status_code == 200
    rows = {str(label): (mine, theirs) for label, mine, theirs in page.context["rows"]}
    assert rows["city"] == ("Haifa", "Eilat")
    html = page.content.decode()
    assert "Haifa" in html and "Eilat" in html and "merge-compare" in html
    assert Contact.objects.filter(pk=second.pk).exists()  # nothing merged before the confirmation


def test_the_merge_action_wants_exactly_two_contacts(admin_client):
    contacts = [ContactFactory() for _ in range(3)]
    response = admin_client.post(
        CHANGELIST,
        {"action": "merge_contacts", "index": 0, ACTION_CHECKBOX_NAME: [c.pk for c in contacts]},
        follow=True,
    )
    assert "exactly two" in response.content.decode()
    assert Contact.objects.count() == 3


def test_confirming_merges_and_lands_on_the_survivor(admin_client):
    survivor = ContactFactory(city="")
    duplicate = ContactFactory(city="Acre")
    response = admin_client.post(MERGE, {"survivor": survivor.pk, "duplicate": duplicate.pk, "confirm": "yes"})
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:contacts_contact_change", args=[survivor.pk])
    assert not Contact.objects.filter(pk=duplicate.pk).exists()
    survivor.refresh_from_db()
    assert survivor.city == "Acre"


def test_a_refused_merge_shows_the_reason_and_keeps_both(admin_client):
    survivor = ContactFactory()
    duplicate = services.contact_erase(contact=ContactFactory())
    response = admin_client.post(MERGE, {"survivor": survivor.pk, "duplicate": duplicate.pk, "confirm": "yes"})
    assert response.status_code == 200
    assert "erased" in response.context["error"]
    assert Contact.objects.filter(pk=duplicate.pk).exists()


def test_an_unknown_or_garbage_id_is_a_404_not_an_error(admin_client):
    contact = ContactFactory()
    assert admin_client.get(MERGE, {"survivor": contact.pk, "duplicate": 987654}).status_code == 404
    assert admin_client.get(MERGE, {"survivor": "x'--", "duplicate": "9" * 40}).status_code == 404


@pytest.fixture
def clerk_client(client, django_user_model):
    user = django_user_model.objects.create_user("clerk", password="pw-123-long", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["change_contact", "view_contact"]))
    client.force_login(user)
    client.user = user
    return client


def test_staff_without_the_merge_permission_can_neither_merge_nor_list_duplicates(clerk_client):
    survivor, duplicate = ContactFactory(), ContactFactory()
    response = clerk_client.post(MERGE, {"survivor": survivor.pk, "duplicate": duplicate.pk, "confirm": "yes"})
    assert response.status_code == 403
    assert clerk_client.get(DUPLICATES).status_code == 403
    assert Contact.objects.filter(pk=duplicate.pk).exists()


def test_staff_with_the_merge_permission_may_merge(clerk_client):
    clerk_client.user.user_permissions.add(Permission.objects.get(codename="merge_contact"))
    survivor, duplicate = ContactFactory(), ContactFactory()
    response = clerk_client.post(MERGE, {"survivor": survivor.pk, "duplicate": duplicate.pk, "confirm": "yes"})
    assert response.status_code == 302
    assert not Contact.objects.filter(pk=duplicate.pk).exists()


# ---------------------------------------------------------------- likely duplicates


def groups(response) -> list[set[int]]:
    return [{contact.pk for contact, _link in group} for group in response.context["groups"]]


def test_duplicates_by_phone_in_different_forms(admin_client):
    local = ContactFactory(phone="+972501234567")
    raw = ContactFactory(phone="050-123-4567")  # written around the normalizer, as old imports did
    ContactFactory(phone="+972509999999")
    response = admin_client.get(DUPLICATES, {"kind": "phone"})
    assert response.status_code == 200
    assert groups(response) == [{local.pk, raw.pk}]
    assert f"survivor={local.pk}&amp;duplicate={raw.pk}" in response.content.decode()


def test_duplicates_by_email_case_and_spaces(admin_client):
    first = ContactFactory(email="dana@example.com")
    second = ContactFactory(email=" Dana@Example.com")
    ContactFactory(email="other@example.com")
    assert groups(admin_client.get(DUPLICATES, {"kind": "email"})) == [{first.pk, second.pk}]


def test_duplicates_by_club_card_in_different_forms(admin_client):
    first = ContactFactory()
    second = ContactFactory()
    LoyaltyMember.objects.create(contact=first, card_number="9000-1234")
    LoyaltyMember.objects.create(contact=second, card_number="9000 1234")
    assert groups(admin_client.get(DUPLICATES, {"kind": "card"})) == [{first.pk, second.pk}]


def test_duplicates_by_name_and_birth_date_leave_out_erased_contacts(admin_client):
    born = dt.date(1990, 5, 17)
    first = ContactFactory(first_name="Dana", last_name="Levi", birth_date=born)
    second = ContactFactory(first_name="dana ", last_name="LEVI", birth_date=born)
    erased = ContactFactory(first_name="Dana", last_name="Levi", birth_date=born)
    services.contact_erase(contact=erased)
    ContactFactory(first_name="Dana", last_name="Levi", birth_date=dt.date(1991, 5, 17))
    assert groups(admin_client.get(DUPLICATES, {"kind": "name_birth"})) == [{first.pk, second.pk}]


def test_the_duplicates_list_is_paginated(admin_client):
    for n in range(30):
        ContactFactory(phone=f"+9725000000{n:02d}")
        ContactFactory(phone=f"05000000{n:02d}")
    first = admin_client.get(DUPLICATES, {"kind": "phone"})
    last = admin_client.get(DUPLICATES, {"kind": "phone", "page": 2})
    assert len(first.context["groups"]) == 25 and len(last.context["groups"]) == 5
    assert admin_client.get(DUPLICATES, {"kind": "nonsense", "page": "zz"}).status_code == 200


def test_the_contact_list_links_to_the_likely_duplicates(admin_client):
    response = admin_client.get(CHANGELIST)
    assert DUPLICATES in response.content.decode()
