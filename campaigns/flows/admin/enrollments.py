"""Enrollments of a flow in the admin: who is in which automation, at which step, and what each step did.

Read-only for everyone (the engine writes enrollments); whoever may view automations may look. A page of
enrollments names each contact's current step in words with the names read once for the whole page.
"""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from contacts.admin.base import ReadOnlyAdmin
from contacts.admin.contact import contact_link
from contacts.models import Contact
from contacts.paginator import EstimatedCountPaginator
from contacts.selectors import contact_search_q

from ..labels import Names, enrollment_step_label, exit_reason_label, path_label
from ..models import Enrollment, StepRun
from ..selectors import enrollment_history

STEP_WORDS = "_step_words"  # set on each row of a changelist page by `get_changelist_instance`
DETAILS = {"not_a_member": _("not a club member")}


@admin.register(Enrollment)
class EnrollmentAdmin(ReadOnlyAdmin):
    list_display = (
        "contact_shown",
        "flow",
        "state",
        "current_step",
        "run_at",
        "holdout",
        "entered_at",
        "completed_at",
        "exited_at",
        "exit_reason_shown",
    )
    list_display_links = ("state",)
    list_select_related = ("contact", "flow")
    list_filter = ("flow", "state", "holdout", ("entered_at", admin.DateFieldListFilter))
    search_fields = ("contact__email",)  # searched as on the contacts list, see get_search_results
    search_help_text = _("The contact's email, phone number or club card number, or the start of a name.")
    ordering = ("-pk",)
    sortable_by = ("entered_at",)
    list_per_page = 50
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    fieldsets = (
        (None, {"fields": ("contact_shown", "flow", "state", "current_step", "run_at", "holdout")}),
        (
            _("Its way through the automation"),
            {"fields": ("entered_at", "completed_at", "exited_at", "exit_reason_shown", "trigger_key", "flow_version")},
        ),
        (_("Steps it went through"), {"fields": ("history",)}),
    )
    readonly_fields = ("contact_shown", "current_step", "exit_reason_shown", "history")

    def get_search_results(self, request, queryset, search_term):
        """The contacts list's own search (exact email, phone or card, name prefixes), so both find the same."""
        q = contact_search_q(search_term)
        if not q:
            return queryset, False
        return queryset.filter(contact__in=Contact.objects.filter(q).values("pk")), False

    def get_changelist_instance(self, request):
        """Name every row's current step with one lookup of template and segment names for the page."""
        changelist = super().get_changelist_instance(request)
        rows = list(changelist.result_list)
        names = Names.for_flows({row.flow_id: row.flow for row in rows}.values())
        for row in rows:
            setattr(row, STEP_WORDS, enrollment_step_label(row, names))
        changelist.result_list = rows
        return changelist

    @admin.display(description=_("contact"))
    def contact_shown(self, enrollment: Enrollment) -> str:
        return contact_link(enrollment.contact)

    @admin.display(description=_("current step"))
    def current_step(self, enrollment: Enrollment) -> str:
        words = getattr(enrollment, STEP_WORDS, None)
        if words is None:  # the view page: one enrollment, one lookup
            words = enrollment_step_label(enrollment, Names.for_flows([enrollment.flow]))
        return words or "—"

    @admin.display(description=_("exit reason"))
    def exit_reason_shown(self, enrollment: Enrollment) -> str:
        return exit_reason_label(enrollment.exit_reason) if enrollment.exit_reason else "—"

    @admin.display(description=_("steps"))
    def history(self, enrollment: Enrollment) -> SafeString | str:
        runs = list(enrollment_history(enrollment))
        if not runs:
            return gettext("No step has run yet.")
        names = Names.for_flows([enrollment.flow])
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    path_label(enrollment.flow, run.step, names),
                    run.get_outcome_display(),
                    DETAILS.get(run.detail, run.detail),
                    formats.date_format(timezone.localtime(run.ran_at), "SHORT_DATETIME_FORMAT"),
                    _message_link(run, enrollment.contact_id),
                )
                for run in runs
            ),
        )
        return format_html(
            '<table class="enrollment-history"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th>'
            "</tr></thead><tbody>{}</tbody></table>",
            gettext("Step"),
            gettext("Outcome"),
            gettext("Detail"),
            gettext("Ran at"),
            gettext("Mail"),
            rows,
        )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Enrollment]:
        return super().get_queryset(request).select_related("contact", "flow")


def _message_link(run: StepRun, contact_id: int) -> SafeString | str:
    """The mail a step queued, by its state, linked to its template's preview as that contact."""
    message = run.message
    if message is None:
        return "—"
    state = message.get_status_display()
    if message.skip_reason:
        state = f"{state}: {message.get_skip_reason_display()}"
    preview = reverse("admin:campaigns_emailtemplate_preview", args=[message.campaign.template_id])
    return format_html('<a href="{}?{}">{}</a>', preview, urlencode({"contact": contact_id}), state)
