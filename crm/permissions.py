from rest_framework import permissions

from .models import ApiKey


class HasScope(permissions.BasePermission):
    """API keys need the view's scope for the request's method; active staff sessions pass.

    A view names its resource with `scope_resource = "contacts"` (GET/HEAD/OPTIONS need
    `contacts:read`, other methods `contacts:write`), or its exact scopes with
    `required_scopes = {"GET": ("contacts:read", "purchases:write"), "*": "purchases:write"}`,
    where a tuple means any one of them.
    """

    def has_permission(self, request, view) -> bool:
        if isinstance(request.auth, ApiKey):
            needed = required_scope(request, view)
            if needed is None:
                return False
            wanted = (needed,) if isinstance(needed, str) else needed
            return any(scope in request.auth.scopes for scope in wanted)
        user = request.user
        return bool(user and user.is_authenticated and user.is_active and user.is_staff)


def required_scope(request, view) -> str | tuple[str, ...] | None:
    explicit = getattr(view, "required_scopes", None)
    if explicit:
        return explicit.get(request.method) or explicit.get("*")
    resource = getattr(view, "scope_resource", None)
    if resource is None:
        return None
    action = "read" if request.method in permissions.SAFE_METHODS else "write"
    return f"{resource}:{action}"
