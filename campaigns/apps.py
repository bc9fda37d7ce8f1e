from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from anymail.signals import tracking
        from django.db.models.signals import post_migrate

        from contacts import hooks
        from segments import hooks as segment_hooks

        from . import checks, tallies  # noqa: F401  (checks registers the system checks)
        from .contact_hooks import CONTACT_MAILS, EMAIL_TIMELINE, messages_erase, messages_merge
        from .demo import campaigns_demo_seed
        from .segment_hooks import campaign_options
        from .webhooks import tracking_received

        # The triggers that keep the reports' tallies (campaigns.tallies), once their tables are migrated.
        post_migrate.connect(tallies.install_after_migrate, sender=self, dispatch_uid="campaigns.tallies")
        tracking.connect(tracking_received, dispatch_uid="campaigns.tracking_received")
        hooks.on_contacts_erased(messages_erase)
        hooks.on_contacts_merged(messages_merge)
        hooks.on_contact_timeline(EMAIL_TIMELINE)
        hooks.on_contact_page(CONTACT_MAILS)
        hooks.on_demo_seeded(campaigns_demo_seed)
        segment_hooks.on_builder_options("campaign", campaign_options)
