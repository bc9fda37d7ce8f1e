"""The segment admin: the rule builder, live preview, history chart, exports and the why-page."""

import json

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import formats
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contacts.admin.base import RemovesItsHistoryMixin
from contacts.models import Contact, CustomField, Product, Tag
from crm.permissions import EXPORT_SEGMENT

from .. import export, hooks, registry, services
from ..explain import explain_contact
from ..models import Segment, SegmentMembership
from ..rules import validate
from ..selectors import daily_movement, rules_preview, segments_using
from .forms import SegmentForm
from .lists import export_response, static_upload


def builder_options() -> dict:
    """What the builder's pickers offer, kept small: a few hundred of each at most. Value types of the
    apps above segments (campaigns) come from `hooks`."""
    return {
        "sku_list": [{"value": p.sku, "label": p.name} for p in Product.objects.order_by("sku")[:500]],
        "tag": [{"value": t.name, "label": t.name} for t in Tag.objects.order_by("name")[:500]],
        "segment": [{"value": s.pk, "label": s.name} for s in Segment.objects.order_by("name")[:500]],
        "attribute_key": [{"value": f.key, "label": f.label} for f in CustomField.objects.order_by("key")],
        "date_attribute_key": [
            {"value": f.key, "label": f.label}
            for f in CustomField.objects.filter(type=CustomField.Type.DATE).order_by("key")
        ],
        **hooks.builder_options(),
    }


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
                "preview_url": reverse("admin:segments_segment_preview"),
            }
        )
        if segment is not None:
            series = daily_movement(segment, days=30)
            extra.update(
                {
                    "movement": series,
                    "movement_bars": chart_bars(series),
                    "members": SegmentMembership.objects.filter(segment=segment, left_at__isnull=True)
                    .select_related("contact")
                    .order_by("-joined_at")[:50],
                    "export_formats": export.FORMATS if self.has_export_permission(request) else (),
                }
            )
        return super().changeform_view(request, object_id, form_url, extra)

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
        try:
            rules = validate(json.loads(request.body or b"null"))
        except (ValueError, TypeError, RecursionError):
            return JsonResponse({"errors": [_("The rules are not valid JSON.")]}, status=400)
        except ValidationError as exc:
            return JsonResponse({"errors": exc.message_dict.get("rules", exc.messages)}, status=400)
        preview = rules_preview(rules)
        return JsonResponse(
            {
                "count": preview.count,
                "milliseconds": preview.milliseconds,
                "contacts": [
                    {
                        "id": c.pk,
                        "name": c.full_name,
                        "email": c.email or "",
                        "city": c.city,
                        "url": reverse("admin:contacts_contact_change", args=[c.pk]),
                    }
                    for c in preview.contacts
                ],
            }
        )

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
            "opts": self.model._meta,
            "title": _("Why is %(contact)s in these segments?") % {"contact": contact},
            "explanations": explain_contact(contact),
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


def chart_bars(series: list[dict], height: int = 100) -> list[dict]:
    """Bar geometry for the entries/exits chart (an inline SVG: no chart library, no CDN)."""
    peak = max([1] + [max(d["entries"], d["exits"]) for d in series])
    bars = []
    for index, day in enumerate(series):
        entries_h = round(day["entries"] / peak * height)
        exits_h = round(day["exits"] / peak * height)
        bars.append(
            {
                **day,
                "x": index * 10,
                "entries_h": entries_h,
                "entries_y": height - entries_h,
                "exits_h": exits_h,
                "exits_y": height - exits_h,
            }
        )
    return bars


def builder_text() -> dict:
    """The builder's own words, translated on the server."""
    return {
        "all": _("ALL of these"),
        "any": _("ANY of these"),
        "none": _("NONE of these"),
        "add_condition": _("+ condition"),
        "add_group": _("+ group"),
        "remove": _("remove"),
        "choose_field": _("choose a field…"),
        "preview": _("Preview"),
        "matches": _("contacts match"),
        "took": _("query took"),
        "ms": _("ms"),
        "optional": _("optional"),
        "json": _("Edit as JSON"),
        "yes": _("yes"),
        "no": _("no"),
        "from": _("from"),
        "to": _("to"),
        "comma": _("comma-separated"),
        "name": _("Name"),
        "email": _("Email"),
        "city": _("City"),
        "error": _("Fix the rules first:"),
    }
