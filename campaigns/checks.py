"""System checks that tell the operator what the provider webhooks will do with the current settings."""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

HINT = (
    "Set ANYMAIL_WEBHOOK_SECRET to a long random 'user:password' and configure the same credentials in the "
    "provider's webhook URL (https://user:password@host/anymail/<provider>/tracking/); for Mailgun also set "
    "MAILGUN_WEBHOOK_SIGNING_KEY."
)


def _webhook_secret() -> bool:
    return bool((getattr(settings, "ANYMAIL", None) or {}).get("WEBHOOK_SECRET"))


@register(Tags.security)
def webhook_secret_check(app_configs, **kwargs) -> list:
    """In DEBUG the webhooks accept anyone; outside it they refuse everyone until credentials are set."""
    if _webhook_secret():
        return []
    if settings.DEBUG:
        return [
            Warning(
                "Provider webhooks at /anymail/…/tracking/ accept unauthenticated requests "
                "(allowed only because DEBUG is on).",
                hint=HINT,
                id="campaigns.W001",
            )
        ]
    return [
        Warning(
            "Provider webhooks at /anymail/…/tracking/ are refused (403): no ANYMAIL_WEBHOOK_SECRET "
            "is set, so bounces and complaints reported by the provider are not recorded.",
            hint=HINT,
            id="campaigns.W002",
        )
    ]


@register(Tags.security, deploy=True)
def webhook_secret_deploy_check(app_configs, **kwargs) -> list:
    if _webhook_secret():
        return []
    return [
        Error(
            "ANYMAIL_WEBHOOK_SECRET is not set: provider bounce and complaint webhooks cannot be authenticated.",
            hint=HINT,
            id="campaigns.E001",
        )
    ]


@register(Tags.database)
def brand_postal_address_check(app_configs, databases=None, **kwargs) -> list:
    """Marketing mail must carry the sender's postal address; the layout prints the brand's. Reads the
    database, so it runs with `check --database default` and `migrate`, like Django's database checks."""
    if not databases:
        return []
    from django.db import DatabaseError

    from .branding import current_brand

    try:
        brand = current_brand()
    except DatabaseError:  # not migrated yet
        return []
    if brand.postal_address.strip():
        return []
    return [
        Warning(
            "The brand settings have no postal address: marketing mail must carry the sender's postal address.",
            hint="Fill it in at Campaigns → Brand in the back office.",
            id="campaigns.W003",
        )
    ]
