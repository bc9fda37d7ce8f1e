import pytest
from django.core.exceptions import ValidationError

from contacts import services
from contacts.models import ConsentEvent, Contact, EmailStatus
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def fresh(contact) -> Contact:
    return Contact.objects.get(pk=contact.pk)


def test_consent_change_is_logged_with_source_and_text():
    contact = ContactFactory(email_opt_in=False)
    event = services.consent_change(
        contact=contact, channel="email", granted=True, source="landing_page", text_shown="Send me offers"
    )
    assert (event.contact_id, event.channel, event.granted, event.source, event.text_shown) == (
        contact.pk,
        "email",
        True,
        "landing_page",
        "Send me offers",
    )
    assert fresh(contact).email_opt_in


def test_unsubscribe_revokes_consent_and_sets_the_email_status():
    contact = ContactFactory(email_opt_in=True)
    services.consent_change(
        contact=contact, channel="email", granted=False, source="unsubscribe_link", unsubscribe=True
    )
    contact = fresh(contact)
    assert not contact.email_opt_in
    assert contact.email_status == EmailStatus.UNSUBSCRIBED
    assert not contact.can_receive_email


def test_plain_revoke_leaves_the_email_status_active():
    contact = ContactFactory(email_opt_in=True)
    services.consent_change(contact=contact, channel="email", granted=False, source="admin")
    assert fresh(contact).email_status == EmailStatus.ACTIVE


def test_regranting_reactivates_an_unsubscribed_contact():
    contact = ContactFactory(email_opt_in=False, email_status=EmailStatus.UNSUBSCRIBED)
    services.consent_change(contact=contact, channel="email", granted=True, source="web_form")
    contact = fresh(contact)
    assert contact.email_opt_in
    assert contact.email_status == EmailStatus.ACTIVE
    assert contact.can_receive_email


@pytest.mark.parametrize("status", [EmailStatus.BOUNCED, EmailStatus.COMPLAINED])
def test_regranting_does_not_reactivate_a_bounced_or_complained_address(status):
    contact = ContactFactory(email_opt_in=False, email_status=status)
    services.consent_change(contact=contact, channel="email", granted=True, source="web_form")
    contact = fresh(contact)
    assert contact.email_opt_in
    assert contact.email_status == status
    assert not contact.can_receive_email


@pytest.mark.parametrize("status", [EmailStatus.BOUNCED, EmailStatus.COMPLAINED])
def test_unsubscribe_keeps_a_harder_suppression(status):
    contact = ContactFactory(email_opt_in=True, email_status=status)
    services.consent_change(contact=contact, channel="email", granted=False, source="link", unsubscribe=True)
    assert fresh(contact).email_status == status


def test_sms_consent_does_not_touch_email():
    contact = ContactFactory(email_opt_in=True, sms_opt_in=False)
    services.consent_change(contact=contact, channel="sms", granted=True, source="pos")
    contact = fresh(contact)
    assert (contact.email_opt_in, contact.sms_opt_in) == (True, True)


def test_regranting_by_upsert_reactivates_an_unsubscribed_contact():
    contact = ContactFactory(email="dana@example.com", email_opt_in=False, email_status=EmailStatus.UNSUBSCRIBED)
    services.contact_upsert(email="dana@example.com", email_opt_in=True, origin="web_form")
    contact = fresh(contact)
    assert contact.email_opt_in and contact.email_status == EmailStatus.ACTIVE
    assert ConsentEvent.objects.get().source == "web_form"


def test_bulk_revoke_logs_only_contacts_that_had_consent():
    with_consent = ContactFactory.create_batch(3, email_opt_in=True)
    without = ContactFactory(email_opt_in=False)
    ids = [c.pk for c in with_consent] + [without.pk]
    assert services.contacts_revoke_consent(contact_ids=ids, channel="email", source="admin") == 3
    assert ConsentEvent.objects.filter(granted=False).count() == 3
    assert not Contact.objects.filter(pk__in=ids, email_opt_in=True).exists()


def test_regranting_with_an_old_copy_does_not_lift_a_later_bounce():
    contact = ContactFactory(email_opt_in=False, email_status=EmailStatus.UNSUBSCRIBED)
    old_copy = fresh(contact)
    Contact.objects.filter(pk=contact.pk).update(email_status=EmailStatus.BOUNCED)
    services.consent_change(contact=old_copy, channel="email", granted=True, source="web_form")
    assert fresh(contact).email_status == EmailStatus.BOUNCED
    assert old_copy.email_status == EmailStatus.BOUNCED


def test_unknown_consent_channel_names_channel_and_logs_nothing():
    contact = ContactFactory(sms_opt_in=False)
    with pytest.raises(ValidationError) as excinfo:
        services.consent_change(contact=contact, channel="fax", granted=True, source="admin")
    assert set(excinfo.value.message_dict) == {"channel"}
    assert not ConsentEvent.objects.exists()
    assert not fresh(contact).sms_opt_in
