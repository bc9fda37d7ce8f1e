"""Brute-force protection for the admin sign-in: failures are counted per user name and per client
address in the cache, and past LOGIN_FAILURE_LIMIT further attempts are refused, right or wrong,
until LOGIN_LOCKOUT_MINUTES have passed since the last failure."""

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.cache import cache
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

PREFIX = "admin-login-failures"


def _keys(request: HttpRequest | None, username: str) -> list[str]:
    address = request.META.get("REMOTE_ADDR", "") if request is not None else ""
    return [f"{PREFIX}:user:{username.strip().lower()}", f"{PREFIX}:addr:{address}"]


def is_locked(request: HttpRequest | None, username: str) -> bool:
    return any((cache.get(key) or 0) >= settings.LOGIN_FAILURE_LIMIT for key in _keys(request, username))


def record_failure(request: HttpRequest | None, username: str) -> None:
    timeout = settings.LOGIN_LOCKOUT_MINUTES * 60
    for key in _keys(request, username):
        cache.set(key, (cache.get(key) or 0) + 1, timeout)


def clear_failures(request: HttpRequest | None, username: str) -> None:
    cache.delete(_keys(request, username)[0])


class ThrottledAdminAuthenticationForm(AdminAuthenticationForm):
    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "locked": _("Too many failed sign-in attempts. Try again in %(minutes)d minutes."),
    }

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        if is_locked(self.request, username):
            raise forms.ValidationError(
                self.error_messages["locked"], code="locked", params={"minutes": settings.LOGIN_LOCKOUT_MINUTES}
            )
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            record_failure(self.request, username)
            raise
        clear_failures(self.request, username)
        return cleaned
