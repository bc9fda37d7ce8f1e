"""The preference centre behind the unsubscribe link: how often the contact wants our mail, or none; every
change in the consent log with the words the page showed; the send path honouring the choice."""

import datetime as dt
import re

import pytest
from django.core import mail as django_mail
from django.test import Client
from django.utils import timezone

from campaigns import audience, services
from campaigns.models import Message
from campaigns.tokens import message_token
from contacts.models import ConsentEvent, Contact, EmailStatus
from tests.campaigns.test_tracking import make_campaign as make_sent_campaign
from tests.campaigns.test_tracking import make_message
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def preferences_url(message: Message) -> str:
    return f"/u/{message_token(message.pk)}/preferences/"


def fresh(contact: Contact) -> Contact:
    return Contact.objects.get(pk=contact.pk)


# ---------------------------------------------------------------- the page


def test_the_unsubscribe_page_links_to_the_preference_centre(client):
    message = make_message(language="en")
    page = client.get(f"/u/{message_token(message.pk)}/").content.decode()
    assert f'href="{preferences_url(message)}"' in page


def test_the_page_asks_how_often_and_changes_nothing(client):
    message = make_message(language="en", email="dana@example.com")
    response = client.get(preferences_url(message))
    page = response.content.decode()
    assert response.status_code == 200
    assert 'lang="en" dir="ltr"' in page and "How often would you like to hear from us?" in page
    assert "<bdi>dana@example.com</bdi>" in page
    assert 'name="csrfmiddlewaretoken"' in page and re.search(r'value="any"[^>]*checked', page)
    assert "no-store" in response["Cache-Control"]
    assert not ConsentEvent.objects.exists()


def test_the_page_is_hebrew_right_to_left_for_a_hebrew_contact(client):
    message = make_message(language="he")
    assert b'lang="he" dir="rtl"' in client.get(preferences_url(message)).content


def test_the_page_shows_only_the_contacts_own_address_escaped(client):
    ContactFactory(email="someone.else@example.com")
    message = make_message(email="dana@example.com", first_name="<script>x</script>")
    page = client.get(preferences_url(message)).content.decode()
    assert "someone.else@example.com" not in page and "<script>x" not in page


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_tampered_token_gets_the_not_found_page(client, method):
    message = make_message()
    token = message_token(message.pk)
    for bad in ("garbage", token[:-3] + "abc", message_token(message.pk + 50), "x" * 500):
        response = getattr(client, method)(f"/u/{bad}/preferences/", {"frequency": "weekly"})
        assert response.status_code == 404
        assert b"<html" in response.content
    assert not ConsentEvent.objects.exists()


def test_an_erased_contact_gets_the_not_found_page(client):
    message = make_message(erased_at=timezone.now())
    assert client.get(preferences_url(message)).status_code == 404


def test_saving_needs_the_csrf_token():
    message = make_message()
    response = Client(enforce_csrf_checks=True).post(preferences_url(message), {"frequency": "weekly"})
    assert response.status_code == 403
    assert fresh(message.contact).mail_frequency == ""


# ---------------------------------------------------------------- saving


def test_saving_a_frequency_stores_it_and_logs_the_text_shown(client):
    message = make_message(language="en", email="dana@example.com")
    response = client.post(preferences_url(message), {"frequency": "weekly"})
    assert response.status_code == 302 and response["Location"].endswith("/preferences/?saved=1")
    assert fresh(message.contact).mail_frequency == "weekly"
    event = ConsentEvent.objects.get()
    assert (event.channel, event.granted, event.mail_frequency) == ("email", True, "weekly")
    assert event.source == f"preferences:campaign:{message.campaign_id}"
    assert event.text_shown.splitlines() == [
        "How often would you like to hear from us?",
        "At most once a week",
        "By saving, you agree to get our marketing email at dana@example.com, no more often than you chose. "
        "You can change this or unsubscribe at any time from the link in every mail.",
    ]
    assert b"preferences-saved" in client.get(response["Location"]).content


def test_saving_the_same_choice_again_logs_nothing_more(client):
    message = make_message()
    for _ in range(2):
        client.post(preferences_url(message), {"frequency": "monthly"})
    assert ConsentEvent.objects.count() == 1


def test_going_back_to_any_frequency_is_logged(client):
    message = make_message()
    client.post(preferences_url(message), {"frequency": "monthly"})
    client.post(preferences_url(message), {"frequency": "any"})
    assert fresh(message.contact).mail_frequency == ""
    assert list(ConsentEvent.objects.order_by("pk").values_list("mail_frequency", flat=True)) == ["monthly", ""]


@pytest.mark.parametrize("value", ["", "daily", "x" * 10_000, "weekly\x00"])
def test_a_bad_choice_is_a_400_page_naming_the_question(client, value):
    message = make_message(language="en")
    response = client.post(preferences_url(message), {"frequency": value})
    assert response.status_code == 400
    assert b'id="preferences-error"' in response.content
    assert not ConsentEvent.objects.exists() and fresh(message.contact).mail_frequency == ""


