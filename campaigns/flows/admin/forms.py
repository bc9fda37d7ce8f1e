"""The flow form of the admin and what its visual builder reads.

The form only parses the three JSON fields (trigger, steps, exit_rules); the definition is checked by
`definition.flow_definition_validate`, the validator of the API and the presets, whose errors carry dotted
paths ("steps.2.yes.0.template"). The form words them for people ("Step 3 → yes → step 1 (template): …")
and keeps them by path for the builder, which marks the step they point at.
"""

from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.forms.fields import InvalidJSONInput
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions

from campaigns.models import EmailTemplate
from contacts.models import Activity
from contacts.models.choices import Channel, Lifecycle
from crm.api_errors import NON_FIELD
from crm.parsers import depth_exceeds
from segments import registry
from segments.admin import builder_options, builder_text

from .. import services
from ..definition import MAX_BRANCH_DEPTH, flow_definition_validate
from ..labels import DATE_FIELDS
from ..models import Flow

# What the one validator reads (the description is free text it does not check).
DEFINITION_FIELDS = tuple(name for name in services.DEFINITION_FIELDS if name != "description")
PICKER_LIMIT = 500
TRIGGER_TYPES: dict[str, Promise] = {
    "segment_entered": gettext_lazy("Enters a segment"),
    "event": gettext_lazy("Does something on the site or app"),
    "purchase": gettext_lazy("Buys"),
    "date": gettext_lazy("A yearly date"),
    "replenishment_due": gettext_lazy("A product is due again"),
    "lifecycle_changed": gettext_lazy("Lifecycle stage changes"),
}
STEP_TYPES: dict[str, Promise] = {
    "wait": gettext_lazy("Wait"),
    "wait_until": gettext_lazy("Wait until a time of day"),
    "send_email": gettext_lazy("Send an email"),
    "branch": gettext_lazy("Yes/no branch"),
    "add_tag": gettext_lazy("Add a tag"),
    "remove_tag": gettext_lazy("Remove a tag"),
    "award_points": gettext_lazy("Award club points"),
    "exit": gettext_lazy("Exit the flow"),
}
WAIT_UNITS: dict[str, Promise] = {
    "minutes": gettext_lazy("minutes"),
    "hours": gettext_lazy("hours"),
    "days": gettext_lazy("days"),
}
# The keys of triggers and steps, as the builder labels them and as the form's errors name them.
KEYS: dict[str, Promise] = {
    "type": gettext_lazy("type"),
    "segment": gettext_lazy("segment"),
    "include_existing": gettext_lazy("also enroll its members at activation"),
    "event": gettext_lazy("event"),
    "channel": gettext_lazy("channel"),
    "field": gettext_lazy("date"),
    "offset_days": gettext_lazy("days from the date (negative: before it)"),
    "time": gettext_lazy("time"),
    "days_before": gettext_lazy("days before it is due"),
    "to": gettext_lazy("stage"),
    "template": gettext_lazy("template"),
    "from_email": gettext_lazy("from address"),
    "rules": gettext_lazy("rules"),
    "tag": gettext_lazy("tag"),
    "points": gettext_lazy("points"),
    "reason": gettext_lazy("reason"),
    **WAIT_UNITS,
}
BRANCH_SIDES: dict[str, Promise] = {"yes": gettext_lazy("yes"), "no": gettext_lazy("no")}


class DefinitionJSONField(forms.JSONField):
    """JSON typed by a person: a document nested past any sensible flow is a form error, shown back as
    typed, instead of overflowing the parser or the page."""

    def to_python(self, value: Any) -> Any:
        try:
            parsed = super().to_python(value)
        except RecursionError:
            raise ValidationError(_("This is nested too deeply."), code="too_deep") from None
        if depth_exceeds(parsed, settings.API_MAX_JSON_DEPTH):
            raise ValidationError(_("This is nested too deeply."), code="too_deep")
        return parsed

    def bound_data(self, data: Any, initial: Any) -> Any:
        try:
            parsed = super().bound_data(data, initial)
        except RecursionError:
            return InvalidJSONInput(data)
        return InvalidJSONInput(data) if depth_exceeds(parsed, settings.API_MAX_JSON_DEPTH) else parsed


def _json_widget(part: str) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": 6, "class": "vLargeTextField flow-json", "data-flow-part": part})


