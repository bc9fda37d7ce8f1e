"""Marketers record spend; analysts may look at it and at attributions. Attributions are written by the
attribution code only (the admin shows them read-only to everyone)."""

from django.db import migrations

from contacts.roles import ANALYST, MARKETER, grant_app_permissions


def grant(apps, schema_editor):
    using = schema_editor.connection.alias
    grant_app_permissions(apps, MARKETER, "reports", using=using)
    grant_app_permissions(apps, ANALYST, "reports", actions=("view",), using=using)


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0001_initial"),
        ("contacts", "0002_roles"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
