"""Purchases and their line items."""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .catalogue import Product, Store
from .choices import Channel
from .contacts import Contact


class Purchase(models.Model):
    # No index of its own: purchase_contact_time_idx leads with the contact (one index less per insert).
    contact = models.ForeignKey(
        Contact, verbose_name=_("contact"), on_delete=models.CASCADE, related_name="purchases", db_index=False
    )
    source = models.CharField(
        _("source system"),
        max_length=50,
        default="api",
        help_text=_("The system that sent the purchase, e.g. pos or shop."),
    )
    external_id = models.CharField(  # noqa: DJ001 - NULL when absent, so the constraint below is "unique when present"
        _("external id"), max_length=100, null=True, blank=True
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices, default=Channel.ONLINE)
    store = models.ForeignKey(
        Store, verbose_name=_("store"), null=True, blank=True, on_delete=models.PROTECT, related_name="purchases"
    )
    purchased_at = models.DateTimeField(_("purchased at"))
    total = models.DecimalField(_("total"), max_digits=14, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, default="ILS")
    utm_source = models.CharField(_("UTM source"), max_length=100, blank=True, default="", db_default="")
    utm_medium = models.CharField(_("UTM medium"), max_length=100, blank=True, default="", db_default="")
    utm_campaign = models.CharField(_("UTM campaign"), max_length=100, blank=True, default="", db_default="")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("purchase")
        verbose_name_plural = _("purchases")
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=Q(external_id__isnull=False),
                name="purchase_source_external_id_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["contact", "purchased_at"], name="purchase_contact_time_idx"),
            # On PostgreSQL with the buyer and the total included: a campaign's holdout window sums a few days'
            # purchases per buyer from the index alone (a table page per purchase otherwise: ~13,000 pages
            # for five days at a million contacts). Elsewhere a plain index on the time.
            models.Index(fields=["purchased_at"], include=["contact", "total"], name="purchase_time_covering_idx"),
            models.Index(
                fields=["utm_source", "purchased_at"], condition=~Q(utm_source=""), name="purchase_utm_source_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.total} {self.currency} · {self.purchased_at:%Y-%m-%d}"


class PurchaseItem(models.Model):
    purchase = models.ForeignKey(Purchase, verbose_name=_("purchase"), on_delete=models.CASCADE, related_name="items")
    # No index of its own: item_product_purchase_idx leads with the product.
    product = models.ForeignKey(
        Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="items", db_index=False
    )
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    unit_price = models.DecimalField(_("unit price"), max_digits=12, decimal_places=2)

    class Meta:
        verbose_name = _("purchase item")
        verbose_name_plural = _("purchase items")
        indexes = [models.Index(fields=["product", "purchase"], name="item_product_purchase_idx")]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.product_id}"


class UncountedPurchase(models.Model):  # noqa: DJ008 - an internal queue row, never listed or shown
    """A purchase stored by a bulk batch and not yet counted into what derives from it: its buyer's aggregates,
    funnel stage and RFM, the sales rollups, the automations it starts (`contacts.purchase_queue`). The row goes
    in the transaction that counts the purchase, so a purchase is counted once, whoever counts it."""

    # No constraint in the database (a check per purchase at the batch's commit): the row is written with its
    # purchase, goes with it (a cascade here), and a purchase gone meanwhile is skipped when counted.
    purchase = models.OneToOneField(
        Purchase, on_delete=models.CASCADE, primary_key=True, related_name="+", db_constraint=False
    )


class LastBought(models.Model):  # noqa: DJ008 - derived rows, never listed or shown
    """When a contact last bought a product: the latest time of its counted purchases holding the product, one
    row per contact and product it ever bought (`contacts.last_bought` keeps them with the buyers' aggregates).
    "Due to restock" reads it: a product's replenishment date is this time plus its cycle, so the condition is
    a range read per cycle on (product, time) instead of a search for a later purchase of every item."""

    # No constraints in the database, as for the spending periods: checking the contact and the product of each
    # row a batch writes was two fifths of the foreign-key checks of storing and counting purchases. The rows
    # are written only from counted purchases, whose buyer and lines reference both, and go with the contact
    # or the product (a cascade here).
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    product = models.ForeignKey(
        Product, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    purchased_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contact", "product"], name="last_bought_contact_product")]
        # On PostgreSQL with the contact included: a cycle's window is read from the index alone.
        indexes = [models.Index(fields=["product", "purchased_at"], include=["contact"], name="last_bought_time_idx")]


class SpendPeriod(models.Model):
    """A contact's orders and spending in one UTC calendar period beginning at `starts_at`: one row per contact and
    period with a purchase, kept by database triggers on the purchases table (`contacts.spend_months`). "Spent X
    / bought N times in the last D days" reads the whole quarters and months of its window here and the rest of
    it from the purchases."""

    # No constraint in the database: checking it for every period a batch of purchases opens cost ~10 ms per 1,000
    # purchases at commit; the rows are written only from purchases, which reference their contact, and go with
    # the contact (deleted with it here, as a cascade).
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    starts_at = models.DateTimeField()
    orders = models.PositiveIntegerField()
    total = models.DecimalField(max_digits=16, decimal_places=2)

    class Meta:
        abstract = True


class SpendMonth(SpendPeriod):  # noqa: DJ008 - derived rows, never listed or shown
    pk = models.CompositePrimaryKey("contact", "starts_at")  # no surrogate id: one index less per purchase stored

    class Meta:
        # On PostgreSQL with the contact and sums included: a window's months are read from the index alone.
        indexes = [
            models.Index(fields=["starts_at"], include=["contact", "orders", "total"], name="spend_month_start_idx")
        ]


class SpendQuarter(SpendPeriod):  # noqa: DJ008 - derived rows, never listed or shown
    pk = models.CompositePrimaryKey("contact", "starts_at")

    class Meta:
        indexes = [
            models.Index(fields=["starts_at"], include=["contact", "orders", "total"], name="spend_quarter_start_idx")
        ]
