"""Writes for templates and campaigns: validation, preview, test sends and the sending life cycle.

draft → scheduled → sending → sent, with paused and cancelled on the side. The sending itself
lives in `campaigns.sending`; these functions change a campaign's state and enqueue the tasks.
"""

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import get_connection
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.models import Contact
from segments.models import Segment

from . import audience, mail, sending, tasks
from .models import CAMPAIGN_FIELDS, TEMPLATE_FIELDS, Campaign, EmailTemplate, Message
from .outbox import Outbox
from .personalization import batch_contexts
from .rendering import (
    Rendered,
    campaign_template,
    render,
    template_compile,
    template_snapshot,
    template_validate,
)
from .sandbox import TemplateLimitError

TEST_SEND_LIMIT = 20


def _merge(errors: dict, exc: ValidationError) -> None:
    for name, messages in exc.message_dict.items():
        errors.setdefault(name, []).extend(messages)


# ------------------------------------------------------------------ templates


def template_save(*, template: EmailTemplate | None = None, data: dict) -> EmailTemplate:
    """Save a template only if every part compiles and uses known variables; errors name field and line."""
    template = template or EmailTemplate()
    for name in TEMPLATE_FIELDS:
        if name in data:
            setattr(template, name, data[name])
    errors: dict = {}
    for check in (template.full_clean, lambda: template_validate(template)):
        try:
            check()
        except ValidationError as exc:
            _merge(errors, exc)
    if errors:
        raise ValidationError(errors)
    template.save()
    return template


# ------------------------------------------------------------------ campaigns


def _segments(values, field: str, errors: dict) -> list[Segment]:
    ids = [getattr(value, "pk", value) for value in values]
    found = list(Segment.objects.filter(pk__in=ids))
    if len(found) != len(set(ids)):
        errors.setdefault(field, []).append(_("Unknown segment."))
    return found


def _apply_campaign_data(campaign: Campaign, data: dict, errors: dict) -> None:
    for name in CAMPAIGN_FIELDS:
        if name not in data:
            continue
        value = data[name]
        if name == "template" and value is not None and not isinstance(value, EmailTemplate):
            value = EmailTemplate.objects.filter(pk=value).first()
            if value is None:
                errors.setdefault("template", []).append(_("Unknown template."))
                continue
        setattr(campaign, name, value)


def _campaign_errors(campaign: Campaign, included: list | None) -> dict:
    errors: dict = {}
    try:
        campaign.full_clean(exclude=["created_by"])
    except ValidationError as exc:
        _merge(errors, exc)
    if campaign.cost is not None and "cost" not in errors and Decimal(campaign.cost) < 0:
        errors.setdefault("cost", []).append(_("The cost cannot be negative."))
    has_segments = bool(included) if included is not None else bool(campaign.pk and campaign.segments.exists())
    if not has_segments:
        errors.setdefault("segments", []).append(_("Choose at least one segment to send to."))
    return errors


def campaign_save(
    *,
    campaign: Campaign | None = None,
    data: dict,
    segments: list | None = None,
    exclude_segments: list | None = None,
    user=None,
) -> Campaign:
    """Create or change a campaign while it is a draft or scheduled."""
    campaign = campaign or Campaign(created_by=user if getattr(user, "pk", None) else None)
    if campaign.pk and campaign.status not in Campaign.EDITABLE_STATUSES:
        raise ValidationError(_("A campaign can be changed only while it is a draft or scheduled."))
    errors: dict = {}
    scheduled_before = campaign.scheduled_at
    _apply_campaign_data(campaign, data, errors)
    included = _segments(segments, "segments", errors) if segments is not None else None
    excluded = _segments(exclude_segments, "exclude_segments", errors) if exclude_segments is not None else None
    for name, messages in _campaign_errors(campaign, included).items():
        if name not in errors:
            errors[name] = messages
    rescheduled = campaign.status == Campaign.Status.SCHEDULED and campaign.scheduled_at != scheduled_before
    if rescheduled and not _in_future(campaign.scheduled_at):
        errors.setdefault("scheduled_at", []).append(
            _("A scheduled campaign needs a time in the future; send it now or move it back to draft instead.")
        )
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        campaign.save()
        if included is not None:
            campaign.segments.set(included)
        if excluded is not None:
            campaign.exclude_segments.set(excluded)
        if rescheduled:
            _enqueue(tasks.campaigns_start_due, eta=campaign.scheduled_at)
    return campaign


def _in_future(when) -> bool:
    return bool(when and when > timezone.now())


def campaign_recipient_count(*, campaign: Campaign) -> dict:
    """Who the campaign reaches: everyone in its segments, and those a send right now would mail."""
    contacts = audience.recipients(campaign)
    return {"total": contacts.count(), "eligible": audience.eligible(contacts).count()}


