"""Mailings: templates, campaigns to segments, one Message per recipient, links and tracking events.

`Message` is unique on (campaign, contact): that constraint is the guard against sending anyone
the same campaign twice. Tracking tokens are not stored; they are signed message ids (see
`campaigns.tokens`).
"""

import datetime as dt

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contacts.models import Contact
from segments.models import Segment

from .brand import Brand  # noqa: F401  (the brand settings have their own module; imported so Django finds them)

# A scheduled campaign this long past its time has been missed (beat starts due ones every minute).
OVERDUE_AFTER_SECONDS = 120
# The largest share of a campaign's audience that may be held out (CONTRACT §7).
MAX_HOLDOUT_PERCENT = 50

# What people edit, in one place for the services, the API serializers and the admin forms.
TEMPLATE_FIELDS = ("name", "subject", "preheader", "html", "text", "language", "direction", "layout")
CAMPAIGN_AUDIENCE_FIELDS = ("segments", "exclude_segments")
CAMPAIGN_EDITABLE_FIELDS = (
    "name",
    "template",
    *CAMPAIGN_AUDIENCE_FIELDS,
    "from_name",
    "from_email",
    "reply_to",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "cost",
    "holdout_percent",
    "scheduled_at",
)
# The campaign's own columns among them (the audience is saved as many-to-many relations).
CAMPAIGN_FIELDS = tuple(name for name in CAMPAIGN_EDITABLE_FIELDS if name not in CAMPAIGN_AUDIENCE_FIELDS)


class EmailTemplate(models.Model):
    class Language(models.TextChoices):
        HEBREW = "he", _("Hebrew")
        ENGLISH = "en", _("English")

    class Direction(models.TextChoices):
        RTL = "rtl", _("Right to left")
        LTR = "ltr", _("Left to right")

    class Layout(models.TextChoices):
        DEFAULT = "default", _("Responsive layout with header and footer")
        NONE = "none", _("None: the HTML is the whole message")

    name = models.CharField(_("name"), max_length=200)
    subject = models.CharField(_("subject"), max_length=300)
    preheader = models.CharField(
        _("preheader"),
        max_length=300,
        blank=True,
        help_text=_("The preview line shown after the subject in the inbox."),
    )
    html = models.TextField(_("HTML body"))
    text = models.TextField(_("text body"), blank=True, help_text=_("Left blank, it is made from the HTML."))
    language = models.CharField(_("language"), max_length=5, choices=Language.choices, default=Language.HEBREW)
    direction = models.CharField(
        _("direction"),
        max_length=3,
        choices=Direction.choices,
        blank=True,
        help_text=_("Left blank, it follows the language."),
    )
    layout = models.CharField(_("layout"), max_length=10, choices=Layout.choices, default=Layout.DEFAULT)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("email template")
        verbose_name_plural = _("email templates")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def text_direction(self) -> str:
        if self.direction:
            return self.direction
        return self.Direction.RTL if self.language == self.Language.HEBREW else self.Direction.LTR


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", _("Scheduled")
        SENDING = "sending", _("Sending")
        PAUSED = "paused", _("Paused")
        SENT = "sent", _("Sent")
        CANCELLED = "cancelled", _("Cancelled")

    class Kind(models.TextChoices):
        BROADCAST = "broadcast", _("Campaign")
        FLOW = "flow", _("Automation mail")

    name = models.CharField(_("name"), max_length=200)
    template = models.ForeignKey(
        EmailTemplate, verbose_name=_("template"), on_delete=models.PROTECT, related_name="campaigns"
    )
    segments = models.ManyToManyField(Segment, verbose_name=_("send to segments"), related_name="campaigns")
    exclude_segments = models.ManyToManyField(
        Segment, verbose_name=_("exclude segments"), blank=True, related_name="excluded_from_campaigns"
    )
    from_name = models.CharField(_("from name"), max_length=100, blank=True)
    from_email = models.EmailField(
        _("from email"),
        blank=True,
        help_text=_("Left blank, the brand's sender address is used, else DEFAULT_FROM_EMAIL's."),
    )
    reply_to = models.EmailField(_("reply-to"), blank=True)
    utm_source = models.CharField(_("UTM source"), max_length=100, blank=True, default="crm")
    utm_medium = models.CharField(_("UTM medium"), max_length=100, blank=True, default="email")
    utm_campaign = models.CharField(
        _("UTM campaign"), max_length=100, blank=True, help_text=_("Left blank, made from the campaign name.")
    )
    cost = models.DecimalField(
        _("cost"),
        max_digits=12,
        decimal_places=2,
        default=0,
        help_text=_("What the campaign cost, for return on marketing investment."),
    )
    scheduled_at = models.DateTimeField(_("scheduled at"), null=True, blank=True)
    holdout_percent = models.PositiveSmallIntegerField(
        _("holdout %"),
        default=0,
        validators=[MaxValueValidator(MAX_HOLDOUT_PERCENT)],
        help_text=_(
            "This share of the contacts who would get the mail (0–50) is picked at random and not mailed, "
            "so the report can compare their purchases with those of the mailed ones."
        ),
    )
    kind = models.CharField(
        _("kind"),
        max_length=10,
        choices=Kind.choices,
        default=Kind.BROADCAST,
        db_index=True,
        editable=False,
        help_text=_("An automation's send step keeps its own campaign: its messages, links and numbers."),
    )
    bypass_frequency_cap = models.BooleanField(_("bypass the frequency cap"), default=False, editable=False)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT, db_index=True)
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
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    frozen_template = models.JSONField(
        _("template as sent"),
        null=True,
        blank=True,
        editable=False,
        help_text=_(
            "The template's subject, preheader, HTML, text and layout when the campaign started: "
            "its mails, the browser view and the preview use this copy, whatever the template "
            "becomes later."
        ),
    )
    frozen_at = models.DateTimeField(_("template frozen at"), null=True, blank=True, editable=False)

    # A campaign can be changed only before it starts.
    EDITABLE_STATUSES = (Status.DRAFT, Status.SCHEDULED)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_overdue(self) -> bool:
        """Scheduled, and its time passed more than a grace period ago: the scheduler starts due
        campaigns every minute, so this means no worker or scheduler is running."""
        return bool(
            self.status == self.Status.SCHEDULED
            and self.scheduled_at
            and self.scheduled_at < timezone.now() - dt.timedelta(seconds=OVERDUE_AFTER_SECONDS)
        )


