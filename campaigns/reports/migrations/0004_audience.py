"""The counts of contacts, visitors and channel revenue kept by database triggers (campaigns.reports.counts).

The models are unmanaged — a test database's flush must leave them to the triggers — so their tables are
made here by hand; the triggers and the first count come after `migrate` (campaigns.reports.triggers)."""

from django.db import migrations, models

COUNTS = ("AudienceCount", "SignupCount", "DistinctDay", "DistinctCount", "ChannelCount")


def create_tables(apps, schema_editor):
    for name in COUNTS:
        model = apps.get_model("reports", name)
        schema_editor.create_model(model)
        for index in model._meta.indexes:  # create_model leaves an unmanaged model's indexes out
            schema_editor.add_index(model, index)


def drop_tables(apps, schema_editor):
    from campaigns.reports import triggers

    triggers.uninstall(schema_editor.connection)
    for name in reversed(COUNTS):
        schema_editor.delete_model(apps.get_model("reports", name))


def _id() -> tuple[str, models.Field]:
    return ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID"))


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0008_first_purchase_index"),
        ("reports", "0003_sales_rollups"),
    ]

    operations = [
        migrations.CreateModel(
            name="AudienceCount",
            fields=[
                _id(),
                ("funnel_stage", models.PositiveSmallIntegerField()),
                ("consenting", models.BooleanField()),
                ("first_purchase_at", models.DateTimeField(null=True)),
                ("first_clamped", models.BooleanField(default=False)),
                ("last_purchase_at", models.DateTimeField(null=True)),
                ("last_clamped", models.BooleanField(default=False)),
                ("n", models.IntegerField()),
            ],
            options={"db_table": "reports_audiencecount", "managed": False},
        ),
        migrations.CreateModel(
            name="SignupCount",
            fields=[
                _id(),
                ("day", models.DateField()),
                ("source", models.CharField(max_length=20)),
                ("n", models.IntegerField()),
            ],
            options={
                "db_table": "reports_signupcount",
                "managed": False,
                "indexes": [models.Index(fields=["day"], name="signupcount_day_idx")],
            },
        ),
        migrations.CreateModel(
            name="DistinctDay",
            fields=[
                _id(),
                ("kind", models.CharField(max_length=10)),
                ("member", models.CharField(max_length=100)),
                ("day", models.DateField()),
                ("prev_day", models.DateField(null=True)),
            ],
            options={
                "db_table": "reports_distinctday",
                "managed": False,
                "indexes": [models.Index(fields=["kind", "member", "day"], name="distinctday_member_idx")],
            },
        ),
        migrations.CreateModel(
            name="DistinctCount",
            fields=[
                _id(),
                ("kind", models.CharField(max_length=10)),
                ("day", models.DateField()),
                ("prev_day", models.DateField(null=True)),
                ("n", models.IntegerField()),
            ],
            options={
                "db_table": "reports_distinctcount",
                "managed": False,
                "indexes": [models.Index(fields=["kind", "day"], name="distinctcount_day_idx")],
            },
        ),
        migrations.CreateModel(
            name="ChannelCount",
            fields=[
                _id(),
                ("day", models.DateField()),
                ("channel", models.CharField(max_length=100)),
                ("n", models.IntegerField()),
                ("revenue", models.DecimalField(decimal_places=2, max_digits=16)),
            ],
            options={
                "db_table": "reports_channelcount",
                "managed": False,
                "indexes": [models.Index(fields=["day"], name="channelcount_day_idx")],
            },
        ),
        migrations.RunPython(create_tables, drop_tables),
    ]
