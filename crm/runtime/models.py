"""Liveness of the background processes, and the scheduled jobs as marketers see them."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_celery_beat.models import PeriodicTask


class Heartbeat(models.Model):
    """When a background process was last seen: "worker" (it ran the heartbeat job) or "beat" (it ticked)."""

    WORKER = "worker"
    BEAT = "beat"

    name = models.CharField(max_length=20, primary_key=True)
    seen_at = models.DateTimeField()

    class Meta:
        verbose_name = _("heartbeat")
        verbose_name_plural = _("heartbeats")

    def __str__(self) -> str:
        return self.name

    @classmethod
    def record(cls, name: str) -> None:
        cls.objects.update_or_create(name=name, defaults={"seen_at": timezone.now()})


class ScheduledJob(PeriodicTask):
    """django-celery-beat's periodic task under a name and a section a marketer reads."""

    class Meta:
        proxy = True
        verbose_name = _("scheduled job")
        verbose_name_plural = _("scheduled jobs")
