"""The fixed choice lists of the contacts app, shared by models, filters and segment conditions."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Gender(models.TextChoices):
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")
    OTHER = "other", _("Other")
    UNKNOWN = "unknown", _("Unknown")


class MaritalStatus(models.TextChoices):
    SINGLE = "single", _("Single")
    IN_RELATIONSHIP = "in_relationship", _("In a relationship")
    MARRIED = "married", _("Married")
    DIVORCED = "divorced", _("Divorced")
    WIDOWED = "widowed", _("Widowed")
    UNKNOWN = "unknown", _("Unknown")


class Source(models.TextChoices):
    WEB_FORM = "web_form", _("Web form")
    LANDING_PAGE = "landing_page", _("Landing page")
    IN_STORE = "in_store", _("In store")
    IMPORT = "import", _("Import")
    API = "api", _("API")
    SOCIAL = "social", _("Social")
    REFERRAL = "referral", _("Referral")


class EmailStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
    BOUNCED = "bounced", _("Bounced")
    COMPLAINED = "complained", _("Complained")


class MailFrequency(models.TextChoices):
    """How often a contact wants marketing email, chosen in the preference centre. "" is as often as we send
    (within the frequency cap); the others allow at most one mail per `window_days`."""

    ANY = "", _("Whenever there is news")
    WEEKLY = "weekly", _("At most once a week")
    MONTHLY = "monthly", _("At most once a month")

    @property
    def window_days(self) -> int | None:
        """The days one mail covers, or None for no personal limit."""
        return {"weekly": 7, "monthly": 30}.get(self.value)


class FunnelStage(models.IntegerChoices):
    """Highest layer of the funnel ever reached; ordered so `gte` works in SQL."""

    NONE = 0, _("None")
    VISITOR = 1, _("Visitor")
    INTERESTED = 2, _("Interested")
    CART = 3, _("Add to cart")
    PURCHASER = 4, _("Purchaser")


class Lifecycle(models.TextChoices):
    PROSPECT = "prospect", _("Prospect")
    NEW = "new", _("New customer")
    ACTIVE = "active", _("Active customer")
    AT_RISK = "at_risk", _("At risk")
    LAPSED = "lapsed", _("Lapsed")


class RfmSegment(models.TextChoices):
    """The named cells of the recency × frequency grid (`contacts.rfm.RFM_SEGMENT_GRID` owns the cells)."""

    CHAMPIONS = "champions", _("Champions")
    LOYAL = "loyal", _("Loyal customers")
    POTENTIAL_LOYALIST = "potential_loyalist", _("Potential loyalists")
    NEW_CUSTOMERS = "new_customers", _("Recent customers")
    PROMISING = "promising", _("Promising")
    NEEDS_ATTENTION = "needs_attention", _("Need attention")
    ABOUT_TO_SLEEP = "about_to_sleep", _("About to sleep")
    AT_RISK = "at_risk", _("At risk (RFM)")
    CANNOT_LOSE = "cannot_lose", _("Can't lose them")
    HIBERNATING = "hibernating", _("Hibernating")


class Channel(models.TextChoices):
    ONLINE = "online", _("Online")
    IN_STORE = "in_store", _("In store")
    APP = "app", _("App")
