"""The single audience: contacts with their club membership, purchases and site activity.

Writes go through `contacts.services`; the derived fields on Contact (funnel stage,
lifecycle, purchase aggregates, RFM scores) are kept by those services so that
segments can read them without aggregating millions of rows.

One module per sub-domain; every model and choice list is importable from `contacts.models`.
"""

from .activity import Activity, LastEvent, QueuedActivity, VisitorIdentity
from .catalogue import Product, Store
from .choices import (
    Channel,
    EmailStatus,
    FunnelStage,
    Gender,
    Lifecycle,
    MailFrequency,
    MaritalStatus,
    RfmSegment,
    Source,
)
from .club import LoyaltyMember, PointsEntry
from .consent import CONSENT_TEXT_MAX_LENGTH, ConsentEvent
from .contacts import Contact, CustomField, RfmBreakpoints, Tag
from .purchases import LastBought, Purchase, PurchaseItem, SpendMonth, SpendQuarter, UncountedPurchase

__all__ = [
    "CONSENT_TEXT_MAX_LENGTH",
    "Activity",
    "Channel",
    "ConsentEvent",
    "Contact",
    "CustomField",
    "EmailStatus",
    "FunnelStage",
    "Gender",
    "LastBought",
    "LastEvent",
    "Lifecycle",
    "LoyaltyMember",
    "MailFrequency",
    "MaritalStatus",
    "PointsEntry",
    "Product",
    "Purchase",
    "PurchaseItem",
    "QueuedActivity",
    "RfmBreakpoints",
    "RfmSegment",
    "Source",
    "SpendMonth",
    "SpendQuarter",
    "Store",
    "Tag",
    "UncountedPurchase",
    "VisitorIdentity",
]
