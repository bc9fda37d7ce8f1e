from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from .models import ApiKey


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Requests per API key (and per staff user on session requests); past the rate: 429 with Retry-After.

    The counters live in the default cache: set CACHE_URL to a shared cache (Redis) when more than one
    process serves the API, or each process counts on its own.
    """

    scope = "api_key"

    def get_rate(self):
        # Read the rate at request time, so a settings change (tests, reloads) applies without a restart.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiKey):
            ident = f"key-{request.auth.pk}"
        elif request.user and request.user.is_authenticated and getattr(request.user, "pk", None):
            ident = f"user-{request.user.pk}"
        else:
            return None
        return self.cache_format % {"scope": self.scope, "ident": ident}
