"""The preference centre behind a mail's unsubscribe link: how often the contact wants marketing email,
or none at all, each change written to the consent log with the very words the page showed.

Why frequency and not topics: a campaign carries no topic, and a per-topic opt-out would only be real
if every campaign were tagged and the sender skipped by tag. A frequency is real today: the contact's
choice (`Contact.mail_frequency`) is honoured by the send path (`campaigns.audience`) for campaigns and
automations alike, as a personal frequency cap no mailing bypasses.

The page's sentences are built here, in the page's language, both as HTML for the page (names and
addresses escaped, inside `<bdi>`) and as the plain text the consent log keeps, so the two cannot drift.
"""

from dataclasses import dataclass

from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from contacts import services as contact_services
from contacts.models import ConsentEvent, Contact, EmailStatus, MailFrequency

from .models import Message

# Which page an unsubscribe came from: the hidden `page` field of its form. Anything else (a mail
# client's one-click request) showed no text.
UNSUBSCRIBE_PAGES = ("confirm", "preferences")


@dataclass(frozen=True)
class Sentence:
    """One sentence as shown (`html`) and as logged (`text`)."""

    html: SafeString
    text: str


def _with_email(message: str, contact: Contact) -> Sentence:
    """A translated sentence with the contact's address in `{email}`: isolated for RTL on the page."""
    email = contact.email or ""
    return Sentence(
        html=format_html(message, email=format_html("<bdi>{}</bdi>", email)), text=message.format(email=email)
    )


def frequency_question() -> str:
    return _("How often would you like to hear from us?")


def frequency_consent(contact: Contact) -> Sentence:
    return _with_email(
        _(
            "By saving, you agree to get our marketing email at {email}, no more often than you chose. "
            "You can change this or unsubscribe at any time from the link in every mail."
        ),
        contact,
    )


def unsubscribe_sentence(contact: Contact) -> str:
    """The unsubscribe pages' sentence as logged: the templates' own message (already translated), without
    the `<bdi>` it wraps the address in on the page."""
    sentence = _("You will no longer get marketing email at <bdi>%(email)s</bdi>.") % {"email": contact.email or ""}
    return sentence.replace("<bdi>", "").replace("</bdi>", "")


def unsubscribe_text(page: str, contact: Contact) -> str:
    """The words the contact saw before pressing an unsubscribe button, for the consent log ("" when the
    request came from a mail client, which shows none)."""
    if page == "confirm":
        return "\n".join((_("Unsubscribe from our mailings?"), unsubscribe_sentence(contact)))
    if page == "preferences":
        return "\n".join((_("Unsubscribe from all"), unsubscribe_sentence(contact)))
    return ""


def frequency_text(contact: Contact, frequency: str) -> str:
    """What the contact saw when saving: the question, the answer picked and the consent sentence."""
    return "\n".join((frequency_question(), str(MailFrequency(frequency).label), frequency_consent(contact).text))


def is_subscribed(contact: Contact) -> bool:
    """Whether the page should say the contact gets our mail now (consent on, address not unsubscribed)."""
    return contact.email_opt_in and contact.email_status != EmailStatus.UNSUBSCRIBED


def preferences_save(*, message: Message, mail_frequency: str) -> ConsentEvent | None:
    """Apply the frequency the contact chose on the page, which also (re)grants email consent, with a
    consent-log entry naming the campaign whose link led there. Saving what is already stored records
    nothing (None), so a double submit leaves one entry."""
    contact = message.contact
    contact.refresh_from_db(fields=["email_opt_in", "email_status", "mail_frequency"])
    if is_subscribed(contact) and contact.mail_frequency == mail_frequency:
        return None
    return contact_services.consent_change(
        contact=contact,
        channel=ConsentEvent.ConsentChannel.EMAIL,
        granted=True,
        source=f"preferences:campaign:{message.campaign_id}",
        text_shown=frequency_text(contact, mail_frequency),
        mail_frequency=mail_frequency,
    )
