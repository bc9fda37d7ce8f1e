"""Celery application.

With no CELERY_BROKER_URL the settings switch Celery to eager mode, so tasks run
in-process and `make run` needs no broker; with Redis (or RabbitMQ) any number of
workers pick them up.
"""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

app = Celery("crm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
