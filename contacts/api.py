"""Partner API views for the audience: contacts, club, catalogue, purchases, events and identify.

Views are thin: a serializer (or the batch validator in `contacts.ingest`) checks the input, a service
writes, a serializer answers. Scopes: reads need `contacts:read` (the catalogue also opens to keys that
send purchases or events); contact and club writes need `contacts:write`; purchases and the catalogue
`purchases:write`; events and identify `events:write`. A writer without `contacts:read` gets back only the
id of what it wrote, never the personal data stored with it.
"""
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from crm.api import ApiViewSet, object_or_id
from crm.models import ApiKey
from crm.permissions import ERASE_CONTACT, MERGE_CONTACT, may_read_contacts

from . import ingest, normalize, services
from .filters import ClubMemberFilter, ContactFilter, EventFilter, ProductFilter, PurchaseFilter, StoreFilter
from .lifecycle import with_lifecycle
from .models import Activity, Contact, LoyaltyMember, PointsEntry, Product, Purchase, Store
from .serializers import (
    BulkResultSerializer,
    ClubMemberSerializer,
    ClubMemberUpdateSerializer,
    ContactConflictSerializer,
    ContactMergeSerializer,
    ContactSerializer,
    ContactUpsertSerializer,
    EventBulkInSerializer,
    EventInSerializer,
    EventSerializer,
    IdentifyResultSerializer,
    IdentifySerializer,
    PointsEntrySerializer,
    ProductSerializer,
    PurchaseBulkInSerializer,
    PurchaseInSerializer,
    PurchaseSerializer,
    StoreSerializer,
)

READ = "contacts:read"
CATALOGUE_READ = ("contacts:read", "purchases:write", "events:write")

CONTACT_EXAMPLE = OpenApiExample(
    "A contact", request_only=True,
    value={"email": "dana@example.com", "phone": "050-123-4567", "first_name": "Dana", "last_name": "Levi",
           "city": "Haifa", "birth_date": "1990-04-12", "source": "landing_page", "source_detail": "spring-sale",
           "tags": ["newsletter"], "attributes": {"pet": "dog"}, "email_opt_in": True},
)
CONTACT_RESPONSE_EXAMPLE = OpenApiExample(
    "Stored contact", response_only=True,
    value={"id": 42, "email": "dana@example.com", "phone": "+972501234567", "external_id": None,
           "first_name": "Dana", "last_name": "Levi", "gender": "unknown", "birth_date": "1990-04-12",
           "wedding_date": None, "marital_status": "unknown", "city": "Haifa", "region": "", "country": "IL",
           "language": "he", "source": "landing_page", "source_detail": "spring-sale",
           "signed_up_at": "2026-03-01T10:00:00+02:00", "tags": ["newsletter"], "attributes": {"pet": "dog"},
           "email_opt_in": True, "sms_opt_in": False, "funnel_stage": "none", "lifecycle": "prospect",
           "email_status": "active", "club": None, "purchase_count": 0, "total_spent": "0.00",
           "first_purchase_at": None, "last_purchase_at": None, "created_at": "2026-03-01T10:00:00+02:00",
           "updated_at": "2026-03-01T10:00:00+02:00", "erased_at": None},
)
PURCHASE_EXAMPLE = {
    "external_id": "POS-0001-778812", "source": "pos", "card_number": "900000001234", "channel": "in_store",
    "store": "TLV-01", "purchased_at": "2026-03-01T18:05:00+02:00", "total": "189.70", "currency": "ILS",
    "items": [{"sku": "LENS-30", "quantity": 2, "unit_price": "79.90"},
              {"sku": "CASE-01", "quantity": 1, "unit_price": "29.90"}],
}
EVENT_EXAMPLE = {
    "type": "add_to_cart", "occurred_at": "2026-03-01T18:00:00+02:00", "anonymous_id": "web-7f3a9c",
    "event_id": "evt-000123", "product": "LENS-30", "url": "https://shop.example.com/p/lens-30",
    "properties": {"cart_value": 159.8},
}
BULK_RESULT_EXAMPLE = OpenApiExample(
    "Partial success", response_only=True,
    value={"created": 998, "duplicates": 1, "errors": [{"index": 7, "errors": {"items.0.sku": [
        "Unknown product NOPE-1."]}}]},
)


