"""Writes that shape a template or a campaign: create, update and duplicate, each value checked once
(the serializer or admin form validated the input; these check what only the whole object can say)."""

import datetime as dt
from collections.abc import Collection, Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.model_update import model_update
from segments.models import Segment

from .. import tasks
from ..models import (
    CAMPAIGN_AUDIENCE_FIELDS,
    CAMPAIGN_EDITABLE_FIELDS,
    CAMPAIGN_FIELDS,
    TEMPLATE_FIELDS,
    Campaign,
    EmailTemplate,
)
from ..rendering import (
    template_validate,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def _merge(errors: dict, exc: ValidationError) -> None:
    for name, messages in exc.message_dict.items():
        errors.setdefault(name, []).extend(messages)


def _check_names(fields: Mapping[str, Any], allowed: Collection[str], what: str) -> None:
    """Callers pass `**validated_data`: a name the service does not know is a mistake to stop at."""
    unknown = set(fields) - set(allowed)
    if unknown:
        raise TypeError(f"unknown {what} fields: {', '.join(sorted(unknown))}")


# ------------------------------------------------------------------ templates


class TemplateFields(TypedDict, total=False):
    """A template's editable parts (`TEMPLATE_FIELDS`); the serializer or the admin form has checked each."""

    name: str
    subject: str
    preheader: str
    html: str
    text: str
    language: str
    direction: str
    layout: str


def _template_check(template: EmailTemplate) -> None:
    """Every part compiles and uses known variables; all errors at once, naming field and line."""
    errors: dict = {}
    for check in (template.full_clean, lambda: template_validate(template)):
        try:
            check()
        except ValidationError as exc:
            _merge(errors, exc)
    if errors:
        raise ValidationError(errors)


def template_create(**fields: Unpack[TemplateFields]) -> EmailTemplate:
    """A new template, saved only if it passes `_template_check`; what is left out takes the model's default."""
    _check_names(fields, TEMPLATE_FIELDS, "template")
    template = EmailTemplate(**fields)
    _template_check(template)
    template.save()
    return template


def template_update(*, template: EmailTemplate, **changes: Unpack[TemplateFields]) -> EmailTemplate:
    """Change a template only if, changed, it still passes `_template_check`; what is left out stays."""
    _check_names(changes, TEMPLATE_FIELDS, "template")
    current = {name: getattr(template, name) for name in TEMPLATE_FIELDS}
    _template_check(EmailTemplate(**(current | changes)))
    model_update(instance=template, fields=TEMPLATE_FIELDS, data=changes)
    return template


# ------------------------------------------------------------------ campaigns


class CampaignFields(TypedDict, total=False):
    """A campaign's editable fields (`CAMPAIGN_EDITABLE_FIELDS`); the serializer or the admin form has
    checked each. The template and segments may be given as instances or ids."""

    name: str
    template: EmailTemplate | int | None
    segments: Iterable[Segment | int]
    exclude_segments: Iterable[Segment | int]
    from_name: str
    from_email: str
    reply_to: str
    utm_source: str
    utm_medium: str
    utm_campaign: str
    cost: Decimal | str | None
    scheduled_at: dt.datetime | None


def _segments(values: Iterable[Segment | int], field: str, errors: dict) -> list[Segment]:
    ids = [value.pk if isinstance(value, Segment) else value for value in values]
    found = list(Segment.objects.filter(pk__in=ids))
    if len(found) != len(set(ids)):
        errors.setdefault(field, []).append(_("Unknown segment."))
    return found


def _columns(fields: Mapping[str, Any], errors: dict) -> dict[str, Any]:
    """The campaign's own columns among `fields`, a template given by id looked up."""
    columns = {name: fields[name] for name in CAMPAIGN_FIELDS if name in fields}
    template = columns.get("template")
    if template is not None and not isinstance(template, EmailTemplate):
        columns["template"] = EmailTemplate.objects.filter(pk=template).first()
        if columns["template"] is None:
            errors.setdefault("template", []).append(_("Unknown template."))
            del columns["template"]
    return columns


def _campaign_errors(campaign: Campaign, *, has_segments: bool) -> dict:
    errors: dict = {}
    try:
        campaign.full_clean(exclude=["created_by"])
    except ValidationError as exc:
        _merge(errors, exc)
    if campaign.cost is not None and "cost" not in errors and Decimal(campaign.cost) < 0:
        errors.setdefault("cost", []).append(_("The cost cannot be negative."))
    if not has_segments:
        errors.setdefault("segments", []).append(_("Choose at least one segment to send to."))
    return errors


def _campaign_check(
    candidate: Campaign, fields: Mapping[str, Any], errors: dict, *, stored: Campaign | None
) -> tuple[dict[str, list[Segment]], bool]:
    """Check the campaign as `fields` would leave it (`candidate`, unsaved) before anything is written.

    Returns the audience given (segments looked up) and whether the campaign is scheduled for a new time;
    raises every error at once, the first found for a field winning."""
    audience = {name: _segments(fields[name], name, errors) for name in CAMPAIGN_AUDIENCE_FIELDS if name in fields}
    included = audience.get("segments")
    has_segments = bool(included) if included is not None else bool(stored and stored.segments.exists())
    for name, messages in _campaign_errors(candidate, has_segments=has_segments).items():
        errors.setdefault(name, messages)
    scheduled_before = stored.scheduled_at if stored else None
    rescheduled = candidate.status == Campaign.Status.SCHEDULED and candidate.scheduled_at != scheduled_before
    if rescheduled and not in_future(candidate.scheduled_at):
        errors.setdefault("scheduled_at", []).append(
            _("A scheduled campaign needs a time in the future; send it now or move it back to draft instead.")
        )
    if errors:
        raise ValidationError(errors)
    return audience, rescheduled


def campaign_create(*, created_by: "User | None" = None, **fields: Unpack[CampaignFields]) -> Campaign:
    """A new draft; it needs a name, a template and at least one segment to send to."""
    _check_names(fields, CAMPAIGN_EDITABLE_FIELDS, "campaign")
    errors: dict = {}
    campaign = Campaign(created_by=created_by if getattr(created_by, "pk", None) else None, **_columns(fields, errors))
    audience, _rescheduled = _campaign_check(campaign, fields, errors, stored=None)
    with transaction.atomic():
        campaign.save()
        for name, segments in audience.items():
            getattr(campaign, name).set(segments)
    return campaign


def campaign_update(*, campaign: Campaign, **changes: Unpack[CampaignFields]) -> Campaign:
    """Change a campaign while it is a draft or scheduled; what is left out (its segments too) stays."""
    _check_names(changes, CAMPAIGN_EDITABLE_FIELDS, "campaign")
    if campaign.status not in Campaign.EDITABLE_STATUSES:
        raise ValidationError(_("A campaign can be changed only while it is a draft or scheduled."))
    errors: dict = {}
    columns = _columns(changes, errors)
    current = {name: getattr(campaign, name) for name in CAMPAIGN_FIELDS}
    candidate = Campaign(status=campaign.status, **(current | columns))
    audience, rescheduled = _campaign_check(candidate, changes, errors, stored=campaign)
    with transaction.atomic():
        model_update(instance=campaign, fields=CAMPAIGN_EDITABLE_FIELDS, data=columns | audience)
        if rescheduled:
            enqueue(tasks.campaigns_start_due, eta=campaign.scheduled_at)
    return campaign


def enqueue(task, *args, **options) -> None:
    """Queue the task once the surrounding transaction commits: a worker never sees a state not yet saved."""
    transaction.on_commit(lambda: task.apply_async(args, **options))


def in_future(when) -> bool:
    return bool(when and when > timezone.now())


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
