"""Partner API keys in `Authorization: Bearer <key>`; staff sessions go through DRF's SessionAuthentication."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from .models import ApiKey, hash_key
from .services import api_key_touch

LAST_USED_RESOLUTION_SECONDS = 60


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """The request's `auth` is the ApiKey row, looked up by hash on every request (so a revoke is immediate)."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Invalid Authorization header: use “Bearer <key>”."))
        try:
            raw = header[1].decode("ascii")
        except UnicodeError:
            raise exceptions.AuthenticationFailed(_("Invalid or revoked API key.")) from None
        key = ApiKey.objects.filter(key_hash=hash_key(raw), revoked_at__isnull=True).first()
        if key is None:
            raise exceptions.AuthenticationFailed(_("Invalid or revoked API key."))
        api_key_touch(key=key, resolution_seconds=LAST_USED_RESOLUTION_SECONDS)
        return (ApiKeyUser(key), key)

    def authenticate_header(self, request):
        return f'{self.keyword} realm="api"'


class ApiKeyUser:
    """Stands in for a user on key-authenticated requests."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False
    is_active = True

    def __init__(self, key: ApiKey):
        self.key = key
        self.pk = None
        self.id = None
        self.username = f"apikey:{key.prefix}"

    def __str__(self) -> str:
        return self.username


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "crm.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": str(
                _(
                    "A partner API key from the admin or `manage.py create_api_key`, "
                    "sent as `Authorization: Bearer <key>`."
                )
            ),
        }
