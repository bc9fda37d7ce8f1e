"""What measurement stores: each purchase's attribution to a message, the spend per channel and month, and the
daily rollups the KPIs read."""

import datetime as dt

from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contacts.models import Channel, Contact, Purchase

from ..models import Campaign, Message


class Attribution(models.Model):
    """The message a purchase is credited to (CONTRACT §7): at most one per purchase.

    The purchase's contact, time, total and channel are copied here when the row is written (a purchase
    never changes once stored), so a campaign's revenue is one aggregate over this table alone. Rows are
    written by `attribution.attribute` only, which replaces those of the purchases it is given."""

    class Touch(models.TextChoices):
        CLICK = "click", _("Click")
        OPEN = "open", _("Open")

    purchase = models.OneToOneField(
        Purchase, verbose_name=_("purchase"), primary_key=True, on_delete=models.CASCADE, related_name="attribution"
    )
    message = models.ForeignKey(
        Message, verbose_name=_("message"), on_delete=models.CASCADE, related_name="attributions"
    )
    # Neither has an index of its own: attribution_campaign_idx leads with the campaign, attribution_contact_idx
    # is the contact's (one index less per insert each).
    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="attributions", db_index=False
    )
    contact = models.ForeignKey(
        Contact, verbose_name=_("contact"), on_delete=models.CASCADE, related_name="+", db_index=False
    )
    touch = models.CharField(_("touch"), max_length=5, choices=Touch.choices)
    touched_at = models.DateTimeField(_("touched at"))
    purchased_at = models.DateTimeField(_("purchased at"))
    total = models.DecimalField(_("total"), max_digits=14, decimal_places=2)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)

    class Meta:
        verbose_name = _("attribution")
        verbose_name_plural = _("attributions")
        indexes = [
            models.Index(fields=["campaign", "contact"], name="attribution_campaign_idx"),
            models.Index(fields=["purchased_at"], name="attribution_time_idx"),
            models.Index(fields=["contact"], name="attribution_contact_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.purchase_id} → {self.message_id} ({self.touch})"


class Spend(models.Model):
    """Money spent on one marketing channel in one month, for channel ROMI."""

    channel = models.CharField(
        _("channel"),
        max_length=100,
        help_text=_("The utm_source the channel's visits and purchases carry, e.g. facebook, google; email for mail."),
    )
    month = models.DateField(_("month"), help_text=_("The first day of the month."))
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2, validators=[MinValueValidator(0)])
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("spend")
        verbose_name_plural = _("spend")
        ordering = ["-month", "channel"]
        constraints = [models.UniqueConstraint(fields=["channel", "month"], name="spend_channel_month_unique")]

    def __str__(self) -> str:
        return f"{self.channel} {self.month:%Y-%m}: {self.amount}"


# ---------------------------------------------------------------------------------------------------- rollups
# What the KPIs read instead of every purchase of the period (see `rollups.py`, which alone writes them).

NO_PURCHASE = dt.date(1, 1, 1)  # `BuyerDay.earlier_day` when the contact had no such earlier purchase


class PurchaseFact(models.Model):
    """One purchase as the rollups counted it: its TIME_ZONE day, whether its buyer was an active club member,
    and the days of the buyer's two purchases before it. Kept so a change (a late purchase, a merge, a club
    membership that ends) is applied to the rollups as the difference from what they hold."""

    # No database constraint: a deleted purchase's fact stays until the next sync of its contact takes it out
    # of the rollups.
    purchase = models.OneToOneField(
        Purchase, primary_key=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    contact_id = models.BigIntegerField(db_index=True)
    day = models.DateField()
    channel = models.CharField(max_length=10, choices=Channel.choices)
    total = models.DecimalField(max_digits=14, decimal_places=2)
    club = models.BooleanField()
    previous_day = models.DateField(null=True)
    second_previous_day = models.DateField(null=True)

    def __str__(self) -> str:
        return f"{self.purchase_id} {self.day}"


class SalesDay(models.Model):
    """Orders and revenue per TIME_ZONE day, channel and club membership (of the buyer, now)."""

    day = models.DateField()
    channel = models.CharField(max_length=10, choices=Channel.choices)
    club = models.BooleanField()
    orders = models.IntegerField()
    revenue = models.DecimalField(max_digits=16, decimal_places=2)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "channel", "club"], name="sales_day_unique")]

    def __str__(self) -> str:
        return f"{self.day} {self.channel}: {self.orders}"


class BuyerDay(models.Model):
    """Purchases per TIME_ZONE day by how recent the buyer's earlier purchase was: `earlier_day` is the day of the
    buyer's `lag`-th purchase before it (1: the one just before, 2: the one before that; NO_PURCHASE when there
    was none; lag 2 rows exist only for purchases that have a lag 1). Distinct buyers, repeat buyers and
    returning buyers of any period are sums over it (`sales.py` gives the arithmetic)."""

    day = models.DateField()
    lag = models.PositiveSmallIntegerField()
    earlier_day = models.DateField()
    purchases = models.IntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "lag", "earlier_day"], name="buyer_day_unique")]

    def __str__(self) -> str:
        return f"{self.day} {self.lag} {self.earlier_day}: {self.purchases}"


from .counts import AudienceCount, ChannelCount, DistinctCount, DistinctDay, SignupCount  # noqa: E402, F401
