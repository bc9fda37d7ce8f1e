"""What a flow does, step by step (CONTRACT §6): one serializer per step type, and the list field that reads
a list of steps — the flow's own, or a branch's yes and no — naming each step by its path ("2.yes.0").

Limits: MAX_STEPS steps in all, counting those inside branches, and branches nested at most
MAX_BRANCH_DEPTH deep. The schema carries the depth (a list at each level, whose branches hold the next
level's list); the total it cannot, so too_many_steps is the one refusal a client can meet with input
the schema allows.
"""

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from campaigns.models import EmailTemplate
from campaigns.rendering import template_compile
from contacts.models import Tag
from contacts.serializers.fields import StrictIntegerField

from .fields import LOOKUPS, EmailField, RowIdField, RuleTreeField, TextField, TimeField
from .objects import TypedObjectSerializer, read_type, union_schema

MAX_STEPS = 100
MAX_BRANCH_DEPTH = 5
BRANCHES = ("yes", "no")
WAIT_UNITS = {"minutes": 365 * 24 * 60, "hours": 365 * 24, "days": 365}  # each capped at 365 days
MAX_POINTS = 100_000
PATH = "flow_step_path"  # context key: the path of the step being read


def step_label(path: str) -> str:
    """A step's place as a marketer reads the flow, counting from 1: "2.yes.0" is "3 › yes 1"."""
    parts = path.split(".")
    label = str(int(parts[0]) + 1)
    for branch, index in zip(parts[1::2], parts[2::2], strict=True):
        label += f" › {branch} {int(index) + 1}"
    return label


class StepSerializer(TypedObjectSerializer):
    """A step at `depth` (1 in the flow's own list, 2 in a branch of it, …), read with its path in the
    context so that its messages can name it."""

    def __init__(self, *args: Any, depth: int = 1, **kwargs: Any) -> None:
        self.depth = depth
        super().__init__(*args, **kwargs)

    @property
    def place(self) -> str:
        return step_label(self.context[PATH])

    def unknown_key_message(self, key: str) -> str:
        return _("Step %(step)s: “%(key)s” is not a key of %(type)s.") % {
            "step": self.place,
            "key": key,
            "type": self.type_name,
        }


class WaitStepSerializer(StepSerializer):
    """Waits that long: exactly one of minutes, hours or days, at most 365 days."""

    type_name = "wait"
    minutes = StrictIntegerField(min_value=1, max_value=WAIT_UNITS["minutes"], required=False)
    hours = StrictIntegerField(min_value=1, max_value=WAIT_UNITS["hours"], required=False)
    days = StrictIntegerField(min_value=1, max_value=WAIT_UNITS["days"], required=False)
    schema_constraints = {"oneOf": [{"required": [unit]} for unit in WAIT_UNITS]}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        given = [unit for unit in WAIT_UNITS if unit in attrs]
        if not given:
            raise serializers.ValidationError(
                _("Step %(step)s: wait needs one of minutes, hours or days.") % {"step": self.place}, code="required"
            )
        if len(given) > 1:
            raise serializers.ValidationError(
                _("Step %(step)s: wait takes only one of minutes, hours or days.") % {"step": self.place},
                code="invalid",
            )
        return attrs


class WaitUntilStepSerializer(StepSerializer):
    """Waits for the next time the local clock shows this time."""

    type_name = "wait_until"
    time = TimeField()


class TemplateField(RowIdField):
    """A template that exists and compiles, as a campaign's must before it starts."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(model=EmailTemplate, unknown=gettext_lazy("Unknown template %(id)s."), **kwargs)

    def problem(self, pk: int) -> tuple[str, str] | None:
        template = EmailTemplate.objects.filter(pk=pk).first()
        if template is None:
            return str(self.unknown % {"id": pk}), "does_not_exist"
        try:
            template_compile(template)
        except DjangoValidationError:
            return _("Template %(id)s has errors: correct it before a flow sends it.") % {"id": pk}, "invalid"
        return None


class SendEmailStepSerializer(StepSerializer):
    """Sends one mail from the template, with the same rules and format as a campaign's."""

    type_name = "send_email"
    template = TemplateField()
    from_email = EmailField(required=False)


class BranchStepSerializer(StepSerializer):
    """Evaluates the rules for the contact at that moment and goes on with the yes or the no steps (either
    may be empty), then with the step after the branch."""

    type_name = "branch"
    rules = RuleTreeField()

    @property
    def schema_name(self) -> str:
        return f"BranchStepLevel{self.depth}"

    def get_fields(self) -> dict[str, serializers.Field]:
        return {
            **super().get_fields(),
            **{branch: StepListField(depth=self.depth + 1) for branch in BRANCHES},
        }


class AddTagStepSerializer(StepSerializer):
    """Adds the tag to the contact (which may move it into or out of segments)."""

    type_name = "add_tag"
    tag = TextField(max_length=Tag._meta.get_field("name").max_length, collapse=True)


class RemoveTagStepSerializer(AddTagStepSerializer):
    """Removes the tag from the contact (which may move it into or out of segments)."""

    type_name = "remove_tag"


