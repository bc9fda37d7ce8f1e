from rest_framework import permissions

from .models import ApiKey


class HasScope(permissions.BasePermission):
    """API keys need the view's scope (`<resource>:read` or `:write` by method); staff sessions pass.

    A view names its resource with `scope_resource = "contacts"`, or its exact scopes with
    `required_scopes = {"GET": "contacts:read", ...}`.
    """

    def has_permission(self, request, view) -> bool:
        if isinstance(request.auth, ApiKey):
            return required_scope(request, view) in request.auth.scopes
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff)


def required_scope(request, view) -> str | None:
    explicit = getattr(view, "required_scopes", None)
    if explicit:
        return explicit.get(request.method) or explicit.get("*")
    resource = getattr(view, "scope_resource", None)
    if resource is None:
        return None
    action = "read" if request.method in permissions.SAFE_METHODS else "write"
    return f"{resource}:{action}"
