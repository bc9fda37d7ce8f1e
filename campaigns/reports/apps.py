from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    """Attribution, holdouts, spend and KPIs: reads over contacts, purchases and mail, plus what they store."""

    name = "campaigns.reports"
    label = "reports"
    verbose_name = _("Measurement")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from contacts import hooks as contact_hooks
        from contacts.models import Purchase
        from contacts.signals import contacts_changed

        from . import admin_attribution, attribution, rollups  # noqa: F401  (admin_attribution registers its admin)

        contact_hooks.on_purchases_stored(attribution.purchases_stored)
        contact_hooks.on_contacts_merged(attribution.contacts_merged)
        contact_hooks.on_purchases_counted(rollups.purchases_counted)
        contact_hooks.on_purchases_deleted(rollups.sync)
        contact_hooks.on_contacts_merged(rollups.contacts_merged)
        contact_hooks.on_demo_seeded(rollups.demo_seeded)
        post_save.connect(rollups.purchase_saved, sender=Purchase, dispatch_uid="reports.purchase_saved")
        contacts_changed.connect(rollups.contacts_changed, dispatch_uid="reports.contacts_changed")

        # The triggers that keep the audience counts (campaigns.reports.triggers), once the tables are migrated.
        from django.db.models.signals import post_migrate

        from . import triggers

        post_migrate.connect(triggers.install_after_migrate, sender=self, dispatch_uid="reports.triggers")
