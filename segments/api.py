"""Segments over the partner API: CRUD, live count, members, static add/remove, export, conditions.

Reads need `segments:read`, writes `segments:write`. Members and exports hand out people, so they need
`contacts:read` as well (and staff the permission to view contacts; exports also "Can export segment
audiences").
"""

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import StreamingHttpResponse
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, renderers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from crm.api import ApiViewSet
from crm.pagination import IdCursorPagination
from crm.permissions import EXPORT_SEGMENT

from . import export, registry, services
from .models import Segment, SegmentMembership
from .serializers import (
    ChangedSerializer,
    ConditionSerializer,
    ContactIdsSerializer,
    CountSerializer,
    MemberSerializer,
    SegmentSerializer,
)

RULES_EXAMPLE = OpenApiExample(
    "Haifa shoppers who left a cart",
    request_only=True,
    value={
        "name": "Haifa cart abandoners",
        "kind": "dynamic",
        "rules": {
            "all": [
                {"field": "city", "op": "eq", "value": "Haifa"},
                {"field": "cart_abandoned", "op": "within_last_days", "value": 7},
                {"not": {"field": "club_tier", "op": "in", "value": ["gold", "platinum"]}},
            ]
        },
    },
)


def _django_errors(exc: DjangoValidationError) -> ValidationError:
    return ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages})


