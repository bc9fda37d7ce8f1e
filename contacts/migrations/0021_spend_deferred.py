from django.db import migrations

from contacts import spend_months


def install(apps, schema_editor):
    """The insert trigger leaves out what a transaction adds itself (`spend_months.defer_adding`)."""
    for statement in spend_months.statements(schema_editor.connection):
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0020_queued_activity"),
    ]

    operations = [migrations.RunPython(install, install)]
