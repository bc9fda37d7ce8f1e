"""Staff roles as auth groups, created and extended by data migrations.

Permissions normally appear only after `migrate` finishes (post_migrate), so a data migration
that hands them to a group creates them first. An app that gains models later extends a role
from its own migration (depending on contacts.0002_roles):

    def forwards(apps, schema_editor):
        grant_app_permissions(apps, "Marketer", "segments")
        grant_app_permissions(apps, "Analyst", "segments", actions=("view",))
"""

from collections.abc import Iterable

from django.contrib.auth.management import create_permissions

STAFF = "Staff"
MARKETER = "Marketer"
ANALYST = "Analyst"
EDIT_ACTIONS = ("add", "change", "view")


def ensure_app_permissions(apps, app_label: str, using: str = "default") -> bool:
    """Create the content types and permissions of `app_label`; False when it has no models yet."""
    try:
        app_config = apps.get_app_config(app_label)
    except LookupError:
        return False
    # Migration-state app configs carry no models module, which create_permissions takes to
    # mean "nothing to do"; mark this one as having models for the duration of the call.
    original = getattr(app_config, "models_module", None)
    app_config.models_module = original or True
    try:
        create_permissions(app_config, apps=apps, verbosity=0, using=using)
    finally:
        app_config.models_module = original
    return True


def grant_app_permissions(
    apps, group_name: str, app_label: str, actions: Iterable[str] | None = None, using: str = "default"
) -> int:
    """Give `group_name` the permissions of `app_label` (all of them, or only `actions`).

    Creates the group if missing; returns how many permissions the app has for those actions.
    """
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.using(using).get_or_create(name=group_name)
    if not ensure_app_permissions(apps, app_label, using):
        return 0
    perms = Permission.objects.using(using).filter(content_type__app_label=app_label)
    if actions is not None:
        perms = perms.filter(codename__regex=rf"^({'|'.join(actions)})_")
    perms = list(perms)
    group.permissions.add(*perms)
    return len(perms)
