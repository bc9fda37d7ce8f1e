"""The flow builder in the admin: the list of automations with their numbers, the change form whose
trigger, steps and exit rules are edited visually (static/flows/builder.js), the Activate / Pause / Archive
buttons, the diagram and per-step numbers of a flow, and the ready-made flows.

Every write goes through `campaigns.flows.services` (and so through the one validator of definitions);
the form words the validator's errors for people. Marketers change flows, analysts only look.
"""

from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contacts.admin.base import ServiceErrorsMixin
from segments.models import Segment

from .. import labels, services
from ..diagram import flow_diagram
from ..models import Enrollment, Flow, FlowMail, StepRun
from ..paths import walk
from ..presets import PRESETS, preset_create
from ..selectors import flow_stats
from .forms import DEFINITION_FIELDS, FlowForm, builder_context, step_place
from .measurement import holdout_figures, money_figures

Status = Flow.Status
# verb → (service, statuses it applies to, button label)
STATUS_VERBS: dict[str, tuple[str, set[str], Any]] = {
    "activate": ("flow_activate", {Status.DRAFT, Status.PAUSED}, gettext_lazy("Activate")),
    "pause": ("flow_pause", {Status.ACTIVE}, gettext_lazy("Pause")),
    "archive": ("flow_archive", {Status.DRAFT, Status.ACTIVE, Status.PAUSED}, gettext_lazy("Archive")),
}


def with_list_numbers(queryset: models.QuerySet[Flow]) -> models.QuerySet[Flow]:
    """Each flow with its entered and active counts and its trigger segment's name, in the list's one
    query however many rows it shows."""
    segment = Segment.objects.filter(pk=Cast(OuterRef("trigger_segment_id"), models.BigIntegerField()))
    return queryset.annotate(
        entered_count=Count("enrollments"),
        active_count=Count("enrollments", filter=Q(enrollments__state=Enrollment.State.ACTIVE)),
        trigger_segment_id=KeyTextTransform("segment", "trigger"),
    ).annotate(trigger_segment_name=Subquery(segment.values("name")[:1]))