class FlowForm(forms.ModelForm):
    trigger = DefinitionJSONField(label=gettext_lazy("Trigger"), required=False, widget=_json_widget("trigger"))
    steps = DefinitionJSONField(label=gettext_lazy("Steps"), required=False, widget=_json_widget("steps"))
    exit_rules = DefinitionJSONField(
        label=gettext_lazy("Exit rules"),
        required=False,
        widget=_json_widget("exit_rules"),
        help_text=gettext_lazy("Checked before every step: a contact who matches them leaves. Empty: none."),
    )

    class Meta:
        model = Flow
        fields = ["name", "description", *DEFINITION_FIELDS[1:]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.definition_errors: dict[str, list[str]] = {}

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if any(name in self.errors for name in ("trigger", "steps", "exit_rules")):
            return cleaned  # JSON that does not parse: said at its field already
        data = {name: cleaned.get(name) for name in DEFINITION_FIELDS}
        data["trigger"] = data["trigger"] if data["trigger"] is not None else {}
        data["steps"] = data["steps"] if data["steps"] is not None else []
        try:
            cleaned.update(flow_definition_validate(data))
        except exceptions.ValidationError as error:
            self._add_definition_errors(error.detail)  # type: ignore[arg-type]  # flattened: path → messages
        return cleaned

    def _add_definition_errors(self, detail: dict[str, list]) -> None:
        for path, messages in detail.items():
            self.definition_errors[path] = [str(message) for message in messages]
            field, worded = definition_error(path, messages)
            self.add_error(field if field in self.fields else None, worded)


def key_label(key: str) -> str:
    return str(KEYS.get(key, key))


def step_place(path: str) -> str:
    """ "2.yes.0" → "Step 3 → yes → step 1". The arrow is the translator's, so that it points the way a
    right-to-left page reads."""
    parts = path.split(".")
    words = _("Step %(number)s") % {"number": int(parts[0]) + 1}
    for side, index in zip(parts[1::2], parts[2::2], strict=True):
        words = _("%(outer)s → %(inner)s") % {"outer": words, "inner": BRANCH_SIDES.get(side, side)}
        inner = _("step %(number)d") % {"number": int(index) + 1}
        words = _("%(outer)s → %(inner)s") % {"outer": words, "inner": inner}
    return words


def split_step_path(rest: str) -> tuple[str, str]:
    """ "2.yes.0.template" → ("2.yes.0", "template"); "2.yes" → ("2", "yes"); "1" → ("1", "")."""
    parts = rest.split(".")
    taken = 1 if parts[0].isdigit() else 0
    while taken + 1 < len(parts) and parts[taken] in BRANCH_SIDES and parts[taken + 1].isdigit():
        taken += 2
    return ".".join(parts[:taken]), ".".join(parts[taken:])


def definition_error(path: str, messages: list) -> tuple[str | None, list[str]]:
    """The form field an error of the validator belongs to, and its messages in words."""
    head, _dot, rest = path.partition(".")
    if path == NON_FIELD:
        return None, [str(message) for message in messages]
    if head == "trigger" and rest:
        return "trigger", [_("%(key)s: %(message)s") % {"key": key_label(rest), "message": m} for m in messages]
    if head == "steps" and rest:
        step, key = split_step_path(rest)
        return "steps", [_step_message(step, key, message) for message in messages]
    return head, [str(message) for message in messages]


def _step_message(step: str, key: str, message: Any) -> str:
    """A message about one step, led by its place in words. The validator names the step itself in the
    messages about the step as a whole, a misspelt key or an unknown type ("Step 3 › no 1: …"): there
    the form's words replace its notation."""
    if not step:
        return str(message)
    code = getattr(message, "code", None)
    place = step_place(step)
    if not key or code == "unknown_key" or (key == "type" and code == "invalid_choice"):
        own_place, colon, text = str(message).partition(": ")
        if not colon or not any(char.isdigit() for char in own_place):
            return str(message)
        return _("%(step)s: %(message)s") % {"step": place, "message": text}
    return _("%(step)s (%(key)s): %(message)s") % {"step": place, "key": key_label(key), "message": message}


def builder_context() -> dict[str, Any]:
    """What the page embeds for the builder (as json_script): the segment rule builder's catalogue,
    pickers and words, and the flow builder's lists and words, all translated here."""
    pickers = builder_options()
    templates = EmailTemplate.objects.order_by("name", "pk")[:PICKER_LIMIT]
    return {
        "rule_catalogue": registry.catalogue(),
        "rule_pickers": pickers,
        "rule_text": builder_text(),
        "flow_choices": {
            "trigger_types": _pairs(TRIGGER_TYPES),
            "step_types": _pairs(STEP_TYPES),
            "date_fields": _pairs(DATE_FIELDS),
            "wait_units": _pairs(WAIT_UNITS),
            "max_branch_depth": MAX_BRANCH_DEPTH,
            "events": _pairs(dict(Activity.Type.choices)),
            "channels": _pairs(dict(Channel.choices)),
            "stages": _pairs(dict(Lifecycle.choices)),
            "segments": pickers.get("segment", []),
            "tags": pickers.get("tag", []),
            "templates": [{"value": t.pk, "label": f"{t.name} ({t.get_language_display()})"} for t in templates],
        },
        "flow_text": builder_words(),
    }


def _pairs(labels: dict) -> list[dict[str, str]]:
    return [{"value": value, "label": str(label)} for value, label in labels.items()]


def builder_words() -> dict[str, str]:
    """The flow builder's own words, translated on the server."""
    return {
        **{f"key_{key}": str(label) for key, label in KEYS.items()},
        "json": _("Edit as JSON"),
        "choose": _("choose…"),
        "choose_trigger": _("choose what starts the flow…"),
        "any_channel": _("any channel"),
        "add_step": _("Add step"),
        "move_up": _("Move up"),
        "move_down": _("Move down"),
        "remove": _("Remove"),
        "yes": _("If yes"),
        "no": _("If no"),
        "no_steps": _("No steps yet."),
        "step": _("Step %(number)s"),
        "waiting": _("%(count)s waiting"),
        "passed": _("%(count)s passed"),
        "sent": _("%(count)s sent"),
        "optional": _("optional"),
        "bad_json": _("This JSON does not parse: correct it here, or the visual builder cannot show it."),
    }
