"""A deterministic, realistic demo data set for a retail club.

`seed_demo(contacts=N, seed=S)` fills an empty database with an Israeli retail chain's audience:
Hebrew and English names, cities with their districts, +972 mobiles, stores, a catalogue with
replenishment cycles, purchases online and in store, site activity along the funnel, club members
with a points ledger, consent with its log, tags and custom fields.

Determinism: the same seed gives the same rows. Random numbers come from one generator per chunk
of contacts, seeded from (seed, chunk number), so the data never depends on memory or speed.
Timestamps are offsets back from an anchor, by default midnight at the start of today in
TIME_ZONE: two runs on the same day are identical, and the data set always ends "now" so
lifecycle stages (new, active, at risk, lapsed) are meaningful whenever it is loaded.

Scale: rows are generated one chunk of contacts at a time and written in bulk — COPY on
PostgreSQL, bulk_create elsewhere — so memory stays bounded at any size. Derived fields (purchase
aggregates, funnel stage, RFM) are then set by the set-based services, in id ranges.
"""
import datetime as dt
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection, models, transaction
from django.db.models import Exists, F, Max, OuterRef
from django.utils import timezone

from . import services
from .models import (
    Activity,
    ConsentEvent,
    Contact,
    CustomField,
    LoyaltyMember,
    PointsEntry,
    Product,
    Purchase,
    PurchaseItem,
    Store,
)

DEFAULT_CONTACTS = 2_000
DEFAULT_SEED = 42
CHUNK = 5_000
DERIVED_BATCH = 10_000
DAY = 86_400

HEBREW_FEMALE = [
    ("דנה", "dana"), ("נועה", "noa"), ("מיכל", "michal"), ("יעל", "yael"), ("שירה", "shira"),
    ("תמר", "tamar"), ("מאיה", "maya"), ("רוני", "roni"), ("הילה", "hila"), ("אורית", "orit"),
    ("ליאת", "liat"), ("שני", "shani"), ("אביגיל", "avigail"), ("עדי", "adi"), ("רחל", "rachel"),
    ("אסתר", "esther"), ("נטע", "neta"), ("טליה", "talia"), ("איילת", "ayelet"), ("מירב", "meirav"),
]
HEBREW_MALE = [
    ("יוסי", "yossi"), ("דוד", "david"), ("משה", "moshe"), ("אבי", "avi"), ("איתי", "itai"),
    ("עומר", "omer"), ("נועם", "noam"), ("יונתן", "yonatan"), ("אורי", "uri"), ("אריאל", "ariel"),
    ("דניאל", "daniel"), ("רון", "ron"), ("גיל", "gil"), ("עמית", "amit"), ("אלון", "alon"),
    ("יואב", "yoav"), ("איתן", "eitan"), ("שלמה", "shlomo"), ("אברהם", "avraham"), ("מתן", "matan"),
]
HEBREW_LAST = [
    ("כהן", "cohen"), ("לוי", "levi"), ("מזרחי", "mizrahi"), ("פרץ", "peretz"), ("ביטון", "biton"),
    ("דהן", "dahan"), ("אברהם", "avraham"), ("פרידמן", "friedman"), ("אזולאי", "azulay"), ("מלכה", "malka"),
    ("חדד", "hadad"), ("גבאי", "gabay"), ("שפירא", "shapira"), ("קליין", "klein"), ("אוחיון", "ohayon"),
    ("יוסף", "yosef"), ("בן דוד", "ben-david"), ("גולדברג", "goldberg"), ("רוזנברג", "rosenberg"),
    ("אשכנזי", "ashkenazi"), ("שמעוני", "shimoni"), ("ברק", "barak"), ("טל", "tal"), ("אלמוג", "almog"),
]
ENGLISH_FEMALE = ["Emma", "Olivia", "Sophie", "Hannah", "Rachel", "Emily", "Sarah", "Jessica", "Laura",
                  "Rebecca", "Natalie", "Chloe", "Grace", "Abigail", "Julia", "Naomi"]
ENGLISH_MALE = ["James", "Michael", "Daniel", "David", "Benjamin", "Jonathan", "Adam", "Ethan", "Noah",
                "Samuel", "Joshua", "Aaron", "Matthew", "Nathan", "Oliver", "Jacob"]
ENGLISH_LAST = ["Smith", "Johnson", "Brown", "Miller", "Davis", "Wilson", "Taylor", "Anderson", "Thomas",
                "Moore", "Martin", "Green", "Baker", "Adams", "Collins", "Stewart", "Morris", "Cooper",
                "Bennett", "Fisher", "Gordon", "Stone"]
