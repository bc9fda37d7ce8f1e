"""Automation mail left behind by a worker that died: its sender is started again within a minute.

A flow step's mails are sent by the step campaign's sender, which the engine starts when it queues a mail
(`mailing.send_soon`). If the worker running that sender dies, Celery hands its task back only after the
broker's visibility timeout (an hour on Redis), and no marketer presses Resume on a hidden campaign. So a
periodic job finds step campaigns with mail waiting longer than the claim lease and nothing sent within
it, releases their lapsed claims and starts their sender. A sender that is merely slow (rate-limited, a
long queue) keeps sending, so it is never doubled.
"""

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from ..models import Campaign, Message
from ..sending import claim_lease, release_claims
from .mailing import send_soon


def restart_stalled_senders() -> int:
    """Start the sender of each stalled step campaign; returns how many were started."""
    since = timezone.now() - claim_lease()
    waiting = Message.objects.filter(campaign=OuterRef("pk")).filter(
        Q(status=Message.Status.QUEUED, queued_at__lt=since) | Q(status=Message.Status.CLAIMED, claimed_at__lt=since)
    )
    sending = Message.objects.filter(campaign=OuterRef("pk")).filter(
        Q(sent_at__gte=since) | Q(status=Message.Status.CLAIMED, claimed_at__gte=since)
    )
    stalled = list(
        Campaign.objects.filter(kind=Campaign.Kind.FLOW, status=Campaign.Status.SENDING)
        .filter(Exists(waiting))
        .exclude(Exists(sending))
        .values_list("pk", flat=True)
    )
    for campaign_id in stalled:
        release_claims(campaign_id, older_than=claim_lease())
        send_soon(campaign_id)
    return len(stalled)
