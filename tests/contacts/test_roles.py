import pytest
from django.apps import apps as global_apps
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from contacts.roles import EDIT_ACTIONS, grant_app_permissions
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

INDEX = reverse("admin:index")
CONTACTS = reverse("admin:contacts_contact_changelist")


def codenames(group_name):
    return set(Group.objects.get(name=group_name).permissions.values_list("content_type__app_label", "codename"))


def test_the_migration_creates_the_three_roles():
    assert set(Group.objects.values_list("name", flat=True)) >= {"Staff", "Marketer", "Analyst"}


def test_staff_can_add_change_and_view_the_audience_but_not_delete():
    perms = codenames("Staff")
    for model in ("contact", "loyaltymember", "purchase", "activity", "tag"):
        assert {("contacts", f"add_{model}"), ("contacts", f"change_{model}"), ("contacts", f"view_{model}")} <= perms
    assert not any(code.startswith("delete_") for _app, code in perms)


def test_marketer_has_every_model_permission_staff_has():
    model_permissions = {(app, code) for app, code in codenames("Staff") if code.split("_")[0] in EDIT_ACTIONS}
    assert model_permissions <= codenames("Marketer")


def test_special_permissions_go_to_the_roles_the_product_rule_names():
    assert {("contacts", "erase_contact"), ("contacts", "merge_contact"), ("contacts", "export_contact")} <= codenames(
        "Staff"
    )
    assert {
        ("campaigns", "send_campaign"),
        ("segments", "export_segment"),
        ("contacts", "export_contact"),
    } <= codenames("Marketer")
    assert not {("contacts", "erase_contact"), ("contacts", "merge_contact")} & codenames("Marketer")
    assert not {("campaigns", "send_campaign"), ("segments", "export_segment")} & codenames("Staff")


def test_special_permissions_hang_on_the_model_they_act_on():
    found = set(
        Permission.objects.filter(
            codename__in=["send_campaign", "erase_contact", "merge_contact", "export_contact", "export_segment"]
        ).values_list("content_type__app_label", "content_type__model", "codename")
    )
    assert found == {
        ("campaigns", "campaign", "send_campaign"),
        ("contacts", "contact", "erase_contact"),
        ("contacts", "contact", "merge_contact"),
        ("contacts", "contact", "export_contact"),
        ("segments", "segment", "export_segment"),
    }


def test_analyst_can_only_view():
    perms = codenames("Analyst")
    assert ("contacts", "view_contact") in perms
    assert all(code.startswith("view_") for _app, code in perms)


def test_a_later_migration_can_extend_a_role():
    granted = grant_app_permissions(global_apps, "Reporting", "contacts", actions=("view",))
    assert (
        granted == Permission.objects.filter(content_type__app_label="contacts", codename__startswith="view_").count()
    )
    assert grant_app_permissions(global_apps, "Reporting", "no_such_app") == 0
    assert Group.objects.filter(name="Reporting").exists()


def test_staff_sees_the_audience_and_can_edit_contacts(login):
    client = login("Staff")
    index = client.get(INDEX).content.decode()
    assert CONTACTS in index
    assert reverse("admin:auth_user_changelist") not in index
    assert client.get(CONTACTS).status_code == 200
    assert client.get(reverse("admin:contacts_contact_add")).status_code == 200
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 403


def test_staff_cannot_delete_a_contact(login):
    contact = ContactFactory()
    client = login("Staff")
    assert client.get(reverse("admin:contacts_contact_delete", args=[contact.pk])).status_code == 403


def test_staff_may_import(login):
    assert login("Staff").get(reverse("admin:contacts_contact_import")).status_code == 200


def test_analyst_sees_lists_but_cannot_change_or_import(login):
    contact = ContactFactory(first_name="Before")
    client = login("Analyst")
    response = client.get(CONTACTS)
    assert response.status_code == 200
    html = response.content.decode()
    assert reverse("admin:contacts_contact_add") not in html
    assert 'name="action"' not in html  # every bulk action needs the change permission
    assert client.get(reverse("admin:contacts_contact_add")).status_code == 403
    assert client.get(reverse("admin:contacts_contact_import")).status_code == 403
    page = client.get(reverse("admin:contacts_contact_change", args=[contact.pk]))
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    client.post(reverse("admin:contacts_contact_change", args=[contact.pk]), {"first_name": "After"})
    contact.refresh_from_db()
    assert contact.first_name == "Before"


def test_staff_can_export_contacts_as_csv(login):
    ContactFactory(email="seen@example.com")
    response = login("Staff").post(
        reverse("admin:contacts_contact_export"), {"format": "0", "resource": "0", "contactresource_email": "on"}
    )
    assert response.status_code == 200
    assert "seen@example.com" in response.content.decode("utf-8-sig")


def test_analyst_cannot_export_contacts_or_purchases(login):
    ContactFactory(email="seen@example.com")
    client = login("Analyst")
    assert reverse("admin:contacts_contact_export") not in client.get(CONTACTS).content.decode()
    response = client.post(
        reverse("admin:contacts_contact_export"), {"format": "0", "resource": "0", "contactresource_email": "on"}
    )
    assert response.status_code == 403
    assert client.get(reverse("admin:contacts_purchase_export")).status_code == 403


def test_a_staff_user_without_a_group_sees_nothing(client, django_user_model):
    user = django_user_model.objects.create_user("nobody", password="pw-123-long", is_staff=True)
    client.force_login(user)
    assert CONTACTS not in client.get(INDEX).content.decode()
    assert client.get(CONTACTS).status_code == 403


def contact_actions(client) -> set[str]:
    form = client.get(CONTACTS).context.get("action_form")
    return {name for name, _label in form.fields["action"].choices if name} if form else set()


def test_staff_may_erase_contacts_from_the_list(login):
    contact = ContactFactory(email="gone@example.com")
    client = login("Staff")
    assert "erase_contacts" in contact_actions(client)
    client.post(CONTACTS, {"action": "erase_contacts", "_selected_action": [contact.pk], "confirm": "yes"})
    contact.refresh_from_db()
    assert contact.erased_at is not None and contact.email is None


@pytest.mark.parametrize("role", ["Marketer", "Analyst"])
def test_roles_without_the_erase_permission_neither_see_nor_run_erase(login, role):
    contact = ContactFactory(email="kept@example.com")
    client = login(role)
    assert "erase_contacts" not in contact_actions(client)
    client.post(CONTACTS, {"action": "erase_contacts", "_selected_action": [contact.pk], "confirm": "yes"})
    contact.refresh_from_db()
    assert contact.erased_at is None and contact.email == "kept@example.com"


def test_the_merge_permission_is_what_a_merge_action_checks(login, rf):
    from django.contrib import admin as django_admin

    from contacts.models import Contact

    model_admin = django_admin.site._registry[Contact]
    for role, allowed in (("Staff", True), ("Marketer", False), ("Analyst", False)):
        request = rf.get(CONTACTS)
        request.user = login(role).get(INDEX).wsgi_request.user
        assert model_admin.has_merge_permission(request) is allowed, role