EMAIL_DOMAINS = ["example.com", "example.net", "example.org", "mail.example.com", "example.co.il"]

# (city, district, weight); kibbutzim are their own localities, as in the national registry.
CITIES = [
    ("Tel Aviv", "Tel Aviv District", 14), ("Jerusalem", "Jerusalem District", 12),
    ("Haifa", "Haifa District", 8), ("Be'er Sheva", "Southern District", 6),
    ("Rishon LeZion", "Central District", 7), ("Petah Tikva", "Central District", 7),
    ("Netanya", "Central District", 6), ("Ashdod", "Southern District", 6), ("Holon", "Tel Aviv District", 5),
    ("Ramat Gan", "Tel Aviv District", 5), ("Herzliya", "Tel Aviv District", 3), ("Ra'anana", "Central District", 3),
    ("Kfar Saba", "Central District", 3), ("Rehovot", "Central District", 3), ("Modi'in", "Central District", 3),
    ("Ashkelon", "Southern District", 3), ("Eilat", "Southern District", 2), ("Nazareth", "Northern District", 2),
    ("Karmiel", "Northern District", 2), ("Tiberias", "Northern District", 1), ("Hadera", "Haifa District", 2),
    ("Beit Shemesh", "Jerusalem District", 2), ("Kibbutz Ein Gedi", "Southern District", 0.3),
    ("Kibbutz Yotvata", "Southern District", 0.3), ("Kibbutz Hatzerim", "Southern District", 0.3),
    ("Kibbutz Degania Alef", "Northern District", 0.4), ("Kibbutz Kfar Giladi", "Northern District", 0.3),
    ("Kibbutz Ma'agan Michael", "Haifa District", 0.4), ("Kibbutz Shefayim", "Central District", 0.4),
]
STORES = [
    ("TLV-01", "Tel Aviv – Dizengoff Center", "Tel Aviv", "Tel Aviv District"),
    ("TLV-02", "Tel Aviv – Ramat Aviv Mall", "Tel Aviv", "Tel Aviv District"),
    ("JLM-01", "Jerusalem – Malha Mall", "Jerusalem", "Jerusalem District"),
    ("HFA-01", "Haifa – Grand Canyon", "Haifa", "Haifa District"),
    ("BSV-01", "Be'er Sheva – Grand Kenyon", "Be'er Sheva", "Southern District"),
    ("RLZ-01", "Rishon LeZion – Rishonim Mall", "Rishon LeZion", "Central District"),
    ("PTK-01", "Petah Tikva – Ofer Grand Mall", "Petah Tikva", "Central District"),
    ("NTN-01", "Netanya – Ir Yamim Mall", "Netanya", "Central District"),
    ("ASD-01", "Ashdod – Star Center", "Ashdod", "Southern District"),
    ("HRZ-01", "Herzliya – Seven Stars Mall", "Herzliya", "Tel Aviv District"),
    ("ELT-01", "Eilat – Ice Mall", "Eilat", "Southern District"),
    ("KRM-01", "Karmiel – Lev Karmiel", "Karmiel", "Northern District"),
]
# (sku, name, category, price in agorot, replenishment days)
PRODUCTS = [
    ("LENS-MONTHLY", "Monthly contact lenses, pair", "contact lenses", 8990, 30),
    ("LENS-DAILY30", "Daily contact lenses, 30 pack", "contact lenses", 11990, 30),
    ("LENS-SOLUTION", "Lens solution 360 ml", "contact lenses", 3990, 60),
    ("SHAMPOO-ARGAN", "Argan oil shampoo", "hair care", 3490, 45),
    ("SHAMPOO-KIDS", "Kids' tear-free shampoo", "hair care", 2490, 45),
    ("COND-REPAIR", "Repair conditioner", "hair care", 3690, 45),
    ("HAIR-DRYER", "Ionic hair dryer", "hair care", 24900, None),
    ("CAPS-ESPRESSO", "Espresso capsules, 50", "coffee", 7990, 21),
    ("CAPS-LUNGO", "Lungo capsules, 50", "coffee", 7990, 21),
    ("COFFEE-BEANS", "Single-origin coffee beans 1 kg", "coffee", 11900, 30),
    ("COFFEE-MACHINE", "Capsule coffee machine", "coffee", 59900, None),
    ("PET-DOG-FOOD", "Dry dog food 12 kg", "pet", 22990, 40),
    ("PET-CAT-FOOD", "Cat food 7 kg", "pet", 16990, 35),
    ("PET-LITTER", "Clumping cat litter 10 l", "pet", 4990, 20),
    ("PET-TOY", "Chew toy", "pet", 2990, None),
    ("BABY-DIAPERS", "Diapers size 3, 90", "baby", 8990, 14),
    ("BABY-WIPES", "Baby wipes, 12 packs", "baby", 5990, 30),
    ("BABY-FORMULA", "Infant formula 700 g", "baby", 7490, 10),
    ("BABY-STROLLER", "Lightweight stroller", "baby", 129000, None),
    ("SKIN-SPF50", "Sunscreen SPF 50", "skin care", 6990, 60),
    ("SKIN-MOIST", "Daily moisturizer", "skin care", 9990, 45),
    ("SKIN-SERUM", "Vitamin C serum", "skin care", 14990, 60),
    ("SKIN-MUDMASK", "Dead Sea mud mask", "skin care", 5990, None),
    ("VIT-D3", "Vitamin D3, 90 tablets", "vitamins", 4990, 90),
    ("VIT-OMEGA3", "Omega-3, 60 capsules", "vitamins", 7990, 60),
    ("VIT-MULTI", "Multivitamin, 30 tablets", "vitamins", 5990, 30),
    ("SHOE-RUNNING", "Running shoes", "footwear", 45900, None),
    ("SHOE-SANDALS", "Leather sandals", "footwear", 29900, None),
    ("SOCKS-SPORT", "Sport socks, 3 pairs", "apparel", 3990, None),
    ("TSHIRT-COTTON", "Cotton T-shirt", "apparel", 7990, None),
    ("HOME-CANDLE", "Scented candle", "home", 4990, None),
    ("HOME-DIFFUSER", "Aroma diffuser", "home", 18900, None),
    ("HOME-DETERGENT", "Laundry detergent 3 l", "home", 4490, 30),
    ("GIFT-CARD-100", "Gift card ₪100", "gifts", 10000, None),
    ("GIFT-SHABBAT", "Shabbat gift set", "gifts", 14900, None),
    ("GIFT-WEDDING", "Wedding gift box", "gifts", 34900, None),
]
CUSTOM_FIELDS = [
    ("pet_type", "Pet type", CustomField.Type.CHOICE, ["dog", "cat", "bird", "fish", "other"]),
    ("shoe_size", "Shoe size (EU)", CustomField.Type.NUMBER, []),
    ("wedding_day", "Wedding day", CustomField.Type.DATE, []),
    ("kids_age_group", "Children's age group", CustomField.Type.CHOICE, ["baby", "toddler", "child", "teen"]),
]
TAGS = ["vip", "newsletter", "pet owner", "new parent", "runner", "coffee lover"]
SOURCES = [("web_form", 30), ("landing_page", 15), ("in_store", 30), ("social", 10), ("import", 7),
           ("api", 5), ("referral", 3)]
