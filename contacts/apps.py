from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContactsConfig(AppConfig):
    name = "contacts"
    verbose_name = _("Audience")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from . import hooks
        from .last_bought import item_saved
        from .models import PurchaseItem
        from .selectors import CONTACT_TIMELINE_SOURCES

        post_save.connect(item_saved, sender=PurchaseItem, dispatch_uid="contacts.last_bought.item_saved")

        for source in CONTACT_TIMELINE_SOURCES:  # first, so the apps above add their branches after these
            hooks.on_contact_timeline(source)
