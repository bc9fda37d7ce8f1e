"""The consent log: every grant and withdrawal, with the text the contact was shown."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .choices import MailFrequency
from .contacts import Contact

CONSENT_TEXT_MAX_LENGTH = 2000


class ConsentEvent(models.Model):
    """Append-only log of every consent change: what was asked, where, when."""

    class ConsentChannel(models.TextChoices):
        EMAIL = "email", _("Email")
        SMS = "sms", _("SMS")

    contact = models.ForeignKey(
        Contact, verbose_name=_("contact"), on_delete=models.CASCADE, related_name="consent_events"
    )
    channel = models.CharField(_("channel"), max_length=10, choices=ConsentChannel.choices)
    granted = models.BooleanField(_("granted"))
    source = models.CharField(_("source"), max_length=100, blank=True)
    text_shown = models.TextField(
        _("text shown"), blank=True, help_text=_("The consent wording the contact saw when the change was made.")
    )
    mail_frequency = models.CharField(
        _("mail frequency"),
        max_length=10,
        choices=MailFrequency.choices,
        default=MailFrequency.ANY,
        db_default=MailFrequency.ANY,
        blank=True,
        help_text=_("The frequency agreed to, for a change made in the preference centre."),
    )
    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now)

    class Meta:
        verbose_name = _("consent event")
        verbose_name_plural = _("consent events")
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["contact", "occurred_at"], name="consent_contact_time_idx")]

    def __str__(self) -> str:
        message = _("%(channel)s consent granted") if self.granted else _("%(channel)s consent revoked")
        return message % {"channel": self.get_channel_display()}
