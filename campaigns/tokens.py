"""Tracking tokens: a message id, signed with SECRET_KEY, so tokens are unguessable and tamper-proof
without storing anything. A forged or mangled token maps to no message."""

from django.core import signing
from django.utils.http import base36_to_int, int_to_base36

SALT = "campaigns.message"
_signer = signing.Signer(salt=SALT, sep=".", algorithm="sha256")


def message_token(message_id: int) -> str:
    return _signer.sign(int_to_base36(message_id))


def message_id_from_token(token: str) -> int | None:
    if not isinstance(token, str) or len(token) > 120:
        return None
    try:
        return base36_to_int(_signer.unsign(token))
    except (signing.BadSignature, ValueError):
        return None
