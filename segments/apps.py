from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SegmentsConfig(AppConfig):
    name = "segments"
    verbose_name = _("Segments")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from contacts import hooks
        from contacts.admin.actions import register_contact_action
        from contacts.signals import contacts_changed

        from .admin import CONTACT_SEGMENTS, InSegmentFilter, add_to_static_list, may_fill_lists
        from .contact_hooks import memberships_merge
        from .services import activities_recorded, contacts_changed_receiver

        contacts_changed.connect(contacts_changed_receiver, dispatch_uid="segments.contacts_changed")
        hooks.on_activities_recorded(activities_recorded)
        hooks.on_contacts_merged(memberships_merge)
        hooks.on_contact_page(CONTACT_SEGMENTS)
        hooks.on_contact_list_filter(InSegmentFilter)
        register_contact_action(add_to_static_list, allowed=may_fill_lists)
