"""Segments adds "add to a static list" to the contacts list through contacts' action registry;
it is offered to whoever may change segments, whatever they may do to contacts."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from segments.models import Segment
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db
CONTACTS = reverse("admin:contacts_contact_changelist")


def group_with(*codenames: str) -> Group:
    group = Group.objects.create(name="+".join(codenames))
    for codename in codenames:
        app_label, _dot, name = codename.partition(".")
        group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=name))
    return group


def contact_actions(client) -> set[str]:
    form = client.get(CONTACTS).context["action_form"]
    return {name for name, _label in form.fields["action"].choices if name}


def test_someone_who_may_change_segments_gets_the_action(login):
    client = login(group_with("contacts.view_contact", "segments.change_segment", "segments.view_segment"))
    assert "add_to_static_list" in contact_actions(client)
    contact = ContactFactory()
    client.post(
        CONTACTS, {"action": "add_to_static_list", "_selected_action": [contact.pk], "apply": "1", "new_name": "Guests"}
    )
    assert Segment.objects.get(name="Guests").member_count == 1


def test_someone_who_may_only_change_contacts_neither_sees_nor_runs_it(login):
    client = login(group_with("contacts.view_contact", "contacts.change_contact"))
    assert "add_tag" in contact_actions(client)
    assert "add_to_static_list" not in contact_actions(client)
    contact = ContactFactory()
    client.post(
        CONTACTS, {"action": "add_to_static_list", "_selected_action": [contact.pk], "apply": "1", "new_name": "Guests"}
    )
    assert not Segment.objects.filter(name="Guests").exists()


def test_the_contact_picker_popup_offers_no_actions(admin_client):
    response = admin_client.get(CONTACTS + "?_popup=1")
    assert response.status_code == 200
    assert response.context.get("action_form") is None