SOURCE_DETAILS = {
    "web_form": ["Homepage footer", "Checkout", "Club page"],
    "landing_page": ["pet-owners-guide", "summer-sale", "wedding-gifts", "new-parents-kit", "skin-care-guide"],
    "social": ["Instagram giveaway", "Facebook lead ad", "TikTok campaign"],
    "import": ["Club migration 2022"],
    "api": ["Web shop"],
    "referral": ["Member-get-member"],
}
GUIDE_BY_LANDING = {"pet-owners-guide": "PET-DOG-FOOD", "new-parents-kit": "BABY-DIAPERS",
                    "skin-care-guide": "SKIN-SERUM", "wedding-gifts": "GIFT-WEDDING", "summer-sale": "SKIN-SPF50"}
PAGES = ["", "sale", "club", "stores", "blog/summer-skin-care", "blog/coffee-at-home", "category/pet", "category/baby",
         "category/coffee", "category/contact-lenses", "search?q=shampoo"]
SHOP = "https://shop.example.com/"
CONSENT_TEXT = {
    "he": "אני מאשר/ת לקבל עדכונים והטבות מהמועדון",
    "en": "Yes, send me club news and offers",
}
# Highest funnel layer reached, as shares of contacts: a pyramid (visitors > interested > cart > purchasers).
STAGE_VALUES = {"none": 0, "visitor": 1, "interested": 2, "cart": 3, "purchaser": 4}
STAGE_SHARES = [("purchaser", 0.20), ("cart", 0.21), ("interested", 0.24), ("visitor", 0.30), ("none", 0.05)]
PHONE_PREFIXES = ["50", "52", "53", "54"]  # with a first subscriber digit 2–9 every number is a valid mobile
PHONE_SPACE = len(PHONE_PREFIXES) * 8_000_000


