"""Writes for templates and campaigns, by sub-domain: `editing` (templates and campaigns as objects),
`preview` (what a campaign would send, before it does) and `lifecycle` (draft → scheduled → sending →
sent, with paused and cancelled on the side). Callers import from here."""

from .brand import BRAND_FIELDS, brand_get_or_create, brand_update
from .editing import (
    campaign_create,
    campaign_duplicate,
    campaign_update,
    template_create,
    template_update,
)
from .lifecycle import (
    campaign_cancel,
    campaign_dispatch,
    campaign_freeze,
    campaign_pause,
    campaign_reschedule,
    campaign_resume,
    campaign_send_now,
    campaign_start,
    campaign_unschedule,
    campaigns_start_due,
)
from .preview import (
    TEST_SEND_LIMIT,
    audience_count,
    campaign_preview,
    campaign_recipient_count,
    campaign_test_send,
    template_draft_preview,
)

__all__ = [
    "BRAND_FIELDS",
    "TEST_SEND_LIMIT",
    "audience_count",
    "brand_get_or_create",
    "brand_update",
    "campaign_cancel",
    "campaign_create",
    "campaign_dispatch",
    "campaign_duplicate",
    "campaign_freeze",
    "campaign_pause",
    "campaign_preview",
    "campaign_recipient_count",
    "campaign_reschedule",
    "campaign_resume",
    "campaign_send_now",
    "campaign_start",
    "campaign_test_send",
    "campaign_unschedule",
    "campaign_update",
    "campaigns_start_due",
    "template_create",
    "template_draft_preview",
    "template_update",
]
