"""Ready mails to start a template from, in Hebrew and in English.

Each is made of blocks (`campaigns.blocks`), so it wears the brand and reads as the editor's own
block output; the text is the mail's, in the mail's language, whatever language the marketer's
screen is in. Starting from one fills a new template's form; nothing is saved until the marketer
saves it.
"""

from dataclasses import dataclass, field

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .blocks import blocks_html


@dataclass(frozen=True)
class Ready:
    key: str
    title: Promise
    language: str
    name: str
    subject: str
    preheader: str
    blocks: dict = field(default_factory=dict)

    @property
    def html(self) -> str:
        return blocks_html(data=self.blocks)


GALLERY = (
    Ready(
        key="welcome-he",
        title=_("Welcome to the club (Hebrew)"),
        language="he",
        name="ברוכים הבאים למועדון",
        subject="{{ contact.first_name|default:'היי' }}, ברוכים הבאים למועדון!",
        preheader="ההטבה הראשונה שלך כבר מחכה",
        blocks={
            "hero_title": "ברוכים הבאים, {{ contact.first_name|default:'חברים' }}!",
            "hero_text": "שמחים שהצטרפת למועדון שלנו",
            "text": "מעכשיו תצברו נקודות על כל קנייה ותקבלו הטבות לפני כולם.\n\n"
            "{% if club %}מספר הכרטיס שלך: {{ club.card_number }}{% endif %}",
            "button_label": "לחנות",
            "button_url": "https://example.com/",
            "products": "recommended",
        },
    ),
    Ready(
        key="welcome-en",
        title=_("Welcome to the club (English)"),
        language="en",
        name="Welcome to the club",
        subject="Welcome to the club, {{ contact.first_name|default:'friend' }}!",
        preheader="Your first member benefit is waiting",
        blocks={
            "hero_title": "Welcome, {{ contact.first_name|default:'friend' }}!",
            "hero_text": "We are glad you joined our club",
            "text": "From now on you earn points on every purchase and get offers before anyone else.\n\n"
            "{% if club %}Your card number: {{ club.card_number }}{% endif %}",
            "button_label": "Visit the shop",
            "button_url": "https://example.com/",
            "products": "recommended",
        },
    ),
    Ready(
        key="new-in-he",
        title=_("New in store (Hebrew)"),
        language="he",
        name="חדש בחנות",
        subject="חדש בחנות: בחרנו במיוחד בשבילך",
        preheader="הקולקציה החדשה הגיעה",
        blocks={
            "hero_title": "הקולקציה החדשה הגיעה",
            "hero_text": "{{ contact.first_name|default:'היי' }}, הנה מה שחשבנו שתאהבו",
            "button_label": "לכל החדשים",
            "button_url": "https://example.com/new",
            "products": "recommended",
        },
    ),
    Ready(
        key="new-in-en",
        title=_("New in store (English)"),
        language="en",
        name="New in store",
        subject="New in store: picked for you",
        preheader="The new collection is here",
        blocks={
            "hero_title": "The new collection is here",
            "hero_text": "{{ contact.first_name|default:'Hi' }}, here is what we think you will love",
            "button_label": "See what is new",
            "button_url": "https://example.com/new",
            "products": "recommended",
        },
    ),
    Ready(
        key="refill-he",
        title=_("Time to refill (Hebrew)"),
        language="he",
        name="הגיע הזמן לחדש מלאי",
        subject="{{ contact.first_name|default:'היי' }}, נגמר לך משהו?",
        preheader="המוצרים שקנית עומדים להיגמר",
        blocks={
            "hero_title": "הגיע הזמן לחדש מלאי",
            "text": "לפי הקנייה האחרונה שלך, המוצרים האלה עומדים להיגמר.\n"
            "{% if club %}יש לך {{ club.points }} נקודות לניצול.{% endif %}",
            "button_label": "להזמנה חוזרת",
            "button_url": "https://example.com/account",
            "products": "running_out",
        },
    ),
    Ready(
        key="refill-en",
        title=_("Time to refill (English)"),
        language="en",
        name="Time to refill",
        subject="{{ contact.first_name|default:'Hi' }}, running low?",
        preheader="What you bought is about to run out",
        blocks={
            "hero_title": "Time to refill",
            "text": "Going by your last purchase, these are about to run out.\n"
            "{% if club %}You have {{ club.points }} points to spend.{% endif %}",
            "button_label": "Order again",
            "button_url": "https://example.com/account",
            "products": "running_out",
        },
    ),
)


def ready_mail(key: str) -> Ready | None:
    return next((ready for ready in GALLERY if ready.key == key), None)


def ready_initial(ready: Ready) -> dict:
    """A new template's form filled from a ready mail (on the default layout, which carries the brand)."""
    return {
        "name": ready.name,
        "subject": ready.subject,
        "preheader": ready.preheader,
        "html": ready.html,
        "language": ready.language,
        "layout": "default",
    }