def _written(request: Request, obj: Any, answer: Any, code: int) -> Response:
    """The stored object for callers who may read contacts, else only its id (`answer` is called lazily)."""
    if not may_read_contacts(request):
        return Response({"id": obj.pk}, status=code)
    return Response(answer(), status=code)


# ---------------------------------------------------------------- contacts

def _contact_input(serializer_class: type, data: Any, partial: bool = False) -> dict:
    """Checked contact input; on errors, the values of the other fields are checked too, so one answer names
    every bad field."""
    serializer = serializer_class(data=data, partial=partial)
    if serializer.is_valid():
        return dict(serializer.validated_data)
    errors = dict(serializer.errors)
    if isinstance(data, dict):
        rest = {k: v for k, v in data.items() if k not in errors and (v is None or isinstance(v, (str, int)))}
        try:
            normalize.contact_fields(rest)
        except DjangoValidationError as exc:
            errors.update(exc.message_dict)
    raise ValidationError(errors)


@extend_schema_view(
    list=extend_schema(summary=gettext_lazy("List contacts"), description=gettext_lazy(
        "Newest first, cursor-paginated (`next`/`previous` links). Filter by email, phone, city, region, source, "
        "funnel_stage, lifecycle, tag, consent, updated_after …; order with `ordering=updated_at` etc.")),
    retrieve=extend_schema(summary=gettext_lazy("Get a contact"), examples=[CONTACT_RESPONSE_EXAMPLE]),
    create=extend_schema(summary=gettext_lazy("Create a contact"), description=gettext_lazy(
        "Creates a new contact; an email, phone or external id already in use is a 400 naming the field "
        "(use upsert to match instead). A key without `contacts:read` gets back only `{\"id\": N}`."),
        examples=[CONTACT_EXAMPLE, CONTACT_RESPONSE_EXAMPLE], responses={201: object_or_id("Contact")}),
    partial_update=extend_schema(summary=gettext_lazy("Change a contact"), description=gettext_lazy(
        "The given fields replace the stored ones; `tags` replaces the tag set; consent changes are logged. "
        "A key without `contacts:read` gets back only `{\"id\": N}`."), responses={200: object_or_id("Contact")},
        examples=[OpenApiExample("Opt out of SMS", value={"sms_opt_in": False, "city": "Tel Aviv"},
                                 request_only=True)]),
    destroy=extend_schema(summary=gettext_lazy("Delete a contact"), description=gettext_lazy(
        "Deletes the contact and its whole history. To honour an erasure request while keeping revenue "
        "figures, use `POST /contacts/{id}/erase/`.")),
)
class ContactViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    queryset = Contact.objects.select_related("club").prefetch_related("tags")
    serializer_class = ContactSerializer
    scope_resource = "contacts"
    action_permissions = {"upsert": {"POST": ("contacts.add_contact", "contacts.change_contact")},
                          "erase": {"POST": ("contacts.change_contact", ERASE_CONTACT)},
                          "merge": {"POST": ("contacts.change_contact", MERGE_CONTACT)}}
    filterset_class = ContactFilter
    ordering_fields = ["id", "created_at", "updated_at"]

    def get_queryset(self):
        return with_lifecycle(super().get_queryset())

    def _answer(self, contact: Contact, code: int = status.HTTP_200_OK) -> Response:
        return _written(self.request, contact,
                        lambda: ContactSerializer(self.get_queryset().get(pk=contact.pk)).data, code)

    def create(self, request: Request) -> Response:
        contact = services.contact_create(data=_contact_input(ContactSerializer, request.data))
        return self._answer(contact, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: Any = None) -> Response:
        contact = self.get_object()
        contact = services.contact_update(contact=contact, data=_contact_input(ContactSerializer, request.data,
                                                                               partial=True))
        return self._answer(contact)

    def destroy(self, request: Request, pk: Any = None) -> Response:
        services.contact_delete(contact=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary=gettext_lazy("Create or update a contact by its identity"),
        description=gettext_lazy(
            "Matches on email, then phone, then external_id (then card_number). A match is updated: blank values "
            "never wipe stored ones, tags are added, attributes merged. No match creates a contact. "
            "Answers 201 when created, 200 when updated; a key without `contacts:read` gets back only "
            "`{\"id\": N}`, so it cannot read a stored contact by upserting its email."),
        request=ContactUpsertSerializer,
        responses={200: object_or_id("Contact"), 201: object_or_id("Contact"), 409: ContactConflictSerializer},
        examples=[OpenApiExample("From a landing page", request_only=True, value={
            "email": "Dana@Example.com", "first_name": "Dana", "source": "landing_page",
            "source_detail": "wedding-guide", "wedding_date": "2026-09-10", "tags": ["wedding"],
            "email_opt_in": True})],
    )
    @action(detail=False, methods=["post"])
    def upsert(self, request: Request) -> Response:
        data = _contact_input(ContactUpsertSerializer, request.data)
        card_number = data.pop("card_number", None) or None
        try:
            contact, created = services.contact_upsert(data=data, card_number=card_number)
        except services.IdentityConflict as conflict:
            return self._conflict(request, conflict)
        return self._answer(contact, status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @staticmethod
    def _conflict(request: Request, conflict: services.IdentityConflict) -> Response:
        """The identities given belong to two contacts: probably one person. Name both and the call that
        merges them, so the caller can fix the data instead of guessing."""
        survivor, *duplicates = conflict.contact_ids
        url = reverse("v1:contact-merge", args=[survivor], request=request)
        return Response({
            **conflict.message_dict,
            "contacts": conflict.contact_ids,
            "merge": [{"method": "POST", "url": url, "body": {"duplicate": d}} for d in duplicates],
        }, status=status.HTTP_409_CONFLICT)

    @extend_schema(
        summary=gettext_lazy("Merge a duplicate into this contact"),
        description=gettext_lazy(
            "Moves everything of the duplicate (purchases, events, consent log, club ledger, messages and their "
            "tracking, segment memberships, tags, custom fields) to this contact, fills this contact's empty "
            "fields from the duplicate, recomputes its figures and deletes the duplicate. Staff sessions need the "
            "“merge contacts” permission."),
        request=ContactMergeSerializer, responses={200: object_or_id("Contact")},
        examples=[OpenApiExample("Merge", request_only=True, value={"duplicate": 43})],
    )
    @action(detail=True, methods=["post"])
    def merge(self, request: Request, pk: Any = None) -> Response:
        if not isinstance(request.auth, ApiKey) and not request.user.has_perm(MERGE_CONTACT):
            raise PermissionDenied(_("You may not merge contacts."))
        survivor = self.get_object()
        serializer = ContactMergeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        duplicate_id = serializer.validated_data["duplicate"]
        duplicate = Contact.objects.filter(pk=duplicate_id).first()
        if duplicate is None:
            raise ValidationError({"duplicate": [_("Contact %(id)s does not exist.") % {"id": duplicate_id}]})
        merged_by = f"api:{request.auth.name}" if isinstance(request.auth, ApiKey) else (
            f"admin:{request.user.get_username()}")
        contact = services.contact_merge(target=survivor, source=duplicate, merged_by=merged_by)
        return self._answer(contact)

    @extend_schema(
        summary=gettext_lazy("Erase a contact's personal data"),
        description=gettext_lazy(
            "Right to erasure: name, email, phone, dates, attributes and tags go; purchases keep their totals "
            "for revenue reports; events lose URL and properties; the club card is replaced. A staff user "
            "needs the “Can erase contacts” permission."),
        request=None, responses={200: object_or_id("Contact")},
    )
    @action(detail=True, methods=["post"])
    def erase(self, request: Request, pk: Any = None) -> Response:
        contact = services.contact_erase(contact=self.get_object())
        return self._answer(contact)


# ---------------------------------------------------------------- club

@extend_schema_view(
    list=extend_schema(summary=gettext_lazy("List club members")),
    retrieve=extend_schema(summary=gettext_lazy("Get a club member")),
    create=extend_schema(
        summary=gettext_lazy("Enrol a contact in the club"),
        description=gettext_lazy("One membership per contact. A card number is generated when none is given; "
                                 "`points` opens the ledger with that balance. A key without `contacts:read` "
                                 "gets back only `{\"id\": N}`."),
        responses={201: object_or_id("ClubMember")},
        examples=[OpenApiExample("Enrol", request_only=True, value={
            "contact": 42, "card_number": "900000001234", "tier": "silver", "home_store": "TLV-01",
            "points": 100})]),
    partial_update=extend_schema(
        summary=gettext_lazy("Change a club member"), request=ClubMemberUpdateSerializer,
        responses={200: object_or_id("ClubMember")},
        description=gettext_lazy("Tier, status, card number, joined_at, home store. Setting `points` writes a "
                                 "ledger entry for the difference."),
        examples=[OpenApiExample("Upgrade", request_only=True, value={"tier": "gold"})]),
)
class ClubMemberViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    queryset = LoyaltyMember.objects.select_related("contact", "home_store")
    serializer_class = ClubMemberSerializer
    scope_resource = "contacts"
    action_permissions = {"points": {"GET": ("contacts.view_loyaltymember",),
                                     "POST": ("contacts.change_loyaltymember",)}}
    filterset_class = ClubMemberFilter
    ordering_fields = ["id", "joined_at"]

    def _answer(self, member: LoyaltyMember, code: int = status.HTTP_200_OK) -> Response:
        return _written(self.request, member,
                        lambda: ClubMemberSerializer(self.get_queryset().get(pk=member.pk)).data, code)

    @transaction.atomic
    def create(self, request: Request) -> Response:
        serializer = ClubMemberSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        points = data.pop("points", 0)
        member = services.member_create(**data)
        if points:
            services.points_adjust(member=member, delta=points, reason=_("Opening balance"))
        return self._answer(member, status.HTTP_201_CREATED)

    @transaction.atomic
    def partial_update(self, request: Request, pk: Any = None) -> Response:
        member = self.get_object()
        serializer = ClubMemberUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        points = data.pop("points", None)
        member = services.member_update(member=member, data=data)
        if points is not None and points != member.points:
            services.points_adjust(member=member, delta=points - member.points,
                                   reason=_("Balance set through the API"))
        return self._answer(member)

    @extend_schema(
        methods=["GET"], summary=gettext_lazy("List a member's points ledger"), request=None,
        responses={200: PointsEntrySerializer(many=True)},
    )
    @extend_schema(
        methods=["POST"], summary=gettext_lazy("Add or spend points"),
        description=gettext_lazy(
            "Appends a ledger entry and moves the balance with it. A balance may never go below zero (400 on "
            "`delta`). Send a `reference` (e.g. the order id) to make retries safe: the same reference is "
            "applied once and answered with 200."),
        request=PointsEntrySerializer, responses={201: PointsEntrySerializer, 200: PointsEntrySerializer},
        examples=[OpenApiExample("Points for an order", request_only=True, value={
            "delta": 19, "reason": "Purchase POS-0001-778812", "reference": "POS-0001-778812"})],
    )
    @action(detail=True, methods=["get", "post"], filterset_class=None, ordering_fields=[])
    def points(self, request: Request, pk: Any = None) -> Response:
        member = self.get_object()
        if request.method == "GET":
            page = self.paginate_queryset(PointsEntry.objects.filter(member=member))
            return self.get_paginated_response(PointsEntrySerializer(page, many=True).data)
        serializer = PointsEntrySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        reference = data.get("reference") or None
        repeated = bool(reference) and PointsEntry.objects.filter(member=member, reference=reference).exists()
        entry = services.points_adjust(member=member, delta=data["delta"], reason=data["reason"],
                                       reference=reference)
        code = status.HTTP_200_OK if repeated else status.HTTP_201_CREATED
        return Response(PointsEntrySerializer(entry).data, status=code)

    def get_serializer_class(self):
        if self.action == "points":
            return PointsEntrySerializer
        return super().get_serializer_class()


# ---------------------------------------------------------------- catalogue

class CatalogueViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    required_scopes = {"GET": CATALOGUE_READ, "HEAD": CATALOGUE_READ, "OPTIONS": CATALOGUE_READ,
                       "*": "purchases:write"}
    save: Any = None

    def create(self, request: Request) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        obj = type(self).save(data=serializer.validated_data)
        return Response(self.get_serializer(obj).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: Any = None) -> Response:
        instance = self.get_object()
        serializer = self.get_serializer(instance, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        obj = type(self).save(instance, data=serializer.validated_data)
        return Response(self.get_serializer(obj).data)


@extend_schema_view(
    list=extend_schema(summary=gettext_lazy("List products")),
    retrieve=extend_schema(summary=gettext_lazy("Get a product")),
    create=extend_schema(summary=gettext_lazy("Add a product"), description=gettext_lazy(
        "Products are referenced by SKU in purchases and events. `replenishment_days` drives "
        "\"time to buy again\" lists (e.g. 30 for monthly contact lenses)."),
        examples=[OpenApiExample("Monthly lenses", request_only=True, value={
            "sku": "LENS-30", "name": "Monthly contact lenses", "category": "lenses", "price": "79.90",
            "replenishment_days": 30})]),
    partial_update=extend_schema(summary=gettext_lazy("Change a product"),
                                 examples=[OpenApiExample("New price", request_only=True,
                                                          value={"price": "74.90"})]),
)
class ProductViewSet(CatalogueViewSet):
    queryset = Product.objects.all()
    serializer_class = ProductSerializer
    filterset_class = ProductFilter
    ordering_fields = ["id", "sku", "name"]

    @staticmethod
    def save(product: Product | None = None, *, data: dict) -> Product:
        return services.product_save(product=product, data=data)


@extend_schema_view(
    list=extend_schema(summary=gettext_lazy("List stores")),
    retrieve=extend_schema(summary=gettext_lazy("Get a store")),
    create=extend_schema(summary=gettext_lazy("Add a store"), description=gettext_lazy(
        "Stores are referenced by code in in-store purchases."),
        examples=[OpenApiExample("A store", request_only=True, value={
            "code": "TLV-01", "name": "Tel Aviv Dizengoff", "city": "Tel Aviv", "region": "Tel Aviv District"})]),
    partial_update=extend_schema(summary=gettext_lazy("Change a store"),
                                 examples=[OpenApiExample("Moved", request_only=True, value={"city": "Ramat Gan"})]),
)
class StoreViewSet(CatalogueViewSet):
    queryset = Store.objects.all()
    serializer_class = StoreSerializer
    filterset_class = StoreFilter
    ordering_fields = ["id", "code", "name"]

    @staticmethod
    def save(store: Store | None = None, *, data: dict) -> Store:
        return services.store_save(store=store, data=data)


# ---------------------------------------------------------------- purchases

def _may_contain_nul(request: Request) -> bool:
    """JSON can only carry a NUL character escaped, so a body without the escape holds none (read before
    `request.data`, which consumes the stream)."""
    return b"\\u0000" in request.body


def _batch(request: Request, key: str) -> list:
    body = request.data
    items = body.get(key) if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise ValidationError({key: [_("Send a list under “%(key)s”.") % {"key": key}]})
    if not items or len(items) > ingest.MAX_BATCH:
        raise ValidationError({key: [_("Send between 1 and %(n)d items.") % {"n": ingest.MAX_BATCH}]})
    return items


@extend_schema_view(
    list=extend_schema(summary=gettext_lazy("List purchases"), description=gettext_lazy(
        "Newest first; filter by contact, channel, store (code), source, external_id and a purchased_at range.")),
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
            "only `{\"id\": N}`."),
        request=PurchaseInSerializer, responses={201: object_or_id("Purchase"), 200: object_or_id("Purchase")},
        examples=[OpenApiExample("In-store purchase by club card", value=PURCHASE_EXAMPLE, request_only=True)],
    )
    def create(self, request: Request) -> Response:
        ingest.purchase_validate(request.data)
        purchase, created = services.purchase_record(data=request.data)
        return _written(request, purchase, lambda: PurchaseSerializer(self.get_queryset().get(pk=purchase.pk)).data,
                        status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        summary=gettext_lazy("Record up to 1000 purchases"),
        description=gettext_lazy(
            "Each item as in `POST /purchases/`. Valid items are stored, invalid ones are reported by their index "
            "and never stop the others; items whose (source, external_id) is already stored count as duplicates, "
            "so a retried batch creates nothing twice."),
        request=PurchaseBulkInSerializer, responses={200: BulkResultSerializer},
        examples=[OpenApiExample("Two orders from the web shop", request_only=True, value={"purchases": [
            {**PURCHASE_EXAMPLE, "external_id": "WEB-1001", "source": "shop", "channel": "online", "store": None,
             "card_number": None, "email": "dana@example.com"},
            {**PURCHASE_EXAMPLE, "external_id": "WEB-1002", "source": "shop", "channel": "online", "store": None,
             "card_number": None, "contact": 42},
        ]}), BULK_RESULT_EXAMPLE],
    )
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        may_contain_nul = _may_contain_nul(request)
        return Response(ingest.purchases_record_bulk(items=_batch(request, "purchases"),
                                                     may_contain_nul=may_contain_nul))


# ---------------------------------------------------------------- events

@extend_schema_view(
    list=extend_schema(summary=gettext_lazy("List site and app events"), description=gettext_lazy(
        "Newest first; filter by type, contact, anonymous_id, product and an occurred_at range.")),
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
            "`contacts:read` gets back only `{\"id\": N}`."),
        request=EventInSerializer, responses={201: object_or_id("Event"), 200: object_or_id("Event")},
        examples=[OpenApiExample("Add to cart by a visitor", value=EVENT_EXAMPLE, request_only=True)],
    )
    def create(self, request: Request) -> Response:
        ingest.activity_validate(request.data)
        activity, created = services.activity_track(data=request.data)
        return _written(request, activity, lambda: EventSerializer(self.get_queryset().get(pk=activity.pk)).data,
                        status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        summary=gettext_lazy("Track up to 1000 events"),
        description=gettext_lazy("Each item as in `POST /events/`; invalid items are reported by index, events "
                                 "with an event_id already stored count as duplicates."),
        request=EventBulkInSerializer, responses={200: BulkResultSerializer},
        examples=[OpenApiExample("A visit", request_only=True, value={"events": [
            {"type": "page_view", "anonymous_id": "web-7f3a9c", "url": "https://shop.example.com/"},
            {**EVENT_EXAMPLE, "type": "product_view", "event_id": "evt-000122"},
            EVENT_EXAMPLE,
        ]}), BULK_RESULT_EXAMPLE],
    )
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        may_contain_nul = _may_contain_nul(request)
        return Response(ingest.activities_track_bulk(items=_batch(request, "events"),
                                                     may_contain_nul=may_contain_nul))


