"""Settings for the CRM.

Every deploy-specific value comes from the environment (see `.env.example`); the
defaults give a working local set-up with SQLite, in-process tasks and mail written
to files, so `make run` needs no server of any kind.
"""

import os
from pathlib import Path

import environ
from django.utils.translation import gettext_lazy as _

from crm.security import DEV_SECRET_KEY, MISSING_SECRET_KEY

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Development is opted into: `make run` exports DEBUG=true and the test suite (pytest sets
# PYTEST_VERSION) defaults to it. Anything else runs with DEBUG off, and then the web app and the
# Celery worker and beat refuse to start without a real SECRET_KEY (crm.security.refuse_unsafe_start;
# management commands only warn, so `migrate` or `check` still run in a deploy pipeline).
DEBUG = env.bool("DEBUG", default="PYTEST_VERSION" in os.environ)
SECRET_KEY = env("SECRET_KEY", default="") or (DEV_SECRET_KEY if DEBUG else MISSING_SECRET_KEY)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "import_export",
    "django_ace",
    "anymail",
    "django_celery_beat",
    "crm",
    "crm.runtime",
    "contacts",
    "segments",
    "campaigns",
    "campaigns.flows",
    "campaigns.reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "crm.security.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "crm.urls"
WSGI_APPLICATION = "crm.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "crm.runtime.context.background_warning",
            ],
        },
    },
]

# Database: SQLite file by default, PostgreSQL 15+ in production (DATABASE_URL).
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server, the worker and beat write side by side: WAL lets readers go on during a write,
    # IMMEDIATE takes the write lock when a transaction starts (so two writers queue instead of one
    # failing with "database is locked" half-way), and the busy timeout makes the second one wait.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Internationalization: English and Hebrew from day one.