@dataclass
class Catalogue:
    stores: list  # (id, code, name, city, region)
    products: list  # (id, sku, category, price agorot, replenishment days)
    sku: dict  # sku → product tuple
    replenishable: list
    stores_by_city: dict
    stores_by_region: dict
    tags: dict  # name → id
    city_names: list
    city_weights: list


@dataclass
class Result:
    contacts: int = 0
    purchases: int = 0
    items: int = 0
    events: int = 0
    members: int = 0
    points_entries: int = 0
    consent_events: int = 0
    skipped: bool = False


@dataclass
class Rows:
    """Rows of one chunk, per table, in the column order of FIELDS."""

    contacts: list = field(default_factory=list)
    purchases: list = field(default_factory=list)
    items: list = field(default_factory=list)
    events: list = field(default_factory=list)
    members: list = field(default_factory=list)
    points: list = field(default_factory=list)
    consent: list = field(default_factory=list)
    tags: list = field(default_factory=list)


TagLink = Contact.tags.through
FIELDS = {
    "contacts": (Contact, (
        "id", "email", "phone", "external_id", "first_name", "last_name", "gender", "birth_date", "wedding_date",
        "marital_status", "city", "region", "country", "language", "source", "source_detail", "signed_up_at",
        "attributes", "email_opt_in", "sms_opt_in", "email_status", "referred_by_id", "funnel_stage",
        "purchase_count", "total_spent", "created_at", "updated_at")),
    "purchases": (Purchase, ("id", "contact_id", "source", "external_id", "channel", "store_id", "purchased_at",
                             "total", "currency", "created_at")),
    "items": (PurchaseItem, ("purchase_id", "product_id", "quantity", "unit_price")),
    "events": (Activity, ("contact_id", "anonymous_id", "type", "occurred_at", "product_id", "url", "properties",
                          "created_at")),
    "members": (LoyaltyMember, ("id", "contact_id", "card_number", "tier", "status", "joined_at", "home_store_id",
                                "points")),
    "points": (PointsEntry, ("member_id", "delta", "balance_after", "reason", "reference", "created_at")),
    "consent": (ConsentEvent, ("contact_id", "channel", "granted", "source", "text_shown", "occurred_at")),
    "tags": (TagLink, ("contact_id", "tag_id")),
}


def default_anchor() -> dt.datetime:
    """Midnight at the start of today in TIME_ZONE, in UTC."""
    local = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    return local.astimezone(dt.timezone.utc)


def demo_data_present() -> bool:
    """The demo set is only loaded into a database without contacts, so any contact means 'already there'."""
    return Contact.objects.exists()


def seed_demo(*, contacts: int = DEFAULT_CONTACTS, seed: int = DEFAULT_SEED, anchor: dt.datetime | None = None,
              progress: Callable[[int, int], None] | None = None) -> Result:
    """Load the demo data set unless contacts exist already; all of it or nothing (one transaction)."""
    if demo_data_present():
        return Result(skipped=True)
    anchor = anchor or default_anchor()
    with transaction.atomic():
        catalogue = catalogue_ensure()
        writer = Writer()
        result = Result()
        state = _State(contact_base=_next_id(Contact), purchase_base=_next_id(Purchase),
                       member_base=_next_id(LoyaltyMember))
        for chunk_no, start in enumerate(range(0, contacts, CHUNK)):
            size = min(CHUNK, contacts - start)
            rng = random.Random(f"demo:{seed}:{chunk_no}")
            rows = _Chunk(rng, catalogue, anchor, state, seed).generate(start, size)
            writer.write_all(rows, result)
            if progress:
                progress(start + size, contacts)
        writer.reset_sequences()
        derived_refresh(state.contact_base, state.contact_base + contacts)
    return result


def derived_refresh(lo: int, hi: int) -> None:
    """Purchase aggregates, funnel stage and RFM through the services' set-based expressions.

    Only buyers need the purchase refresh (everyone else keeps the defaults: no purchases,
    hence prospects). The funnel stage the generator wrote is checked against `funnel_stage_case` and
    only rows that differ are written, so a million contacts are not rewritten for nothing.
    """
    has_purchase = Exists(Purchase.objects.filter(contact=OuterRef("pk")))
    for start in range(lo, hi, DERIVED_BATCH):
        chunk = Contact.objects.filter(pk__gte=start, pk__lt=min(start + DERIVED_BATCH, hi))
        buyers = list(chunk.filter(has_purchase).values_list("pk", flat=True))
        services.contacts_refresh_purchase_stats(contact_ids=buyers)
        stage = services.funnel_stage_case()
        chunk.alias(stage=stage).exclude(funnel_stage=F("stage")).update(funnel_stage=stage)
    services.rfm_breakpoints_compute()
    for start in range(lo, hi, DERIVED_BATCH):
        services.rfm_apply(Contact.objects.filter(pk__gte=start, pk__lt=min(start + DERIVED_BATCH, hi),
                                                  purchase_count__gt=0))