@extend_schema_view(
    list=extend_schema(summary=gettext_lazy("List segments")),
    retrieve=extend_schema(summary=gettext_lazy("Get a segment")),
    create=extend_schema(
        summary=gettext_lazy("Create a segment"),
        examples=[RULES_EXAMPLE],
        description=gettext_lazy(
            "Rules are validated against the condition catalogue; an error names the bad node, e.g. "
            "`all[1].value: Enter a whole number.` A dynamic segment is filled right after it is saved."
        ),
    ),
    partial_update=extend_schema(
        summary=gettext_lazy("Change a segment"),
        examples=[
            OpenApiExample(
                "Widen to two cities",
                request_only=True,
                value={"rules": {"field": "city", "op": "in", "value": ["Haifa", "Tel Aviv"]}},
            )
        ],
    ),
    destroy=extend_schema(
        summary=gettext_lazy("Delete a segment"),
        description=gettext_lazy("Refused (409) while another segment's rules use it."),
    ),
)
class SegmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    queryset = Segment.objects.all()
    serializer_class = SegmentSerializer
    scope_resource = "segments"
    action_scopes = {"members": {"GET": "contacts:read"}, "export": {"GET": "contacts:read"}}
    action_permissions = {
        "members": {"GET": ("segments.view_segment", "contacts.view_contact"), "*": ("segments.change_segment",)},
        "export": {"GET": ("segments.view_segment", "contacts.view_contact", EXPORT_SEGMENT)},
    }
    filterset_fields = ["kind"]
    ordering_fields = ["id", "name", "member_count"]

    def perform_content_negotiation(self, request, force=False):
        """`?format=` names the export file type, not a renderer; errors still answer in JSON."""
        if self.action == "export":
            return renderers.JSONRenderer(), "application/json"
        return super().perform_content_negotiation(request, force)

    def create(self, request: Request) -> Response:
        serializer = SegmentSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        creator = request.user if getattr(request.user, "pk", None) else None
        segment = services.segment_create(**serializer.validated_data, created_by=creator)
        segment.refresh_from_db()
        return Response(SegmentSerializer(segment).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: Any = None) -> Response:
        segment = self.get_object()
        serializer = SegmentSerializer(segment, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        segment = services.segment_update(segment=segment, **serializer.validated_data)
        segment.refresh_from_db()
        return Response(SegmentSerializer(segment).data)

    def destroy(self, request: Request, pk: Any = None) -> Response:
        try:
            services.segment_delete(segment=self.get_object())
        except DjangoValidationError as exc:
            return Response({"detail": " ".join(exc.messages)}, status=status.HTTP_409_CONFLICT)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary=gettext_lazy("Live count"),
        request=None,
        responses={
            200: CountSerializer,
            409: OpenApiResponse(
                description=gettext_lazy("The segment's rules cannot be evaluated now; the segment is marked failing.")
            ),
        },
        description=gettext_lazy("Evaluates the rules now, whatever the last refresh."),
    )
    @action(detail=True, methods=["get"])
    def count(self, request: Request, pk: Any = None) -> Response:
        try:
            return Response({"count": services.segment_count(segment=self.get_object())})
        except services.SegmentFailed:
            return Response(
                {"detail": gettext_lazy("This segment's rules cannot be evaluated now; it is marked failing.")},
                status=status.HTTP_409_CONFLICT,
            )

    @extend_schema(
        methods=["GET"],
        summary=gettext_lazy("Current members"),
        request=None,
        responses={200: MemberSerializer(many=True)},
        description=gettext_lazy(
            "As of the last refresh for dynamic segments; cursor-paginated. "
            "Needs `contacts:read` as well as `segments:read`."
        ),
    )
    @extend_schema(
        methods=["POST"],
        summary=gettext_lazy("Add contacts to a static list"),
        request=ContactIdsSerializer,
        responses={200: ChangedSerializer},
        examples=[OpenApiExample("Add", value={"contacts": [12, 15]}, request_only=True)],
    )
    @extend_schema(
        methods=["DELETE"],
        summary=gettext_lazy("Remove contacts from a static list"),
        request=ContactIdsSerializer,
        responses={200: ChangedSerializer},
        examples=[OpenApiExample("Remove", value={"contacts": [12]}, request_only=True)],
    )
    @action(detail=True, methods=["get", "post", "delete"])
    def members(self, request: Request, pk: Any = None) -> Response:
        segment = self.get_object()
        if request.method == "GET":
            qs = SegmentMembership.objects.filter(segment=segment, left_at__isnull=True).select_related("contact")
            paginator = IdCursorPagination()
            page = paginator.paginate_queryset(qs, request, view=self)
            return paginator.get_paginated_response(MemberSerializer(page, many=True).data)
        ids = ContactIdsSerializer(data=request.data)
        ids.is_valid(raise_exception=True)
        change = services.static_add if request.method == "POST" else services.static_remove
        try:
            changed = change(segment=segment, contact_ids=ids.validated_data["contacts"])
        except DjangoValidationError as exc:
            raise _django_errors(exc) from None
        segment.refresh_from_db()
        return Response({"changed": changed, "member_count": segment.member_count})

    @extend_schema(
        summary=gettext_lazy("Export the audience"),
        request=None,
        parameters=[
            OpenApiParameter(
                "format",
                str,
                enum=list(export.FORMATS),
                description=gettext_lazy(
                    "meta: Meta Custom Audience (hashed), google: Google Customer Match (hashed), csv: plain. "
                    "Each channel follows its own consent: an email only with email consent, a phone only "
                    "with SMS consent; a contact with neither is left out."
                ),
            )
        ],
        description=gettext_lazy(
            "Needs `contacts:read` as well as `segments:read`; a staff user "
            "needs the “Can export segment audiences” permission."
        ),
        responses={(200, "text/csv"): OpenApiTypes.BINARY},
    )
    @action(detail=True, methods=["get"])
    def export(self, request: Request, pk: Any = None) -> StreamingHttpResponse:
        segment = self.get_object()
        fmt = request.query_params.get("format", "csv")
        if fmt not in export.FORMATS:
            raise ValidationError({"format": [gettext_lazy("Choose meta, google or csv.")]})
        response = StreamingHttpResponse(export.export_rows(segment, fmt), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{export.export_filename(segment, fmt)}"'
        return response

    @extend_schema(
        summary=gettext_lazy("Condition catalogue"),
        request=None,
        responses={200: ConditionSerializer(many=True)},
        description=gettext_lazy(
            "Every rule key with its operators and value types; the admin builder is generated from the same registry."
        ),
    )
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
    def conditions(self, request: Request) -> Response:
        return Response(registry.catalogue())


def register(router) -> None:
    router.register("segments", SegmentViewSet, basename="segment")
