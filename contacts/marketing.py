"""Who may receive a marketing email: the one rule, for the database and for a row already loaded.

Every path asks here: the sender's audience and its per-batch re-check, the segment condition
"Can receive marketing email", the contact filter, the contact page and the unsubscribe page. Each
clause is written once as a pair — the SQL condition and the same test on a loaded contact — so
the two cannot drift apart (tests/contacts/test_marketing.py checks them against each other).
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Q

from .models import Contact, EmailStatus


@dataclass(frozen=True)
class Clause:
    reason: str  # why a contact failing this clause is left out (campaigns.Message.SkipReason values)
    q: Q
    holds: Callable[[Contact], bool]


CLAUSES: tuple[Clause, ...] = (
    Clause("erased", Q(erased_at__isnull=True), lambda c: c.erased_at is None),
    Clause("no_email", Q(email__isnull=False) & ~Q(email=""), lambda c: bool(c.email)),
    Clause("status", Q(email_status=EmailStatus.ACTIVE), lambda c: c.email_status == EmailStatus.ACTIVE),
    Clause("no_consent", Q(email_opt_in=True), lambda c: bool(c.email_opt_in)),
)


def marketable_q() -> Q:
    """Contacts who may receive marketing email now, as a filter."""
    condition = Q()
    for clause in CLAUSES:
        condition &= clause.q
    return condition


def not_marketable_reason(contact: Contact) -> str | None:
    """The first clause this contact fails ("status" means its email status is not active), None if it may
    receive marketing email."""
    for clause in CLAUSES:
        if not clause.holds(contact):
            return clause.reason
    return None


def may_receive_marketing(contact: Contact) -> bool:
    return not_marketable_reason(contact) is None
