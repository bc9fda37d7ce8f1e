"""Celery beat's scheduler: django-celery-beat's database scheduler that also says it is alive."""

import logging
from time import monotonic

from django.db import DatabaseError
from django_celery_beat.schedulers import DatabaseScheduler

from .models import Heartbeat

log = logging.getLogger(__name__)
RECORD_EVERY_SECONDS = 15


class Scheduler(DatabaseScheduler):
    _last_recorded = 0.0

    def tick(self, *args, **kwargs):
        if monotonic() - self._last_recorded >= RECORD_EVERY_SECONDS:
            try:
                Heartbeat.record(Heartbeat.BEAT)
                self._last_recorded = monotonic()
            except DatabaseError:
                log.exception("beat could not record its heartbeat")
        return super().tick(*args, **kwargs)
