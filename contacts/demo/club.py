"""Club membership with its points ledger, and the tags a contact's profile and purchases earn."""

from .base import DAY, ChunkBase


class Club(ChunkBase):
    """Club members with a ledger whose sum is their points, and tags derived from the profile."""

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
        tier = (
            "platinum"
            if spent >= 800_000
            else "gold"
            if spent >= 300_000
            else "silver"
            if spent >= 100_000
            else "basic"
        )
        status = r.choices(["active", "suspended", "cancelled"], [95, 2, 3])[0]
        self.rows.members.append(
            (member_id, contact_id, f"29{index:010d}", tier, status, self.at(joined_ago), p["home_store"][0], balance)
        )
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
