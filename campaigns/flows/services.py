"""Writes for automations: create and edit a flow, and move it through draft → active ⇄ paused → archived.

Every definition goes through `definition.flow_definition_validate`, the one validator of the API, the
admin and the presets. Editing a flow that has run raises its version; contacts inside go on from the
step they are at when that step still exists, and finish the flow otherwise.
"""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import exceptions

from crm.model_update import model_update

from .models import Enrollment, Flow

DEFINITION_FIELDS = (
    "name",
    "description",
    "trigger",
    "steps",
    "reentry",
    "reentry_days",
    "exit_rules",
    "holdout_percent",
    "bypass_frequency_cap",
)
BEHAVIOUR_FIELDS = ("trigger", "steps", "exit_rules")


def _validated(data: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    from .definition import flow_definition_validate

    unknown = set(data) - set(DEFINITION_FIELDS)
    if unknown:
        raise TypeError(f"unknown flow fields: {', '.join(sorted(unknown))}")
    description = data.get("description")
    try:
        clean = flow_definition_validate({k: v for k, v in data.items() if k != "description"}, partial=partial)
    except exceptions.ValidationError as exc:
        raise _as_django_error(exc) from None
    if description is not None:
        clean["description"] = description
    return clean


def _as_django_error(exc: exceptions.ValidationError) -> ValidationError:
    """The validator's errors (dotted paths such as steps.2.yes.0.template, with codes) as services raise
    them, so the API and the admin show them like any other service error."""
    detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
    return ValidationError(
        {
            path: [
                ValidationError(str(message), code=getattr(message, "code", None) or "invalid") for message in messages
            ]
            for path, messages in detail.items()
        }
    )


def flow_create(*, preset: str = "", **fields: Any) -> Flow:
    """A draft flow; nothing enrolls until it is activated."""
    clean = _validated(fields, partial=False)
    return Flow.objects.create(preset=preset, status=Flow.Status.DRAFT, **clean)


@transaction.atomic
def flow_update(*, flow: Flow, **changes: Any) -> Flow:
    """Change a flow that is not archived; a change of what it does raises its version."""
    flow = Flow.objects.select_for_update().get(pk=flow.pk)
    if flow.status == Flow.Status.ARCHIVED:
        raise ValidationError(_("An archived automation cannot change; duplicate it instead."))
    clean = _validated(changes, partial=True)
    behaviour_changed = any(name in clean and clean[name] != getattr(flow, name) for name in BEHAVIOUR_FIELDS)
    trigger_changed = "trigger" in clean and clean["trigger"] != flow.trigger
    if behaviour_changed and flow.status != Flow.Status.DRAFT:
        clean["version"] = flow.version + 1
    model_update(instance=flow, fields=(*DEFINITION_FIELDS, "version"), data=clean)
    if trigger_changed and flow.status != Flow.Status.DRAFT:
        _start_trigger(flow, include_existing=False)
    return flow


def _start_trigger(flow: Flow, *, include_existing: bool) -> None:
    """From now on the trigger counts what happens: a segment trigger starts at the latest entry."""
    from . import triggers

    triggers.start_cursor(flow, include_existing=include_existing)


@transaction.atomic
def flow_activate(*, flow: Flow) -> Flow:
    """Draft → active (its trigger starts counting now), or paused → active (its contacts go on)."""
    flow = Flow.objects.select_for_update().get(pk=flow.pk)
    if flow.status not in (Flow.Status.DRAFT, Flow.Status.PAUSED):
        raise ValidationError(
            _("This cannot be done while the automation is “%(status)s”.") % {"status": flow.get_status_display()}
        )
    first_time = flow.status == Flow.Status.DRAFT
    flow.status = Flow.Status.ACTIVE
    if first_time:
        flow.activated_at = timezone.now()
    flow.save(update_fields=["status", "activated_at", "updated_at"])
    # What happened while it was paused enrolls nobody: its trigger counts from now on either way.
    _start_trigger(flow, include_existing=first_time and bool(flow.trigger.get("include_existing")))
    return flow


def flow_pause(*, flow: Flow) -> Flow:
    """Active → paused: nobody enrolls and nobody moves; contacts inside wait where they are."""
    changed = Flow.objects.filter(pk=flow.pk, status=Flow.Status.ACTIVE).update(
        status=Flow.Status.PAUSED, updated_at=timezone.now()
    )
    flow.refresh_from_db()
    if not changed:
        raise ValidationError(
            _("This cannot be done while the automation is “%(status)s”.") % {"status": flow.get_status_display()}
        )
    return flow


@transaction.atomic
def flow_archive(*, flow: Flow) -> Flow:
    """Any status → archived: the contacts still inside leave it (reason "archived"); its numbers stay."""
    now = timezone.now()
    Flow.objects.filter(pk=flow.pk).update(status=Flow.Status.ARCHIVED, updated_at=now)
    Enrollment.objects.filter(flow=flow, state=Enrollment.State.ACTIVE).update(
        state=Enrollment.State.EXITED, exit_reason="archived", exited_at=now, run_at=None, claimed_until=None
    )
    flow.refresh_from_db()
    return flow


def flow_delete(*, flow: Flow) -> None:
    """Only a flow nobody went through is deleted; one with history is archived, keeping its numbers."""
    if flow.enrollments.exists():
        raise ValidationError(_("Contacts went through this automation: archive it to keep its numbers."))
    flow.delete()
