"""Suppressing an address: bounces and complaints move the email status, and a complaint always wins."""

import datetime as dt

import pytest
from django.utils import timezone

from contacts.models import Contact, EmailStatus
from contacts.services.suppression import contact_suppress
from contacts.signals import contacts_changed
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def _status(contact: Contact) -> str:
    return Contact.objects.values_list("email_status", flat=True).get(pk=contact.pk)


@pytest.mark.parametrize(
    ("before", "reported", "after"),
    [
        (EmailStatus.ACTIVE, EmailStatus.BOUNCED, EmailStatus.BOUNCED),
        (EmailStatus.ACTIVE, EmailStatus.COMPLAINED, EmailStatus.COMPLAINED),
        (EmailStatus.UNSUBSCRIBED, EmailStatus.BOUNCED, EmailStatus.BOUNCED),
        (EmailStatus.BOUNCED, EmailStatus.COMPLAINED, EmailStatus.COMPLAINED),
        (EmailStatus.COMPLAINED, EmailStatus.BOUNCED, EmailStatus.COMPLAINED),
        (EmailStatus.COMPLAINED, EmailStatus.COMPLAINED, EmailStatus.COMPLAINED),
    ],
)
def test_a_complaint_is_never_downgraded_to_a_bounce(before, reported, after):
    contact = ContactFactory(email_status=before)
    assert contact_suppress(contact_id=contact.pk, status=reported) is True
    assert _status(contact) == after


def test_it_moves_the_stored_status_not_the_callers_copy():
    contact = ContactFactory(email_status=EmailStatus.ACTIVE)
    Contact.objects.filter(pk=contact.pk).update(email_status=EmailStatus.COMPLAINED)
    contact_suppress(contact_id=contact.pk, status=EmailStatus.BOUNCED)
    assert _status(contact) == EmailStatus.COMPLAINED


def test_it_touches_updated_at_and_tells_whatever_depends_on_the_contact(django_capture_on_commit_callbacks):
    contact = ContactFactory()
    Contact.objects.filter(pk=contact.pk).update(updated_at=timezone.now() - dt.timedelta(days=1))
    seen = []

    def receiver(sender, contact_ids, **kwargs):
        seen.extend(contact_ids)

    contacts_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            contact_suppress(contact_id=contact.pk, status=EmailStatus.BOUNCED)
    finally:
        contacts_changed.disconnect(receiver)
    assert seen == [contact.pk]
    contact.refresh_from_db()
    assert contact.updated_at > timezone.now() - dt.timedelta(minutes=1)


def test_an_unknown_contact_changes_nothing():
    assert contact_suppress(contact_id=987654, status=EmailStatus.BOUNCED) is False


def test_only_bounced_or_complained_suppress():
    contact = ContactFactory()
    with pytest.raises(ValueError):
        contact_suppress(contact_id=contact.pk, status=EmailStatus.ACTIVE)
    assert _status(contact) == EmailStatus.ACTIVE
