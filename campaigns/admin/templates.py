"""Email templates in the back office: written in a code editor beside a live preview (`.editor`),
started from blocks or a ready mail, saved through the service (errors on their field, with the line),
previewed as a chosen contact, sent as a test."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils.translation import gettext_lazy as _

from contacts.admin.base import ServiceErrorsMixin
from crm.permissions import SEND_CAMPAIGN
from segments.models import Segment

from .. import services
from ..blocks import BlocksForm
from ..gallery import GALLERY, ready_initial, ready_mail
from ..models import TEMPLATE_FIELDS, EmailTemplate
from . import editor
from .forms import EmailTemplateForm
from .preview import preview_html, preview_page

# The segments the preview picker lists: by name, as many as a menu can hold.
PICKER_SEGMENTS = 200


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
        css = {"all": ["campaigns/campaigns.css", "campaigns/editor.css"]}

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("live-preview/", wrap(self.live_preview_view), name="campaigns_emailtemplate_live_preview"),
            path("blocks/", wrap(self.blocks_view), name="campaigns_emailtemplate_blocks"),
            path("<int:pk>/preview/", wrap(self.preview_view), name="campaigns_emailtemplate_preview"),
            path("<int:pk>/preview/html/", wrap(self.preview_html_view), name="campaigns_emailtemplate_preview_html"),
        ] + super().get_urls()

    def get_changeform_initial_data(self, request):
        """A new template started from a ready mail (`?ready=welcome-he`) comes filled with it."""
        ready = ready_mail(request.GET.get("ready", ""))
        return ready_initial(ready) if ready else super().get_changeform_initial_data(request)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        may_pick = request.user.has_perm("contacts.view_contact") and request.user.has_perm("segments.view_segment")
        segments = Segment.objects.order_by("name")[:PICKER_SEGMENTS] if may_pick else []
        context.update(
            editor_segments=[(segment.pk, editor.segment_label(segment)) for segment in segments],
            editor_widths=editor.PREVIEW_WIDTHS,
            blocks_form=BlocksForm(prefix="blocks"),
            gallery=GALLERY if add else (),
        )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def live_preview_view(self, request):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not (self.has_add_permission(request) or self.has_change_permission(request)):
            raise PermissionDenied
        return editor.live_preview(request)

    def blocks_view(self, request):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not (self.has_add_permission(request) or self.has_change_permission(request)):
            raise PermissionDenied
        return editor.blocks(request)

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
