"""Marketers build and run automations; analysts may look at them and their numbers."""

from django.db import migrations

from contacts.roles import ANALYST, MARKETER, grant_app_permissions


def grant(apps, schema_editor):
    using = schema_editor.connection.alias
    grant_app_permissions(apps, MARKETER, "flows", using=using)
    grant_app_permissions(apps, ANALYST, "flows", actions=("view",), using=using)


class Migration(migrations.Migration):
    dependencies = [
        ("flows", "0001_initial"),
        ("contacts", "0002_roles"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
