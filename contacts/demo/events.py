"""Site activity along the funnel: page and product views, carts, checkouts, and anonymous visitors."""

from .base import DAY, ChunkBase
from .traffic import PAGE_VIEW_SHARE, UNTAGGED, utm_tags

GUIDE_BY_LANDING = {
    "pet-owners-guide": "PET-DOG-FOOD",
    "new-parents-kit": "BABY-DIAPERS",
    "skin-care-guide": "SKIN-SERUM",
    "wedding-gifts": "GIFT-WEDDING",
    "summer-sale": "SKIN-SPF50",
}
PAGES = [
    "",
    "sale",
    "club",
    "stores",
    "blog/summer-skin-care",
    "blog/coffee-at-home",
    "category/pet",
    "category/baby",
    "category/coffee",
    "category/contact-lenses",
    "search?q=shampoo",
]
SHOP = "https://shop.example.com/"


class Events(ChunkBase):
    """Site events of one contact, deepest for those further down the funnel."""

    def activity(self, contact_id: int, p: dict, stage: str, signup_ago: float, bought: list) -> None:
        """Events layer by layer down the funnel, stopping at the contact's stage; one pass, because the
        random draws happen in this order and the same seed must give the same events."""
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
                event(
                    contact_id,
                    "review",
                    max(ago - 5 * DAY, 30),
                    product=product,
                    properties={"rating": r.randint(3, 5)},
                )
        if p["referred_by"]:
            event(p["referred_by"], "referral", signup_ago + 600, url=f"{SHOP}invite")

    def event(
        self,
        contact_id: int | None,
        kind: str,
        ago: float,
        *,
        product: tuple | None = None,
        url: str = "",
        properties: dict | None = None,
        anonymous_id: str | None = None,
    ) -> None:
        if product is not None and not url:
            url = f"{SHOP}p/{product[1].lower()}"
        when = self.at(max(ago, 1))
        utm = utm_tags(self.traffic, PAGE_VIEW_SHARE) if kind == "page_view" else UNTAGGED
        self.rows.events.append(
            (contact_id, anonymous_id, kind, when, product[0] if product else None, url, properties or {}, when, *utm)
        )

    def anonymous_visitors(self, count: int) -> None:
        """Visitors the site has not identified yet: events with an anonymous id and no contact."""
        r = self.r
        for _n in range(count):
            self.state.anonymous += 1
            anonymous_id = f"anon-{self.seed}-{self.state.anonymous:09d}"
            ago = r.uniform(0, 365) * DAY
            for _i in range(r.randint(1, 4)):
                product = r.choice(self.cat.products) if r.random() < 0.4 else None
                self.event(
                    None,
                    "product_view" if product else "page_view",
                    ago - r.uniform(0, 1800),
                    product=product,
                    url="" if product else SHOP + r.choice(PAGES),
                    anonymous_id=anonymous_id,
                )
