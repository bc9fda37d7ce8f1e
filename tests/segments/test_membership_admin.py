"""Membership history in the back office: browsable, never deleted by hand; the contacts list filtered by
segment; the contact page's "Segments" tab; contacts and segments still deleted or erased with their history."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse
from django.utils import timezone

from contacts.models import Contact
from segments import services
from segments.models import Segment, SegmentMembership
from tests.factories import ConsentEventFactory, ContactFactory

pytestmark = pytest.mark.django_db

CONTACTS = reverse("admin:contacts_contact_changelist")
MEMBERSHIPS = reverse("admin:segments_segmentmembership_changelist")


def static_list(name, *contacts):
    segment = services.segment_create(name=name, kind=Segment.Kind.STATIC)
    services.static_add(segment=segment, contact_ids=[c.pk for c in contacts])
    return segment


def listed_ids(response):
    return {row.pk for row in response.context["cl"].result_list}


def test_the_contacts_list_filters_by_the_segment_a_contact_is_in_now(admin_client):
    inside, left, outside = ContactFactory(), ContactFactory(), ContactFactory()
    vips = static_list("VIPs", inside, left)
    services.static_remove(segment=vips, contact_ids=[left.pk])
    static_list("Others", outside)
    response = admin_client.get(CONTACTS, {"segment": str(vips.pk)})
    assert listed_ids(response) == {inside.pk}
    assert "VIPs" in response.content.decode()


def test_a_malformed_segment_filter_lists_nobody_rather_than_failing(admin_client):
    static_list("VIPs", ContactFactory())
    response = admin_client.get(CONTACTS, {"segment": "1; drop table"})
    assert response.status_code == 200
    assert listed_ids(response) == set()


def test_membership_history_cannot_be_deleted_in_the_admin(admin_client):
    contact = ContactFactory()
    static_list("VIPs", contact)
    stay = SegmentMembership.objects.get(contact=contact)
    assert admin_client.get(reverse("admin:segments_segmentmembership_delete", args=[stay.pk])).status_code == 403
    assert (
        admin_client.post(
            reverse("admin:segments_segmentmembership_delete", args=[stay.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    listing = admin_client.get(MEMBERSHIPS)
    assert "delete_selected" not in listing.content.decode()
    admin_client.post(MEMBERSHIPS, {"action": "delete_selected", ACTION_CHECKBOX_NAME: [stay.pk], "post": "yes"})
    assert SegmentMembership.objects.filter(pk=stay.pk).exists()


def test_nor_edited(admin_client):
    contact = ContactFactory()
    static_list("VIPs", contact)
    stay = SegmentMembership.objects.get(contact=contact)
    url = reverse("admin:segments_segmentmembership_change", args=[stay.pk])
    admin_client.post(url, {"segment": stay.segment_id, "contact": contact.pk, "left_at_0": "2020-01-01"})
    stay.refresh_from_db()
    assert stay.left_at is None


def test_a_contact_with_history_is_still_deleted_by_who_may_delete_contacts(admin_client):
    contact = ContactFactory()
    static_list("VIPs", contact)
    ConsentEventFactory(contact=contact)
    url = reverse("admin:contacts_contact_delete", args=[contact.pk])
    confirm = admin_client.get(url)
    assert "permission to delete" not in confirm.content.decode()
    response = admin_client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert not SegmentMembership.objects.filter(contact_id=contact.pk).exists()


def test_a_staff_member_still_erases_a_contact_in_a_segment_and_its_history_stays(login):
    client = login("Staff")
    contact = ContactFactory()
    static_list("VIPs", contact)
    response = client.post(CONTACTS, {"action": "erase_contacts", ACTION_CHECKBOX_NAME: [contact.pk], "confirm": "yes"})
    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.erased_at is not None
    assert SegmentMembership.objects.filter(contact=contact).exists()


def test_a_staff_member_cannot_delete_a_contact(login):
    client = login("Staff")
    contact = ContactFactory()
    assert client.post(reverse("admin:contacts_contact_delete", args=[contact.pk]), {"post": "yes"}).status_code == 403
    assert Contact.objects.filter(pk=contact.pk).exists()


def test_a_segment_with_members_is_still_deleted_in_the_admin(login):
    client = login("Marketer")
    segment = static_list("Old list", ContactFactory(), ContactFactory())
    url = reverse("admin:segments_segment_delete", args=[segment.pk])
    assert "permission to delete" not in client.get(url).content.decode()
    response = client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not Segment.objects.filter(pk=segment.pk).exists()


def test_the_contact_page_lists_current_then_past_segments(admin_client):
    contact = ContactFactory()
    old = static_list("<b>Old</b> list", contact)
    services.static_remove(segment=old, contact_ids=[contact.pk])
    static_list("VIPs", contact)
    response = admin_client.get(reverse("admin:contacts_contact_change", args=[contact.pk]))
    tab = next(t for t in response.context["tabs"] if t.key == "segments")
    assert [str(row[1]) for row in tab.rows] == ["In it now", "Left"]
    assert tab.more_url == f"{MEMBERSHIPS}?contact__id__exact={contact.pk}"
    html = response.content.decode()
    assert "&lt;b&gt;Old&lt;/b&gt; list" in html and "<b>Old</b>" not in html
    assert admin_client.get(tab.more_url).status_code == 200


def test_the_segments_tab_is_bounded(admin_client):
    contact = ContactFactory()
    segment = static_list("Flapping", contact)
    now = timezone.now()
    SegmentMembership.objects.filter(contact=contact).update(left_at=now)
    SegmentMembership.objects.bulk_create(
        SegmentMembership(segment=segment, contact=contact, joined_at=now, left_at=now) for _ in range(30)
    )
    response = admin_client.get(reverse("admin:contacts_contact_change", args=[contact.pk]))
    assert len(next(t for t in response.context["tabs"] if t.key == "segments").rows) == 20
