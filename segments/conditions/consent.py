"""Consent: the contacts app's one "may receive marketing email" rule, as a condition."""

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from contacts.marketing import marketable_q

from ..registry import Condition
from .base import BOOL_OPS, CONSENT


def q_email_consent() -> Q:
    return marketable_q()


CONDITIONS = (
    Condition(
        key="email_consent",
        label=_("Can receive marketing email"),
        group=CONSENT,
        ops=BOOL_OPS,
        compile=lambda cond, ctx: q_email_consent() if cond["value"] else ~q_email_consent(),
    ),
)
