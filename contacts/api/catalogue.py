"""The catalogue: products and stores, referenced by SKU and code in purchases and events."""

from typing import Any

from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.request import Request
from rest_framework.response import Response

from crm.api import ApiViewSet

from .. import services
from ..filters import ProductFilter, StoreFilter
from ..models import Product, Store
from ..serializers import ProductSerializer, StoreSerializer
from .common import CATALOGUE_READ


class CatalogueViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    required_scopes = {"GET": CATALOGUE_READ, "HEAD": CATALOGUE_READ, "OPTIONS": CATALOGUE_READ, "*": "purchases:write"}
    save: Any = None

    def create(self, request: Request) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        obj = type(self).save(**serializer.validated_data)
        return Response(self.get_serializer(obj).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: Any = None) -> Response:
        instance = self.get_object()
        serializer = self.get_serializer(instance, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        obj = type(self).save(instance, **serializer.validated_data)
        return Response(self.get_serializer(obj).data)


@extend_schema_view(
    list=extend_schema(summary=gettext_lazy("List products")),
    retrieve=extend_schema(summary=gettext_lazy("Get a product")),
    create=extend_schema(
        summary=gettext_lazy("Add a product"),
        description=gettext_lazy(
            "Products are referenced by SKU in purchases and events. `replenishment_days` drives "
            '"time to buy again" lists (e.g. 30 for monthly contact lenses).'
        ),
        examples=[
            OpenApiExample(
                "Monthly lenses",
                request_only=True,
                value={
                    "sku": "LENS-30",
                    "name": "Monthly contact lenses",
                    "category": "lenses",
                    "price": "79.90",
                    "replenishment_days": 30,
                },
            )
        ],
    ),
    partial_update=extend_schema(
        summary=gettext_lazy("Change a product"),
        examples=[OpenApiExample("New price", request_only=True, value={"price": "74.90"})],
    ),
)
class ProductViewSet(CatalogueViewSet):
    queryset = Product.objects.all()
    serializer_class = ProductSerializer
    filterset_class = ProductFilter
    ordering_fields = ["id", "sku", "name"]

    @staticmethod
    def save(product: Product | None = None, **fields: Any) -> Product:
        return services.product_save(product=product, **fields)


@extend_schema_view(
    list=extend_schema(summary=gettext_lazy("List stores")),
    retrieve=extend_schema(summary=gettext_lazy("Get a store")),
    create=extend_schema(
        summary=gettext_lazy("Add a store"),
        description=gettext_lazy("Stores are referenced by code in in-store purchases."),
        examples=[
            OpenApiExample(
                "A store",
                request_only=True,
                value={
                    "code": "TLV-01",
                    "name": "Tel Aviv Dizengoff",
                    "city": "Tel Aviv",
                    "region": "Tel Aviv District",
                },
            )
        ],
    ),
    partial_update=extend_schema(
        summary=gettext_lazy("Change a store"),
        examples=[OpenApiExample("Moved", request_only=True, value={"city": "Ramat Gan"})],
    ),
)
class StoreViewSet(CatalogueViewSet):
    queryset = Store.objects.all()
    serializer_class = StoreSerializer
    filterset_class = StoreFilter
    ordering_fields = ["id", "code", "name"]

    @staticmethod
    def save(store: Store | None = None, **fields: Any) -> Store:
        return services.store_save(store=store, **fields)
