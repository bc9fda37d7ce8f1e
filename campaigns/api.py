"""Email templates and campaigns over the partner API: CRUD, send, recipient count and stats.

Reads need `campaigns:read`, writes `campaigns:write`. Saves go through `campaigns.services`, so a
template that does not compile or uses an unknown variable is a 400 naming the field and the line.
"""

from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from crm.api import ApiViewSet
from crm.permissions import SEND_CAMPAIGN

from . import services
from .models import Campaign, EmailTemplate
from .selectors import campaign_stats
from .serializers import (
    CampaignSerializer,
    CampaignStatsSerializer,
    EmailTemplateSerializer,
    RecipientCountSerializer,
    RescheduleSerializer,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User

TEMPLATE_EXAMPLE = OpenApiExample(
    "A Hebrew birthday mail",
    request_only=True,
    value={
        "name": "Birthday benefit",
        "language": "he",
        "subject": "יום הולדת שמח, {{ contact.first_name|default:'חבר/ה' }}!",
        "preheader": "מתנה מחכה לך בחנות",
        "html": "<h1>שלום {{ contact.first_name|default:'חבר/ה' }}</h1>\n"
        "{% if club %}<p>יש לך {{ club.points }} נקודות.</p>{% endif %}\n"
        '<p><a href="https://shop.example.com/birthday">לקבלת ההטבה</a></p>',
        "text": "",
    },
)
CAMPAIGN_EXAMPLE = OpenApiExample(
    "Haifa shoppers minus recent buyers",
    request_only=True,
    value={
        "name": "Spring sale — Haifa",
        "template": 3,
        "segments": [12],
        "exclude_segments": [15],
        "from_name": "Club",
        "from_email": "club@shop.example.com",
        "reply_to": "service@shop.example.com",
        "utm_campaign": "spring-sale",
        "cost": "350.00",
        "scheduled_at": "2026-04-01T09:00:00+03:00",
    },
)


def _signed_in(request: Request) -> "User | None":
    """The staff user behind a session request, to record as creator; an API key has no user row."""
    return request.user if isinstance(request.user, get_user_model()) and request.user.pk else None


@extend_schema_view(
    list=extend_schema(summary=gettext_lazy("List email templates")),
    retrieve=extend_schema(summary=gettext_lazy("Get an email template")),
    create=extend_schema(
        summary=gettext_lazy("Create an email template"),
        examples=[TEMPLATE_EXAMPLE],
        description=gettext_lazy(
            "Personalize with contact, club, last_purchase, recommended and running_out variables. A template "
            "that does not compile or uses an unknown variable is a 400 naming the field and the "
            'line, e.g. `{"html": ["line 2: unknown variable “contact.nickname”."]}`. Left '
            "blank, text is made from the HTML and direction follows the language."
        ),
    ),
    partial_update=extend_schema(
        summary=gettext_lazy("Change an email template"),
        examples=[
            OpenApiExample(
                "New subject", request_only=True, value={"subject": "{{ contact.first_name }}, the sale ends tonight"}
            )
        ],
    ),
)
class EmailTemplateViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    queryset = EmailTemplate.objects.all()
    serializer_class = EmailTemplateSerializer
    scope_resource = "campaigns"
    filterset_fields = ["language"]
    ordering_fields = ["id", "name", "updated_at"]

    def create(self, request: Request) -> Response:
        serializer = EmailTemplateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        template = services.template_create(**serializer.validated_data)
        return Response(EmailTemplateSerializer(template).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: Any = None) -> Response:
        template = self.get_object()
        serializer = EmailTemplateSerializer(template, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        template = services.template_update(template=template, **serializer.validated_data)
        return Response(EmailTemplateSerializer(template).data)


@extend_schema_view(
    list=extend_schema(summary=gettext_lazy("List campaigns")),
    retrieve=extend_schema(summary=gettext_lazy("Get a campaign")),
    create=extend_schema(
        summary=gettext_lazy("Create a campaign"),
        examples=[CAMPAIGN_EXAMPLE],
        description=gettext_lazy(
            "A draft to the members of `segments` minus those of `exclude_segments`. Nothing is "
            "sent until `POST /campaigns/{id}/send/`."
        ),
    ),
    partial_update=extend_schema(
        summary=gettext_lazy("Change a draft campaign"),
        examples=[
            OpenApiExample(
                "Exclude one more segment", request_only=True, value={"exclude_segments": [15, 16], "cost": "420.00"}
            )
        ],
        description=gettext_lazy(
            "Only a draft (or a scheduled campaign not started yet) can change; once sending, a change is a 400."
        ),
    ),
)
class CampaignViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    queryset = (
        Campaign.objects.filter(kind=Campaign.Kind.BROADCAST)  # an automation's mails are under /flows/
        .select_related("template")
        .prefetch_related("segments", "exclude_segments")
    )
    serializer_class = CampaignSerializer
    scope_resource = "campaigns"
    action_permissions = {
        verb: {"POST": ("campaigns.change_campaign", SEND_CAMPAIGN)} for verb in ("send", "unschedule", "reschedule")
    } | {"duplicate": {"POST": ("campaigns.add_campaign",)}}
    filterset_fields = ["status", "template"]
    ordering_fields = ["id", "name", "created_at", "scheduled_at"]

    def create(self, request: Request) -> Response:
        serializer = CampaignSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        campaign = services.campaign_create(**serializer.validated_data, created_by=_signed_in(request))
        return Response(CampaignSerializer(self._reloaded(campaign)).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: Any = None) -> Response:
        campaign = self.get_object()
        serializer = CampaignSerializer(campaign, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        campaign = services.campaign_update(campaign=campaign, **serializer.validated_data)
        return Response(CampaignSerializer(self._reloaded(campaign)).data)

    def _reloaded(self, campaign: Campaign) -> Campaign:
        """The campaign read again with its template and segments, as the list and detail views read it."""
        return self.get_queryset().get(pk=campaign.pk)

    @extend_schema(
        summary=gettext_lazy("Send the campaign"),
        request=None,
        responses={202: CampaignSerializer},
        description=gettext_lazy(
            "Starts a draft now, or at `scheduled_at` when that is in the future; a scheduled "
            "campaign is sent now, whatever its time. Answers 202 at once: workers send in the "
            "background; follow with `GET /campaigns/{id}/stats/`. Any other status is a 400. A staff user "
            "needs the “Can send … campaigns” permission."
        ),
    )
    @action(detail=True, methods=["post"])
    def send(self, request: Request, pk: Any = None) -> Response:
        campaign = self.get_object()
        if campaign.status == Campaign.Status.SCHEDULED:
            services.campaign_send_now(campaign=campaign)
        else:
            services.campaign_start(campaign=campaign)
        return Response(
            CampaignSerializer(self.get_queryset().get(pk=campaign.pk)).data, status=status.HTTP_202_ACCEPTED
        )

    @extend_schema(
        summary=gettext_lazy("Move a scheduled campaign back to draft"),
        request=None,
        responses={200: CampaignSerializer},
        description=gettext_lazy(
            "It will not go out until it is scheduled or sent again; its `scheduled_at` is kept. A "
            "campaign that is not scheduled is a 400."
        ),
    )
    @action(detail=True, methods=["post"])
    def unschedule(self, request: Request, pk: Any = None) -> Response:
        campaign = services.campaign_unschedule(campaign=self.get_object())
        return Response(CampaignSerializer(self.get_queryset().get(pk=campaign.pk)).data)

    @extend_schema(
        summary=gettext_lazy("Reschedule a campaign"),
        request=RescheduleSerializer,
        responses={200: CampaignSerializer},
        examples=[
            OpenApiExample("Tomorrow morning", request_only=True, value={"scheduled_at": "2026-04-02T09:00:00+03:00"})
        ],
        description=gettext_lazy(
            "Moves a scheduled campaign, or schedules a draft, to a time in the future (a past time "
            "is a 400 naming `scheduled_at`)."
        ),
    )
    @action(detail=True, methods=["post"])
    def reschedule(self, request: Request, pk: Any = None) -> Response:
        serializer = RescheduleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        campaign = services.campaign_reschedule(campaign=self.get_object(), **serializer.validated_data)
        return Response(CampaignSerializer(self.get_queryset().get(pk=campaign.pk)).data)

    @extend_schema(
        summary=gettext_lazy("Duplicate a campaign"),
        request=None,
        responses={201: CampaignSerializer},
        description=gettext_lazy(
            "A new draft with the same template, segments, exclusions, sender, UTM tags and cost, and "
            "no scheduled time. Works on a campaign in any status."
        ),
    )
    @action(detail=True, methods=["post"])
    def duplicate(self, request: Request, pk: Any = None) -> Response:
        copy = services.campaign_duplicate(campaign=self.get_object(), user=_signed_in(request))
        return Response(CampaignSerializer(self.get_queryset().get(pk=copy.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary=gettext_lazy("Campaign stats"),
        request=None,
        responses={200: CampaignStatsSerializer},
        description=gettext_lazy(
            "Counts and rates of CONTRACT §4. delivered = sent − bounced; open_rate = unique_opens / "
            "delivered; click_rate = unique_clicks / delivered; click_to_open_rate = unique_clicks / "
            "unique_opens; rates are fractions 0..1, null when the divisor is 0. Machine opens "
            "(privacy proxies, scanners) are counted apart and never in the rates. "
            "Money and holdout numbers of CONTRACT §7: purchases attributed to the campaign (conversions, "
            "revenue, ROMI = (revenue − cost) / cost) and mailed against held-out contacts (lift, its 95 percent "
            "interval, incremental revenue, a verdict). Money is a decimal string."
        ),
    )
    @action(detail=True, methods=["get"])
    def stats(self, request: Request, pk: Any = None) -> Response:
        return Response(CampaignStatsSerializer(campaign_stats(self.get_object())).data)

    @extend_schema(
        summary=gettext_lazy("Recipient count"),
        request=None,
        responses={200: RecipientCountSerializer},
        description=gettext_lazy(
            "Who the campaign would reach if sent now: the segments' members minus "
            "the exclusions (total), and of those the ones mail may go to."
        ),
    )
    @action(detail=True, methods=["get"], url_path="recipient-count")
    def recipient_count(self, request: Request, pk: Any = None) -> Response:
        return Response(services.campaign_recipient_count(campaign=self.get_object()))


def register(router) -> None:
    from .flows.api import register as register_flows

    router.register("templates", EmailTemplateViewSet, basename="emailtemplate")
    router.register("campaigns", CampaignViewSet, basename="campaign")
    register_flows(router)
