"""The customer club: members and their points ledger."""

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from crm.api import ApiViewSet, object_or_id

from .. import services
from ..filters import ClubMemberFilter
from ..models import LoyaltyMember, PointsEntry
from ..serializers import ClubMemberSerializer, ClubMemberUpdateSerializer, PointsEntrySerializer
from .common import validated, written


@extend_schema_view(
    list=extend_schema(summary=gettext_lazy("List club members")),
    retrieve=extend_schema(summary=gettext_lazy("Get a club member")),
    create=extend_schema(
        summary=gettext_lazy("Enrol a contact in the club"),
        description=gettext_lazy(
            "One membership per contact. A card number is generated when none is given; "
            "`points` opens the ledger with that balance. A key without `contacts:read` "
            'gets back only `{"id": N}`.'
        ),
        responses={201: object_or_id("ClubMember")},
        examples=[
            OpenApiExample(
                "Enrol",
                request_only=True,
                value={
                    "contact": 42,
                    "card_number": "900000001234",
                    "tier": "silver",
                    "home_store": "TLV-01",
                    "points": 100,
                },
            )
        ],
    ),
    partial_update=extend_schema(
        summary=gettext_lazy("Change a club member"),
        request=ClubMemberUpdateSerializer,
        responses={200: object_or_id("ClubMember")},
        description=gettext_lazy(
            "Tier, status, card number, joined_at, home store. Setting `points` writes a "
            "ledger entry for the difference."
        ),
        examples=[OpenApiExample("Upgrade", request_only=True, value={"tier": "gold"})],
    ),
)
class ClubMemberViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    queryset = LoyaltyMember.objects.select_related("contact", "home_store")
    serializer_class = ClubMemberSerializer
    scope_resource = "contacts"
    action_permissions = {
        "points": {"GET": ("contacts.view_loyaltymember",), "POST": ("contacts.change_loyaltymember",)}
    }
    filterset_class = ClubMemberFilter
    ordering_fields = ["id", "joined_at"]

    def _answer(self, member: LoyaltyMember, code: int = status.HTTP_200_OK) -> Response:
        return written(self, member, ClubMemberSerializer, code)

    @transaction.atomic
    def create(self, request: Request) -> Response:
        data = validated(ClubMemberSerializer, request.data)
        points = data.pop("points", 0)
        member = services.member_create(**data)
        if points:
            services.points_adjust(member=member, delta=points, reason=_("Opening balance"))
        return self._answer(member, status.HTTP_201_CREATED)

    @transaction.atomic
    def partial_update(self, request: Request, pk: Any = None) -> Response:
        member = self.get_object()
        data = validated(ClubMemberUpdateSerializer, request.data, partial=True)
        points = data.pop("points", None)
        member = services.member_update(member=member, **data)
        if points is not None and points != member.points:
            services.points_adjust(member=member, delta=points - member.points, reason=_("Balance set through the API"))
        return self._answer(member)

    @extend_schema(
        methods=["GET"],
        summary=gettext_lazy("List a member's points ledger"),
        request=None,
        responses={200: PointsEntrySerializer(many=True)},
    )
    @extend_schema(
        methods=["POST"],
        summary=gettext_lazy("Add or spend points"),
        description=gettext_lazy(
            "Appends a ledger entry and moves the balance with it. A balance may never go below zero (400 on "
            "`delta`). Send a `reference` (e.g. the order id) to make retries safe: the same reference is "
            "applied once and answered with 200."
        ),
        request=PointsEntrySerializer,
        responses={201: PointsEntrySerializer, 200: PointsEntrySerializer},
        examples=[
            OpenApiExample(
                "Points for an order",
                request_only=True,
                value={"delta": 19, "reason": "Purchase POS-0001-778812", "reference": "POS-0001-778812"},
            )
        ],
    )
    @action(detail=True, methods=["get", "post"], filterset_class=None, ordering_fields=[])
    def points(self, request: Request, pk: Any = None) -> Response:
        member = self.get_object()
        if request.method == "GET":
            page = self.paginate_queryset(PointsEntry.objects.filter(member=member))
            return self.get_paginated_response(PointsEntrySerializer(page, many=True).data)
        data = validated(PointsEntrySerializer, request.data)
        reference = data.get("reference")
        repeated = bool(reference) and PointsEntry.objects.filter(member=member, reference=reference).exists()
        entry = services.points_adjust(member=member, delta=data["delta"], reason=data["reason"], reference=reference)
        code = status.HTTP_200_OK if repeated else status.HTTP_201_CREATED
        return Response(PointsEntrySerializer(entry).data, status=code)

    def get_serializer_class(self):
        if self.action == "points":
            return PointsEntrySerializer
        return super().get_serializer_class()
