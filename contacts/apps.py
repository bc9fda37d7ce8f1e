from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContactsConfig(AppConfig):
    name = "contacts"
    verbose_name = _("Audience")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import hooks
        from .selectors import CONTACT_TIMELINE_SOURCES

        for source in CONTACT_TIMELINE_SOURCES:  # first, so the apps above add their branches after these
            hooks.on_contact_timeline(source)