def test_an_unsubscribed_contact_can_subscribe_again_at_a_frequency(client):
    message = make_message(email_opt_in=False, email_status=EmailStatus.UNSUBSCRIBED, language="en")
    page = client.get(preferences_url(message)).content.decode()
    assert 'id="preferences-unsubscribed"' in page and 'id="unsubscribe-all"' not in page
    client.post(preferences_url(message), {"frequency": "monthly"})
    contact = fresh(message.contact)
    assert contact.email_opt_in and contact.email_status == EmailStatus.ACTIVE
    assert contact.mail_frequency == "monthly"


def test_a_bounced_address_stays_bounced_whatever_is_saved(client):
    message = make_message(email_status=EmailStatus.BOUNCED)
    client.post(preferences_url(message), {"frequency": "weekly"})
    assert fresh(message.contact).email_status == EmailStatus.BOUNCED


# ---------------------------------------------------------------- unsubscribe from all


def test_unsubscribe_from_all_on_the_page_logs_the_text_shown(client):
    message = make_message(language="en", email="dana@example.com")
    page = client.get(preferences_url(message)).content.decode()
    assert f'action="/u/{message_token(message.pk)}/"' in page
    response = client.post(f"/u/{message_token(message.pk)}/", {"page": "preferences"})
    assert response.status_code == 200 and b"unsubscribe-done" in response.content
    contact = fresh(message.contact)
    assert not contact.email_opt_in and contact.email_status == EmailStatus.UNSUBSCRIBED
    assert ConsentEvent.objects.get().text_shown.splitlines() == [
        "Unsubscribe from all",
        "You will no longer get marketing email at dana@example.com.",
    ]


def test_the_unsubscribe_confirmation_logs_its_own_text(client):
    message = make_message(language="en", email="dana@example.com")
    client.post(f"/u/{message_token(message.pk)}/", {"page": "confirm"})
    assert ConsentEvent.objects.get().text_shown.startswith("Unsubscribe from our mailings?\n")


def test_a_one_click_unsubscribe_still_works_and_logs_no_text():
    message = make_message()
    response = Client(enforce_csrf_checks=True).post(
        f"/u/{message_token(message.pk)}/",
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert ConsentEvent.objects.get().text_shown == ""
    assert fresh(message.contact).email_status == EmailStatus.UNSUBSCRIBED


# ---------------------------------------------------------------- the send path


def sent_before(contact: Contact, days: float) -> None:
    make_message(make_sent_campaign(name=f"Earlier {days}"), contact, sent_ago=dt.timedelta(days=days))


@pytest.mark.parametrize(
    "frequency, last_mail_days_ago, mailed",
    [("", 0.5, True), ("weekly", 3, False), ("weekly", 8, True), ("monthly", 20, False), ("monthly", 31, True)],
)
def test_the_send_path_honours_the_contacts_frequency(
    make_campaign, run_campaign, settings, frequency, last_mail_days_ago, mailed
):
    settings.FREQUENCY_CAP_COUNT = 0  # the shop's own cap off: only the contact's choice is at work
    contact = ContactFactory(mail_frequency=frequency)
    sent_before(contact, last_mail_days_ago)
    campaign = make_campaign([contact], name="Now")
    assert services.campaign_recipient_count(campaign=campaign)["eligible"] == int(mailed)
    django_mail.outbox.clear()
    run_campaign(campaign)
    message = Message.objects.get(campaign=campaign)
    assert len(django_mail.outbox) == int(mailed)
    if not mailed:
        assert (message.status, message.skip_reason) == (Message.Status.SKIPPED, Message.SkipReason.FREQUENCY_CAP)


def test_no_mailing_bypasses_the_contacts_own_frequency(make_campaign, run_campaign):
    weekly, other = ContactFactory(mail_frequency="weekly"), ContactFactory()
    for contact in (weekly, other):
        sent_before(contact, 1)
    campaign = make_campaign([weekly, other], name="Birthday")
    campaign.bypass_frequency_cap = True
    campaign.save(update_fields=["bypass_frequency_cap"])
    django_mail.outbox.clear()
    run_campaign(campaign)
    assert [m.to for m in django_mail.outbox] == [[other.email]]


def test_the_contacts_choice_counts_only_mails_actually_sent(settings):
    settings.FREQUENCY_CAP_COUNT = 0
    contact = ContactFactory(mail_frequency="monthly")
    skipped = make_message(make_sent_campaign(name="Skipped"), contact)
    Message.objects.filter(pk=skipped.pk).update(status=Message.Status.SKIPPED)
    assert audience.eligible(Contact.objects.all()).count() == 1
