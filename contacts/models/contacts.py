"""The contact itself, with its tags, custom-field definitions and the RFM breakpoints of its derived state."""

from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower, Trim
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .choices import EmailStatus, FunnelStage, Gender, Lifecycle, MailFrequency, MaritalStatus, Source


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=100)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(Lower("name"), name="tag_name_ci_unique")]

    def __str__(self) -> str:
        return self.name


class CustomField(models.Model):
    """Definition of one key of `Contact.attributes`, so forms and segments can offer it."""

    class Type(models.TextChoices):
        TEXT = "text", _("Text")
        NUMBER = "number", _("Number")
        DATE = "date", _("Date")
        BOOLEAN = "boolean", _("Yes/no")
        CHOICE = "choice", _("Choice")

    key = models.SlugField(_("key"), max_length=64, unique=True)
    label = models.CharField(_("label"), max_length=200)
    type = models.CharField(_("type"), max_length=10, choices=Type.choices, default=Type.TEXT)
    choices = models.JSONField(
        _("choices"), default=list, blank=True, help_text=_("Allowed values for a choice field.")
    )
    help_text = models.CharField(_("help text"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("custom field")
        verbose_name_plural = _("custom fields")
        ordering = ["key"]

    def __str__(self) -> str:
        return self.label


class Contact(models.Model):
    email = models.EmailField(  # noqa: DJ001 - NULL when absent, so the constraint below is "unique when present"
        _("email"), max_length=254, null=True, blank=True
    )
    phone = models.CharField(  # noqa: DJ001 - NULL when absent, so the constraint below is "unique when present"
        _("phone"), max_length=32, null=True, blank=True, help_text=_("E.164, e.g. +972501234567")
    )
    external_id = models.CharField(  # noqa: DJ001 - NULL when absent, so the constraint below is "unique when present"
        _("external id"), max_length=100, null=True, blank=True
    )
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    gender = models.CharField(_("gender"), max_length=10, choices=Gender.choices, default=Gender.UNKNOWN)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    wedding_date = models.DateField(_("wedding date"), null=True, blank=True)
    marital_status = models.CharField(
        _("marital status"), max_length=20, choices=MaritalStatus.choices, default=MaritalStatus.UNKNOWN
    )
    city = models.CharField(_("city"), max_length=100, blank=True)
    region = models.CharField(_("region"), max_length=100, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True, default="IL")
    language = models.CharField(_("language"), max_length=10, blank=True, default="he")
    source = models.CharField(_("source"), max_length=20, choices=Source.choices, blank=True)
    source_detail = models.CharField(_("source detail"), max_length=200, blank=True)
    signed_up_at = models.DateTimeField(_("signed up at"), null=True, blank=True)
    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), blank=True, related_name="contacts")
    attributes = models.JSONField(_("custom attributes"), default=dict, blank=True)
    email_opt_in = models.BooleanField(_("email opt-in"), default=False)
    sms_opt_in = models.BooleanField(_("SMS opt-in"), default=False)
    email_status = models.CharField(
        _("email status"), max_length=20, choices=EmailStatus.choices, default=EmailStatus.ACTIVE
    )
    mail_frequency = models.CharField(
        _("mail frequency"),
        max_length=10,
        choices=MailFrequency.choices,
        default=MailFrequency.ANY,
        db_default=MailFrequency.ANY,
        blank=True,
        help_text=_("Chosen by the contact in the preference centre; the send path honours it."),
    )
    referred_by = models.ForeignKey(
        "self",
        verbose_name=_("referred by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="referrals",
    )

    # Derived state, kept by contacts.services.
    funnel_stage = models.PositiveSmallIntegerField(
        _("funnel stage"), choices=FunnelStage.choices, default=FunnelStage.NONE
    )
    purchase_count = models.PositiveIntegerField(_("purchases"), default=0)
    total_spent = models.DecimalField(_("total spent"), max_digits=14, decimal_places=2, default=0)
    first_purchase_at = models.DateTimeField(_("first purchase"), null=True, blank=True)
    last_purchase_at = models.DateTimeField(_("last purchase"), null=True, blank=True)
    rfm_recency = models.PositiveSmallIntegerField(_("RFM recency"), null=True, blank=True)
    rfm_frequency = models.PositiveSmallIntegerField(_("RFM frequency"), null=True, blank=True)
    rfm_monetary = models.PositiveSmallIntegerField(_("RFM monetary"), null=True, blank=True)

    erased_at = models.DateTimeField(_("erased at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        constraints = [
            models.UniqueConstraint(fields=["email"], condition=Q(email__isnull=False), name="contact_email_unique"),
            models.UniqueConstraint(fields=["phone"], condition=Q(phone__isnull=False), name="contact_phone_unique"),
            models.UniqueConstraint(
                fields=["external_id"], condition=Q(external_id__isnull=False), name="contact_external_id_unique"
            ),
        ]
        indexes = [
            # The few contacts who chose a mail frequency, for the send path's check (campaigns.audience).
            models.Index(fields=["mail_frequency"], condition=~Q(mail_frequency=""), name="contact_mail_frequency_idx"),
            models.Index(fields=["city"], name="contact_city_idx"),
            models.Index(fields=["region"], name="contact_region_idx"),
            models.Index(fields=["source"], name="contact_source_idx"),
            models.Index(fields=["funnel_stage"], name="contact_funnel_idx"),
            models.Index(fields=["last_purchase_at"], name="contact_last_purchase_idx"),
            models.Index(fields=["first_purchase_at"], name="contact_first_purchase_idx"),
            models.Index(fields=["signed_up_at"], name="contact_signed_up_idx"),
            models.Index(fields=["birth_date"], name="contact_birth_date_idx"),
            models.Index(fields=["last_name", "first_name"], name="contact_name_idx"),
            # Segment rules compare text ignoring case and surrounding spaces.
            models.Index(Lower(Trim("city")), name="contact_city_norm_idx"),
            models.Index(Lower(Trim("region")), name="contact_region_norm_idx"),
        ]

    def __str__(self) -> str:
        name = self.full_name
        if name and self.email:
            return f"{name} <{self.email}>"
        return name or self.email or self.phone or _("Contact #%(id)s") % {"id": self.pk}

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def can_receive_email(self) -> bool:
        from ..marketing import may_receive_marketing

        return may_receive_marketing(self)

    @property
    def lifecycle(self) -> str | None:
        """The lifecycle stage now (contacts.lifecycle): from the query's annotation when the contact was
        read with `with_lifecycle`, else one query the first time it is asked."""
        if "_lifecycle" not in self.__dict__:
            from ..lifecycle import lifecycle_of

            self._lifecycle = lifecycle_of(self)
        return self._lifecycle

    @lifecycle.setter
    def lifecycle(self, value: str | None) -> None:
        self._lifecycle = value

    @property
    def rfm_segment(self) -> str | None:
        """The named RFM segment of the stored scores (contacts.rfm owns the grid)."""
        from ..rfm import rfm_segment_of

        return rfm_segment_of(self.rfm_recency, self.rfm_frequency)

    def get_lifecycle_display(self) -> str:
        return str(Lifecycle(self.lifecycle).label) if self.lifecycle else ""

    def refresh_from_db(self, *args, **kwargs) -> None:
        self.__dict__.pop("_lifecycle", None)  # the purchase dates may have moved
        super().refresh_from_db(*args, **kwargs)


class RfmBreakpoints(models.Model):  # noqa: DJ008 - an internal row, never listed or shown
    """Quintile breakpoints of the last bulk RFM computation, reused for one-contact updates."""

    recency_days = models.JSONField(default=list)
    frequency = models.JSONField(default=list)
    monetary = models.JSONField(default=list)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("RFM breakpoints")
        verbose_name_plural = _("RFM breakpoints")
