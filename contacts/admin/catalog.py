"""Stores, products, tags, custom fields and purchases."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .. import services
from ..models import CustomField, Product, Purchase, PurchaseItem, Store, Tag
from ..paginator import EstimatedCountPaginator
from ..resources import PurchaseResource
from .base import CsvImportExportMixin, ReadOnlyInline
from .contact import contact_link
from .filters import PurchaseSourceFilter


@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "city", "region")
    search_fields = ("code", "name", "city")


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("sku", "name", "category", "price", "replenishment_days")
    list_filter = ("category",)
    search_fields = ("=sku", "name")


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ("name", "created_at")
    search_fields = ("name",)


@admin.register(CustomField)
class CustomFieldAdmin(admin.ModelAdmin):
    list_display = ("key", "label", "type")
    list_filter = ("type",)
    search_fields = ("key", "label")


class PurchaseItemInline(ReadOnlyInline, admin.TabularInline):
    model = PurchaseItem
    fields = ("product", "quantity", "unit_price")
    readonly_fields = fields
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product")


@admin.register(Purchase)
class PurchaseAdmin(CsvImportExportMixin, admin.ModelAdmin):
    """Purchases arrive from the shop and the tills (API, CSV import) and are kept as they came:
    editing one here would leave the contact's totals, lifecycle and funnel stage behind."""

    resource_classes = [PurchaseResource]
    list_display = ("purchased_at", "buyer", "total", "currency", "channel", "store", "source", "external_id")
    list_select_related = ("contact", "store")
    list_filter = ("channel", "store", PurchaseSourceFilter)
    search_fields = ("=external_id", "=contact__email")
    search_help_text = _("An order number (external id) or the buyer's email, exactly.")
    raw_id_fields = ("contact", "store")
    sortable_by = ("purchased_at", "total")
    ordering = ("-pk",)
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    inlines = (PurchaseItemInline,)

    @admin.display(description=_("contact"))
    def buyer(self, purchase: Purchase) -> str:
        return contact_link(purchase.contact)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.opts.concrete_fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        services.purchases_delete(purchases=Purchase.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset):
        services.purchases_delete(purchases=queryset)

    def get_export_queryset(self, request):
        return (
            super().get_export_queryset(request).select_related("contact", "store").prefetch_related("items__product")
        )
