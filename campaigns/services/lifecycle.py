"""The sending life cycle: draft → scheduled → sending → sent, with paused and cancelled on the side.

The sending itself lives in `campaigns.sending`; these functions change a campaign's state and
enqueue the tasks. Each transition is one conditional UPDATE, so two clicks cannot both win."""

import datetime as dt
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import audience, sending, tasks
from ..models import (
    Campaign,
    EmailTemplate,
    Message,
)
from ..outbox import Outbox
from ..rendering import (
    template_compile,
    template_snapshot,
)

if TYPE_CHECKING:
    pass
from .editing import enqueue, in_future


def _transition(campaign: Campaign, allowed: tuple, **fields) -> None:
    """Change the status only from `allowed`, atomically, so two clicks cannot both win."""
    changed = Campaign.objects.filter(pk=campaign.pk, status__in=allowed).update(**fields)
    campaign.refresh_from_db()
    if not changed:
        raise ValidationError(
            _("This cannot be done while the campaign is “%(status)s”.") % {"status": campaign.get_status_display()}
        )


def _check_sendable(campaign: Campaign) -> None:
    if not campaign.segments.exists():
        raise ValidationError({"segments": [_("Choose at least one segment to send to.")]})
    template_compile(campaign.template)


def _start_now(campaign: Campaign) -> Campaign:
    now = timezone.now()
    _transition(
        campaign, Campaign.EDITABLE_STATUSES, status=Campaign.Status.SENDING, started_at=now, **_frozen(campaign, now)
    )
    enqueue(tasks.campaign_dispatch, campaign.pk)
    return campaign


def campaign_start(*, campaign: Campaign) -> Campaign:
    """Send now, or at scheduled_at when that is in the future."""
    _check_sendable(campaign)
    if in_future(campaign.scheduled_at):
        _transition(campaign, Campaign.EDITABLE_STATUSES, status=Campaign.Status.SCHEDULED)
        enqueue(tasks.campaigns_start_due, eta=campaign.scheduled_at)
        return campaign
    return _start_now(campaign)


def _frozen(campaign: Campaign, now) -> dict:
    """The fields that freeze the campaign's template as it is now (see `rendering.campaign_template`)."""
    template = EmailTemplate.objects.get(pk=campaign.template_id)
    return {"frozen_template": template_snapshot(template), "frozen_at": now}


def campaign_freeze(*, campaign: Campaign) -> None:
    """Keep the template's content on a started campaign that has no copy yet (one started by the
    scheduler, or before copies were kept); an existing copy is never replaced."""
    Campaign.objects.filter(pk=campaign.pk, frozen_at__isnull=True).update(**_frozen(campaign, timezone.now()))
    campaign.refresh_from_db(fields=["frozen_template", "frozen_at"])


def campaigns_start_due() -> int:
    """Start every scheduled campaign whose time has come (Celery beat and scheduled countdowns)."""
    due = Campaign.objects.filter(status=Campaign.Status.SCHEDULED, scheduled_at__lte=timezone.now())
    started = 0
    for campaign in due.only("pk"):
        if Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.SCHEDULED).update(
            status=Campaign.Status.SENDING, started_at=timezone.now()
        ):
            campaign_freeze(campaign=campaign)
            enqueue(tasks.campaign_dispatch, campaign.pk)
            started += 1
    return started


def campaign_dispatch(*, campaign_id: int) -> int:
    """Snapshot the recipients (once) and start CAMPAIGN_SEND_CONCURRENCY chains of batches."""
    campaign = Campaign.objects.filter(pk=campaign_id, status=Campaign.Status.SENDING).first()
    if campaign is None:
        return 0
    campaign_freeze(campaign=campaign)
    if not Message.objects.filter(campaign=campaign).exists():
        audience.snapshot(campaign)
    for _chain in range(max(settings.CAMPAIGN_SEND_CONCURRENCY, 1)):
        enqueue(tasks.campaign_send, campaign.pk)
    return settings.CAMPAIGN_SEND_CONCURRENCY


def campaign_send_now(*, campaign: Campaign) -> Campaign:
    """Start a draft or a scheduled campaign at once, whatever its scheduled time."""
    _check_sendable(campaign)
    return _start_now(campaign)


def campaign_unschedule(*, campaign: Campaign) -> Campaign:
    """Back to draft: it will not go out until it is scheduled or sent again (its time is kept)."""
    _transition(campaign, (Campaign.Status.SCHEDULED,), status=Campaign.Status.DRAFT)
    return campaign


def campaign_reschedule(*, campaign: Campaign, scheduled_at: dt.datetime) -> Campaign:
    """Move a scheduled campaign (or schedule a draft) to another moment in the future.

    The countdown queued for the old time finds nothing due when it fires: `campaigns_start_due`
    only starts what is due by the stored time."""
    if not in_future(scheduled_at):
        raise ValidationError({"scheduled_at": [_("Choose a time in the future.")]})
    Campaign.objects.filter(pk=campaign.pk, status__in=Campaign.EDITABLE_STATUSES).update(scheduled_at=scheduled_at)
    campaign.refresh_from_db()
    return campaign_start(campaign=campaign) if campaign.status == Campaign.Status.DRAFT else _requeue(campaign)


def _requeue(campaign: Campaign) -> Campaign:
    if campaign.status != Campaign.Status.SCHEDULED:
        raise ValidationError(
            _("This cannot be done while the campaign is “%(status)s”.") % {"status": campaign.get_status_display()}
        )
    enqueue(tasks.campaigns_start_due, eta=campaign.scheduled_at)
    return campaign


def campaign_pause(*, campaign: Campaign) -> Campaign:
    """Workers stop after the batch in hand; queued messages wait."""
    _transition(campaign, (Campaign.Status.SENDING,), status=Campaign.Status.PAUSED)
    return campaign


def campaign_resume(*, campaign: Campaign) -> Campaign:
    """Continue a paused campaign, or restart the workers of one left sending after a crash.

    Over SMTP every unfinished claim is given back at once (a mail whose DATA never ended was not
    delivered, and the claim stamp stops the old worker); other backends wait for the claim lease.
    """
    _transition(campaign, (Campaign.Status.PAUSED, Campaign.Status.SENDING), status=Campaign.Status.SENDING)
    lease = None if Outbox().two_phase else sending.claim_lease()
    sending.release_claims(campaign.pk, older_than=lease)
    enqueue(tasks.campaign_dispatch, campaign.pk)
    return campaign


def campaign_cancel(*, campaign: Campaign) -> Campaign:
    """Stop for good: whatever is still queued is skipped with reason "cancelled"."""
    allowed = (*Campaign.EDITABLE_STATUSES, Campaign.Status.SENDING, Campaign.Status.PAUSED)
    with transaction.atomic():
        _transition(campaign, allowed, status=Campaign.Status.CANCELLED, finished_at=timezone.now())
        Message.objects.filter(campaign=campaign, status__in=[Message.Status.QUEUED, Message.Status.CLAIMED]).update(
            status=Message.Status.SKIPPED, skip_reason=Message.SkipReason.CANCELLED, claimed_at=None
        )
    return campaign
