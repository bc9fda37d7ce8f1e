"""What automations add to the contact page: the flows the contact is or was in, its state in each, the
step it is at in words and when it next moves (registered in FlowsConfig.ready)."""

from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from contacts.hooks import ContactSection

from .labels import Names, enrollment_step_label
from .selectors import contact_enrollments

CONTACT_FLOWS_LIMIT = 20


def _rows(contact_id: int) -> list[tuple]:
    """The newest enrollments first: one query for them with their flows, one or two for the names."""
    enrollments = contact_enrollments(contact_id, limit=CONTACT_FLOWS_LIMIT)
    names = Names.for_flows({enrollment.flow_id: enrollment.flow for enrollment in enrollments}.values())
    return [
        (
            format_html(
                '<a href="{}">{}</a>',
                reverse("admin:flows_enrollment_change", args=[enrollment.pk]),
                enrollment.flow.name,
            ),
            enrollment.get_state_display(),
            enrollment_step_label(enrollment, names) or None,
            enrollment.run_at if enrollment.state == enrollment.State.ACTIVE else None,
            enrollment.entered_at,
        )
        for enrollment in enrollments
    ]


def _all_of_them(contact_id: int) -> str:
    return reverse("admin:flows_enrollment_changelist") + f"?contact__id__exact={contact_id}"


def _may_view(request: HttpRequest) -> bool:
    return request.user.has_perm("flows.view_enrollment")


CONTACT_FLOWS = ContactSection(
    key="flows",
    title=_("Automations"),
    headers=(_("Automation"), _("State"), _("Current step"), _("Next run"), _("Entered")),
    rows=_rows,
    allowed=_may_view,
    more=_all_of_them,
)
