"""Scheduled jobs in the admin: each declared job under its own translated name, timed in words a marketer
uses ("every 15 minutes", "daily at 00:05"), switched on or off. django-celery-beat's own schedule admins
(crontabs, solar events…) are taken out of the menu: the jobs here are the whole story."""

import datetime as dt

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.exceptions import NotRegistered
from django.core.exceptions import ValidationError
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django_celery_beat import models as beat

from .models import ScheduledJob
from .periodic import job_label

EVERY, DAILY = "every", "daily"


def timing_of(job: beat.PeriodicTask) -> str:
    if job.crontab_id and job.crontab.minute.isdigit() and job.crontab.hour.isdigit():
        return gettext("daily at %(time)s") % {"time": f"{int(job.crontab.hour):02d}:{int(job.crontab.minute):02d}"}
    if job.interval_id:
        seconds = job.interval.every * {
            beat.IntervalSchedule.SECONDS: 1,
            beat.IntervalSchedule.MINUTES: 60,
            beat.IntervalSchedule.HOURS: 3600,
            beat.IntervalSchedule.DAYS: 86400,
        }.get(job.interval.period, 1)
        if seconds % 60:
            return ngettext("every %(n)d second", "every %(n)d seconds", seconds) % {"n": seconds}
        return ngettext("every %(n)d minute", "every %(n)d minutes", seconds // 60) % {"n": seconds // 60}
    return str(job.crontab or job.clocked or job.solar or "")


class ScheduledJobForm(forms.ModelForm):
    timing = forms.ChoiceField(label=_("runs"), choices=[(EVERY, _("every few minutes")), (DAILY, _("once a day"))])
    every_minutes = forms.IntegerField(label=_("every (minutes)"), min_value=1, max_value=24 * 60, required=False)
    daily_at = forms.TimeField(
        label=_("daily at (local time)"),
        required=False,
        help_text=_("In the time zone %(tz)s.") % {"tz": settings.TIME_ZONE},
    )

    class Meta:
        model = ScheduledJob
        fields = ["enabled"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        job = self.instance
        if job.crontab_id and job.crontab.minute.isdigit() and job.crontab.hour.isdigit():
            self.initial.update(timing=DAILY, daily_at=dt.time(int(job.crontab.hour), int(job.crontab.minute)))
        elif job.interval_id:
            seconds = dt.timedelta(**{job.interval.period: job.interval.every}).total_seconds()
            self.initial.update(timing=EVERY, every_minutes=max(1, int(seconds // 60)))

    def clean(self):
        super().clean()
        data = self.cleaned_data
        if data.get("timing") == EVERY and not data.get("every_minutes"):
            self.add_error("every_minutes", ValidationError(_("Say how many minutes apart."), code="required"))
        if data.get("timing") == DAILY and not data.get("daily_at"):
            self.add_error("daily_at", ValidationError(_("Say at what time."), code="required"))
        return data

    def save(self, commit=True):
        job = super().save(commit=False)
        data = self.cleaned_data
        if data["timing"] == EVERY:
            job.interval, _new = beat.IntervalSchedule.objects.get_or_create(
                every=data["every_minutes"], period=beat.IntervalSchedule.MINUTES
            )
            job.crontab = None
        else:
            at = data["daily_at"]
            job.crontab, _new = beat.CrontabSchedule.objects.get_or_create(
                minute=str(at.minute),
                hour=str(at.hour),
                day_of_week="*",
                day_of_month="*",
                month_of_year="*",
                timezone=settings.TIME_ZONE,
            )
            job.interval = None
        if commit:
            job.save()
        return job


@admin.register(ScheduledJob)
class ScheduledJobAdmin(admin.ModelAdmin):
    form = ScheduledJobForm
    list_display = ("label", "timing", "enabled", "last_run_at")
    list_editable = ("enabled",)
    list_display_links = ("label",)
    fields = ("label", "about", "enabled", "timing", "every_minutes", "daily_at", "last_run_at")
    readonly_fields = ("label", "about", "last_run_at")
    ordering = ("name",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("interval", "crontab")

    def has_add_permission(self, request):
        return False  # jobs are declared in code (crm/runtime/periodic.py)

    def has_delete_permission(self, request, obj=None):
        return False  # switch a job off instead: a deleted one comes back on the next migrate

    @admin.display(description=_("job"), ordering="name")
    def label(self, obj):
        return job_label(obj.task) or obj.name

    @admin.display(description=_("what it does"))
    def about(self, obj):
        return gettext(obj.description) if obj.description else ""

    @admin.display(description=_("runs"))
    def timing(self, obj):
        return timing_of(obj)


for model in (beat.PeriodicTask, beat.IntervalSchedule, beat.CrontabSchedule, beat.SolarSchedule, beat.ClockedSchedule):
    try:
        admin.site.unregister(model)
    except NotRegistered:
        pass
