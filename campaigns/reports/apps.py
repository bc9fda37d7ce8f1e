from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    """Attribution, holdouts, spend and KPIs: reads over contacts, purchases and mail, plus what they store."""

    name = "campaigns.reports"
    label = "reports"
    verbose_name = _("Measurement")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from contacts import hooks as contact_hooks

        from . import admin_attribution, attribution  # noqa: F401  (admin_attribution registers its admin)

        contact_hooks.on_purchases_stored(attribution.purchases_stored)
        contact_hooks.on_contacts_merged(attribution.contacts_merged)
