"""Segments: lists of contacts, dynamic (rule tree) or static (hand-picked).

Membership is materialized with its history: a row per stay in the list, with the time
the contact joined and the time it left (null while it is still in). Automations and
reports read those entries and exits.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contacts.models import Contact


class Segment(models.Model):
    class Kind(models.TextChoices):
        DYNAMIC = "dynamic", _("Dynamic (rules)")
        STATIC = "static", _("Static list")

    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.DYNAMIC)
    rules = models.JSONField(_("rules"), null=True, blank=True)
    member_count = models.PositiveIntegerField(_("members"), default=0)
    last_refreshed_at = models.DateTimeField(_("last refreshed"), null=True, blank=True)
    last_refresh_ms = models.PositiveIntegerField(_("refresh time (ms)"), null=True, blank=True)
    last_error = models.TextField(
        _("last error"),
        blank=True,
        default="",
        help_text=_("Why the last refresh or re-evaluation of this segment failed; empty once it works again."),
    )
    last_error_at = models.DateTimeField(_("last error at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_dynamic(self) -> bool:
        return self.kind == self.Kind.DYNAMIC

    @property
    def is_failing(self) -> bool:
        return self.last_error_at is not None


class SegmentMembership(models.Model):
    segment = models.ForeignKey(
        Segment, verbose_name=_("segment"), on_delete=models.CASCADE, related_name="memberships"
    )
    contact = models.ForeignKey(
        Contact, verbose_name=_("contact"), on_delete=models.CASCADE, related_name="segment_memberships"
    )
    joined_at = models.DateTimeField(_("joined at"), default=timezone.now)
    left_at = models.DateTimeField(_("left at"), null=True, blank=True)

    class Meta:
        verbose_name = _("segment membership")
        verbose_name_plural = _("segment memberships")
        constraints = [
            models.UniqueConstraint(
                fields=["segment", "contact"], condition=Q(left_at__isnull=True), name="membership_current_unique"
            ),
        ]
        indexes = [
            models.Index(
                fields=["contact", "segment"], condition=Q(left_at__isnull=True), name="membership_contact_current_idx"
            ),
            models.Index(fields=["segment", "joined_at"], name="membership_segment_joined_idx"),
            models.Index(fields=["segment", "left_at"], name="membership_segment_left_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.segment_id}:{self.contact_id}"

    @property
    def is_current(self) -> bool:
        return self.left_at is None
