"""Who the contacts are: names in Hebrew and English, e-mail and mobile, city, family, sign-up source."""

import datetime as dt

from .base import pick_weighted
from .consent import Consent

HEBREW_FEMALE = [
    ("דנה", "dana"),
    ("נועה", "noa"),
    ("מיכל", "michal"),
    ("יעל", "yael"),
    ("שירה", "shira"),
    ("תמר", "tamar"),
    ("מאיה", "maya"),
    ("רוני", "roni"),
    ("הילה", "hila"),
    ("אורית", "orit"),
    ("ליאת", "liat"),
    ("שני", "shani"),
    ("אביגיל", "avigail"),
    ("עדי", "adi"),
    ("רחל", "rachel"),
    ("אסתר", "esther"),
    ("נטע", "neta"),
    ("טליה", "talia"),
    ("איילת", "ayelet"),
    ("מירב", "meirav"),
]
HEBREW_MALE = [
    ("יוסי", "yossi"),
    ("דוד", "david"),
    ("משה", "moshe"),
    ("אבי", "avi"),
    ("איתי", "itai"),
    ("עומר", "omer"),
    ("נועם", "noam"),
    ("יונתן", "yonatan"),
    ("אורי", "uri"),
    ("אריאל", "ariel"),
    ("דניאל", "daniel"),
    ("רון", "ron"),
    ("גיל", "gil"),
    ("עמית", "amit"),
    ("אלון", "alon"),
    ("יואב", "yoav"),
    ("איתן", "eitan"),
    ("שלמה", "shlomo"),
    ("אברהם", "avraham"),
    ("מתן", "matan"),
]
HEBREW_LAST = [
    ("כהן", "cohen"),
    ("לוי", "levi"),
    ("מזרחי", "mizrahi"),
    ("פרץ", "peretz"),
    ("ביטון", "biton"),
    ("דהן", "dahan"),
    ("אברהם", "avraham"),
    ("פרידמן", "friedman"),
    ("אזולאי", "azulay"),
    ("מלכה", "malka"),
    ("חדד", "hadad"),
    ("גבאי", "gabay"),
    ("שפירא", "shapira"),
    ("קליין", "klein"),
    ("אוחיון", "ohayon"),
    ("יוסף", "yosef"),
    ("בן דוד", "ben-david"),
    ("גולדברג", "goldberg"),
    ("רוזנברג", "rosenberg"),
    ("אשכנזי", "ashkenazi"),
    ("שמעוני", "shimoni"),
    ("ברק", "barak"),
    ("טל", "tal"),
    ("אלמוג", "almog"),
]
ENGLISH_FEMALE = [
    "Emma",
    "Olivia",
    "Sophie",
    "Hannah",
    "Rachel",
    "Emily",
    "Sarah",
    "Jessica",
    "Laura",
    "Rebecca",
    "Natalie",
    "Chloe",
    "Grace",
    "Abigail",
    "Julia",
    "Naomi",
]
ENGLISH_MALE = [
    "James",
    "Michael",
    "Daniel",
    "David",
    "Benjamin",
    "Jonathan",
    "Adam",
    "Ethan",
    "Noah",
    "Samuel",
    "Joshua",
    "Aaron",
    "Matthew",
    "Nathan",
    "Oliver",
    "Jacob",
]
ENGLISH_LAST = [
    "Smith",
    "Johnson",
    "Brown",
    "Miller",
    "Davis",
    "Wilson",
    "Taylor",
    "Anderson",
    "Thomas",
    "Moore",
    "Martin",
    "Green",
    "Baker",
    "Adams",
    "Collins",
    "Stewart",
    "Morris",
    "Cooper",
    "Bennett",
    "Fisher",
    "Gordon",
    "Stone",
]
EMAIL_DOMAINS = ["example.com", "example.net", "example.org", "mail.example.com", "example.co.il"]
SOURCES = [
    ("web_form", 30),
    ("landing_page", 15),
    ("in_store", 30),
    ("social", 10),
    ("import", 7),
    ("api", 5),
    ("referral", 3),
]
SOURCE_DETAILS = {
    "web_form": ["Homepage footer", "Checkout", "Club page"],
    "landing_page": ["pet-owners-guide", "summer-sale", "wedding-gifts", "new-parents-kit", "skin-care-guide"],
    "social": ["Instagram giveaway", "Facebook lead ad", "TikTok campaign"],
    "import": ["Club migration 2022"],
    "api": ["Web shop"],
    "referral": ["Member-get-member"],
}
PHONE_PREFIXES = ["50", "52", "53", "54"]  # with a first subscriber digit 2–9 every number is a valid mobile
PHONE_SPACE = len(PHONE_PREFIXES) * 8_000_000