@admin.register(Flow)
class FlowAdmin(ServiceErrorsMixin, admin.ModelAdmin):
    form = FlowForm
    list_display = ("name", "status", "trigger_summary", "entered", "active", "version", "updated_at")
    list_filter = ("status",)
    search_fields = ("name",)
    ordering = ("-updated_at", "-pk")
    change_form_template = "admin/flows/flow/change_form.html"
    change_list_template = "admin/flows/flow/change_list.html"
    fieldsets = (
        (None, {"fields": ("name", "description")}),
        (gettext_lazy("Trigger"), {"fields": ("trigger",), "classes": ("flow-part",)}),
        (gettext_lazy("Steps"), {"fields": ("steps",), "classes": ("flow-part",)}),
        (gettext_lazy("Exit rules"), {"fields": ("exit_rules",), "classes": ("flow-part",)}),
        (
            gettext_lazy("Options"),
            {"fields": (("reentry", "reentry_days"), "holdout_percent", "bypass_frequency_cap")},
        ),
    )

    class Media:
        css = {"all": ["segments/builder.css", "flows/builder.css"]}
        js = ["segments/builder.js", "flows/builder.js"]

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Flow]:
        return with_list_numbers(super().get_queryset(request))

    def has_change_permission(self, request: HttpRequest, obj: Flow | None = None) -> bool:
        """An archived flow keeps its definition as it ran (the service refuses changes): it is only shown."""
        if obj is not None and obj.status == Status.ARCHIVED:
            return False
        return super().has_change_permission(request, obj)

    # ---------------------------------------------------------- list

    @admin.display(description=gettext_lazy("trigger"))
    def trigger_summary(self, flow: Flow) -> str:
        segment_id = getattr(flow, "trigger_segment_id", None)
        segment_name = getattr(flow, "trigger_segment_name", None)
        names = labels.Names(segments={int(segment_id): str(segment_name)} if segment_id and segment_name else {})
        return labels.trigger_label(flow.trigger, names)

    @admin.display(description=gettext_lazy("entered"), ordering="entered_count")
    def entered(self, flow: Flow) -> int:
        return getattr(flow, "entered_count", 0)

    @admin.display(description=gettext_lazy("in the flow now"), ordering="active_count")
    def active(self, flow: Flow) -> int:
        return getattr(flow, "active_count", 0)

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        extra = extra_context or {}
        if self.has_add_permission(request):
            extra["presets_url"] = reverse("admin:flows_flow_presets")
        return super().changelist_view(request, extra)

    # ---------------------------------------------------------- change form

    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        extra = extra_context or {}
        flow = self.get_object(request, object_id) if object_id else None
        if flow is None and object_id:
            return super().changeform_view(request, object_id, form_url, extra)
        if self.has_change_permission(request, flow) if flow else self.has_add_permission(request):
            extra["builder"] = builder_context()
        if flow is not None:
            extra.update(self._panel(request, flow))
        return super().changeform_view(request, object_id, form_url, extra)

    def _panel(self, request: HttpRequest, flow: Flow) -> dict[str, Any]:
        """What the change page shows above and below the form: the status buttons, the trigger in words,
        the counts and money, the holdout comparison, the diagram and the numbers of each step."""
        stats = flow_stats(flow)
        names = labels.Names.for_flows([flow])
        steps = dict(walk(flow.steps or []))
        rows = [
            {
                **row,
                "place": step_place(row["step"]),
                "label": labels.step_label(steps[row["step"]], names),
                "skipped_total": sum((row.get("skipped") or {}).values()),
                "shown": money_figures(row),
            }
            for row in stats["steps"]
        ]
        return {
            "status_actions": self._status_actions(request, flow),
            "trigger_words": labels.trigger_label(flow.trigger, names),
            "stats": stats,
            "money": money_figures(stats),
            "holdout": holdout_figures(stats),
            "attribution_days": settings.ATTRIBUTION_CLICK_DAYS,
            "step_rows": rows,
            "step_numbers": {row["step"]: {k: row.get(k) for k in ("waiting", "passed", "sent")} for row in rows},
            "diagram": flow_diagram(flow, stats=stats),
            "enrollments_url": _enrollments_url(flow),
        }

    def _status_actions(self, request: HttpRequest, flow: Flow) -> list[dict[str, Any]]:
        if not self.has_change_permission(request, flow):
            return []
        return [
            {
                "verb": verb,
                "label": label,
                "url": reverse(f"admin:flows_flow_{verb}", args=[flow.pk]),
                "confirm": _("Archive “%(name)s”? Contacts still inside leave it; this cannot be undone.")
                % {"name": flow.name}
                if verb == "archive"
                else "",
            }
            for verb, (_service, statuses, label) in STATUS_VERBS.items()
            if flow.status in statuses
        ]

    def save_model(self, request: HttpRequest, obj: Flow, form: FlowForm, change: bool) -> None:
        data: dict[str, Any] = {name: form.cleaned_data.get(name) for name in DEFINITION_FIELDS}
        data["description"] = form.cleaned_data.get("description") or ""
        if change:
            saved = services.flow_update(flow=Flow.objects.get(pk=obj.pk), **data)
        else:
            saved = services.flow_create(**data)
        obj.pk = saved.pk
        obj.refresh_from_db()

    # ---------------------------------------------------------- delete

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: dict | None = None) -> HttpResponse:
        """A flow somebody went through is archived, not deleted: the service says so, and the page too."""
        try:
            return super().delete_view(request, object_id, extra_context)
        except ValidationError as error:
            for message in error.messages:
                self.message_user(request, message, messages.ERROR)
            return HttpResponseRedirect(reverse("admin:flows_flow_change", args=[object_id]))

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[Any, Any, set, Any]:
        """A flow's enrollments and step records cannot be deleted on their own (the engine writes them), so
        the admin would refuse the flow for want of that permission: whether the flow may go is
        `flow_delete`'s to say, and it only lets one go that nobody went through."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        own = {str(model._meta.verbose_name) for model in (Enrollment, StepRun, FlowMail)}
        return deleted, counts, {name for name in perms_needed if str(name) not in own}, protected

    def delete_model(self, request: HttpRequest, obj: Flow) -> None:
        services.flow_delete(flow=obj)

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet[Flow]) -> None:
        for flow in queryset:
            try:
                services.flow_delete(flow=flow)
            except ValidationError as error:
                self.message_user(request, f"{flow.name}: {' '.join(error.messages)}", messages.ERROR)

    # ---------------------------------------------------------- views

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        verbs = [
            path(f"<int:pk>/{verb}/", wrap(self.status_view), {"verb": verb}, name=f"flows_flow_{verb}")
            for verb in STATUS_VERBS
        ]
        return [*verbs, path("presets/", wrap(self.presets_view), name="flows_flow_presets"), *super().get_urls()]

    def status_view(self, request: HttpRequest, pk: int, verb: str) -> HttpResponse:
        """Activate, pause or archive (POST only), through the service; its refusal becomes a message."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        flow = get_object_or_404(Flow, pk=pk)
        if not self.has_change_permission(request, flow):
            raise PermissionDenied
        try:
            flow = getattr(services, STATUS_VERBS[verb][0])(flow=flow)
        except ValidationError as error:
            for message in error.messages:
                self.message_user(request, message, messages.ERROR)
        else:
            self.message_user(
                request,
                _("“%(name)s” is now %(status)s.") % {"name": flow.name, "status": flow.get_status_display().lower()},
                messages.SUCCESS,
            )
        return HttpResponseRedirect(reverse("admin:flows_flow_change", args=[flow.pk]))

    def presets_view(self, request: HttpRequest) -> HttpResponse:
        """The ready-made flows; "Use this flow" makes a draft of one and opens it."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            if not self.has_add_permission(request):
                raise PermissionDenied
            return self._use_preset(request)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Ready-made flows"),
            "presets": PRESETS,
            "can_add": self.has_add_permission(request),
        }
        return TemplateResponse(request, "admin/flows/flow/presets.html", context)

    def _use_preset(self, request: HttpRequest) -> HttpResponse:
        key = request.POST.get("key", "")
        gallery = reverse("admin:flows_flow_presets")
        if key not in {preset.key for preset in PRESETS}:
            self.message_user(request, _("There is no ready-made flow “%(key)s”.") % {"key": key}, messages.ERROR)
            return HttpResponseRedirect(gallery)
        try:
            flow = preset_create(key=key)
        except ValidationError as error:
            for message in error.messages:
                self.message_user(request, message, messages.ERROR)
            return HttpResponseRedirect(gallery)
        self.log_addition(request, flow, [{"added": {}}])
        self.message_user(request, _("Draft created; check it and press Activate."), messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:flows_flow_change", args=[flow.pk]))


def _enrollments_url(flow: Flow) -> str:
    return f"{reverse('admin:flows_enrollment_changelist')}?flow__id__exact={flow.pk}"
