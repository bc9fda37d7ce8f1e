"""Purchases, site events and identify: what shops, tills and sites send, one by one or in batches."""

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from crm.api import ApiViewSet, object_or_id

from .. import ingest, services
from ..filters import EventFilter, PurchaseFilter
from ..models import Activity, Purchase
from ..serializers import (
    MAX_BATCH,
    BulkResultSerializer,
    EventBulkInSerializer,
    EventInSerializer,
    EventSerializer,
    IdentifyResultSerializer,
    IdentifySerializer,
    PurchaseBulkInSerializer,
    PurchaseInSerializer,
    PurchaseSerializer,
)
from .common import READ, validated, written

PURCHASE_EXAMPLE = {
    "external_id": "POS-0001-778812",
    "source": "pos",
    "card_number": "900000001234",
    "channel": "in_store",
    "store": "TLV-01",
    "purchased_at": "2026-03-01T18:05:00+02:00",
    "total": "189.70",
    "currency": "ILS",
    "items": [
        {"sku": "LENS-30", "quantity": 2, "unit_price": "79.90"},
        {"sku": "CASE-01", "quantity": 1, "unit_price": "29.90"},
    ],
}
EVENT_EXAMPLE = {
    "type": "add_to_cart",
    "occurred_at": "2026-03-01T18:00:00+02:00",
    "anonymous_id": "web-7f3a9c",
    "event_id": "evt-000123",
    "product": "LENS-30",
    "url": "https://shop.example.com/p/lens-30",
    "properties": {"cart_value": 159.8},
}
BULK_RESULT_EXAMPLE = OpenApiExample(
    "Partial success",
    response_only=True,
    value={
        "created": 998,
        "duplicates": 1,
        "errors": [{"index": 7, "errors": {"items.0.sku": ["Unknown product NOPE-1."]}}],
    },
)


def _batch(request: Request, key: str) -> list:
    """The list of items under `key`; each item is then validated on its own."""
    body = request.data
    items = body.get(key) if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise ValidationError({key: [_("Send a list under “%(key)s”.") % {"key": key}]})
    if not items or len(items) > MAX_BATCH:
        raise ValidationError({key: [_("Send between 1 and %(n)d items.") % {"n": MAX_BATCH}]})
    return items


@extend_schema_view(
    list=extend_schema(
        summary=gettext_lazy("List purchases"),
        description=gettext_lazy(
            "Newest first; filter by contact, channel, store (code), source, external_id and a purchased_at range."
        ),
    ),
    retrieve=extend_schema(summary=gettext_lazy("Get a purchase")),
)
class PurchaseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    queryset = Purchase.objects.select_related("store").prefetch_related("items__product")
    serializer_class = PurchaseSerializer
    required_scopes = {"GET": READ, "HEAD": READ, "OPTIONS": READ, "*": "purchases:write"}
    filterset_class = PurchaseFilter
    ordering_fields = ["id", "purchased_at"]

    @extend_schema(
        summary=gettext_lazy("Record a purchase"),
        description=gettext_lazy(
            "Idempotent per (source, external_id): sending the same order again answers 200 with the stored "
            "purchase and changes nothing; a new one answers 201. The buyer is the contact id, else the club "
            "card, else the email (a new contact is created for an unknown email); identifiers that name two different "
            "contacts are a 400 on each of those fields. Unknown contact, card, store "
            "or SKU is a 400 naming the field (`items.N.sku` for an item). A key without `contacts:read` gets back "
            'only `{"id": N}`.'
        ),
        request=PurchaseInSerializer,
        responses={201: object_or_id("Purchase"), 200: object_or_id("Purchase")},
        examples=[OpenApiExample("In-store purchase by club card", value=PURCHASE_EXAMPLE, request_only=True)],
    )
    def create(self, request: Request) -> Response:
        purchase, created = ingest.purchase_submit(item=validated(PurchaseInSerializer, request.data))
        return written(self, purchase, PurchaseSerializer, status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        summary=gettext_lazy("Record up to 1000 purchases"),
        description=gettext_lazy(
            "Each item as in `POST /purchases/`. Valid items are stored, invalid ones are reported by their index "
            "and never stop the others; items whose (source, external_id) is already stored count as duplicates, "
            "so a retried batch creates nothing twice."
        ),
        request=PurchaseBulkInSerializer,
        responses={200: BulkResultSerializer},
        examples=[
            OpenApiExample(
                "Two orders from the web shop",
                request_only=True,
                value={
                    "purchases": [
                        {
                            **PURCHASE_EXAMPLE,
                            "external_id": "WEB-1001",
                            "source": "shop",
                            "channel": "online",
                            "store": None,
                            "card_number": None,
                            "email": "dana@example.com",
                        },
                        {
                            **PURCHASE_EXAMPLE,
                            "external_id": "WEB-1002",
                            "source": "shop",
                            "channel": "online",
                            "store": None,
                            "card_number": None,
                            "contact": 42,
                        },
                    ]
                },
            ),
            BULK_RESULT_EXAMPLE,
        ],
    )
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        return Response(ingest.purchases_record_bulk(items=_batch(request, "purchases")))