@extend_schema_field({"type": "integer", "minimum": -MAX_POINTS, "maximum": MAX_POINTS, "not": {"enum": [0]}})
class PointsField(StrictIntegerField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=-MAX_POINTS, max_value=MAX_POINTS, **kwargs)

    def to_internal_value(self, data: Any) -> int:
        points = super().to_internal_value(data)
        if points == 0:
            raise serializers.ValidationError(_("Award a number of points other than 0."), code="invalid")
        return points


class AwardPointsStepSerializer(StepSerializer):
    """Adds (or, negative, takes) club points with this reason: once per enrollment and step, and only
    for club members."""

    type_name = "award_points"
    points = PointsField()
    reason = TextField(max_length=200)


class ExitStepSerializer(StepSerializer):
    """Ends the contact's way through the flow."""

    type_name = "exit"


STEPS: dict[str, type[StepSerializer]] = {
    serializer.type_name: serializer
    for serializer in (
        WaitStepSerializer,
        WaitUntilStepSerializer,
        SendEmailStepSerializer,
        BranchStepSerializer,
        AddTagStepSerializer,
        RemoveTagStepSerializer,
        AwardPointsStepSerializer,
        ExitStepSerializer,
    )
}


def step_types(depth: int) -> list[str]:
    """The step types a list at `depth` may hold: no branch below the deepest level of branches."""
    return [name for name in STEPS if name != "branch" or depth <= MAX_BRANCH_DEPTH]


def count_steps(steps: list) -> int:
    """Steps in the tree, those inside branches too; without recursion, and stopping past MAX_STEPS and
    below the deepest level of branches, so that no input costs more than the limit to count."""
    total, lists = 0, [(steps, 1)]
    while lists:
        items, depth = lists.pop()
        for item in items:
            total += 1
            if total > MAX_STEPS:
                return total
            if depth <= MAX_BRANCH_DEPTH and isinstance(item, dict) and item.get("type") == "branch":
                lists.extend((item[branch], depth + 1) for branch in BRANCHES if isinstance(item.get(branch), list))
    return total


class StepListField(serializers.Field):
    """A list of steps at `depth`: the flow's own (1, at least one step, the whole tree's limits checked
    here) or a branch's yes or no. Each step is read by the serializer of its type, with its path."""

    default_error_messages = {
        "not_a_list": gettext_lazy("Expected a list of steps."),
        "no_steps": gettext_lazy("A flow needs at least one step."),
        "too_many_steps": gettext_lazy("A flow has at most %(max)d steps, counting those inside branches."),
    }

    def __init__(self, *, depth: int = 1, **kwargs: Any) -> None:
        self.depth = depth
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> list[dict[str, Any]]:
        if not isinstance(data, list):
            raise serializers.ValidationError(self.error_messages["not_a_list"], code="invalid")
        if self.depth == 1:
            self._check_size(data)
        # One LOOKUPS for the whole tree: made by the flow's own list, handed down to its branches' lists.
        context = {**self.context, LOOKUPS: self.context.get(LOOKUPS, {})}
        clean, errors = [], {}
        for index, item in enumerate(data):
            try:
                clean.append(self._read_step(item, self._path(index), context))
            except serializers.ValidationError as error:
                errors[index] = error.detail
        if errors:
            raise serializers.ValidationError(errors)  # type: ignore[arg-type]  # keyed by position, as DRF's ListField
        return clean

    def _check_size(self, steps: list) -> None:
        if not steps:
            raise serializers.ValidationError(self.error_messages["no_steps"], code="required")
        if count_steps(steps) > MAX_STEPS:
            message = self.error_messages["too_many_steps"] % {"max": MAX_STEPS}
            raise serializers.ValidationError(message, code="too_many_steps")

    def _path(self, index: int) -> str:
        parent = self.context.get(PATH)
        return f"{parent}.{self.field_name}.{index}" if parent is not None else str(index)

    def _read_step(self, item: Any, path: str, context: dict[str, Any]) -> dict[str, Any]:
        label = step_label(path)
        if isinstance(item, dict) and item.get("type") == "branch" and self.depth > MAX_BRANCH_DEPTH:
            message = _("Step %(step)s: branches nest at most %(max)d deep.") % {"step": label, "max": MAX_BRANCH_DEPTH}
            raise serializers.ValidationError(message, code="too_deep")
        allowed = step_types(self.depth)
        kind = read_type(
            item,
            allowed,
            not_an_object=_("Step %(step)s must be an object with a type.") % {"step": label},
            unknown_type=_("Step %(step)s: the type must be one of: %(allowed)s.")
            % {"step": label, "allowed": ", ".join(allowed)},
        )
        return STEPS[kind](context={**context, PATH: path}, depth=self.depth).run_validation(item)

    def to_representation(self, value: Any) -> Any:
        return value


class StepListSchema(OpenApiSerializerFieldExtension):
    """An array of steps at its depth: at each level a branch's yes and no hold the next level's steps, and
    the deepest level none (see the module's docstring)."""

    target_class = StepListField

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict:
        depth = self.target.depth
        members = [STEPS[name](depth=depth) for name in step_types(depth)]
        schema = {"type": "array", "items": union_schema(auto_schema, direction, members), "maxItems": MAX_STEPS}
        if depth == 1:
            schema["minItems"] = 1
        else:
            schema["maxItems"] = MAX_STEPS - depth + 1  # the branches it is inside count too
        return schema