def _next_id(model: type[models.Model]) -> int:
    return (model.objects.aggregate(m=Max("pk"))["m"] or 0) + 1


def catalogue_ensure() -> Catalogue:
    """Stores, products, tags and custom fields: created if missing, left alone if present."""
    for code, name, city, region in STORES:
        Store.objects.get_or_create(code=code, defaults={"name": name, "city": city, "region": region})
    for sku, name, category, price, days in PRODUCTS:
        Product.objects.get_or_create(sku=sku, defaults={
            "name": name, "category": category, "price": Decimal(price).scaleb(-2), "replenishment_days": days})
    for key, label, kind, choices in CUSTOM_FIELDS:
        CustomField.objects.get_or_create(key=key, defaults={"label": label, "type": kind, "choices": choices})
    tags = {t.name.lower(): t.pk for t in services.tags_get_or_create(TAGS)}
    stores = [(s.pk, s.code, s.name, s.city, s.region) for s in Store.objects.filter(
        code__in=[s[0] for s in STORES]).order_by("code")]
    by_sku = {p.sku: p for p in Product.objects.filter(sku__in=[p[0] for p in PRODUCTS])}
    products = [(by_sku[sku].pk, sku, category, price, days) for sku, _n, category, price, days in PRODUCTS]
    stores_by_city: dict = {}
    stores_by_region: dict = {}
    for store in stores:
        stores_by_city.setdefault(store[3], []).append(store)
        stores_by_region.setdefault(store[4], []).append(store)
    return Catalogue(
        stores=stores, products=products, sku={p[1]: p for p in products},
        replenishable=[p for p in products if p[4]], stores_by_city=stores_by_city,
        stores_by_region=stores_by_region, tags=tags, city_names=[(c[0], c[1]) for c in CITIES],
        city_weights=[c[2] for c in CITIES],
    )


@dataclass
class _State:
    """Counters that run across chunks, so ids and external ids are unique and stable."""

    contact_base: int
    purchase_base: int
    member_base: int
    purchases: int = 0
    members: int = 0
    anonymous: int = 0


class Writer:
    """Bulk writes: COPY on PostgreSQL (fast at millions of rows), bulk_create elsewhere."""

    def __init__(self) -> None:
        self.copy = connection.vendor == "postgresql"

    def write_all(self, rows: Rows, result: Result) -> None:
        for name in ("contacts", "purchases", "items", "events", "members", "points", "consent", "tags"):
            model, fields = FIELDS[name]
            self.write(model, fields, getattr(rows, name))
        result.contacts += len(rows.contacts)
        result.purchases += len(rows.purchases)
        result.items += len(rows.items)
        result.events += len(rows.events)
        result.members += len(rows.members)
        result.points_entries += len(rows.points)
        result.consent_events += len(rows.consent)

    def write(self, model: type[models.Model], fields: Sequence[str], rows: list) -> None:
        if not rows:
            return
        if self.copy:
            self._copy(model, fields, rows)
        else:
            model.objects.bulk_create([model(**dict(zip(fields, row))) for row in rows], batch_size=CHUNK)

    def _copy(self, model: type[models.Model], fields: Sequence[str], rows: list) -> None:
        meta = model._meta
        columns = [meta.get_field(f).column for f in fields]
        json_at = [i for i, f in enumerate(fields) if isinstance(meta.get_field(f), models.JSONField)]
        quote = connection.ops.quote_name
        sql = f"COPY {quote(meta.db_table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            for row in rows:
                if json_at:
                    row = list(row)
                    for i in json_at:
                        row[i] = json.dumps(row[i], ensure_ascii=False)
                copy.write_row(row)

    def reset_sequences(self) -> None:
        """Rows were written with explicit ids; move the id sequences past them."""
        from django.core.management.color import no_style

        statements = connection.ops.sequence_reset_sql(no_style(), [Contact, Purchase, LoyaltyMember])
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


def _pick_weighted(rng: random.Random, pairs: list) -> str:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def phone_for(index: int, seed: int) -> str:
    """A valid Israeli mobile in E.164, unique per contact index (a bijection onto the number space)."""
    n = (index * 9_999_991 + seed * 7_919) % PHONE_SPACE
    prefix, rest = divmod(n, 8_000_000)
    return f"+972{PHONE_PREFIXES[prefix]}{2 + rest // 1_000_000}{rest % 1_000_000:06d}"


