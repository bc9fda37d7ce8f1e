"""Permissions for actions that reach beyond editing one record, and which role holds them.

Staff look after people: they erase, merge and export contacts. Marketers reach people: they send
campaigns and export contacts and audiences. Analysts hold none of them: they only look.
Superusers hold every permission anyway.
"""
from django.db import migrations

from contacts.roles import MARKETER, STAFF, ensure_app_permissions

# codename, app_label, model, name
PERMISSIONS = (
    ("send_campaign", "campaigns", "campaign", "Can send, schedule, pause, resume, cancel and test-send campaigns"),
    ("erase_contact", "contacts", "contact", "Can erase contacts (anonymize)"),
    ("merge_contact", "contacts", "contact", "Can merge contacts"),
    ("export_contact", "contacts", "contact", "Can export contacts and purchases as CSV"),
    ("export_segment", "segments", "segment", "Can export segment audiences (Meta, Google, CSV)"),
)
GRANTS = {
    STAFF: ("contacts.erase_contact", "contacts.merge_contact", "contacts.export_contact"),
    MARKETER: ("campaigns.send_campaign", "contacts.export_contact", "segments.export_segment"),
}


def create_and_grant(apps, schema_editor):
    using = schema_editor.connection.alias
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    created = {}
    for codename, app_label, model, name in PERMISSIONS:
        ensure_app_permissions(apps, app_label, using)
        content_type, _ = ContentType.objects.using(using).get_or_create(app_label=app_label, model=model)
        permission, _ = Permission.objects.using(using).get_or_create(
            codename=codename, content_type=content_type, defaults={"name": name})
        created[f"{app_label}.{codename}"] = permission
    for group_name, perms in GRANTS.items():
        group, _ = Group.objects.using(using).get_or_create(name=group_name)
        group.permissions.add(*(created[perm] for perm in perms))


def remove(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    for codename, app_label, _model, _name in PERMISSIONS:
        Permission.objects.using(schema_editor.connection.alias).filter(
            codename=codename, content_type__app_label=app_label).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("crm", "0001_initial"),
        ("contacts", "0004_visitor_identity"),
        ("segments", "0002_roles"),
        ("campaigns", "0002_roles"),
    ]

    operations = [migrations.RunPython(create_and_grant, remove)]
