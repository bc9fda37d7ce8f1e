"""The single audience: contacts with their club membership, purchases and site activity.

Writes go through `contacts.services`; the derived fields on Contact (funnel stage,
lifecycle, purchase aggregates, RFM scores) are kept by those services so that
segments can read them without aggregating millions of rows.
"""
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower, Trim
from django.utils import timezone
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


class Channel(models.TextChoices):
    ONLINE = "online", _("Online")
    IN_STORE = "in_store", _("In store")
    APP = "app", _("App")


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
    choices = models.JSONField(_("choices"), default=list, blank=True, help_text=_("Allowed values for a choice field."))
    help_text = models.CharField(_("help text"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("custom field")
        verbose_name_plural = _("custom fields")
        ordering = ["key"]

    def __str__(self) -> str:
        return self.label


class Contact(models.Model):
    email = models.EmailField(_("email"), max_length=254, null=True, blank=True)
    phone = models.CharField(_("phone"), max_length=32, null=True, blank=True, help_text=_("E.164, e.g. +972501234567"))
    external_id = models.CharField(_("external id"), max_length=100, null=True, blank=True)
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
    referred_by = models.ForeignKey(
        "self", verbose_name=_("referred by"), null=True, blank=True, on_delete=models.SET_NULL,
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
            models.Index(fields=["city"], name="contact_city_idx"),
            models.Index(fields=["region"], name="contact_region_idx"),
            models.Index(fields=["source"], name="contact_source_idx"),
            models.Index(fields=["funnel_stage"], name="contact_funnel_idx"),
            models.Index(fields=["last_purchase_at"], name="contact_last_purchase_idx"),
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
        from .marketing import may_receive_marketing

        return may_receive_marketing(self)

    @property
    def lifecycle(self) -> str | None:
        """The lifecycle stage now (contacts.lifecycle): from the query's annotation when the contact was
        read with `with_lifecycle`, else one query the first time it is asked."""
        if "_lifecycle" not in self.__dict__:
            from .lifecycle import lifecycle_of

            self._lifecycle = lifecycle_of(self)
        return self._lifecycle

    @lifecycle.setter
    def lifecycle(self, value: str | None) -> None:
        self._lifecycle = value

    def get_lifecycle_display(self) -> str:
        return Lifecycle(self.lifecycle).label if self.lifecycle else ""

    def refresh_from_db(self, *args, **kwargs) -> None:
        self.__dict__.pop("_lifecycle", None)  # the purchase dates may have moved
        super().refresh_from_db(*args, **kwargs)


class ConsentEvent(models.Model):
    """Append-only log of every consent change: what was asked, where, when."""

    class ConsentChannel(models.TextChoices):
        EMAIL = "email", _("Email")
        SMS = "sms", _("SMS")

    contact = models.ForeignKey(Contact, verbose_name=_("contact"), on_delete=models.CASCADE,
                                related_name="consent_events")
    channel = models.CharField(_("channel"), max_length=10, choices=ConsentChannel.choices)
    granted = models.BooleanField(_("granted"))
    source = models.CharField(_("source"), max_length=100, blank=True)
    text_shown = models.TextField(_("text shown"), blank=True)
    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now)

    class Meta:
        verbose_name = _("consent event")
        verbose_name_plural = _("consent events")
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["contact", "occurred_at"], name="consent_contact_time_idx")]

    def __str__(self) -> str:
        message = _("%(channel)s consent granted") if self.granted else _("%(channel)s consent revoked")
        return message % {"channel": self.get_channel_display()}