def campaign_preview(*, template: EmailTemplate, contact: Contact, campaign: Campaign | None = None) -> Rendered:
    """The mail as `contact` would read it; links stay as written, tracking URLs are "#" anchors.

    A campaign shows what it sends: its frozen template once started (`template` is then ignored).
    A render this contact's data breaks (a template limit, a filter that fails) is a ValidationError."""
    template = campaign_template(campaign) if campaign is not None else template
    compiled = template_compile(template)
    extra = {contact.pk: {**mail.PREVIEW_URLS, **mail.campaign_context(campaign)}}
    try:
        return render(compiled, batch_contexts(compiled, [contact], extra)[contact.pk])
    except TemplateLimitError as exc:
        raise ValidationError(str(exc)) from None
    except Exception as exc:  # noqa: BLE001  (the marketer sees why instead of a server error)
        raise ValidationError(_("This mail cannot be made for this contact: %(error)s") % {"error": exc}) from None


def _clean_emails(emails: list[str]) -> list[str]:
    cleaned = [str(e).strip().lower() for e in emails or [] if str(e).strip()]
    if not cleaned:
        raise ValidationError({"emails": [_("Give at least one address.")]})
    if len(cleaned) > TEST_SEND_LIMIT:
        raise ValidationError({"emails": [_("At most %(n)d addresses.") % {"n": TEST_SEND_LIMIT}]})
    bad = []
    for address in cleaned:
        try:
            validate_email(address)
        except ValidationError:
            bad.append(_("“%(address)s” is not a valid email address.") % {"address": address})
    if bad:
        raise ValidationError({"emails": bad})
    return list(dict.fromkeys(cleaned))


def campaign_test_send(
    *,
    campaign: Campaign | None = None,
    template: EmailTemplate | None = None,
    emails: list[str],
    contact: Contact | None = None,
) -> int:
    """A "[TEST]" copy to each address, personalized for `contact` (or a blank one); no stats recorded."""
    template = template or (campaign_template(campaign) if campaign else None)
    if template is None:
        raise ValidationError({"template": [_("Choose a template.")]})
    addresses = _clean_emails(emails)
    rendered = campaign_preview(template=template, contact=contact or Contact(), campaign=campaign)
    mails = [
        mail.proof_mail(campaign=campaign, template=template, rendered=rendered, to=address) for address in addresses
    ]
    return get_connection().send_messages(mails) or 0


# ------------------------------------------------------------------ life cycle


def _enqueue(task, *args, **options) -> None:
    transaction.on_commit(lambda: task.apply_async(args, **options))


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
    _enqueue(tasks.campaign_dispatch, campaign.pk)
    return campaign


def campaign_start(*, campaign: Campaign) -> Campaign:
    """Send now, or at scheduled_at when that is in the future."""
    _check_sendable(campaign)
    if _in_future(campaign.scheduled_at):
        _transition(campaign, Campaign.EDITABLE_STATUSES, status=Campaign.Status.SCHEDULED)
        _enqueue(tasks.campaigns_start_due, eta=campaign.scheduled_at)
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
            _enqueue(tasks.campaign_dispatch, campaign.pk)
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
        _enqueue(tasks.campaign_send, campaign.pk)
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
    if not _in_future(scheduled_at):
        raise ValidationError({"scheduled_at": [_("Choose a time in the future.")]})
    Campaign.objects.filter(pk=campaign.pk, status__in=Campaign.EDITABLE_STATUSES).update(scheduled_at=scheduled_at)
    campaign.refresh_from_db()
    return campaign_start(campaign=campaign) if campaign.status == Campaign.Status.DRAFT else _requeue(campaign)


def _requeue(campaign: Campaign) -> Campaign:
    if campaign.status != Campaign.Status.SCHEDULED:
        raise ValidationError(
            _("This cannot be done while the campaign is “%(status)s”.") % {"status": campaign.get_status_display()}
        )
    _enqueue(tasks.campaigns_start_due, eta=campaign.scheduled_at)
    return campaign


def campaign_duplicate(*, campaign: Campaign, user=None) -> Campaign:
    """A new draft with the same template, audience, sender, tracking and cost; no time, no copy of the
    template's content, no recipients."""
    copy = Campaign(
        created_by=user if getattr(user, "pk", None) else None,
        **{name: getattr(campaign, name) for name in CAMPAIGN_FIELDS if name != "scheduled_at"},
    )
    copy.name = (_("Copy of %(name)s") % {"name": campaign.name})[: Campaign._meta.get_field("name").max_length]
    with transaction.atomic():
        copy.save()
        copy.segments.set(campaign.segments.all())
        copy.exclude_segments.set(campaign.exclude_segments.all())
    return copy


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
    _enqueue(tasks.campaign_dispatch, campaign.pk)
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