class Message(models.Model):
    """One campaign to one contact: its delivery state and what the contact did with it.

    first_opened_at and first_clicked_at are the first human open and click: the reports count opened and
    clicked messages by them (`campaigns.tallies`), so whatever records an open or a click sets them as
    `campaigns.tracking` does."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        CLAIMED = "claimed", _("Being sent")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped")
        HOLDOUT = "holdout", _("Held out")

    class SkipReason(models.TextChoices):
        NO_EMAIL = "no_email", _("No email address")
        NO_CONSENT = "no_consent", _("No email consent")
        UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
        BOUNCED = "bounced", _("Bounced")
        COMPLAINED = "complained", _("Complained")
        FREQUENCY_CAP = "frequency_cap", _("Frequency cap reached")
        ERASED = "erased", _("Erased")
        CANCELLED = "cancelled", _("Campaign cancelled")

    # No index of their own: the campaign leads several indexes below, the contact message_contact_sent_idx
    # (an index less to write per message sent).
    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    contact = models.ForeignKey(
        Contact, verbose_name=_("contact"), on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    skip_reason = models.CharField(_("skip reason"), max_length=20, choices=SkipReason.choices, blank=True)
    error = models.TextField(_("error"), blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    message_id = models.CharField(_("Message-ID"), max_length=255, blank=True)
    esp_message_id = models.CharField(  # noqa: DJ001 - NULL when absent, so the partial index below skips it
        _("provider message id"), max_length=255, null=True, blank=True
    )
    queued_at = models.DateTimeField(_("queued at"), default=timezone.now)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    first_opened_at = models.DateTimeField(_("first opened"), null=True, blank=True)
    open_count = models.PositiveIntegerField(_("opens"), default=0)
    machine_open_count = models.PositiveIntegerField(_("machine opens"), default=0)
    first_clicked_at = models.DateTimeField(_("first clicked"), null=True, blank=True)
    click_count = models.PositiveIntegerField(_("clicks"), default=0)
    bounced_at = models.DateTimeField(_("bounced at"), null=True, blank=True)
    bounce_type = models.CharField(_("bounce type"), max_length=10, blank=True)
    complained_at = models.DateTimeField(_("complained at"), null=True, blank=True)
    unsubscribed_at = models.DateTimeField(_("unsubscribed at"), null=True, blank=True)
    occurrence = models.PositiveBigIntegerField(
        _("occurrence"), default=0, help_text=_("The enrollment an automation mail belongs to; 0 for a campaign.")
    )

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        constraints = [
            # One message per recipient of a campaign; an automation's step mails a contact once per enrollment.
            models.UniqueConstraint(
                fields=["campaign", "contact", "occurrence"], name="message_campaign_contact_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["campaign", "status", "id"], name="message_campaign_status_idx"),
            models.Index(fields=["contact", "sent_at"], name="message_contact_sent_idx"),
            models.Index(
                fields=["esp_message_id"], condition=Q(esp_message_id__isnull=False), name="message_esp_id_idx"
            ),
            models.Index(fields=["message_id"], name="message_message_id_idx"),
            # The report's recipients, newest first, page by id within a campaign (the primary key alone would
            # walk past every newer campaign's messages); the rare states have theirs, so a page of the few
            # complaints of a million messages reads those few.
            models.Index(fields=["campaign", "id"], name="message_campaign_id_idx"),
            models.Index(
                fields=["campaign", "id"], condition=Q(complained_at__isnull=False), name="message_complained_idx"
            ),
            models.Index(fields=["campaign", "id"], condition=Q(bounced_at__isnull=False), name="message_bounced_idx"),
            models.Index(
                fields=["campaign", "id"], condition=Q(unsubscribed_at__isnull=False), name="message_unsubscribed_idx"
            ),
            # On PostgreSQL also message_campaign_contact_cohort_idx, (campaign, contact) with status and
            # bounced_at included, for the holdout comparison (migration 0007).
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}→{self.contact_id}"

    @property
    def human_open_count(self) -> int:
        """Opens by people: `open_count` counts every open, machine ones included."""
        return max(self.open_count - self.machine_open_count, 0)


class Link(models.Model):
    """A URL a campaign's mail points at; the click redirect only ever goes to these."""

    campaign = models.ForeignKey(Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="links")
    url = models.TextField(_("URL"))
    url_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("link")
        verbose_name_plural = _("links")
        constraints = [models.UniqueConstraint(fields=["campaign", "url_hash"], name="link_campaign_url_unique")]

    def __str__(self) -> str:
        return self.url