def phone_for(index: int, seed: int) -> str:
    """A valid Israeli mobile in E.164, unique per contact index (a bijection onto the number space)."""
    n = (index * 9_999_991 + seed * 7_919) % PHONE_SPACE
    prefix, rest = divmod(n, 8_000_000)
    return f"+972{PHONE_PREFIXES[prefix]}{2 + rest // 1_000_000}{rest % 1_000_000:06d}"


class People(Consent):
    """A contact's profile: one dict the other parts of the generator read."""

    def profile(self, index: int) -> dict:
        r = self.r
        p: dict = {}
        roll = r.random()
        p["gender"] = "female" if roll < 0.52 else "male" if roll < 0.98 else "other" if roll < 0.99 else "unknown"
        female = p["gender"] == "female" or (p["gender"] != "male" and r.random() < 0.5)
        if r.random() < 0.6:
            first, first_latin = r.choice(HEBREW_FEMALE if female else HEBREW_MALE)
            last, last_latin = r.choice(HEBREW_LAST)
            p["language"] = "he" if r.random() < 0.95 else "en"
        else:
            first = first_latin = r.choice(ENGLISH_FEMALE if female else ENGLISH_MALE)
            last = last_latin = r.choice(ENGLISH_LAST)
            p["language"] = "en" if r.random() < 0.7 else "he"
        p["first_name"], p["last_name"] = first, last
        has_email = r.random() < 0.92
        p["email"] = (
            (f"{first_latin.lower()}.{last_latin.lower().replace(' ', '')}{index + 1}@{r.choice(EMAIL_DOMAINS)}")
            if has_email
            else None
        )
        p["phone"] = phone_for(index, self.seed) if (not has_email or r.random() < 0.75) else None
        p["external_id"] = f"SHOP-{index + 1:08d}" if r.random() < 0.2 else None
        p["city"], p["region"] = r.choices(self.cat.city_names, weights=self.cat.city_weights)[0]
        p["source"] = pick_weighted(r, SOURCES)
        p["source_detail"] = self.source_detail(p)
        self.family(p)
        self.consent_flags(p)
        p["referred_by"] = None
        if p["source"] == "referral" and index > 0:
            p["referred_by"] = self.state.contact_base + r.randrange(index)
        return p

    def source_detail(self, p: dict) -> str:
        p["home_store"] = self.home_store(p)
        if p["source"] == "in_store":
            return p["home_store"][2]
        return self.r.choice(SOURCE_DETAILS[p["source"]])

    def home_store(self, p: dict) -> tuple:
        near = self.cat.stores_by_city.get(p["city"]) or self.cat.stores_by_region.get(p["region"])
        return self.r.choice(near or self.cat.stores)

    def family(self, p: dict) -> None:
        r = self.r
        age = int(r.triangular(18, 80, 34))
        p["birth_date"] = (
            self.today - dt.timedelta(days=int(age * 365.25) + r.randrange(365)) if r.random() < 0.88 else None
        )
        statuses = [
            ("single", 30),
            ("in_relationship", 12),
            ("married", 40),
            ("divorced", 7),
            ("widowed", 2),
            ("unknown", 9),
        ]
        p["marital_status"] = "single" if age < 21 and r.random() < 0.8 else pick_weighted(r, statuses)
        p["wedding_date"] = None
        if p["marital_status"] == "married" and r.random() < 0.55 and age > 23:
            p["wedding_date"] = self.today - dt.timedelta(days=r.randrange(365, int((age - 21) * 365.25)))
        attributes: dict = {}
        landing = p["source_detail"]
        if landing == "pet-owners-guide" or r.random() < 0.15:
            attributes["pet_type"] = r.choices(["dog", "cat", "bird", "fish", "other"], [45, 40, 5, 5, 5])[0]
        if r.random() < 0.2:
            attributes["shoe_size"] = r.randint(36, 41) if p["gender"] == "female" else r.randint(40, 46)
        if p["marital_status"] == "in_relationship" and (landing == "wedding-gifts" or r.random() < 0.1):
            attributes["wedding_day"] = (self.today + dt.timedelta(days=r.randint(20, 330))).isoformat()
        if landing == "new-parents-kit" or (p["marital_status"] == "married" and r.random() < 0.45):
            attributes["kids_age_group"] = (
                "baby" if landing == "new-parents-kit" else r.choice(["baby", "toddler", "child", "teen"])
            )
        p["attributes"] = attributes
