"""The shop's fixed catalogue: stores, products with replenishment cycles, tags, custom fields, cities."""

from dataclasses import dataclass
from decimal import Decimal

from contacts import services
from contacts.models import CustomField, Product, Store

# (city, district, weight); kibbutzim are their own localities, as in the national registry.
CITIES = [
    ("Tel Aviv", "Tel Aviv District", 14),
    ("Jerusalem", "Jerusalem District", 12),
    ("Haifa", "Haifa District", 8),
    ("Be'er Sheva", "Southern District", 6),
    ("Rishon LeZion", "Central District", 7),
    ("Petah Tikva", "Central District", 7),
    ("Netanya", "Central District", 6),
    ("Ashdod", "Southern District", 6),
    ("Holon", "Tel Aviv District", 5),
    ("Ramat Gan", "Tel Aviv District", 5),
    ("Herzliya", "Tel Aviv District", 3),
    ("Ra'anana", "Central District", 3),
    ("Kfar Saba", "Central District", 3),
    ("Rehovot", "Central District", 3),
    ("Modi'in", "Central District", 3),
    ("Ashkelon", "Southern District", 3),
    ("Eilat", "Southern District", 2),
    ("Nazareth", "Northern District", 2),
    ("Karmiel", "Northern District", 2),
    ("Tiberias", "Northern District", 1),
    ("Hadera", "Haifa District", 2),
    ("Beit Shemesh", "Jerusalem District", 2),
    ("Kibbutz Ein Gedi", "Southern District", 0.3),
    ("Kibbutz Yotvata", "Southern District", 0.3),
    ("Kibbutz Hatzerim", "Southern District", 0.3),
    ("Kibbutz Degania Alef", "Northern District", 0.4),
    ("Kibbutz Kfar Giladi", "Northern District", 0.3),
    ("Kibbutz Ma'agan Michael", "Haifa District", 0.4),
    ("Kibbutz Shefayim", "Central District", 0.4),
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


@dataclass
class Catalogue:
    """The catalogue as plain tuples, read once per run so the generator never queries."""

    stores: list  # (id, code, name, city, region)
    products: list  # (id, sku, category, price agorot, replenishment days)
    sku: dict  # sku → product tuple
    replenishable: list
    stores_by_city: dict
    stores_by_region: dict
    tags: dict  # name → id
    city_names: list
    city_weights: list


def catalogue_ensure() -> Catalogue:
    """Stores, products, tags and custom fields: created if missing, left alone if present."""
    for code, name, city, region in STORES:
        Store.objects.get_or_create(code=code, defaults={"name": name, "city": city, "region": region})
    for sku, name, category, price, days in PRODUCTS:
        Product.objects.get_or_create(
            sku=sku,
            defaults={
                "name": name,
                "category": category,
                "price": Decimal(price).scaleb(-2),
                "replenishment_days": days,
            },
        )
    for key, label, kind, choices in CUSTOM_FIELDS:
        CustomField.objects.get_or_create(key=key, defaults={"label": label, "type": kind, "choices": choices})
    tags = {t.name.lower(): t.pk for t in services.tags_get_or_create(TAGS)}
    stores = [
        (s.pk, s.code, s.name, s.city, s.region)
        for s in Store.objects.filter(code__in=[s[0] for s in STORES]).order_by("code")
    ]
    by_sku = {p.sku: p for p in Product.objects.filter(sku__in=[p[0] for p in PRODUCTS])}
    products = [(by_sku[sku].pk, sku, category, price, days) for sku, _n, category, price, days in PRODUCTS]
    stores_by_city: dict = {}
    stores_by_region: dict = {}
    for store in stores:
        stores_by_city.setdefault(store[3], []).append(store)
        stores_by_region.setdefault(store[4], []).append(store)
    return Catalogue(
        stores=stores,
        products=products,
        sku={p[1]: p for p in products},
        replenishable=[p for p in products if p[4]],
        stores_by_city=stores_by_city,
        stores_by_region=stores_by_region,
        tags=tags,
        city_names=[(c[0], c[1]) for c in CITIES],
        city_weights=[c[2] for c in CITIES],
    )
