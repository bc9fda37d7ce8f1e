"""Email templates in the back office: saved through the service (errors on their field, with the
line), previewed as a chosen contact, sent as a test."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils.translation import gettext_lazy as _

from contacts.admin.base import ServiceErrorsMixin
from crm.permissions import SEND_CAMPAIGN

from .. import services
from ..models import TEMPLATE_FIELDS, EmailTemplate
from .forms import EmailTemplateForm
from .preview import preview_html, preview_page


@admin.register(EmailTemplate)
class EmailTemplateAdmin(ServiceErrorsMixin, admin.ModelAdmin):
    form = EmailTemplateForm
    change_form_template = "admin/campaigns/emailtemplate/change_form.html"
    list_display = ("name", "subject", "language", "layout", "updated_at")
    list_filter = ("language", "layout")
    search_fields = ("name", "subject")
    fieldsets = (
        (None, {"fields": ("name", ("language", "direction", "layout"))}),
        (
            _("Message"),
            {
                "fields": ("subject", "preheader", "html", "text"),
                "description": _(
                    "Variables: contact.first_name, contact.attributes.KEY, club.tier_label, club.points, "
                    "last_purchase.items, recommended, running_out, unsubscribe_url, view_in_browser_url. "
                    "Give a fallback with {{ contact.first_name|default:'friend' }}."
                ),
            },
        ),
    )

    class Media:
        css = {"all": ["campaigns/campaigns.css"]}

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/preview/", wrap(self.preview_view), name="campaigns_emailtemplate_preview"),
            path("<int:pk>/preview/html/", wrap(self.preview_html_view), name="campaigns_emailtemplate_preview_html"),
        ] + super().get_urls()

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data.get(name) for name in TEMPLATE_FIELDS}
        if change:
            saved = services.template_update(template=EmailTemplate.objects.get(pk=obj.pk), **fields)
        else:
            saved = services.template_create(**fields)
        obj.pk = saved.pk
        obj.refresh_from_db()

    def preview_view(self, request, pk):
        template = get_object_or_404(EmailTemplate, pk=pk)
        if not self.has_view_permission(request, template):
            raise PermissionDenied
        return preview_page(
            self,
            request,
            template=template,
            can_send=self.has_change_permission(request, template) and request.user.has_perm(SEND_CAMPAIGN),
        )

    def preview_html_view(self, request, pk):
        template = get_object_or_404(EmailTemplate, pk=pk)
        if not self.has_view_permission(request, template):
            raise PermissionDenied
        return preview_html(request, template=template)
