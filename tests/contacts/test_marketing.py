"""The rule "may receive marketing email" has one owner: its SQL and its row test agree on every combination."""

import itertools

import pytest

from contacts.marketing import CLAUSES, marketable_q, may_receive_marketing, not_marketable_reason
from contacts.models import Contact, EmailStatus
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def test_sql_and_row_test_agree_on_every_combination_of_the_fields_it_reads():
    combos = list(itertools.product([None, "a@example.com"], [True, False], EmailStatus.values, [False, True]))
    contacts = []
    for index, (email, opt_in, status, erased) in enumerate(combos):
        contact = ContactFactory(email=email and f"{index}-{email}", email_opt_in=opt_in, email_status=status)
        if erased:
            Contact.objects.filter(pk=contact.pk).update(erased_at="2026-01-01T00:00:00Z")
        contacts.append(contact.pk)
    in_sql = set(Contact.objects.filter(pk__in=contacts).filter(marketable_q()).values_list("pk", flat=True))
    in_python = {c.pk for c in Contact.objects.filter(pk__in=contacts) if may_receive_marketing(c)}
    assert in_sql == in_python
    assert len(in_sql) == 1


def test_each_clause_names_the_reason_a_contact_is_left_out():
    assert not_marketable_reason(ContactFactory(email=None)) == "no_email"
    assert not_marketable_reason(ContactFactory(email_opt_in=False)) == "no_consent"
    assert not_marketable_reason(ContactFactory(email_status=EmailStatus.BOUNCED)) == "status"
    assert not_marketable_reason(ContactFactory(email_opt_in=True, email_status=EmailStatus.ACTIVE)) is None
    assert [clause.reason for clause in CLAUSES] == ["erased", "no_email", "status", "no_consent"]
