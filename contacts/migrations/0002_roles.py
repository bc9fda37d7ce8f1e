"""Groups Staff, Marketer and Analyst with the permissions of the apps that exist now.

Apps that get their models later (segments, campaigns) extend Marketer and Analyst from their own
migrations with `contacts.roles.grant_app_permissions`.
"""
from django.db import migrations

from contacts.roles import ANALYST, EDIT_ACTIONS, MARKETER, STAFF, grant_app_permissions

ROLE_APPS = ("contacts", "segments", "campaigns")


def create_roles(apps, schema_editor):
    using = schema_editor.connection.alias
    grant_app_permissions(apps, STAFF, "contacts", actions=EDIT_ACTIONS, using=using)
    grant_app_permissions(apps, MARKETER, "contacts", actions=EDIT_ACTIONS, using=using)
    for app_label in ("segments", "campaigns"):
        grant_app_permissions(apps, MARKETER, app_label, using=using)
    for app_label in ROLE_APPS:
        grant_app_permissions(apps, ANALYST, app_label, actions=("view",), using=using)


def remove_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(name__in=[STAFF, MARKETER, ANALYST]).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("contacts", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
