"""Start-up and response safeguards: a real secret key outside development, and a Content Security
Policy on every HTML page."""

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

DEV_SECRET_KEY = "insecure-local-development-key-change-me"
# What SECRET_KEY holds when DEBUG is off and none is set: Django itself refuses an empty key on first
# use, which would stop even `manage.py check` before it could say what to do.
MISSING_SECRET_KEY = "missing-secret-key"
MIN_SECRET_KEY_LENGTH = 50
MIN_SECRET_KEY_UNIQUE_CHARACTERS = 5


def check_production_secret_key(key: str) -> None:
    """Refuse to start with a key anyone can guess: sessions, password resets and the mail links'
    signed tokens are all forgeable with it."""
    if not key or key == MISSING_SECRET_KEY:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. With DEBUG off, set SECRET_KEY to a long random value "
            "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(64))')."
        )
    if key == DEV_SECRET_KEY or key.startswith("django-insecure"):
        raise ImproperlyConfigured("SECRET_KEY is the development key. With DEBUG off, set a long random value.")
    if len(key) < MIN_SECRET_KEY_LENGTH or len(set(key)) < MIN_SECRET_KEY_UNIQUE_CHARACTERS:
        raise ImproperlyConfigured(
            f"SECRET_KEY is too weak: use at least {MIN_SECRET_KEY_LENGTH} random "
            f"characters ({MIN_SECRET_KEY_UNIQUE_CHARACTERS} or more different ones)."
        )


def refuse_unsafe_start() -> None:
    """Called as the web app (crm/wsgi.py, crm/asgi.py) and Celery's worker and beat start: with DEBUG
    off they do not start with a missing, development or weak SECRET_KEY (ImproperlyConfigured)."""
    if not settings.DEBUG:
        check_production_secret_key(settings.SECRET_KEY)


@checks.register(checks.Tags.security, deploy=False)
def secret_key_check(app_configs=None, **kwargs) -> list:
    """The same rule as a system check, so `manage.py check` (and a deploy pipeline) says it early."""
    try:
        refuse_unsafe_start()
    except ImproperlyConfigured as exc:
        return [checks.Warning(str(exc), hint="The web app, the worker and beat will refuse to start.", id="crm.W001")]
    return []


class ContentSecurityPolicyMiddleware:
    """Adds CONTENT_SECURITY_POLICY to HTML responses that do not set their own, so an injected
    `<script>` in the admin or the API docs does not run."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        policy = settings.CONTENT_SECURITY_POLICY
        if policy and response.get("Content-Type", "").startswith("text/html"):
            response.headers.setdefault("Content-Security-Policy", policy)
        return response
