"""The health answer: a page for staff in the admin, and `GET /api/v1/health/` for load balancers and monitors."""

from django.conf import settings
from django.contrib import admin
from django.core.cache import cache
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from .health import FAILING, health_report

CACHE_KEY = "runtime:health"

HEALTH = inline_serializer(
    "Health",
    {
        "status": serializers.ChoiceField(choices=["ok", "warning", "failing"]),
        "checked_at": serializers.DateTimeField(),
        "checks": inline_serializer(
            "HealthCheck",
            {
                "name": serializers.ChoiceField(choices=["database", "broker", "worker", "beat", "queue", "mail"]),
                "status": serializers.ChoiceField(choices=["ok", "warning", "failing"]),
                "detail": serializers.CharField(),
                "seconds": serializers.FloatField(allow_null=True),
            },
            many=True,
        ),
    },
)


def cached_report() -> dict:
    """Probing the mail server and the broker on every request would let anyone load them: answer from a
    report at most HEALTH_CACHE_SECONDS old."""
    report = cache.get(CACHE_KEY)
    if report is None:
        report = health_report()
        cache.set(CACHE_KEY, report, settings.HEALTH_CACHE_SECONDS)
    return report


class HealthView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="health",
        tags=["health"],
        auth=[],
        summary=_("Health of the database, broker, worker, scheduler, queue and mail"),
        description=_(
            "No authentication and nothing personal. 503 only when the database is down (nothing "
            "can be served then); a stopped worker or scheduler is reported in `checks` with a 200."
        ),
        responses={200: HEALTH, 503: HEALTH},
    )
    def get(self, request):
        report = cached_report()
        database = next(c for c in report["checks"] if c["name"] == "database")
        return Response(report, status=503 if database["status"] == FAILING else 200)


def health_page(request):
    context = {**admin.site.each_context(request), "title": _("System health"), "report": health_report()}
    return TemplateResponse(request, "admin/runtime/health.html", context)
