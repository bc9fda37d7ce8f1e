"""Consent as the contact gave it: the opt-in flags on the profile and the log of each change."""

from .base import ChunkBase

CONSENT_TEXT = {
    "he": "אני מאשר/ת לקבל עדכונים והטבות מהמועדון",
    "en": "Yes, send me club news and offers",
}


class Consent(ChunkBase):
    """The opt-in flags a profile starts with, and the consent log rows that explain them."""

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
