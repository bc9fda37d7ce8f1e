from django.db import migrations

INDEX = "product_name_prefix_idx"


def create_product_name_prefix_index(apps, schema_editor):
    """The segment builder suggests products by the start of their name as a marketer types
    (`LOWER(name) LIKE 'x%'`): an expression index with pattern ops answers it whatever the collation, so a
    large catalogue is not read at every keystroke. SQLite has no such operator class."""
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON contacts_product (LOWER(name) text_pattern_ops)")


def drop_product_name_prefix_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0014_email_prefix_index"),
    ]

    operations = [
        migrations.RunPython(create_product_name_prefix_index, drop_product_name_prefix_index, elidable=False),
    ]