class TrackingEvent(models.Model):
    class Kind(models.TextChoices):
        OPEN = "open", _("Open")
        CLICK = "click", _("Click")
        UNSUBSCRIBE = "unsubscribe", _("Unsubscribe")
        BOUNCE = "bounce", _("Bounce")
        COMPLAINT = "complaint", _("Complaint")
        DELIVERED = "delivered", _("Delivered")
        DEFERRED = "deferred", _("Deferred")

    message = models.ForeignKey(Message, verbose_name=_("message"), on_delete=models.CASCADE, related_name="events")
    campaign = models.ForeignKey(Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="events")
    contact = models.ForeignKey(
        Contact, verbose_name=_("contact"), on_delete=models.CASCADE, related_name="email_events"
    )
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    link = models.ForeignKey(
        Link, verbose_name=_("link"), null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now)
    is_machine = models.BooleanField(
        _("machine"), default=False, help_text=_("A privacy proxy, a security scanner or an automatic prefetch.")
    )
    machine_reason = models.CharField(_("why machine"), max_length=50, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=500, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)

    class Meta:
        verbose_name = _("tracking event")
        verbose_name_plural = _("tracking events")
        indexes = [
            models.Index(fields=["campaign", "kind", "occurred_at"], name="event_campaign_kind_time_idx"),
            models.Index(fields=["contact", "kind", "occurred_at"], name="event_contact_kind_time_idx"),
            models.Index(fields=["message", "kind"], name="event_message_kind_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.occurred_at:%Y-%m-%d %H:%M}"


# ------------------------------------------------------------------ tallies


class TallyRow(models.Model):
    """A row of a tally (`campaigns.tallies`): written only by the database's triggers, read by summing its
    shards. Counts may go below 0 in one shard (a message counted in one backend's row, changed in another's);
    the sum over the shards never does."""

    shard = models.PositiveSmallIntegerField()

    class Meta:
        abstract = True


def _count() -> models.BigIntegerField:
    return models.BigIntegerField(default=0, db_default=0)


class CampaignTally(TallyRow):
    """A campaign's messages by state (its events are in EventHour). No foreign key constraint: the campaign's
    messages are deleted before it, and their triggers still write here; the campaign's own trigger then
    deletes these rows."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    recipients = _count()
    sent = _count()
    failed = _count()
    skipped = _count()
    held_out = _count()
    delivered = _count()
    bounced = _count()
    complaints = _count()
    unsubscribes = _count()
    unique_opens = _count()
    unique_clicks = _count()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "shard"], name="campaign_tally_unique")]

    def __str__(self) -> str:
        return f"{self.campaign_id}/{self.shard}"


class SentHour(TallyRow):
    """The mail sent (status sent) in one UTC hour of its sent_at, and how much of it bounced, was opened and
    was clicked by a person."""

    hour = models.DateTimeField()
    sent = _count()
    bounced = _count()
    opened = _count()
    clicked = _count()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["hour", "shard"], name="sent_hour_unique")]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h/{self.shard}"


class EventHour(TallyRow):
    """A campaign's open and click events in one UTC hour (see CampaignTally for the missing constraint)."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    hour = models.DateTimeField()
    opens = _count()
    machine_opens = _count()
    clicks = _count()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "hour", "shard"], name="event_hour_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.hour:%Y-%m-%d %H}h/{self.shard}"
