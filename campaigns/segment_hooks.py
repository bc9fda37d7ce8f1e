"""What campaigns add to the segment builder (registered in CampaignsConfig.ready)."""

from .models import Campaign

BUILDER_CAMPAIGNS = 300


def campaign_options() -> list[dict]:
    """The "campaign" picker of the email-engagement conditions: the latest campaigns first, kept small."""
    return [{"value": c.pk, "label": str(c)} for c in Campaign.objects.order_by("-pk")[:BUILDER_CAMPAIGNS]]
