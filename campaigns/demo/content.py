"""What the demo mailings are: their templates, the segments they go to, and how each one is received.

Template content is mail a marketer would have written, not interface text: it is written here in Hebrew and
English directly, with the campaign template variables (`contact`, `club`, `recommended`; docs/campaigns.md).
The response figures are per mailing, so the demo has a strong one, an ordinary one and a weak one.
"""

import datetime as dt
from dataclasses import dataclass

SHOP = "https://shop.example.com/"


@dataclass(frozen=True)
class Template:
    name: str
    language: str
    subject: str
    preheader: str
    html: str


@dataclass(frozen=True)
class SegmentSpec:
    name: str
    description: str
    rules: dict


@dataclass(frozen=True)
class Mailing:
    """One sent campaign and how its recipients respond, as probabilities per recipient.

    open_rate: a human open; click_rate: a click, given an open (both higher for customers, lower for prospects:
    see `mail`); then, for customers only: buy_rate, a purchase 0–4 days after the click; store_rate, a club
    member's visit to the home store within a day of opening without clicking; browse_rate, an online order within
    a day of opening without clicking (both credited to the open)."""

    name: str
    utm_campaign: str
    template: str
    segments: tuple[str, ...]
    days_ago: int
    at: dt.time
    open_rate: float
    click_rate: float
    buy_rate: float
    store_rate: float
    browse_rate: float
    design_cost: int  # ₪, plus a cost per delivered mail (see `seed.COST_PER_MAIL`)
    links: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    holdout_percent: int = 0
    discount: float = 0.0


HELLO_HE = "<h1>שלום {{ contact.first_name|default:'חבר/ה' }},</h1>"
HELLO_EN = "<h1>Hi {{ contact.first_name|default:'there' }},</h1>"
RECOMMENDED_HE = (
    "{% if recommended %}<p>בחרנו בשבילך:</p><ul>{% for product in recommended %}"
    "<li>{{ product.name }} — ₪{{ product.price }}</li>{% endfor %}</ul>{% endif %}"
)
RECOMMENDED_EN = (
    "{% if recommended %}<p>Picked for you:</p><ul>{% for product in recommended %}"
    "<li>{{ product.name }} — ILS {{ product.price }}</li>{% endfor %}</ul>{% endif %}"
)


def _button(url: str, label: str) -> str:
    return f'<p><a href="{SHOP}{url}">{label}</a></p>'


TEMPLATES: dict[str, Template] = {
    "sale": Template(
        name="מבצע באתר ובסניפים",
        language="he",
        subject="{{ contact.first_name|default:'חברים' }}, המבצע שחיכית לו כבר כאן",
        preheader="עד 30% הנחה באתר ובכל הסניפים, לזמן מוגבל",
        html=HELLO_HE
        + "<p>המבצע התחיל: עד 30% הנחה על טיפוח, קפה, מזון לחיות ועוד — באתר ובכל הסניפים.</p>"
        + RECOMMENDED_HE
        + _button("sale", "לכל המבצעים")
        + _button("stores", "הסניף הקרוב אליך"),
    ),
    "club": Template(
        name="נקודות כפולות במועדון",
        language="he",
        subject="{{ contact.first_name|default:'חבר/ה' }}, נקודות כפולות בסוף השבוע",
        preheader="כל קנייה במועדון שווה פי שניים — בסניף ובאתר",
        html=HELLO_HE
        + "<p>בסוף השבוע הזה כל שקל שחברי המועדון מוציאים שווה נקודות כפולות, בסניף ובאתר.</p>"
        + "{% if club %}<p>יש לך כרגע {{ club.points }} נקודות בכרטיס {{ club.card_number }}.</p>"
        + "{% else %}<p>עוד לא במועדון? מצטרפים בקופה או באתר ומתחילים לצבור כבר בקנייה הזאת.</p>{% endif %}"
        + RECOMMENDED_HE
        + _button("club", "לפרטים במועדון")
        + _button("stores", "הסניפים שלנו"),
    ),
    "picks": Template(
        name="Weekly picks",
        language="en",
        subject="{{ contact.first_name|default:'Hi' }}, this week's picks for you",
        preheader="New arrivals, restocks and a few favourites",
        html=HELLO_EN
        + "<p>Here is what is new this week, and a few things we think you will like.</p>"
        + RECOMMENDED_EN
        + _button("new", "See what is new")
        + _button("sale", "This week's offers"),
    ),
}

CLUB, RECENT, HEBREW = "Club members", "Bought in the last 90 days", "Hebrew speakers"
SEGMENTS: tuple[SegmentSpec, ...] = (
    SegmentSpec(CLUB, "Contacts with an active club membership.", {"field": "club_member", "op": "is", "value": True}),
    SegmentSpec(
        RECENT,
        "Contacts whose last purchase, in any channel, was in the last 90 days.",
        {"field": "last_purchase", "op": "within_last_days", "value": 90},
    ),
    SegmentSpec(HEBREW, "Contacts who read Hebrew.", {"field": "language", "op": "eq", "value": "he"}),
)

# Oldest first; the holdout campaign is a big seasonal sale, where marketers most want to know what mail added.
MAILINGS: tuple[Mailing, ...] = (
    Mailing(
        name="מבצע סוף עונה",
        utm_campaign="end-of-season-sale",
        template="sale",
        segments=(HEBREW,),
        days_ago=76,
        at=dt.time(10, 0),
        open_rate=0.41,
        click_rate=0.17,
        buy_rate=0.8,
        store_rate=0.3,
        browse_rate=0.12,
        design_cost=900,
        links=("sale", "stores"),
        holdout_percent=10,
        discount=0.2,
    ),
    Mailing(
        name="Weekly picks: new arrivals",
        utm_campaign="weekly-picks-new-arrivals",
        template="picks",
        segments=(CLUB, RECENT),
        exclude=(HEBREW,),
        days_ago=62,
        at=dt.time(9, 30),
        open_rate=0.35,
        click_rate=0.11,
        buy_rate=0.25,
        store_rate=0.02,
        browse_rate=0.01,
        design_cost=1500,
        links=("new", "sale"),
    ),
    Mailing(
        name="סוף שבוע של נקודות כפולות",
        utm_campaign="club-double-points",
        template="club",
        segments=(HEBREW,),
        days_ago=41,
        at=dt.time(11, 0),
        open_rate=0.45,
        click_rate=0.16,
        buy_rate=0.45,
        store_rate=0.12,
        browse_rate=0.02,
        design_cost=1100,
        links=("club", "stores"),
    ),
    Mailing(
        name="Weekly picks: restocks",
        utm_campaign="weekly-picks-restocks",
        template="picks",
        segments=(CLUB, RECENT),
        exclude=(HEBREW,),
        days_ago=20,
        at=dt.time(9, 30),
        open_rate=0.35,
        click_rate=0.13,
        buy_rate=0.3,
        store_rate=0.03,
        browse_rate=0.01,
        design_cost=600,
        links=("new", "sale"),
    ),
    Mailing(
        name="מבצע סוף שבוע",
        utm_campaign="weekend-sale",
        template="sale",
        segments=(HEBREW,),
        days_ago=6,
        at=dt.time(18, 0),
        open_rate=0.39,
        click_rate=0.15,
        buy_rate=0.45,
        store_rate=0.08,
        browse_rate=0.02,
        design_cost=700,
        links=("sale", "stores"),
        discount=0.15,
    ),
)
