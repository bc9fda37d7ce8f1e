"""Writes for partner API keys: the raw key exists only in the return value of `api_key_create`."""

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import KEY_PREFIX_LENGTH, SCOPES, ApiKey, hash_key


def scopes_clean(scopes: Iterable[str] | str) -> list[str]:
    """Known scopes only, de-duplicated, in the canonical order; a comma-separated string is accepted."""
    if isinstance(scopes, str):
        scopes = scopes.split(",")
    wanted = {str(s).strip() for s in scopes if str(s).strip()}
    unknown = sorted(wanted - set(SCOPES))
    if unknown:
        raise ValidationError(
            {
                "scopes": [
                    _("Unknown scope(s): %(names)s. Known: %(known)s.")
                    % {"names": ", ".join(unknown), "known": ", ".join(SCOPES)}
                ]
            }
        )
    if not wanted:
        raise ValidationError({"scopes": [_("Give at least one scope.")]})
    return [s for s in SCOPES if s in wanted]


@transaction.atomic
def api_key_create(*, name: str, scopes: Iterable[str] | str) -> tuple[ApiKey, str]:
    """Create a key and return it with its raw value, which is never stored and cannot be shown again."""
    name = " ".join(str(name or "").split())
    if not name:
        raise ValidationError({"name": [_("This field is required.")]})
    if len(name) > 100:
        raise ValidationError({"name": [_("At most %(n)d characters.") % {"n": 100}]})
    clean_scopes = scopes_clean(scopes)
    raw = ApiKey.generate()
    key = ApiKey.objects.create(name=name, scopes=clean_scopes, prefix=raw[:KEY_PREFIX_LENGTH], key_hash=hash_key(raw))
    return key, raw


def api_key_revoke(*, key: ApiKey) -> ApiKey:
    """Revoke now; requests with the key fail from the next one on (keys are never cached)."""
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=key.revoked_at)
    return key


def api_key_touch(*, key: ApiKey, resolution_seconds: int = 60) -> None:
    """Record the last use, at most once per `resolution_seconds`, so busy keys cost no write per request."""
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > resolution_seconds:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now


def api_key_update(*, key: ApiKey, name: str, scopes: Iterable[str] | str) -> ApiKey:
    """Rename a key or change its scopes; the secret itself never changes (create a new key instead)."""
    name = " ".join(str(name or "").split())
    if not name:
        raise ValidationError({"name": [_("This field is required.")]})
    key.name = name[:100]
    key.scopes = scopes_clean(scopes)
    ApiKey.objects.filter(pk=key.pk).update(name=key.name, scopes=key.scopes)
    return key
