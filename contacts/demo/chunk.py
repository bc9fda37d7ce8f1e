"""One chunk of contacts, generated from its own random generator."""

from decimal import Decimal

from .base import DAY, Rows
from .club import Club
from .events import Events
from .people import People
from .purchases import Purchases

# Highest funnel layer reached, as shares of contacts: a pyramid (visitors > interested > cart > purchasers).
STAGE_VALUES = {"none": 0, "visitor": 1, "interested": 2, "cart": 3, "purchaser": 4}
STAGE_SHARES = [("purchaser", 0.20), ("cart", 0.21), ("interested", 0.24), ("visitor", 0.30), ("none", 0.05)]


class Chunk(People, Purchases, Events, Club):
    """Generates the rows of one chunk of contacts from its own random generator."""

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

    def contact(self, index: int, stage: str) -> None:
        """One contact's row and its history. Kept in one piece on purpose: the random draws must stay in this
        exact order, or every seed would produce different demo data."""
        r = self.r
        contact_id = self.state.contact_base + index
        profile = self.profile(index)
        signup_ago = 1095 * DAY * r.random() ** 1.3 + 3600
        signed_up_at = self.at(signup_ago)
        buying = self.purchases(contact_id, profile, stage, signup_ago) if stage == "purchaser" else []
        self.activity(contact_id, profile, stage, signup_ago, buying)
        total = sum(b[1] for b in buying)
        self.rows.contacts.append(
            (
                contact_id,
                profile["email"],
                profile["phone"],
                profile["external_id"],
                profile["first_name"],
                profile["last_name"],
                profile["gender"],
                profile["birth_date"],
                profile["wedding_date"],
                profile["marital_status"],
                profile["city"],
                profile["region"],
                "IL",
                profile["language"],
                profile["source"],
                profile["source_detail"],
                signed_up_at,
                profile["attributes"],
                profile["email_opt_in"],
                profile["sms_opt_in"],
                profile["email_status"],
                profile["referred_by"],
                STAGE_VALUES[stage],
                0,
                Decimal(0),
                signed_up_at,
                self.anchor,
            )
        )
        self.consent(contact_id, profile, signup_ago)
        if stage == "purchaser":
            member = r.random() < 0.85
        else:
            member = stage != "none" and r.random() < 0.3
        tier = self.membership(contact_id, index, profile, signup_ago, buying) if member else None
        self.tag(contact_id, profile, buying, total, tier)
