from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from campaigns.reports.dashboard import dashboard_page
from crm.login_throttle import ThrottledAdminAuthenticationForm
from crm.runtime.views import HealthView, health_page

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/health/", admin.site.admin_view(health_page), name="admin-health"),
    path("admin/reports/dashboard/", admin.site.admin_view(dashboard_page), name="reports-dashboard"),
    path("admin/", admin.site.urls),
    path("api/v1/health/", HealthView.as_view(), name="api-health"),
    path("api/", include("crm.api_urls")),
    path("anymail/", include("campaigns.webhook_urls")),
    path("", include("campaigns.urls")),
]

admin.site.site_header = settings.ADMIN_SITE_HEADER
admin.site.site_title = settings.ADMIN_SITE_HEADER
admin.site.login_form = ThrottledAdminAuthenticationForm
