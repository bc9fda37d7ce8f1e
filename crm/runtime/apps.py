from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RuntimeConfig(AppConfig):
    """Background jobs: what beat runs and when, and whether the worker and the scheduler are alive."""

    name = "crm.runtime"
    label = "runtime"
    verbose_name = _("Background jobs")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from .periodic import setup_periodic_tasks_after_migrate

        post_migrate.connect(setup_periodic_tasks_after_migrate, sender=self)
