from django.db import migrations

INDEX = "contact_email_prefix_idx"


def create_email_prefix_index(apps, schema_editor):
    """Admin search matches the start of an email (emails are stored in lower case, so `email LIKE 'x%'`).
    The unique index on email cannot answer LIKE unless the database collation is "C"; an index with pattern
    ops can, whatever the collation. SQLite has no such operator class."""
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON contacts_contact (email varchar_pattern_ops) WHERE email IS NOT NULL"
    )


def drop_email_prefix_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0013_uncounted_purchase"),
    ]

    operations = [
        migrations.RunPython(create_email_prefix_index, drop_email_prefix_index, elidable=False),
    ]
