from django.db import migrations

INDEX = "message_campaign_contact_cohort_idx"


def create_cohort_index(apps, schema_editor):
    """A campaign's holdout comparison looks up each buyer's message by (campaign, contact) and needs only its
    status and bounce to tell treated from held out: with them in the index, the lookup never reads the table.
    PostgreSQL only (INCLUDE columns); the holdout counting elsewhere meets the messages in one pass."""
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON campaigns_message (campaign_id, contact_id) INCLUDE (status, bounced_at)"
    )


def drop_cohort_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0006_tallies")]

    operations = [migrations.RunPython(create_cohort_index, drop_cohort_index)]
