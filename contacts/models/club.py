"""The loyalty club: memberships and their append-only points ledger."""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .catalogue import Store
from .contacts import Contact


class LoyaltyMember(models.Model):
    """Club membership; `points` always equals the sum of the ledger (see services)."""

    class Tier(models.TextChoices):
        BASIC = "basic", _("Basic")
        SILVER = "silver", _("Silver")
        GOLD = "gold", _("Gold")
        PLATINUM = "platinum", _("Platinum")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")
        CANCELLED = "cancelled", _("Cancelled")

    contact = models.OneToOneField(Contact, verbose_name=_("contact"), on_delete=models.CASCADE, related_name="club")
    card_number = models.CharField(_("card number"), max_length=50, unique=True)
    tier = models.CharField(_("tier"), max_length=20, choices=Tier.choices, default=Tier.BASIC, db_index=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.ACTIVE)
    joined_at = models.DateTimeField(_("joined at"), default=timezone.now, db_index=True)
    home_store = models.ForeignKey(
        Store, verbose_name=_("home store"), null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    points = models.IntegerField(_("points"), default=0)

    class Meta:
        verbose_name = _("club member")
        verbose_name_plural = _("club members")
        constraints = [models.CheckConstraint(condition=Q(points__gte=0), name="member_points_not_negative")]

    def __str__(self) -> str:
        return self.card_number


class PointsEntry(models.Model):
    """Append-only points ledger; `balance_after` makes every row auditable on its own."""

    member = models.ForeignKey(LoyaltyMember, verbose_name=_("member"), on_delete=models.CASCADE, related_name="ledger")
    delta = models.IntegerField(_("points change"))
    balance_after = models.IntegerField(_("balance after"))
    reason = models.CharField(_("reason"), max_length=200)
    reference = models.CharField(  # noqa: DJ001 - NULL when absent, so the constraint below is "unique when present"
        _("reference"),
        max_length=100,
        null=True,
        blank=True,
        help_text=_("Idempotency key: the same reference is applied once."),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("points entry")
        verbose_name_plural = _("points ledger")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["member", "reference"], condition=Q(reference__isnull=False), name="points_reference_unique"
            ),
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="points_balance_after_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.delta:+d} ({self.reason})"
