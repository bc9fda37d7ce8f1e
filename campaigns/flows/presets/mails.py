"""The ready-made flows' mails, each in Hebrew and English.

This is content a marketer edits after creating the flow, not interface text, so it is written here in both
languages rather than through gettext. Variables are the campaign template's (docs/campaigns.md): `contact`,
`club`, `last_purchase`, `recommended`, `site_url`.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Mail:
    name: str
    subject: str
    preheader: str
    html: str


def _shop(label: str) -> str:
    return '<p><a href="{{ site_url }}">' + label + "</a></p>"


RECOMMENDED_HE = (
    "{% if recommended %}<ul>{% for product in recommended %}"
    "<li>{{ product.name }} — ₪{{ product.price }}</li>{% endfor %}</ul>{% endif %}"
)
RECOMMENDED_EN = RECOMMENDED_HE.replace("₪", "ILS ")
RUNNING_OUT_HE = (
    "{% if running_out %}<ul>{% for product in running_out %}"
    "<li>{{ product.name }} — עד {{ product.due_on|date:'d/m' }}</li>{% endfor %}</ul>{% endif %}"
)
RUNNING_OUT_EN = (
    "{% if running_out %}<ul>{% for product in running_out %}"
    "<li>{{ product.name }} — by {{ product.due_on|date:'j M' }}</li>{% endfor %}</ul>{% endif %}"
)
LAST_ITEMS = (
    "{% if last_purchase %}<ul>{% for item in last_purchase.items %}<li>{{ item.name }}</li>{% endfor %}</ul>"
    "{% endif %}"
)
HELLO_HE = "<h1>שלום {{ contact.first_name|default:'חבר/ה' }},</h1>"
HELLO_EN = "<h1>Hi {{ contact.first_name|default:'there' }},</h1>"


def _he(name: str, subject: str, preheader: str, body: str, cta: str) -> Mail:
    return Mail(name, subject, preheader, HELLO_HE + body + _shop(cta))


def _en(name: str, subject: str, preheader: str, body: str, cta: str) -> Mail:
    return Mail(name, subject, preheader, HELLO_EN + body + _shop(cta))


# key → (Hebrew, English)
MAILS: dict[str, tuple[Mail, Mail]] = {
    "welcome_store": (
        _he(
            "ברוכים הבאים (בחנות)",
            "כיף שביקרת אצלנו בחנות!",
            "הנה מה שמחכה לך כחבר/ת מועדון",
            "<p>תודה שעצרת אצלנו בחנות והצטרפת. מעכשיו יגיעו אליך ראשונים מבצעים, קולקציות חדשות והטבות.</p>",
            "לאתר שלנו",
        ),
        _en(
            "Welcome (in store)",
            "Good to see you at the shop!",
            "Here is what is waiting for you",
            "<p>Thank you for stopping by and signing up. From now on you hear first about sales, new collections "
            "and member benefits.</p>",
            "Visit our site",
        ),
    ),
    "welcome_online": (
        _he(
            "ברוכים הבאים (באתר)",
            "תודה שהצטרפת!",
            "שמחים שאת/ה איתנו",
            "<p>תודה שנרשמת. מעכשיו יגיעו אליך ראשונים מבצעים, קולקציות חדשות והטבות.</p>",
            "לקנייה באתר",
        ),
        _en(
            "Welcome (online)",
            "Thanks for joining!",
            "We are glad you are here",
            "<p>Thanks for signing up. From now on you hear first about sales, new collections and member "
            "benefits.</p>",
            "Shop now",
        ),
    ),
    "welcome_club": (
        _he(
            "ברוכים הבאים: המועדון",
            "כל מה שהמועדון נותן לך",
            "נקודות, הטבת יום הולדת ומבצעים לחברים בלבד",
            "<p>כחבר/ת מועדון צוברים נקודות על כל קנייה, מקבלים מתנה ביום ההולדת ונהנים ממבצעים לחברים בלבד."
            "{% if club %} יש לך כבר {{ club.points }} נקודות.{% endif %}</p>",
            "להטבות המועדון",
        ),
        _en(
            "Welcome: the club",
            "Everything the club gives you",
            "Points, a birthday gift and members-only sales",
            "<p>Members earn points on every purchase, get a birthday gift and enjoy members-only sales."
            "{% if club %} You already have {{ club.points }} points.{% endif %}</p>",
            "See member benefits",
        ),
    ),
    "birthday": (
        _he(
            "יום הולדת",
            "יום הולדת שמח, {{ contact.first_name|default:'חבר/ה' }}!",
            "מתנה קטנה מאיתנו מחכה לך",
            "<p>מאחלים לך שנה נהדרת!{% if club %} הוספנו לך נקודות מתנה, ועכשיו יש לך {{ club.points }} נקודות."
            "{% endif %}</p>",
            "לממש את המתנה",
        ),
        _en(
            "Birthday",
            "Happy birthday, {{ contact.first_name|default:'friend' }}!",
            "A small gift from us is waiting",
            "<p>Wishing you a wonderful year!{% if club %} We added gift points: you now have {{ club.points }} "
            "points.{% endif %}</p>",
            "Use your gift",
        ),
    ),
    "wedding_anniversary": (
        _he(
            "יום נישואין",
            "יום הנישואין שלכם מתקרב",
            "כמה רעיונות למתנה",
            "<p>בעוד שבוע יום הנישואין שלכם. כמה רעיונות שאולי יאהבו:</p>" + RECOMMENDED_HE,
            "לכל המתנות",
        ),
        _en(
            "Wedding anniversary",
            "Your anniversary is coming up",
            "A few gift ideas",
            "<p>Your wedding anniversary is a week away. A few ideas they might love:</p>" + RECOMMENDED_EN,
            "See all gifts",
        ),
    ),
    "club_anniversary": (
        _he(
            "שנה במועדון",
            "עוד שנה ביחד!",
            "תודה שאת/ה איתנו",
            "<p>היום לפני שנה הצטרפת למועדון. תודה! הוספנו לך נקודות מתנה"
            "{% if club %}, ועכשיו יש לך {{ club.points }} נקודות{% endif %}.</p>",
            "לקנייה עם הנקודות",
        ),
        _en(
            "A year in the club",
            "Another year together!",
            "Thank you for being with us",
            "<p>You joined the club on this day. Thank you! We added gift points"
            "{% if club %}: you now have {{ club.points }} points{% endif %}.</p>",
            "Spend your points",
        ),
    ),
    "cart_reminder": (
        _he(
            "עגלה נטושה: תזכורת",
            "שכחת משהו בעגלה?",
            "הפריטים שבחרת עדיין מחכים לך",
            "<p>הפריטים שבחרת עדיין בעגלה. אפשר להשלים את ההזמנה בכמה קליקים.</p>",
            "חזרה לעגלה",
        ),
        _en(
            "Abandoned cart: reminder",
            "Did you forget something?",
            "The items you picked are still waiting",
            "<p>The items you picked are still in your cart. You can finish your order in a few clicks.</p>",
            "Back to my cart",
        ),
    ),
    "cart_last_call": (
        _he(
            "עגלה נטושה: הזדמנות אחרונה",
            "העגלה שלך עומדת להתרוקן",
            "עוד אפשר להשלים את ההזמנה",
            "<p>שמרנו את העגלה שלך, אבל לא לתמיד. אולי גם אלה יתאימו לך:</p>" + RECOMMENDED_HE,
            "להשלמת ההזמנה",
        ),
        _en(
            "Abandoned cart: last call",
            "Your cart is about to expire",
            "There is still time to finish your order",
            "<p>We kept your cart, but not forever. You might also like:</p>" + RECOMMENDED_EN,
            "Finish my order",
        ),
    ),
    "complementary": (
        _he(
            "אחרי קנייה ראשונה: מוצרים משלימים",
            "מה עוד יתאים למה שקנית",
            "בחרנו בשבילך כמה מוצרים משלימים",
            "<p>תודה על הקנייה הראשונה! כמה מוצרים שמשתלבים בה:</p>" + RECOMMENDED_HE,
            "לכל המוצרים",
        ),
        _en(
            "After a first purchase: complementary products",
            "What goes well with your purchase",
            "We picked a few complementary products",
            "<p>Thank you for your first purchase! A few products that go well with it:</p>" + RECOMMENDED_EN,
            "See all products",
        ),
    ),
    "replenishment": (
        _he(
            "תזכורת חידוש מלאי",
            "הגיע הזמן לחדש מלאי?",
            "לפי הקניות שלך, עוד מעט ייגמר",
            "<p>לפי הקניות שלך, המוצרים האלה עומדים להיגמר:</p>" + RUNNING_OUT_HE,
            "להזמנה חוזרת",
        ),
        _en(
            "Replenishment reminder",
            "Time to restock?",
            "Going by your orders, you will run out soon",
            "<p>Going by your orders, these are about to run out:</p>" + RUNNING_OUT_EN,
            "Order again",
        ),
    ),
    "winback_miss_you": (
        _he(
            "החזרת לקוחות: התגעגענו",
            "התגעגענו אליך",
            "יש הרבה חדש מאז הביקור האחרון",
            "<p>עבר זמן מאז הקנייה האחרונה שלך, ויש אצלנו הרבה חדש:</p>" + RECOMMENDED_HE,
            "לחדשים שלנו",
        ),
        _en(
            "Win-back: we miss you",
            "We miss you",
            "A lot is new since your last visit",
            "<p>It has been a while since your last order, and a lot is new:</p>" + RECOMMENDED_EN,
            "See what is new",
        ),
    ),
    "winback_offer": (
        _he(
            "החזרת לקוחות: הטבה",
            "הטבה מיוחדת רק בשבילך",
            "כי אנחנו רוצים לראות אותך שוב",
            "<p>הכנו לך הטבה לקנייה הבאה. מחכים לך!</p>",
            "לממש את ההטבה",
        ),
        _en(
            "Win-back: an offer",
            "A special offer just for you",
            "Because we would love to see you again",
            "<p>We have an offer waiting for your next order. See you soon!</p>",
            "Use the offer",
        ),
    ),
    "interested_first": (
        _he(
            "מתעניינים: היכרות",
            "ראינו שהתעניינת",
            "כמה מוצרים שאולי יתאימו לך",
            "<p>ראינו שהסתכלת אצלנו על כמה מוצרים. הנה כמה שלקוחות כמוך אוהבים:</p>" + RECOMMENDED_HE,
            "לכל המוצרים",
        ),
        _en(
            "Interested: first note",
            "Saw something you liked?",
            "A few products you might like",
            "<p>You were looking at a few of our products. Here are some that customers like you love:</p>"
            + RECOMMENDED_EN,
            "See all products",
        ),
    ),
    "interested_second": (
        _he(
            "מתעניינים: לא נפתח, ניסיון שני",
            "{{ contact.first_name|default:'היי' }}, שמרנו לך משהו",
            "מוצרים שנבחרו במיוחד בשבילך",
            "<p>אולי פספסת את ההודעה הקודמת שלנו. בחרנו בשבילך:</p>" + RECOMMENDED_HE,
            "להצצה",
        ),
        _en(
            "Interested: not opened, second try",
            "{{ contact.first_name|default:'Hi' }}, we saved something for you",
            "Products picked just for you",
            "<p>You may have missed our last note. We picked these for you:</p>" + RECOMMENDED_EN,
            "Take a look",
        ),
    ),
    "review_request": (
        _he(
            "אחרי קנייה: בקשת ביקורת",
            "איך היה?",
            "נשמח לשמוע מה דעתך",
            "<p>נשמח לשמוע מה דעתך על הקנייה האחרונה שלך:</p>" + LAST_ITEMS,
            "לכתוב ביקורת",
        ),
        _en(
            "After a purchase: review request",
            "How was it?",
            "We would love to hear what you think",
            "<p>We would love to hear what you think of your last order:</p>" + LAST_ITEMS,
            "Write a review",
        ),
    ),
    "referral_request": (
        _he(
            "אחרי ביקורת: הזמנת חברים",
            "תודה על הביקורת! רוצה לשתף חבר/ה?",
            "חברים שמצטרפים דרכך מקבלים הטבה, וגם את/ה",
            "<p>תודה שכתבת לנו ביקורת. הזמינו חבר/ה: הם מקבלים הטבה בהצטרפות, וגם את/ה.</p>",
            "להזמנת חברים",
        ),
        _en(
            "After a review: referral request",
            "Thanks for your review! Share it with a friend?",
            "Friends who join through you get a gift, and so do you",
            "<p>Thank you for your review. Invite a friend: they get a gift when they join, and so do you.</p>",
            "Invite a friend",
        ),
    ),
}
