"""Ready-made rules to start a segment from: the eight list types marketers ask for and the four
funnel layers. Each is an ordinary rule tree the builder loads and the marketer then adjusts (the
city, the number of days); every one passes validation with an empty catalogue, so none names a
product, a campaign or a custom field that may not exist."""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

LIST_TYPES = _("List types")
FUNNEL = _("Funnel layers")


@dataclass(frozen=True)
class Starter:
    key: str
    label: object
    group: object
    rules: dict

    def as_dict(self) -> dict:
        return {"key": self.key, "label": str(self.label), "group": str(self.group), "rules": self.rules}


def _funnel(stage: str, label) -> Starter:
    return Starter(f"funnel_{stage}", label, FUNNEL, {"all": [{"field": "funnel_stage", "op": "eq", "value": stage}]})


STARTERS = (
    Starter(
        "where_they_live",
        _("Where they live: the north"),
        LIST_TYPES,
        {"all": [{"field": "region", "op": "in", "value": ["Northern District", "Haifa District"]}]},
    ),
    Starter(
        "significant_dates",
        _("Significant dates: birthday this month"),
        LIST_TYPES,
        {"all": [{"field": "birthday", "op": "this_month"}]},
    ),
    Starter(
        "registration_date",
        _("Registration date: joined a year ago this week"),
        LIST_TYPES,
        {"all": [{"field": "signed_up", "op": "anniversary_in_next_days", "value": 7}]},
    ),
    Starter(
        "where_they_signed_up",
        _("Where they signed up: a landing page"),
        LIST_TYPES,
        {"all": [{"field": "source", "op": "eq", "value": "landing_page"}]},
    ),
    Starter(
        "purchase_history",
        _("Purchase history: bought twice or more"),
        LIST_TYPES,
        {"all": [{"field": "purchase_count", "op": "gte", "value": 2}]},
    ),
    Starter(
        "last_purchase",
        _("Last purchase: dormant for 60 days or more"),
        LIST_TYPES,
        {"all": [{"field": "last_purchase", "op": "more_than_days_ago", "value": 60}]},
    ),
    Starter(
        "mail_engagement",
        _("Mailings: opened a mail in the last 30 days"),
        LIST_TYPES,
        {"all": [{"field": "email_opened", "op": "within_last_days", "value": 30}]},
    ),
    Starter(
        "family_status",
        _("Family status: married"),
        LIST_TYPES,
        {"all": [{"field": "marital_status", "op": "eq", "value": "married"}]},
    ),
    _funnel("visitor", _("Visitors: came to the site, went no further")),
    _funnel("interested", _("Interested: explored a product")),
    _funnel("cart", _("Add to cart: left without buying")),
    _funnel("purchaser", _("Purchasers: bought online or in the store")),
)


def starters() -> list[dict]:
    return [starter.as_dict() for starter in STARTERS]
