"""Site and app activity, and the anonymous visitor ids known to belong to a contact."""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .catalogue import Product
from .contacts import Contact


class Activity(models.Model):
    """A site or app event, from a known contact or an anonymous visitor."""

    class Type(models.TextChoices):
        PAGE_VIEW = "page_view", _("Page view")
        PRODUCT_VIEW = "product_view", _("Product view")
        ADD_TO_CART = "add_to_cart", _("Add to cart")
        CHECKOUT_STARTED = "checkout_started", _("Checkout started")
        SIGNUP = "signup", _("Sign-up")
        DOWNLOAD = "download", _("Download")
        REVIEW = "review", _("Review")
        REFERRAL = "referral", _("Referral")

    # No index of its own: activity_contact_recent_idx and activity_contact_type_time_idx lead with the contact
    # (one index less for every event stored).
    contact = models.ForeignKey(
        Contact,
        verbose_name=_("contact"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="activities",
        db_index=False,
    )
    anonymous_id = models.CharField(  # noqa: DJ001 - NULL when absent, so the partial index below skips it
        _("anonymous id"), max_length=100, null=True, blank=True
    )
    event_id = models.CharField(  # noqa: DJ001 - NULL when absent, so the constraint below is "unique when present"
        _("event id"),
        max_length=100,
        null=True,
        blank=True,
        help_text=_("Sender's id of the event: the same id is stored once."),
    )
    type = models.CharField(_("type"), max_length=20, choices=Type.choices)
    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now)
    product = models.ForeignKey(
        Product, verbose_name=_("product"), null=True, blank=True, on_delete=models.SET_NULL, related_name="activities"
    )
    url = models.URLField(_("URL"), max_length=2000, blank=True)
    properties = models.JSONField(_("properties"), default=dict, blank=True)
    utm_source = models.CharField(_("UTM source"), max_length=100, blank=True, default="", db_default="")
    utm_medium = models.CharField(_("UTM medium"), max_length=100, blank=True, default="", db_default="")
    utm_campaign = models.CharField(_("UTM campaign"), max_length=100, blank=True, default="", db_default="")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        constraints = [
            models.UniqueConstraint(
                fields=["event_id"], condition=Q(event_id__isnull=False), name="activity_event_id_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["contact", "type", "occurred_at"], name="activity_contact_type_time_idx"),
            models.Index(
                fields=["anonymous_id"], condition=Q(anonymous_id__isnull=False), name="activity_anonymous_idx"
            ),
            # With the contact included on PostgreSQL: the event and abandoned-cart conditions count a window's
            # events per contact from the index alone, without a table page per event.
            models.Index(fields=["type", "occurred_at"], include=["contact"], name="activity_type_time_contact_idx"),
            models.Index(fields=["contact", "-occurred_at"], name="activity_contact_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} · {self.occurred_at:%Y-%m-%d %H:%M}"


class QueuedActivity(models.Model):  # noqa: DJ008 - an internal queue row, never listed or shown
    """A site or app event of a bulk batch, accepted and not yet stored as an `Activity` (`contacts.event_queue`).

    The columns are those of `Activity`, with plain ids instead of foreign keys: between the batch and the
    worker that stores the event its contact may be merged, erased or deleted and its product deleted, and the
    worker settles each case. One index besides the key: an event id is accepted once, here or stored."""

    contact_id = models.BigIntegerField(null=True)
    anonymous_id = models.CharField(max_length=100, null=True)  # noqa: DJ001 - the same meaning as on Activity
    event_id = models.CharField(max_length=100, null=True)  # noqa: DJ001 - the same meaning as on Activity
    type = models.CharField(max_length=20)
    occurred_at = models.DateTimeField()
    product_id = models.BigIntegerField(null=True)
    url = models.CharField(max_length=2000, blank=True)
    properties = models.JSONField(default=dict, blank=True)
    utm_source = models.CharField(max_length=100, blank=True, default="")
    utm_medium = models.CharField(max_length=100, blank=True, default="")
    utm_campaign = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["event_id"], condition=Q(event_id__isnull=False), name="queued_activity_event_id_unique"
            ),
        ]


class VisitorIdentity(models.Model):
    """An anonymous site visitor known to be this contact, so later anonymous events land on it too."""

    anonymous_id = models.CharField(_("anonymous id"), max_length=100, unique=True)
    contact = models.ForeignKey(
        Contact, verbose_name=_("contact"), on_delete=models.CASCADE, related_name="visitor_ids"
    )
    identified_at = models.DateTimeField(_("identified at"), default=timezone.now)

    class Meta:
        verbose_name = _("visitor identity")
        verbose_name_plural = _("visitor identities")

    def __str__(self) -> str:
        return self.anonymous_id


class LastEvent(models.Model):  # noqa: DJ008 - derived rows, never listed or shown
    """When a contact last did an event of a type: one row per contact and type it ever did, kept by database
    triggers on the events table (`contacts.last_event`). "Did X in the last N days" reads it: a range read on
    (type, time) instead of every event of the window."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+", db_index=False)
    type = models.CharField(max_length=20)
    occurred_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contact", "type"], name="last_event_contact_type")]
        # On PostgreSQL with the contact included: a window is read from the index alone.
        indexes = [models.Index(fields=["type", "occurred_at"], include=["contact"], name="last_event_time_idx")]