class _Chunk:
    """Generates the rows of one chunk of contacts from its own random generator."""

    def __init__(self, rng: random.Random, catalogue: Catalogue, anchor: dt.datetime, state: _State,
                 seed: int) -> None:
        self.r = rng
        self.cat = catalogue
        self.anchor = anchor
        self.state = state
        self.seed = seed
        self.rows = Rows()
        self.today = timezone.localtime(anchor).date()

    def at(self, seconds_ago: float) -> dt.datetime:
        return self.anchor - dt.timedelta(seconds=int(seconds_ago))

    def generate(self, start: int, size: int) -> Rows:
        plan = []
        for stage, share in STAGE_SHARES:
            plan += [stage] * round(share * size)
        plan = (plan + ["visitor"] * size)[:size]
        self.r.shuffle(plan)
        for offset, stage in enumerate(plan):
            self.contact(start + offset, stage)
        self.anonymous_visitors(max(1, size // 5))
        return self.rows

    # ------------------------------------------------------------ contact profile

    def contact(self, index: int, stage: str) -> None:
        r = self.r
        contact_id = self.state.contact_base + index
        profile = self.profile(index)
        signup_ago = 1095 * DAY * r.random() ** 1.3 + 3600
        signed_up_at = self.at(signup_ago)
        buying = self.purchases(contact_id, profile, stage, signup_ago) if stage == "purchaser" else []
        self.activity(contact_id, profile, stage, signup_ago, buying)
        total = sum(b[1] for b in buying)
        self.rows.contacts.append((
            contact_id, profile["email"], profile["phone"], profile["external_id"], profile["first_name"],
            profile["last_name"], profile["gender"], profile["birth_date"], profile["wedding_date"],
            profile["marital_status"], profile["city"], profile["region"], "IL", profile["language"],
            profile["source"], profile["source_detail"], signed_up_at, profile["attributes"],
            profile["email_opt_in"], profile["sms_opt_in"], profile["email_status"], profile["referred_by"],
            STAGE_VALUES[stage], 0, Decimal(0), signed_up_at, self.anchor,
        ))
        self.consent(contact_id, profile, signup_ago)
        if stage == "purchaser":
            member = r.random() < 0.85
        else:
            member = stage != "none" and r.random() < 0.3
        tier = self.membership(contact_id, index, profile, signup_ago, buying) if member else None
        self.tag(contact_id, profile, buying, total, tier)

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
        p["email"] = (f"{first_latin.lower()}.{last_latin.lower().replace(' ', '')}{index + 1}@"
                      f"{r.choice(EMAIL_DOMAINS)}") if has_email else None
        p["phone"] = phone_for(index, self.seed) if (not has_email or r.random() < 0.75) else None
        p["external_id"] = f"SHOP-{index + 1:08d}" if r.random() < 0.2 else None
        p["city"], p["region"] = r.choices(self.cat.city_names, weights=self.cat.city_weights)[0]
        p["source"] = _pick_weighted(r, SOURCES)
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
        p["birth_date"] = (self.today - dt.timedelta(days=int(age * 365.25) + r.randrange(365))
                           if r.random() < 0.88 else None)
        statuses = [("single", 30), ("in_relationship", 12), ("married", 40), ("divorced", 7), ("widowed", 2),
                    ("unknown", 9)]
        p["marital_status"] = "single" if age < 21 and r.random() < 0.8 else _pick_weighted(r, statuses)
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
            attributes["kids_age_group"] = "baby" if landing == "new-parents-kit" else r.choice(
                ["baby", "toddler", "child", "teen"])
        p["attributes"] = attributes

    def consent_flags(self, p: dict) -> None:
        r = self.r
        p["email_status"] = "active"
        p["email_opt_in"] = bool(p["email"]) and r.random() < 0.6
        p["sms_opt_in"] = bool(p["phone"]) and r.random() < 0.45
        p["unsubscribed"] = False
        if p["email"]:
            roll = r.random()
            if roll < 0.06:
                p["email_status"], p["unsubscribed"], p["email_opt_in"] = "unsubscribed", True, False
            elif roll < 0.08:
                p["email_status"] = "bounced"
            elif roll < 0.085:
                p["email_status"], p["email_opt_in"] = "complained", False

    # ------------------------------------------------------------ behaviour

    def purchases(self, contact_id: int, p: dict, stage: str, signup_ago: float) -> list:
        """Purchases of one purchaser: (time ago, total agorot, channel); rows go to the chunk."""
        r = self.r
        state = r.choices(["new", "active", "at_risk", "lapsed"], [8, 37, 17, 38])[0]
        if state == "new":
            count = r.randint(1, 2)
            last_ago = r.uniform(0.2, 20) * DAY
            first_ago = min(signup_ago, last_ago + r.uniform(0, 8) * DAY)
        else:
            count = 1 + int(r.expovariate(1 / 16.5))
            low, high = {"active": (0.2, 88), "at_risk": (92, 178), "lapsed": (182, 1000)}[state]
            last_ago = min(r.uniform(low, high) * DAY, signup_ago * r.uniform(0.3, 1.0))
            first_ago = signup_ago - r.uniform(0, 0.1) * (signup_ago - last_ago)
        habit = self.habit(p)
        online_share = r.choice([0.1, 0.35, 0.7])
        bought = []
        for n in range(count):
            ago = last_ago if n == 0 else r.uniform(last_ago, first_ago) if n < count - 1 else first_ago
            roll = r.random()
            channel = "online" if roll < online_share else "app" if roll < online_share + 0.08 else "in_store"
            bought.append(self.purchase(contact_id, p, ago, channel, habit))
        return bought

    def habit(self, p: dict) -> tuple | None:
        attributes = p["attributes"]
        if attributes.get("pet_type") in ("dog", "cat"):
            return self.cat.sku["PET-DOG-FOOD" if attributes["pet_type"] == "dog" else "PET-CAT-FOOD"]
        if attributes.get("kids_age_group") == "baby":
            return self.cat.sku["BABY-DIAPERS"]
        return self.r.choice(self.cat.replenishable) if self.r.random() < 0.6 else None

    def purchase(self, contact_id: int, p: dict, ago: float, channel: str, habit: tuple | None) -> tuple:
        r = self.r
        day_start = (ago // DAY) * DAY
        ago = day_start - r.randint(9 * 3600, 21 * 3600) + DAY  # shop hours, same calendar day
        ago = max(ago, 60)
        number = self.state.purchases
        purchase_id = self.state.purchase_base + number
        self.state.purchases += 1
        products = [habit] if habit and r.random() < 0.75 else []
        for _i in range((not products) + (r.random() < 0.45) + (r.random() < 0.15)):
            product = r.choice(self.cat.products)
            if product not in products:
                products.append(product)
        total = 0
        for product in products:
            quantity = 1 if r.random() < 0.85 else r.randint(2, 3)
            price = product[3] * 9 // 10 if r.random() < 0.15 else product[3]
            total += quantity * price
            self.rows.items.append((purchase_id, product[0], quantity, Decimal(price).scaleb(-2)))
        store = p["home_store"] if r.random() < 0.8 else r.choice(self.cat.stores)
        source = {"in_store": "pos", "online": "shop", "app": "app"}[channel]
        when = self.at(ago)
        self.rows.purchases.append((
            purchase_id, contact_id, source, f"{source.upper()}-{number + 1:010d}", channel,
            store[0] if channel == "in_store" else None, when, Decimal(total).scaleb(-2), "ILS", when,
        ))
        return (ago, total, channel, products[0])

    def activity(self, contact_id: int, p: dict, stage: str, signup_ago: float, bought: list) -> None:
        if stage == "none":
            return
        r = self.r
        event = self.event
        if p["source"] in ("web_form", "landing_page", "social"):
            event(contact_id, "signup", signup_ago, url=f"{SHOP}club/join")
        for _i in range(r.randint(1, 6)):
            event(contact_id, "page_view", r.uniform(0, signup_ago), url=SHOP + r.choice(PAGES))
        if stage == "visitor":
            return
        if p["source"] == "landing_page":
            guide = self.cat.sku.get(GUIDE_BY_LANDING.get(p["source_detail"], ""))
            event(contact_id, "download", signup_ago - 60, product=guide, url=f"{SHOP}guides/{p['source_detail']}")
        window = min(signup_ago, 120 * DAY) if r.random() < 0.5 else signup_ago
        for _i in range(r.randint(1, 5)):
            product = r.choice(self.cat.products)
            event(contact_id, "product_view", r.uniform(0, window), product=product)
        if stage == "cart":
            for _i in range(r.randint(1, 2)):
                ago = r.uniform(0, window)
                product = r.choice(self.cat.products)
                event(contact_id, "product_view", ago + 300, product=product)
                event(contact_id, "add_to_cart", ago, product=product, properties={"quantity": 1})
                if r.random() < 0.3:
                    event(contact_id, "checkout_started", ago - 120, url=f"{SHOP}checkout")
        for ago, _total, channel, product in bought:
            if channel != "in_store":
                event(contact_id, "add_to_cart", ago + 600, product=product, properties={"quantity": 1})
                event(contact_id, "checkout_started", ago + 180, url=f"{SHOP}checkout")
            elif r.random() < 0.3:
                event(contact_id, "product_view", ago + r.uniform(1, 5) * DAY, product=product)
            if r.random() < 0.04:
                event(contact_id, "review", max(ago - 5 * DAY, 30), product=product,
                      properties={"rating": r.randint(3, 5)})
        if p["referred_by"]:
            event(p["referred_by"], "referral", signup_ago + 600, url=f"{SHOP}invite")

    def event(self, contact_id: int | None, kind: str, ago: float, *, product: tuple | None = None, url: str = "",
              properties: dict | None = None, anonymous_id: str | None = None) -> None:
        if product is not None and not url:
            url = f"{SHOP}p/{product[1].lower()}"
        when = self.at(max(ago, 1))
        self.rows.events.append((contact_id, anonymous_id, kind, when, product[0] if product else None, url,
                                 properties or {}, when))

    def anonymous_visitors(self, count: int) -> None:
        """Visitors the site has not identified yet: events with an anonymous id and no contact."""
        r = self.r
        for _n in range(count):
            self.state.anonymous += 1
            anonymous_id = f"anon-{self.seed}-{self.state.anonymous:09d}"
            ago = r.uniform(0, 365) * DAY
            for _i in range(r.randint(1, 4)):
                product = r.choice(self.cat.products) if r.random() < 0.4 else None
                self.event(None, "product_view" if product else "page_view", ago - r.uniform(0, 1800),
                           product=product, url="" if product else SHOP + r.choice(PAGES), anonymous_id=anonymous_id)

    # ------------------------------------------------------------ consent, club, tags

    def consent(self, contact_id: int, p: dict, signup_ago: float) -> None:
        text = CONSENT_TEXT.get(p["language"], CONSENT_TEXT["en"])
        granted_at = self.at(signup_ago)
        if p["email_opt_in"] or p["unsubscribed"] or p["email_status"] == "complained":
            self.rows.consent.append((contact_id, "email", True, p["source"], text, granted_at))
        if p["unsubscribed"] or p["email_status"] == "complained":
            reason = "unsubscribe link" if p["unsubscribed"] else "spam complaint"
            self.rows.consent.append((contact_id, "email", False, reason, "", self.at(signup_ago * self.r.random())))
        if p["sms_opt_in"]:
            self.rows.consent.append((contact_id, "sms", True, p["source"], text, granted_at))

    def membership(self, contact_id: int, index: int, p: dict, signup_ago: float, bought: list) -> str:
        r = self.r
        member_id = self.state.member_base + self.state.members
        self.state.members += 1
        joined_ago = max(b[0] for b in bought) if bought else signup_ago - r.uniform(0, 0.3) * signup_ago
        joined_ago = max(joined_ago, 120)
        spent = sum(total for ago, total, _c, _p in bought if ago <= joined_ago)
        entries = [("welcome", 100, "Welcome bonus", joined_ago - 60)]
        earned = spent // 1000  # one point per ₪10
        if earned:
            entries.append(("earned", earned, "Points earned on purchases", min(b[0] for b in bought) - 60))
        balance = 100 + earned
        if balance >= 300 and r.random() < 0.5:
            redeem = balance // 200 * 100
            entries.append(("redeemed", -redeem, "Redeemed for a voucher", max(min(b[0] for b in bought) - DAY, 30)))
        balance = 0
        for reference, delta, reason, ago in entries:
            balance += delta
            self.rows.points.append((member_id, delta, balance, reason, reference, self.at(max(ago, 30))))
        tier = ("platinum" if spent >= 800_000 else "gold" if spent >= 300_000 else
                "silver" if spent >= 100_000 else "basic")
        status = r.choices(["active", "suspended", "cancelled"], [95, 2, 3])[0]
        self.rows.members.append((member_id, contact_id, f"29{index:010d}", tier, status, self.at(joined_ago),
                                  p["home_store"][0], balance))
        return tier

    def tag(self, contact_id: int, p: dict, bought: list, total: int, tier: str | None) -> None:
        names = []
        if tier in ("gold", "platinum") or total >= 800_000:
            names.append("vip")
        if p["email_opt_in"] and self.r.random() < 0.7:
            names.append("newsletter")
        if p["attributes"].get("pet_type"):
            names.append("pet owner")
        if p["attributes"].get("kids_age_group") == "baby":
            names.append("new parent")
        if "shoe_size" in p["attributes"] and self.r.random() < 0.4:
            names.append("runner")
        if any(b[3][2] == "coffee" for b in bought[:3]):
            names.append("coffee lover")
        self.rows.tags.extend((contact_id, self.cat.tags[name]) for name in names)
