"""The segment admin: the rule builder, live preview, history chart, exports and the why-page."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import formats
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contacts.admin.base import RemovesItsHistoryMixin
from contacts.models import Contact
from crm.permissions import EXPORT_SEGMENT

from .. import export, registry, services
from ..explain import relevant_explanations
from ..models import Segment, SegmentMembership
from ..selectors import segments_using, size_history
from ..starters import starters
from .builder import builder_options, builder_text, preview_response, suggest_response
from .chart import size_chart
from .forms import SegmentForm
from .lists import export_response, static_upload


class FailingFilter(admin.SimpleListFilter):
    title = gettext_lazy("health")
    parameter_name = "failing"

    def lookups(self, request, model_admin):
        return [("yes", gettext_lazy("failing")), ("no", gettext_lazy("working"))]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(last_error_at__isnull=self.value() == "no")
        return queryset


@admin.register(Segment)
class SegmentAdmin(RemovesItsHistoryMixin, admin.ModelAdmin):
    form = SegmentForm
    list_display = ("name", "kind", "member_count", "last_refreshed_at", "last_refresh_ms", "health")
    list_filter = ("kind", FailingFilter)
    search_fields = ("name", "description")
    readonly_fields = (
        "member_count",
        "last_refreshed_at",
        "last_refresh_ms",
        "last_error",
        "last_error_at",
        "created_by",
        "created_at",
    )
    change_form_template = "admin/segments/segment/change_form.html"
    actions = ["refresh_selected", "export_meta", "export_google", "export_csv"]

    class Media:
        css = {"all": ["segments/builder.css"]}
        js = ["segments/builder.js"]

    def get_urls(self):
        info = self.admin_site.admin_view
        return [
            path("preview/", info(self.preview_view), name="segments_segment_preview"),
            path("suggest/<str:kind>/", info(self.suggest_view), name="segments_segment_suggest"),
            path("<int:pk>/export/<str:fmt>/", info(self.export_view), name="segments_segment_export"),
            path("<int:pk>/upload/", info(self.upload_view), name="segments_segment_upload"),
            path("why/<int:contact_id>/", info(self.why_view), name="segments_segment_why"),
        ] + super().get_urls()

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        extra = extra_context or {}
        segment = self.get_object(request, object_id) if object_id else None
        if segment is not None and segment.is_failing and request.method == "GET":
            self.message_user(request, failing_message(segment), messages.ERROR)
        extra.update(
            {
                "builder_catalogue": registry.catalogue(),
                "builder_options": builder_options(),
                "builder_text": builder_text(),
                "builder_starters": starters(),
                "preview_url": reverse("admin:segments_segment_preview"),
                "suggest_url": reverse("admin:segments_segment_suggest", args=["kind"]),
            }
        )
        if segment is not None:
            series = size_history(segment, days=30)
            extra.update(
                {
                    "movement": series,
                    "chart": size_chart(series),
                    "members_page": self.members_page(segment, request.GET.get("members")),
                    "export_formats": export.FORMATS if self.has_export_permission(request) else (),
                }
            )
        return super().changeform_view(request, object_id, form_url, extra)

    def members_page(self, segment: Segment, number: str | None):
        """Every current member, newest first, 50 to a page (the count is the segment's own tally)."""
        members = (
            SegmentMembership.objects.filter(segment=segment, left_at__isnull=True)
            .select_related("contact")
            .order_by("-joined_at", "-pk")
        )
        return Paginator(members, 50).get_page(number)

    def save_model(self, request, obj, form, change):
        data = {key: form.cleaned_data.get(key) for key in ("name", "kind", "rules", "description")}
        if change:
            saved = services.segment_update(segment=Segment.objects.get(pk=obj.pk), **data)
        else:
            saved = services.segment_create(**data, created_by=request.user)
        obj.pk = saved.pk
        obj.refresh_from_db()

    def delete_view(self, request, object_id, extra_context=None):
        segment = self.get_object(request, object_id)
        if segment is not None and request.method == "POST":
            users = list(segments_using(segment).values_list("name", flat=True))
            if users:
                self.message_user(
                    request,
                    _("“%(name)s” is used by: %(users)s. Change those segments first.")
                    % {"name": segment.name, "users": ", ".join(users)},
                    messages.ERROR,
                )
                return HttpResponseRedirect(reverse("admin:segments_segment_change", args=[segment.pk]))
        return super().delete_view(request, object_id, extra_context)

    def delete_queryset(self, request, queryset):
        for segment in queryset:
            try:
                services.segment_delete(segment=segment)
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)

    # ---------------------------------------------------------- views

    def preview_view(self, request):
        if request.method != "POST" or not self.has_view_permission(request):
            raise PermissionDenied
        return preview_response(request)

    def suggest_view(self, request, kind):
        """Picker suggestions: names from the data, for those who may build segments."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        return suggest_response(request, kind)

    def export_view(self, request, pk, fmt):
        segment = get_object_or_404(Segment, pk=pk)
        if fmt not in export.FORMATS or not self.has_export_permission(request):
            raise PermissionDenied
        return export_response(segment, fmt)

    def upload_view(self, request, pk):
        """Static lists: add the contacts named in a CSV by id, email or phone (one per line)."""
        segment = get_object_or_404(Segment, pk=pk)
        if request.method != "POST" or not self.has_change_permission(request, segment):
            raise PermissionDenied
        upload = request.FILES.get("file")
        if segment.is_dynamic or upload is None:
            self.message_user(request, _("Choose a CSV file for a static list."), messages.ERROR)
        else:
            added, problems = static_upload(segment, upload)
            self.message_user(request, _("%(n)d contacts added.") % {"n": added}, messages.SUCCESS)
            for problem in problems[:20]:
                self.message_user(request, problem, messages.WARNING)
        return HttpResponseRedirect(reverse("admin:segments_segment_change", args=[segment.pk]))

    def why_view(self, request, contact_id):
        contact = get_object_or_404(Contact, pk=contact_id)
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "contact": contact,
            "contact_bdi": format_html("<bdi>{}</bdi>", contact),
            "opts": self.model._meta,
            "title": _("Why is %(contact)s in these segments?") % {"contact": contact},
            "explanations": relevant_explanations(contact),
        }
        return TemplateResponse(request, "admin/segments/segment/why.html", context)

    def has_export_permission(self, request) -> bool:
        """Audience files hand people to ad platforms: they take their own permission, and seeing contacts."""
        return (
            self.has_view_permission(request)
            and request.user.has_perm("contacts.view_contact")
            and request.user.has_perm(EXPORT_SEGMENT)
        )

    # ---------------------------------------------------------- actions

    @admin.display(description=gettext_lazy("health"), ordering="last_error_at")
    def health(self, segment: Segment) -> str:
        if not segment.is_failing:
            return ""
        return format_html('<span class="segment-failing" title="{}">⚠ {}</span>', segment.last_error, _("failing"))

    @admin.action(description=gettext_lazy("Refresh selected dynamic segments now"), permissions=["change"])
    def refresh_selected(self, request, queryset):
        for segment in queryset.filter(kind=Segment.Kind.DYNAMIC):
            try:
                result = services.segment_refresh(segment=segment)
            except services.SegmentFailed:
                segment.refresh_from_db()
                self.message_user(request, failing_message(segment), messages.ERROR)
                continue
            self.message_user(
                request,
                _("%(name)s: %(members)d members (+%(entered)d / -%(left)d).")
                % {"name": segment.name, "members": result.members, "entered": result.entered, "left": result.left},
            )

    def _export_action(self, request, queryset, fmt):
        if queryset.count() != 1:
            self.message_user(request, _("Select exactly one segment to export."), messages.WARNING)
            return None
        return export_response(queryset.get(), fmt)

    @admin.action(description=gettext_lazy("Export for Meta (hashed CSV)"), permissions=["export"])
    def export_meta(self, request, queryset):
        return self._export_action(request, queryset, "meta")

    @admin.action(description=gettext_lazy("Export for Google Customer Match (hashed CSV)"), permissions=["export"])
    def export_google(self, request, queryset):
        return self._export_action(request, queryset, "google")

    @admin.action(description=gettext_lazy("Export as CSV"), permissions=["export"])
    def export_csv(self, request, queryset):
        return self._export_action(request, queryset, "csv")


def failing_message(segment: Segment) -> str:
    return _(
        "“%(name)s” could not be evaluated (last at %(when)s): %(error)s. Its members stay as they were "
        "until its rules work again; fix the rules or the segments they include."
    ) % {"name": segment.name, "when": formats.localize(segment.last_error_at), "error": segment.last_error}
