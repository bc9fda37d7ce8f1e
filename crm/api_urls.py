"""The partner API under /api/: one router for every app's views (under v1/), the schema and its docs."""

from django.http import JsonResponse
from django.urls import include, path, re_path
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from campaigns.api import register as register_campaigns
from campaigns.reports.api import register as register_spend
from campaigns.reports.kpi_api import KpiView
from contacts.api import register as register_contacts
from segments.api import register as register_segments


def build_router() -> DefaultRouter:
    router = DefaultRouter()
    register_contacts(router)
    register_segments(router)
    register_campaigns(router)
    register_spend(router)
    return router


router = build_router()


@csrf_exempt
def not_found(request, *args, **kwargs) -> JsonResponse:
    """Unknown URLs under /api/ answer in JSON like the rest of the API, not with an HTML page."""
    return JsonResponse({"detail": _("Not found."), "code": "not_found"}, status=404)


urlpatterns = [
    path("v1/reports/kpis/", KpiView.as_view(), name="api-kpis"),
    path("v1/", include((router.urls, "api"), namespace="v1")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    re_path(r"^", not_found),
]
