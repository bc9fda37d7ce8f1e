"""Automations over the partner API (CONTRACT §6): define, activate, pause, and read their numbers.

Reads need `campaigns:read`, writes `campaigns:write`; staff sessions need the role's permissions on
automations. Every definition goes through `definition.flow_definition_validate` (via the services), so a
bad step is a 400 naming its path, e.g. `steps.2.yes.0.template`.
"""

from typing import Any

from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from crm.api import ApiViewSet

from . import services
from .models import Flow
from .presets import PRESETS, preset_create
from .selectors import flow_enrollments, flow_stats
from .serializers import (
    EnrollmentSerializer,
    FlowSerializer,
    FlowStatsSerializer,
    FlowWriteSerializer,
    FromPresetSerializer,
    PresetSerializer,
)

ABANDONED_CART = OpenApiExample(
    "Abandoned cart: wait, remind, leave on purchase",
    request_only=True,
    value={
        "name": "Abandoned cart",
        "trigger": {"type": "event", "event": "add_to_cart"},
        "steps": [{"type": "wait", "hours": 4}, {"type": "send_email", "template": 7}],
        "reentry": "after_days",
        "reentry_days": 14,
        "exit_rules": {"not": {"field": "cart_abandoned", "op": "within_last_days", "value": 3}},
        "holdout_percent": 10,
        "bypass_frequency_cap": False,
    },
)
RENAME = OpenApiExample("Rename", request_only=True, value={"name": "Abandoned cart (spring)"})


@extend_schema_view(
    list=extend_schema(summary=gettext_lazy("List automations")),
    retrieve=extend_schema(summary=gettext_lazy("Get an automation")),
    create=extend_schema(
        summary=gettext_lazy("Create an automation"),
        request=FlowWriteSerializer,
        responses={201: FlowSerializer},
        examples=[ABANDONED_CART],
        description=gettext_lazy("A draft: nobody enters it until it is activated."),
    ),
    partial_update=extend_schema(
        summary=gettext_lazy("Change an automation"),
        request=FlowWriteSerializer(partial=True),
        responses={200: FlowSerializer},
        examples=[RENAME],
        description=gettext_lazy(
            "Any field of the definition. A change of trigger, steps or exit rules of a flow that has run "
            "raises its version: contacts inside go on from the step they are at when it still exists, and "
            "finish the flow otherwise. An archived automation cannot change (400)."
        ),
    ),
    destroy=extend_schema(
        summary=gettext_lazy("Delete an automation"),
        description=gettext_lazy("Only one nobody went through; archive the others to keep their numbers (400)."),
    ),
)
class FlowViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    queryset = Flow.objects.order_by("-pk")
    serializer_class = FlowSerializer
    scope_resource = "campaigns"

    def create(self, request: Request) -> Response:
        serializer = FlowWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        flow = services.flow_create(**serializer.validated_data)
        return Response(FlowSerializer(flow).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: Any = None) -> Response:
        flow = self.get_object()
        serializer = FlowWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        flow = services.flow_update(flow=flow, **serializer.validated_data)
        return Response(FlowSerializer(flow).data)

    def destroy(self, request: Request, pk: Any = None) -> Response:
        services.flow_delete(flow=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary=gettext_lazy("Activate an automation"),
        request=None,
        responses={200: FlowSerializer},
        description=gettext_lazy(
            "A draft starts counting its trigger from now (a segment trigger with include_existing also "
            "enrolls the segment's current members); a paused one goes on where its contacts wait. Any "
            "other status is a 400."
        ),
    )
    @action(detail=True, methods=["post"])
    def activate(self, request: Request, pk: Any = None) -> Response:
        return Response(FlowSerializer(services.flow_activate(flow=self.get_object())).data)

    @extend_schema(
        summary=gettext_lazy("Pause an automation"),
        request=None,
        responses={200: FlowSerializer},
        description=gettext_lazy(
            "Nobody enters and nobody moves; contacts inside wait where they are until it is activated "
            "again. Only an active automation can pause (400 otherwise)."
        ),
    )
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: Any = None) -> Response:
        return Response(FlowSerializer(services.flow_pause(flow=self.get_object())).data)

    @extend_schema(
        summary=gettext_lazy("Automation stats"),
        request=None,
        responses={200: FlowStatsSerializer},
        description=gettext_lazy(
            "entered, active, completed, exited, holdout_size; the purchases attributed to the flow's mails "
            "(conversions, converted_contacts, revenue, in_store_revenue); the holdout comparison (treated and "
            "holdout conversion rates, lift, lift_ci95, incremental_revenue, verdict); and per step: contacts "
            "waiting there now, contacts it ran for and, for a mail step, its mail numbers (as a campaign's), "
            "skips by reason and its attributed purchases. Money is a decimal string; null where a divisor is 0."
        ),
    )
    @action(detail=True, methods=["get"])
    def stats(self, request: Request, pk: Any = None) -> Response:
        return Response(FlowStatsSerializer(flow_stats(self.get_object())).data)

    @extend_schema(
        summary=gettext_lazy("Who is in an automation"),
        request=None,
        responses={200: EnrollmentSerializer(many=True)},
        description=gettext_lazy("Enrollments, newest first, with their state and the step they are at."),
    )
    @action(detail=True, methods=["get"])
    def enrollments(self, request: Request, pk: Any = None) -> Response:
        page = self.paginate_queryset(flow_enrollments(self.get_object()))
        return self.get_paginated_response(EnrollmentSerializer(page, many=True).data)

    @extend_schema(
        summary=gettext_lazy("Ready-made automations"),
        request=None,
        responses={200: PresetSerializer(many=True)},
        description=gettext_lazy("The ready-made flows a draft can be made from, each with what it does."),
    )
    @action(detail=False, methods=["get"], pagination_class=None)
    def presets(self, request: Request) -> Response:
        items = [{"key": p.key, "title": str(p.title), "description": str(p.description)} for p in PRESETS]
        return Response(PresetSerializer(items, many=True).data)

    @extend_schema(
        summary=gettext_lazy("Create an automation from a ready-made one"),
        request=FromPresetSerializer,
        responses={201: FlowSerializer},
        examples=[OpenApiExample("Birthday benefit", request_only=True, value={"preset": "birthday"})],
        description=gettext_lazy(
            "A draft with its mails in Hebrew and English (and the segment its trigger needs); check it and "
            "activate it."
        ),
    )
    @action(detail=False, methods=["post"], url_path="from-preset")
    def from_preset(self, request: Request) -> Response:
        serializer = FromPresetSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        flow = preset_create(key=serializer.validated_data["preset"])
        return Response(FlowSerializer(flow).data, status=status.HTTP_201_CREATED)


def register(router) -> None:
    router.register("flows", FlowViewSet, basename="flow")
