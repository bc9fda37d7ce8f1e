"""Every periodic job, declared here and nowhere else.

`setup_periodic_tasks` writes them into django-celery-beat's tables after each `migrate` (so a fresh
install, `make run` and production all get them); a job that already exists is left as staff set it
in the admin (its timing, or switched off), so upgrades never undo their edits.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import override


@dataclass(frozen=True)
class Job:
    task: str
    name: Promise
    description: Promise
    every_seconds: int | None = None
    daily_at: tuple[int, int] | None = None  # (hour, minute) in TIME_ZONE


def jobs() -> list[Job]:
    return [
        Job(
            "campaigns.tasks.campaigns_start_due",
            _("Send scheduled campaigns"),
            _("Starts every scheduled campaign whose time has come, within a minute."),
            every_seconds=60,
        ),
        Job(
            "segments.tasks.refresh_dynamic_segments",
            _("Refresh segment lists"),
            _(
                "Re-evaluates every dynamic segment, so rules about dates and days move contacts in and out "
                "as time passes."
            ),
            every_seconds=settings.SEGMENT_REFRESH_MINUTES * 60,
        ),
        Job(
            "contacts.count_purchases",
            _("Count bulk purchases"),
            _(
                "Adds the purchases of bulk uploads to their buyers' totals, the segments and the sales figures "
                "every minute, for any upload whose own counting did not run."
            ),
            every_seconds=60,
        ),
        Job(
            "contacts.store_events",
            _("Store bulk events"),
            _(
                "Stores the site events of bulk uploads with their contacts, funnel stages, segments and "
                "automations every minute, for any upload whose own storing did not run."
            ),
            every_seconds=60,
        ),
        Job(
            "contacts.recompute_all",
            _("Nightly RFM recompute"),
            _("Recomputes every contact's RFM scores after local midnight, as purchases age."),
            daily_at=(0, 5),
        ),
        Job(
            "campaigns.flows.tasks.flows_tick",
            _("Run automations"),
            _("Moves every contact whose next automation step is due through its steps, every minute."),
            every_seconds=60,
        ),
        Job(
            "campaigns.flows.tasks.flows_restart_stalled_mail",
            _("Restart stalled automation mail"),
            _("Starts again the sending of automation mail that a stopped worker left waiting, every minute."),
            every_seconds=60,
        ),
        Job(
            "campaigns.flows.tasks.flows_segment_entries",
            _("Start automations on segment entries"),
            _("Enrolls the contacts that entered an automation's segment, within a minute of the refresh."),
            every_seconds=60,
        ),
        Job(
            "campaigns.flows.tasks.flows_date_triggers",
            _("Start date automations"),
            _("Enrolls the contacts on the birthdays and anniversaries automations wait for, after local midnight."),
            daily_at=(0, 5),
        ),
        Job(
            "campaigns.flows.tasks.flows_replenishment_due",
            _("Start replenishment automations"),
            _("Enrolls the contacts whose product is due for replenishment, every morning."),
            daily_at=(9, 0),
        ),
        Job(
            "campaigns.flows.tasks.flows_lifecycle_by_time",
            _("Start lifecycle automations"),
            _("Enrolls the contacts whose lifecycle stage changed as time passed, every hour."),
            every_seconds=3600,
        ),
        Job(
            "reports.fold_counts",
            _("Add up the home page counts"),
            _(
                "Adds up, every minute, the running counts of contacts, visitors and channel revenue that the "
                "home page's figures read."
            ),
            every_seconds=60,
        ),
        Job(
            "runtime.heartbeat",
            _("Worker heartbeat"),
            _("Lets the health page and the admin banner know that a worker is running."),
            every_seconds=30,
        ),
    ]


def job_label(task: str) -> str | None:
    """The translated name of a declared job, for the admin."""
    return next((str(job.name) for job in jobs() if job.task == task), None)


@transaction.atomic
def setup_periodic_tasks() -> list[str]:
    """Create the declared jobs that are missing; returns the tasks created."""
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

    created = []
    existing = set(PeriodicTask.objects.values_list("task", flat=True))
    for job in jobs():
        if job.task in existing:
            continue
        schedule: dict = {}
        if job.every_seconds:
            schedule["interval"], _new = IntervalSchedule.objects.get_or_create(
                every=job.every_seconds, period=IntervalSchedule.SECONDS
            )
        else:
            hour, minute = job.daily_at or (0, 0)
            schedule["crontab"], _new = CrontabSchedule.objects.get_or_create(
                minute=str(minute),
                hour=str(hour),
                day_of_week="*",
                day_of_month="*",
                month_of_year="*",
                timezone=settings.TIME_ZONE,
            )
        with override("en"):
            name, description = str(job.name), str(job.description)
        PeriodicTask.objects.create(task=job.task, name=name, description=description, **schedule)
        created.append(job.task)
    return created


def setup_periodic_tasks_after_migrate(sender, using="default", **kwargs) -> None:
    if using == "default":
        setup_periodic_tasks()
