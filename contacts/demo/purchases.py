"""Purchases of one buyer: when, through which channel, which products (a habit product first)."""

from decimal import Decimal

from .base import DAY, ChunkBase
from .traffic import ONLINE_PURCHASE_SHARE, UNTAGGED, utm_tags


class Purchases(ChunkBase):
    """Purchase and item rows, with totals that are the sum of their items."""

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
        utm = utm_tags(self.traffic, ONLINE_PURCHASE_SHARE) if channel == "online" else UNTAGGED
        self.rows.purchases.append(
            (
                purchase_id,
                contact_id,
                source,
                f"{source.upper()}-{number + 1:010d}",
                channel,
                store[0] if channel == "in_store" else None,
                when,
                Decimal(total).scaleb(-2),
                "ILS",
                when,
                *utm,
            )
        )
        return (ago, total, channel, products[0])
