"""The admin banner: staff see at once when no worker or scheduler is running."""

from .health import background_warning as _warning


def background_warning(request) -> dict:
    if not request.path.startswith("/admin/") or not getattr(request.user, "is_staff", False):
        return {}
    return {"background_warning": _warning()}