@extend_schema_view(
    list=extend_schema(
        summary=gettext_lazy("List site and app events"),
        description=gettext_lazy(
            "Newest first; filter by type, contact, anonymous_id, product and an occurred_at range."
        ),
    ),
    retrieve=extend_schema(summary=gettext_lazy("Get an event")),
)
class EventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    queryset = Activity.objects.select_related("product")
    serializer_class = EventSerializer
    required_scopes = {"GET": READ, "HEAD": READ, "OPTIONS": READ, "*": "events:write"}
    filterset_class = EventFilter
    ordering_fields = ["id", "occurred_at"]

    @extend_schema(
        summary=gettext_lazy("Track an event"),
        description=gettext_lazy(
            "A page view, product view, add-to-cart … from a known contact (id, email or card) or an anonymous "
            "visitor (anonymous_id). Known contacts move up the funnel (visitor → interested → cart). An event_id "
            "makes retries safe: answered 200 with the stored event the second time. A key without "
            '`contacts:read` gets back only `{"id": N}`.'
        ),
        request=EventInSerializer,
        responses={201: object_or_id("Event"), 200: object_or_id("Event")},
        examples=[OpenApiExample("Add to cart by a visitor", value=EVENT_EXAMPLE, request_only=True)],
    )
    def create(self, request: Request) -> Response:
        activity, created = ingest.activity_submit(item=validated(EventInSerializer, request.data))
        return written(self, activity, EventSerializer, status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        summary=gettext_lazy("Track up to 1000 events"),
        description=gettext_lazy(
            "Each item as in `POST /events/`; invalid items are reported by index, events "
            "with an event_id already stored count as duplicates."
        ),
        request=EventBulkInSerializer,
        responses={200: BulkResultSerializer},
        examples=[
            OpenApiExample(
                "A visit",
                request_only=True,
                value={
                    "events": [
                        {"type": "page_view", "anonymous_id": "web-7f3a9c", "url": "https://shop.example.com/"},
                        {**EVENT_EXAMPLE, "type": "product_view", "event_id": "evt-000122"},
                        EVENT_EXAMPLE,
                    ]
                },
            ),
            BULK_RESULT_EXAMPLE,
        ],
    )
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        return Response(ingest.activities_track_bulk(items=_batch(request, "events")))


class IdentifyViewSet(ApiViewSet):
    required_scopes = {"*": "events:write"}
    permission_model = Activity
    action_permissions = {"create": {"POST": ("contacts.change_activity",)}}
    serializer_class = IdentifySerializer
    pagination_class = None
    filter_backends: list = []

    @extend_schema(
        summary=gettext_lazy("Identify an anonymous visitor"),
        description=gettext_lazy(
            "Links an anonymous_id (the shop's cookie id) to a contact — by id, club card or email (created if "
            "new) — and re-homes the visitor's past events to that contact, whose funnel stage is recomputed."
        ),
        request=IdentifySerializer,
        responses={200: IdentifyResultSerializer},
        examples=[
            OpenApiExample(
                "Visitor logs in", request_only=True, value={"anonymous_id": "web-7f3a9c", "email": "dana@example.com"}
            ),
            OpenApiExample("Result", response_only=True, value={"contact": 42, "moved": 3}),
        ],
    )
    def create(self, request: Request) -> Response:
        data = validated(IdentifySerializer, request.data)
        with transaction.atomic():
            contact = services.contact_resolve(
                contact_id=data["contact"],
                email=data["email"],
                card_number=data["card_number"],
                create_source="web_form",
            )
            moved = services.identify(anonymous_id=data["anonymous_id"], contact=contact)
        return Response({"contact": contact.pk, "moved": moved})
