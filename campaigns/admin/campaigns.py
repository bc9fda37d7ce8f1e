"""Campaigns in the back office: edit a draft, count its recipients, send, schedule, pause, resume or
cancel it (each after a confirmation page, each through the service), watch its progress, read its
report. The list shows what each campaign did and earned, sortable."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import widgets
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from contacts.admin.base import ServiceErrorsMixin
from crm.permissions import SEND_CAMPAIGN

from .. import services
from ..models import CAMPAIGN_AUDIENCE_FIELDS, CAMPAIGN_FIELDS, Campaign
from ..selectors import campaign_progress, campaign_stats
from .forms import AudienceCountForm, CampaignForm
from .list_numbers import ListNumbersMixin
from .preview import preview_html, preview_page
from .report import report_numbers, report_page

Status = Campaign.Status
# verb → (service name, statuses it applies to, button label, question on the confirmation page)
VERBS = {
    "send": (
        "campaign_send_now",
        {Status.DRAFT, Status.SCHEDULED},
        gettext_lazy("Send now"),
        gettext_lazy("Send “%(name)s” now to %(eligible)s of %(total)s recipients?"),
    ),
    "schedule": (
        "campaign_start",
        {Status.DRAFT},
        gettext_lazy("Schedule"),
        gettext_lazy("Schedule “%(name)s” for %(when)s, to the recipients of that moment?"),
    ),
    "reschedule": (
        "campaign_reschedule",
        {Status.SCHEDULED},
        gettext_lazy("Reschedule"),
        gettext_lazy("Move “%(name)s” to another time (now set for %(when)s)?"),
    ),
    "unschedule": (
        "campaign_unschedule",
        {Status.SCHEDULED},
        gettext_lazy("Back to draft"),
        gettext_lazy("Move “%(name)s” back to draft? It will not go out until it is scheduled or sent again."),
    ),
    "pause": (
        "campaign_pause",
        {Status.SENDING},
        gettext_lazy("Pause"),
        gettext_lazy("Pause “%(name)s”? Mail already handed to the server stays sent."),
    ),
    "resume": (
        "campaign_resume",
        {Status.PAUSED},
        gettext_lazy("Resume"),
        gettext_lazy("Resume “%(name)s”? Nobody gets it twice."),
    ),
    "cancel": (
        "campaign_cancel",
        {Status.DRAFT, Status.SCHEDULED, Status.SENDING, Status.PAUSED},
        gettext_lazy("Cancel"),
        gettext_lazy("Cancel “%(name)s”? Mail not sent yet is dropped; this cannot be undone."),
    ),
}
LIVE = {Status.SCHEDULED, Status.SENDING}


class RescheduleForm(forms.Form):
    scheduled_at = forms.SplitDateTimeField(label=gettext_lazy("new time"), widget=widgets.AdminSplitDateTime)


def verbs_for(campaign: Campaign) -> list[str]:
    """The buttons a campaign offers: send now, or schedule when its time is in the future, then the
    state changes."""
    future = campaign.scheduled_at and campaign.scheduled_at > timezone.now()
    return [
        verb
        for verb, (_service, statuses, _label, _question) in VERBS.items()
        if campaign.status in statuses
        and not (verb == "schedule" and not future)
        and not (verb == "cancel" and campaign.status == Status.DRAFT)  # a draft sends nothing: no "Cancel"
    ]


@admin.register(Campaign)
class CampaignAdmin(ListNumbersMixin, ServiceErrorsMixin, admin.ModelAdmin):
    form = CampaignForm
    change_form_template = "admin/campaigns/campaign/change_form.html"
    list_display = (
        "name",
        "status_label",
        "when_column",
        "sent_column",
        "open_rate_column",
        "click_rate_column",
        "revenue_column",
        "romi_column",
    )
    actions = ["duplicate_selected"]
    list_filter = ("status",)

    def get_queryset(self, request):
        """Campaigns only: an automation's send steps are shown with their automation."""
        return super().get_queryset(request).filter(kind=Campaign.Kind.BROADCAST)

    search_fields = ("name",)
    date_hierarchy = "created_at"
    filter_horizontal = ("segments", "exclude_segments")
    fieldsets = (
        (None, {"fields": ("name", "template")}),
        (
            gettext_lazy("Audience"),
            {
                "fields": ("segments", "exclude_segments"),
                "description": gettext_lazy(
                    "Members of any of the segments, minus members of any excluded segment. Contacts without consent, "
                    "unsubscribed, bounced or over the frequency cap are skipped when the mail goes out."
                ),
            },
        ),
        (gettext_lazy("Sender"), {"fields": (("from_name", "from_email"), "reply_to")}),
        (
            gettext_lazy("Tracking and cost"),
            {"fields": (("utm_source", "utm_medium", "utm_campaign"), "cost", "holdout_percent")},
        ),
        (
            gettext_lazy("When"),
            {
                "fields": ("scheduled_at",),
                "description": gettext_lazy(
                    "Left blank, “Send now” starts at once; set, the campaign waits for that moment."
                ),
            },
        ),
    )
    LOCKED_EXTRA = ("status", "created_by", "started_at", "finished_at")

    class Media:
        css = {"all": ["campaigns/campaigns.css"]}
        js = ["campaigns/progress.js", "campaigns/audience.js"]

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("audience-count/", wrap(self.audience_count_view), name="campaigns_campaign_audience_count"),
            path("<int:pk>/do/<str:verb>/", wrap(self.verb_view), name="campaigns_campaign_verb"),
            path("<int:pk>/duplicate/", wrap(self.duplicate_view), name="campaigns_campaign_duplicate"),
            path("<int:pk>/progress/", wrap(self.progress_view), name="campaigns_campaign_progress"),
            path("<int:pk>/report/", wrap(self.report_view), name="campaigns_campaign_report"),
            path("<int:pk>/numbers/", wrap(self.numbers_view), name="campaigns_campaign_numbers"),
            path("<int:pk>/preview/", wrap(self.preview_view), name="campaigns_campaign_preview"),
            path("<int:pk>/preview/html/", wrap(self.preview_html_view), name="campaigns_campaign_preview_html"),
        ] + super().get_urls()

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status not in Campaign.EDITABLE_STATUSES:
            return (*CAMPAIGN_FIELDS, *CAMPAIGN_AUDIENCE_FIELDS, *self.LOCKED_EXTRA)
        return self.LOCKED_EXTRA if obj is not None else ()

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return fieldsets
        return ((None, {"fields": ("status", "created_by", ("started_at", "finished_at"))}), *fieldsets)

    @admin.display(description=gettext_lazy("status"), ordering="status")
    def status_label(self, obj: Campaign) -> str:
        if obj.is_overdue:
            return format_html(
                '<span class="campaign-overdue" title="{}">{} — {}</span>',
                _("Its time has passed and it has not started: is the worker and scheduler running?"),
                obj.get_status_display(),
                _("overdue"),
            )
        return obj.get_status_display()

    @admin.action(description=gettext_lazy("Duplicate the selected campaigns as new drafts"), permissions=["add"])
    def duplicate_selected(self, request, queryset):
        copies = [services.campaign_duplicate(campaign=campaign, user=request.user) for campaign in queryset]
        self.message_user(
            request,
            ngettext("%(count)d new draft.", "%(count)d new drafts.", len(copies)) % {"count": len(copies)},
            messages.SUCCESS,
        )

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data.get(name) for name in CAMPAIGN_FIELDS}
        fields.update(
            segments=list(form.cleaned_data["segments"]),
            exclude_segments=list(form.cleaned_data.get("exclude_segments") or []),
        )
        if change:
            saved = services.campaign_update(campaign=Campaign.objects.get(pk=obj.pk), **fields)
        else:
            saved = services.campaign_create(**fields, created_by=request.user)
        obj.pk = saved.pk
        obj.refresh_from_db()

    def save_related(self, request, form, formsets, change):
        """The service saved the segments with the campaign; only inlines would be left, and there are none."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        extra = extra_context or {}
        campaign = self.get_object(request, object_id) if object_id else None
        if campaign is not None and request.method == "GET":
            extra.update(self._panel(request, campaign))
        return super().changeform_view(request, object_id, form_url, extra)

    def _panel(self, request, campaign: Campaign) -> dict:
        can_send = self.has_send_permission(request, campaign)
        panel = {
            "verbs": [(verb, VERBS[verb][2]) for verb in verbs_for(campaign)] if can_send else [],
            "progress_url": reverse("admin:campaigns_campaign_progress", args=[campaign.pk]),
            "report_url": reverse("admin:campaigns_campaign_report", args=[campaign.pk]),
            "preview_url": reverse("admin:campaigns_campaign_preview", args=[campaign.pk]),
            "live": campaign.status in LIVE,
            "progress": progress_data(campaign),
            "overdue": campaign.is_overdue,
            "health_url": reverse("admin-health"),
            "duplicate_url": reverse("admin:campaigns_campaign_duplicate", args=[campaign.pk])
            if self.has_add_permission(request)
            else None,
        }
        if campaign.status in (Status.DRAFT, Status.SCHEDULED):
            panel["recipient_count"] = services.campaign_recipient_count(campaign=campaign)
        return panel

    # ---------------------------------------------------------- views

    def verb_view(self, request, pk, verb):
        campaign = get_object_or_404(Campaign, pk=pk)
        if verb not in VERBS or not self.has_send_permission(request, campaign):
            raise PermissionDenied
        change_url = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
        if verb not in verbs_for(campaign):
            self.message_user(
                request,
                _("A campaign that is “%(status)s” cannot do that.") % {"status": campaign.get_status_display()},
                messages.WARNING,
            )
            return HttpResponseRedirect(change_url)
        service_name = VERBS[verb][0]
        form = RescheduleForm(request.POST or None) if verb == "reschedule" else None
        if request.method == "POST" and (form is None or form.is_valid()):
            extra = {"scheduled_at": form.cleaned_data["scheduled_at"]} if form is not None else {}
            try:
                getattr(services, service_name)(campaign=campaign, **extra)
            except ValidationError as exc:
                for error in exc.messages:
                    self.message_user(request, error, messages.ERROR)
            else:
                campaign.refresh_from_db()
                self.message_user(
                    request,
                    _("“%(name)s” is now %(status)s.")
                    % {"name": campaign.name, "status": campaign.get_status_display().lower()},
                    messages.SUCCESS,
                )
            return HttpResponseRedirect(change_url)
        return self._confirm_page(request, campaign, verb, form, change_url)

    def _confirm_page(self, request, campaign, verb, form, change_url):
        """The page that asks before a verb runs, with the audience counts for send and schedule."""
        _service, _statuses, label, question = VERBS[verb]
        counts = services.campaign_recipient_count(campaign=campaign) if verb in ("send", "schedule") else {}
        when = timezone.localtime(campaign.scheduled_at).strftime("%Y-%m-%d %H:%M") if campaign.scheduled_at else ""
        return TemplateResponse(
            request,
            "admin/campaigns/campaign/confirm.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "original": campaign,
                "form": form,
                "media": self.media + (form.media if form is not None else forms.Media()),
                "title": label,
                "verb": verb,
                "label": label,
                "counts": counts,
                "change_url": change_url,
                "question": question
                % {
                    "name": campaign.name,
                    "when": when,
                    "total": counts.get("total", ""),
                    "eligible": counts.get("eligible", ""),
                },
            },
        )

    def duplicate_view(self, request, pk):
        campaign = get_object_or_404(Campaign, pk=pk)
        if request.method != "POST" or not self.has_add_permission(request):
            raise PermissionDenied
        copy = services.campaign_duplicate(campaign=campaign, user=request.user)
        self.message_user(
            request,
            _("“%(name)s” is a new draft: change what you need, then send or schedule it.") % {"name": copy.name},
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:campaigns_campaign_change", args=[copy.pk]))

    def audience_count_view(self, request):
        """How many the segments picked on the form reach, before the campaign is saved."""
        if not (self.has_add_permission(request) or self.has_change_permission(request)):
            raise PermissionDenied
        form = AudienceCountForm(request.GET)
        if not form.is_valid():
            return JsonResponse({"errors": form.errors}, status=400)
        if not form.cleaned_data["segments"]:
            return JsonResponse({"total": 0, "eligible": 0, "message": _("Pick a segment to see whom it reaches.")})
        counts = services.audience_count(
            segments=form.cleaned_data["segments"], exclude_segments=form.cleaned_data["exclude_segments"]
        )
        message = ngettext(
            "This campaign will go to %(eligible)s contact (%(total)s in the segments; the others have not agreed "
            "to mail, unsubscribed, bounced or had enough mail lately).",
            "This campaign will go to %(eligible)s contacts (%(total)s in the segments; the others have not "
            "agreed to mail, unsubscribed, bounced or had enough mail lately).",
            counts["eligible"],
        ) % {"eligible": f"{counts['eligible']:,}", "total": f"{counts['total']:,}"}
        return JsonResponse({**counts, "message": message})

    def progress_view(self, request, pk):
        campaign = get_object_or_404(Campaign, pk=pk)
        if not self.has_view_permission(request, campaign):
            raise PermissionDenied
        return JsonResponse(progress_data(campaign))

    def report_view(self, request, pk):
        campaign = get_object_or_404(Campaign.objects.select_related("template"), pk=pk)
        if not self.has_view_permission(request, campaign):
            raise PermissionDenied
        return report_page(self, request, campaign)

    def numbers_view(self, request, pk):
        campaign = get_object_or_404(Campaign, pk=pk)
        if not self.has_view_permission(request, campaign):
            raise PermissionDenied
        return JsonResponse({"status": campaign.status, "numbers": report_numbers(campaign_stats(campaign))})

    def preview_view(self, request, pk):
        campaign = get_object_or_404(Campaign.objects.select_related("template"), pk=pk)
        if not self.has_view_permission(request, campaign):
            raise PermissionDenied
        return preview_page(
            self,
            request,
            template=campaign.template,
            campaign=campaign,
            can_send=self.has_send_permission(request, campaign),
        )

    def preview_html_view(self, request, pk):
        campaign = get_object_or_404(Campaign.objects.select_related("template"), pk=pk)
        if not self.has_view_permission(request, campaign):
            raise PermissionDenied
        return preview_html(request, template=campaign.template, campaign=campaign)

    def has_send_permission(self, request, obj: Campaign | None = None) -> bool:
        """Sending, scheduling, pausing, resuming, cancelling and test mails reach people: their own permission."""
        return self.has_change_permission(request, obj) and request.user.has_perm(SEND_CAMPAIGN)


def progress_data(campaign: Campaign) -> dict:
    """What the progress bar shows, and what its JSON endpoint answers while it refreshes."""
    return {
        **campaign_progress(campaign),
        "status_label": str(campaign.get_status_display()),
        "live": campaign.status in LIVE,
    }