LANGUAGE_CODE = env("LANGUAGE_CODE", default="en")
LANGUAGES = [("en", _("English")), ("he", _("Hebrew"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env("TIME_ZONE", default="Asia/Jerusalem")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# Uploaded files (the brand's logo): served by the app itself at /brand/logo/…, not from MEDIA_URL.
MEDIA_ROOT = env("MEDIA_ROOT", default=str(VAR_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Mail: files in var/outbox/ by default; SMTP with EMAIL_URL=smtp://host:port.
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Club <club@example.com>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
_email = {k: v for k, v in env.email_url("EMAIL_URL", default="filemail://").items() if v is not None}
vars().update(_email)
if _email.get("EMAIL_BACKEND") == "django.core.mail.backends.filebased.EmailBackend":
    EMAIL_BACKEND = "crm.mail.EmlFileBackend"  # one .eml file per message
    EMAIL_FILE_PATH = "/" + _email["EMAIL_FILE_PATH"] if _email.get("EMAIL_FILE_PATH") else str(VAR_DIR / "outbox")
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)

# Celery: a real broker from CELERY_BROKER_URL (Redis in production); unset, the embedded broker of
# `make run` (message files under var/broker/, crm/broker.py), so the default install runs a real
# worker and beat like production. Only the test suite, with no broker named, runs tasks in-process
# (pytest sets PYTEST_VERSION; CELERY_TASK_ALWAYS_EAGER overrides either way).
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = env.bool(
    "CELERY_TASK_ALWAYS_EAGER", default="PYTEST_VERSION" in os.environ and not CELERY_BROKER_URL
)
if not CELERY_BROKER_URL:
    from crm.broker import ALIAS as _EMBEDDED_BROKER
    from crm.broker import folders as _broker_folders

    CELERY_BROKER_URL = "memory://" if CELERY_TASK_ALWAYS_EAGER else f"{_EMBEDDED_BROKER}://"
    if not CELERY_TASK_ALWAYS_EAGER:
        CELERY_BROKER_TRANSPORT_OPTIONS = _broker_folders(Path(env("BROKER_DIR", default=str(VAR_DIR / "broker"))))
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=None)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "crm.runtime.scheduler:Scheduler"  # django-celery-beat's, plus a heartbeat
# The health page and the admin banner call the worker or beat stopped after this long unseen.
HEALTH_STALE_SECONDS = env.int("HEALTH_STALE_SECONDS", default=180)
HEALTH_CACHE_SECONDS = env.int("HEALTH_CACHE_SECONDS", default=10)  # how old GET /api/v1/health/ may answer

# Segments: how often beat re-evaluates every dynamic segment (time-based rules drift as days
# pass), and above how many changed contacts a change triggers whole-segment refreshes instead
# of per-contact re-evaluation.
SEGMENT_REFRESH_MINUTES = env.int("SEGMENT_REFRESH_MINUTES", default=15)
SEGMENT_CONTACT_REFRESH_LIMIT = env.int("SEGMENT_CONTACT_REFRESH_LIMIT", default=5000)
# Size caps of one rule tree, counted after in_segment conditions are expanded into the rules of the
# segment they include, so no tree can grow a query the database (or the compiler) chokes on.
SEGMENT_RULES_MAX_CONDITIONS = env.int("SEGMENT_RULES_MAX_CONDITIONS", default=100)
SEGMENT_RULES_MAX_DEPTH = env.int("SEGMENT_RULES_MAX_DEPTH", default=10)
# The periodic jobs themselves are declared in crm/runtime/periodic.py (one place).

# Contact lifecycle thresholds (days); see CONTRACT.md §3.
LIFECYCLE_NEW_DAYS = env.int("LIFECYCLE_NEW_DAYS", default=30)
LIFECYCLE_ACTIVE_DAYS = env.int("LIFECYCLE_ACTIVE_DAYS", default=90)
LIFECYCLE_AT_RISK_DAYS = env.int("LIFECYCLE_AT_RISK_DAYS", default=180)
# Region used to read phone numbers written without a country code.
PHONE_DEFAULT_REGION = env("PHONE_DEFAULT_REGION", default="IL")
# Largest file the admin CSV import accepts, in bytes.
IMPORT_MAX_UPLOAD_BYTES = env.int("IMPORT_MAX_UPLOAD_BYTES", default=50 * 1024 * 1024)
# Where an uploaded import file waits between its dry run and the confirmed import, and how long an
# unconfirmed one is kept before it is deleted.
IMPORT_UPLOAD_DIR = env("IMPORT_UPLOAD_DIR", default=str(VAR_DIR / "imports"))
IMPORT_UPLOAD_MAX_AGE_MINUTES = env.int("IMPORT_UPLOAD_MAX_AGE_MINUTES", default=60)

# Campaigns: batch size and parallel batch chains per campaign, an optional rate limit (mails per
# second per campaign, 0 = as fast as the mail server takes them), the cross-campaign frequency cap
# (at most N marketing mails per contact per D days), soft bounces before suppression, and how soon
# after delivery an open counts as a machine (privacy proxy or scanner) rather than a person.
CAMPAIGN_BATCH_SIZE = env.int("CAMPAIGN_BATCH_SIZE", default=500)
CAMPAIGN_SEND_CONCURRENCY = env.int("CAMPAIGN_SEND_CONCURRENCY", default=2)
CAMPAIGN_SEND_RATE = env.float("CAMPAIGN_SEND_RATE", default=0)
CAMPAIGN_MAX_ATTEMPTS = env.int("CAMPAIGN_MAX_ATTEMPTS", default=5)
# SMTP connections each sending chain keeps open: mails are handed over on all of them and then
# completed together, with one database commit for the group.
CAMPAIGN_SMTP_CONNECTIONS = env.int("CAMPAIGN_SMTP_CONNECTIONS", default=16)
# First retry delay after a temporary failure (doubles each attempt), and how long a claimed batch
# may stay unfinished before it is treated as abandoned by a dead worker and sent again.
CAMPAIGN_RETRY_SECONDS = env.int("CAMPAIGN_RETRY_SECONDS", default=60)
CAMPAIGN_CLAIM_LEASE_SECONDS = env.int("CAMPAIGN_CLAIM_LEASE_SECONDS", default=300)
FREQUENCY_CAP_COUNT = env.int("FREQUENCY_CAP_COUNT", default=3)
FREQUENCY_CAP_DAYS = env.int("FREQUENCY_CAP_DAYS", default=7)
# Automation mails falling inside these local hours wait for their end ("" = none).
QUIET_HOURS = env("QUIET_HOURS", default="21:00-08:00")
# A purchase is credited to the mail last clicked this many days before it, else to the one last opened
# within ATTRIBUTION_OPEN_DAYS (CONTRACT §7; docs/measurement.md).
ATTRIBUTION_CLICK_DAYS = env.int("ATTRIBUTION_CLICK_DAYS", default=5)
ATTRIBUTION_OPEN_DAYS = env.int("ATTRIBUTION_OPEN_DAYS", default=1)
SOFT_BOUNCE_LIMIT = env.int("SOFT_BOUNCE_LIMIT", default=3)
MACHINE_OPEN_SECONDS = env.int("MACHINE_OPEN_SECONDS", default=2)
# A click with no human open yet, this soon after sending, is a link scanner rather than a person.
MACHINE_CLICK_SECONDS = env.int("MACHINE_CLICK_SECONDS", default=10)
UNSUBSCRIBE_MAILTO = env("UNSUBSCRIBE_MAILTO", default="")
# Limits of one campaign mail's render (campaigns.sandbox): output size, loop iterations in all,
# the widest padding filter (ljust, rjust, center, floatformat, stringformat) and the seconds it may take.
TEMPLATE_MAX_OUTPUT_BYTES = env.int("TEMPLATE_MAX_OUTPUT_BYTES", default=1_000_000)
TEMPLATE_MAX_LOOP_ITERATIONS = env.int("TEMPLATE_MAX_LOOP_ITERATIONS", default=10_000)
TEMPLATE_MAX_WIDTH = env.int("TEMPLATE_MAX_WIDTH", default=1_000)
TEMPLATE_MAX_RENDER_SECONDS = env.float("TEMPLATE_MAX_RENDER_SECONDS", default=2.0)
ANYMAIL = {
    "WEBHOOK_SECRET": env("ANYMAIL_WEBHOOK_SECRET", default=""),
    "MAILGUN_WEBHOOK_SIGNING_KEY": env("MAILGUN_WEBHOOK_SIGNING_KEY", default=""),
}

# Deepest nesting of lists/objects an API body may have.
API_MAX_JSON_DEPTH = env.int("API_MAX_JSON_DEPTH", default=50)

REST_FRAMEWORK = {
    "DEFAULT_PARSER_CLASSES": [
        "crm.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "crm.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["crm.permissions.HasScope"],
    "DEFAULT_FILTER_BACKENDS": [
        "crm.filtering.SafeFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "crm.pagination.IdCursorPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": ["crm.throttling.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": env("API_THROTTLE_RATE", default="6000/min")},
    "EXCEPTION_HANDLER": "crm.api_errors.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Retail Club CRM API",
    "DESCRIPTION": "Partner API: contacts, club members, catalogue, purchases, site events and segments.\n\n"
    'Errors: a 400 is `{"field": ["message", …], "error_codes": {"field": ["code", …]}}` '
    "(one machine-readable code per message, same keys); any other error is "
    '`{"detail": "…", "code": "…"}`.',
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a "status"; each choice set gets its own stable name in the schema.
    "ENUM_NAME_OVERRIDES": {
        "ClubMemberStatusEnum": "contacts.models.LoyaltyMember.Status",
        "CampaignStatusEnum": "campaigns.models.Campaign.Status",
        "HealthStatusEnum": ["ok", "warning", "failing"],
    },
}

CACHES = {
    "default": env.cache("CACHE_URL", default="locmemcache://"),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}

# HTTPS: outside development the app is served behind TLS, so plain HTTP is redirected, browsers are
# told to use HTTPS only (HSTS) and cookies never travel unencrypted. Each is configurable. A proxy's
# X-Forwarded-Proto is believed only when TRUST_X_FORWARDED_PROTO says the proxy sets it (and strips
# any value a client sent); otherwise a client could claim HTTPS.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Listing a domain for HSTS preload commits every subdomain to HTTPS for months; it is the operator's
# decision (SECURE_HSTS_PRELOAD=true), so its absence is not reported as a deployment problem.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
# Sent on every HTML page (admin, API docs, unsubscribe pages): scripts only from our own static files.
CONTENT_SECURITY_POLICY = env(
    "CONTENT_SECURITY_POLICY",
    default=(
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: https:; "
        "object-src 'none'; base-uri 'self'; frame-ancestors 'self'; form-action 'self'"
    ),
)
# Flash messages live in the session, not a cookie: one of them shows a new API key once.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
# Admin sign-in: after this many failed attempts for one user name or from one address, further
# attempts are refused for the lock-out period.
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_LOCKOUT_MINUTES = env.int("LOGIN_LOCKOUT_MINUTES", default=15)

ADMIN_SITE_HEADER = env("ADMIN_SITE_HEADER", default="Retail Club CRM")
