"""Who may open which API door: API keys by their scopes, staff sessions by their role's permissions.

A staff session gets exactly the rights its role has in the admin: the Django model permission that
matches the method on the view's model (view for reads, add / change / delete for writes), plus the
explicit permissions below for actions that reach beyond one record. Superusers pass.
"""

from rest_framework import permissions

from .models import ApiKey

SEND_CAMPAIGN = "campaigns.send_campaign"
ERASE_CONTACT = "contacts.erase_contact"
MERGE_CONTACT = "contacts.merge_contact"
EXPORT_CONTACT = "contacts.export_contact"
EXPORT_SEGMENT = "segments.export_segment"  # created, and granted to roles, by crm's migrations

METHOD_ACTIONS = {
    "GET": "view",
    "HEAD": "view",
    "OPTIONS": "view",
    "POST": "add",
    "PUT": "change",
    "PATCH": "change",
    "DELETE": "delete",
}


class HasScope(permissions.BasePermission):
    """API keys need the view's scope for the request's method; staff sessions need their permissions.

    Scopes: a view names its resource with `scope_resource = "contacts"` (GET/HEAD/OPTIONS need
    `contacts:read`, other methods `contacts:write`), or its exact scopes with
    `required_scopes = {"GET": ("contacts:read", "purchases:write"), "*": "purchases:write"}`,
    where a tuple means any one of them. `action_scopes = {"export": {"GET": "contacts:read"}}` names
    scopes an action needs on top of those (a tuple there means all of them).

    Staff permissions: the model permission of the method on `permission_model` (default: the model of
    the view's queryset); `action_permissions = {"send": {"POST": (SEND_CAMPAIGN, ...)}}` replaces that
    for an action, method or "*" as keys. See `required_permissions`.
    """

    def has_permission(self, request, view) -> bool:
        if isinstance(request.auth, ApiKey):
            return key_allows(request.auth, request, view)
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        if user.is_superuser:
            return True
        needed = required_permissions(request, view)
        return bool(user.is_staff and needed and user.has_perms(needed))


def key_allows(key: ApiKey, request, view) -> bool:
    needed = required_scope(request, view)
    if needed is None:
        return False
    wanted = (needed,) if isinstance(needed, str) else needed
    if not any(scope in key.scopes for scope in wanted):
        return False
    extra = _for_method(getattr(view, "action_scopes", {}).get(getattr(view, "action", None)), request.method)
    extra = (extra,) if isinstance(extra, str) else (extra or ())
    return all(scope in key.scopes for scope in extra)


def required_scope(request, view) -> str | tuple[str, ...] | None:
    explicit = getattr(view, "required_scopes", None)
    if explicit:
        return explicit.get(request.method) or explicit.get("*")
    resource = getattr(view, "scope_resource", None)
    if resource is None:
        return None
    action = "read" if request.method in permissions.SAFE_METHODS else "write"
    return f"{resource}:{action}"


def required_permissions(request, view) -> tuple[str, ...]:
    """The permissions a staff session needs for this request; empty means nobody but superusers."""
    explicit = _for_method(getattr(view, "action_permissions", {}).get(getattr(view, "action", None)), request.method)
    if explicit is not None:
        return (explicit,) if isinstance(explicit, str) else tuple(explicit)
    model = getattr(view, "permission_model", None)
    if model is None:
        queryset = getattr(view, "queryset", None)
        model = queryset.model if queryset is not None else None
    action = METHOD_ACTIONS.get(request.method)
    if model is None or action is None:
        return ()
    return (f"{model._meta.app_label}.{action}_{model._meta.model_name}",)


def _for_method(mapping, method: str):
    """HEAD and OPTIONS read like GET."""
    if not mapping:
        return None
    method = "GET" if method in ("HEAD", "OPTIONS") else method
    return mapping.get(method, mapping.get("*"))


def may_read_contacts(request) -> bool:
    """Whether the caller may see personal data: a key with `contacts:read`, or a session that may view
    contacts. Writers without it get back only the id of what they wrote."""
    if isinstance(request.auth, ApiKey):
        return "contacts:read" in request.auth.scopes
    user = request.user
    return bool(user and user.is_authenticated and user.has_perm("contacts.view_contact"))
