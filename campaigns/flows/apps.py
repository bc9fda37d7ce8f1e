from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FlowsConfig(AppConfig):
    """Automations: a trigger enrolls contacts, who then go through the flow's steps one at a time."""

    name = "campaigns.flows"
    label = "flows"
    verbose_name = _("Automations")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from contacts import hooks as contact_hooks
        from segments import hooks as segment_hooks

        from . import exits, triggers
        from .contact_hooks import CONTACT_FLOWS

        segment_hooks.on_entries_recorded(triggers.entries_recorded)
        contact_hooks.on_activities_recorded(triggers.activities_recorded)
        contact_hooks.on_purchases_recorded(triggers.purchases_recorded)
        contact_hooks.on_lifecycle_changed(triggers.lifecycle_changed)
        for recorded in (contact_hooks.on_activities_recorded, contact_hooks.on_purchases_recorded):
            recorded(exits.contacts_changed)
        contact_hooks.on_contact_page(CONTACT_FLOWS)