class Store(models.Model):
    code = models.CharField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=200)
    city = models.CharField(_("city"), max_length=100, blank=True)
    region = models.CharField(_("region"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("store")
        verbose_name_plural = _("stores")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    sku = models.CharField(_("SKU"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    category = models.CharField(_("category"), max_length=100, blank=True, db_index=True)
    price = models.DecimalField(_("price"), max_digits=12, decimal_places=2, null=True, blank=True)
    replenishment_days = models.PositiveIntegerField(
        _("replenishment days"), null=True, blank=True,
        help_text=_("Typical days until the product runs out, e.g. 30 for monthly contact lenses."),
    )

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"


class Purchase(models.Model):
    contact = models.ForeignKey(Contact, verbose_name=_("contact"), on_delete=models.CASCADE, related_name="purchases")
    source = models.CharField(_("source system"), max_length=50, default="api",
                              help_text=_("The system that sent the purchase, e.g. pos or shop."))
    external_id = models.CharField(_("external id"), max_length=100, null=True, blank=True)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices, default=Channel.ONLINE)
    store = models.ForeignKey(Store, verbose_name=_("store"), null=True, blank=True, on_delete=models.PROTECT,
                              related_name="purchases")
    purchased_at = models.DateTimeField(_("purchased at"))
    total = models.DecimalField(_("total"), max_digits=14, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, default="ILS")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("purchase")
        verbose_name_plural = _("purchases")
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id"], condition=Q(external_id__isnull=False),
                                    name="purchase_source_external_id_unique"),
        ]
        indexes = [
            models.Index(fields=["contact", "purchased_at"], name="purchase_contact_time_idx"),
            models.Index(fields=["purchased_at"], name="purchase_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.total} {self.currency} · {self.purchased_at:%Y-%m-%d}"


class PurchaseItem(models.Model):
    purchase = models.ForeignKey(Purchase, verbose_name=_("purchase"), on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="items")
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    unit_price = models.DecimalField(_("unit price"), max_digits=12, decimal_places=2)

    class Meta:
        verbose_name = _("purchase item")
        verbose_name_plural = _("purchase items")
        indexes = [models.Index(fields=["product", "purchase"], name="item_product_purchase_idx")]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.product_id}"


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
    home_store = models.ForeignKey(Store, verbose_name=_("home store"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="members")
    points = models.IntegerField(_("points"), default=0)

    class Meta:
        verbose_name = _("club member")
        verbose_name_plural = _("club members")
        constraints = [models.CheckConstraint(condition=Q(points__gte=0), name="member_points_not_negative")]

    def __str__(self) -> str:
        return self.card_number


class PointsEntry(models.Model):
    """Append-only points ledger; `balance_after` makes every row auditable on its own."""

    member = models.ForeignKey(LoyaltyMember, verbose_name=_("member"), on_delete=models.CASCADE,
                               related_name="ledger")
    delta = models.IntegerField(_("points change"))
    balance_after = models.IntegerField(_("balance after"))
    reason = models.CharField(_("reason"), max_length=200)
    reference = models.CharField(_("reference"), max_length=100, null=True, blank=True,
                                 help_text=_("Idempotency key: the same reference is applied once."))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("points entry")
        verbose_name_plural = _("points ledger")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["member", "reference"], condition=Q(reference__isnull=False),
                                    name="points_reference_unique"),
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="points_balance_after_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.delta:+d} ({self.reason})"


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

    contact = models.ForeignKey(Contact, verbose_name=_("contact"), null=True, blank=True, on_delete=models.CASCADE,
                                related_name="activities")
    anonymous_id = models.CharField(_("anonymous id"), max_length=100, null=True, blank=True)
    event_id = models.CharField(_("event id"), max_length=100, null=True, blank=True,
                                help_text=_("Sender's id of the event: the same id is stored once."))
    type = models.CharField(_("type"), max_length=20, choices=Type.choices)
    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now)
    product = models.ForeignKey(Product, verbose_name=_("product"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="activities")
    url = models.URLField(_("URL"), max_length=2000, blank=True)
    properties = models.JSONField(_("properties"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        constraints = [
            models.UniqueConstraint(fields=["event_id"], condition=Q(event_id__isnull=False),
                                    name="activity_event_id_unique"),
        ]
        indexes = [
            models.Index(fields=["contact", "type", "occurred_at"], name="activity_contact_type_time_idx"),
            models.Index(fields=["anonymous_id"], condition=Q(anonymous_id__isnull=False),
                         name="activity_anonymous_idx"),
            models.Index(fields=["type", "occurred_at"], name="activity_type_time_idx"),
            models.Index(fields=["contact", "-occurred_at"], name="activity_contact_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} · {self.occurred_at:%Y-%m-%d %H:%M}"


class VisitorIdentity(models.Model):
    """An anonymous site visitor known to be this contact, so later anonymous events land on it too."""

    anonymous_id = models.CharField(_("anonymous id"), max_length=100, unique=True)
    contact = models.ForeignKey(Contact, verbose_name=_("contact"), on_delete=models.CASCADE,
                                related_name="visitor_ids")
    identified_at = models.DateTimeField(_("identified at"), default=timezone.now)

    class Meta:
        verbose_name = _("visitor identity")
        verbose_name_plural = _("visitor identities")

    def __str__(self) -> str:
        return self.anonymous_id


class RfmBreakpoints(models.Model):
    """Quintile breakpoints of the last bulk RFM computation, reused for one-contact updates."""

    recency_days = models.JSONField(default=list)
    frequency = models.JSONField(default=list)
    monetary = models.JSONField(default=list)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("RFM breakpoints")
        verbose_name_plural = _("RFM breakpoints")

