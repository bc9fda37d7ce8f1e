"""Segments in the back office: the rule builder, live preview, history chart, exports, static lists."""

from .builder import builder_options, builder_text
from .lists import add_to_static_list, may_fill_lists
from .memberships import CONTACT_SEGMENTS, InSegmentFilter, MembershipAdmin
from .segment import SegmentAdmin, failing_message

__all__ = [
    "CONTACT_SEGMENTS",
    "InSegmentFilter",
    "MembershipAdmin",
    "SegmentAdmin",
    "add_to_static_list",
    "builder_options",
    "builder_text",
    "failing_message",
    "may_fill_lists",
]
