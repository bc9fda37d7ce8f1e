"""Segment membership in the back office: its history (browsable, never deleted or edited by hand), the
contacts list filtered by the segment a contact is in, and the contact page's "Segments" tab (both plugged
into contacts through `contacts.hooks`, registered in SegmentsConfig.ready)."""

from django.contrib import admin
from django.db.models import Exists, F, OuterRef
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from contacts.admin.base import ReadOnlyAdmin
from contacts.hooks import ContactSection

from ..models import Segment, SegmentMembership

CONTACT_SEGMENTS_LIMIT = 20


class MembershipAdmin(ReadOnlyAdmin):
    """Who was in which segment, when: reports and automations read this history, so no one deletes a row of
    it; it goes only with its segment or its contact."""

    list_display = ("segment", "contact", "joined_at", "left_at")
    list_filter = ("segment",)
    raw_id_fields = ("contact",)
    list_select_related = ("segment", "contact")
    show_full_result_count = False


admin.site.register(SegmentMembership, MembershipAdmin)


class InSegmentFilter(admin.SimpleListFilter):
    """Contacts in a segment now, for the contacts list: one EXISTS on the current-membership index."""

    title = _("segment")
    parameter_name = "segment"

    def lookups(self, request, model_admin):
        return [(str(pk), name) for pk, name in Segment.objects.order_by("name").values_list("pk", "name")]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        if not value.isdigit():
            return queryset.none()
        current = SegmentMembership.objects.filter(segment_id=int(value), contact=OuterRef("pk"), left_at__isnull=True)
        return queryset.filter(Exists(current))


def _segment_rows(contact_id: int) -> list[tuple]:
    """Current stays first, then past ones, newest first: one query with the segments."""
    stays = (
        SegmentMembership.objects.filter(contact_id=contact_id)
        .select_related("segment")
        .order_by(F("left_at").desc(nulls_first=True), "-joined_at", "-pk")[:CONTACT_SEGMENTS_LIMIT]
    )
    return [
        (
            format_html(
                '<a href="{}">{}</a>',
                reverse("admin:segments_segment_change", args=[stay.segment_id]),
                stay.segment.name,
            ),
            _("In it now") if stay.left_at is None else _("Left"),
            stay.joined_at,
            stay.left_at,
        )
        for stay in stays
    ]


def _all_stays(contact_id: int) -> str:
    return reverse("admin:segments_segmentmembership_changelist") + f"?contact__id__exact={contact_id}"


def _may_view(request: HttpRequest) -> bool:
    return request.user.has_perm("segments.view_segmentmembership")


CONTACT_SEGMENTS = ContactSection(
    key="segments",
    title=_("Segments"),
    headers=(_("segment"), _("Now"), _("Joined"), _("Left")),
    rows=_segment_rows,
    allowed=_may_view,
    more=_all_stays,
    position=30,
)