# ---------------------------------------------------------------- identify

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
            "new) — and re-homes the visitor's past events to that contact, whose funnel stage is recomputed."),
        request=IdentifySerializer, responses={200: IdentifyResultSerializer},
        examples=[OpenApiExample("Visitor logs in", request_only=True, value={
            "anonymous_id": "web-7f3a9c", "email": "dana@example.com"}),
            OpenApiExample("Result", response_only=True, value={"contact": 42, "moved": 3})],
    )
    def create(self, request: Request) -> Response:
        serializer = IdentifySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if not any(data.get(k) for k in ("contact", "email", "card_number")):
            raise ValidationError({"contact": [_("Give a contact id, email or card number.")]})
        with transaction.atomic():
            contact = services.contact_resolve(contact_id=data.get("contact"), email=data.get("email"),
                                               card_number=data.get("card_number"), create_source="web_form")
            moved = services.identify(anonymous_id=data["anonymous_id"], contact=contact)
        return Response({"contact": contact.pk, "moved": moved})


def register(router: Any) -> None:
    router.register("contacts", ContactViewSet, basename="contact")
    router.register("club-members", ClubMemberViewSet, basename="club-member")
    router.register("products", ProductViewSet, basename="product")
    router.register("stores", StoreViewSet, basename="store")
    router.register("purchases", PurchaseViewSet, basename="purchase")
    router.register("events", EventViewSet, basename="event")
    router.register("identify", IdentifyViewSet, basename="identify")

