"""A flow's trigger and steps in words: the diagram, the enrollments list and the contact page all name a
step through this module, so a marketer reads the same words everywhere.

Labels take their template and segment names from `Names`, read once for a whole page (a flow, a page of
enrollments), never once per step or row. Whatever a marketer typed (names, tags, reasons) comes back as
plain text: whoever shows it escapes it.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from contacts.models import Activity
from contacts.models.choices import Channel, Lifecycle
from segments import registry
from segments.explain import describe
from segments.models import Segment

from ..models import EmailTemplate
from .models import Enrollment, Flow
from .paths import step_at

DATE_FIELDS = {
    "birthday": gettext_lazy("Birthday"),
    "wedding_anniversary": gettext_lazy("Wedding anniversary"),
    "signed_up": gettext_lazy("Sign-up anniversary"),
    "club_joined": gettext_lazy("Club anniversary"),
}
EXIT_REASONS = {
    "exit_rules": gettext_lazy("Matched the exit rules"),
    "exit_step": gettext_lazy("Reached an exit step"),
    "archived": gettext_lazy("The automation was archived"),
}
GROUPS = ("all", "any")


@dataclass(frozen=True)
class Names:
    """The names of the templates and segments some flows refer to, by id."""

    templates: dict[int, str] = field(default_factory=dict)
    segments: dict[int, str] = field(default_factory=dict)

    @classmethod
    def for_flows(cls, flows: Iterable[Flow]) -> "Names":
        """One query per kind of name (none when no flow refers to any), however many flows and steps."""
        template_ids: set[int] = set()
        segment_ids: set[int] = set()
        for flow in flows:
            template_ids.update(_template_ids(flow.steps or []))
            segment_ids.update(_segment_ids(flow))
        templates = EmailTemplate.objects.filter(pk__in=template_ids).values_list("pk", "name")
        segments = Segment.objects.filter(pk__in=segment_ids).values_list("pk", "name")
        return cls(
            templates=dict(templates) if template_ids else {},
            segments=dict(segments) if segment_ids else {},
        )


def _steps(steps: list) -> Iterator[dict]:
    for step in steps:
        if isinstance(step, dict):
            yield step
            if step.get("type") == "branch":
                for side in ("yes", "no"):
                    yield from _steps(step.get(side) or [])


def _template_ids(steps: list) -> Iterator[int]:
    for step in _steps(steps):
        if step.get("type") == "send_email" and isinstance(step.get("template"), int):
            yield step["template"]


def _leaves(rules: Any) -> Iterator[dict]:
    if not isinstance(rules, dict):
        return
    for group in GROUPS:
        if group in rules:
            for child in rules[group] or []:
                yield from _leaves(child)
            return
    if "not" in rules:
        yield from _leaves(rules["not"])
    else:
        yield rules


def _segment_ids(flow: Flow) -> Iterator[int]:
    trigger = flow.trigger if isinstance(flow.trigger, dict) else {}
    trees = [flow.exit_rules, *(step.get("rules") for step in _steps(flow.steps or []))]
    candidates = [trigger.get("segment") if trigger.get("type") == "segment_entered" else None]
    candidates += [leaf.get("segment") for tree in trees for leaf in _leaves(tree)]
    yield from (pk for pk in candidates if isinstance(pk, int))


# ------------------------------------------------------------------ steps


def _duration(step: dict) -> str:
    units = (
        ("days", lambda n: ngettext("%(count)d day", "%(count)d days", n)),
        ("hours", lambda n: ngettext("%(count)d hour", "%(count)d hours", n)),
        ("minutes", lambda n: ngettext("%(count)d minute", "%(count)d minutes", n)),
    )
    parts = [word(int(step[unit])) % {"count": int(step[unit])} for unit, word in units if step.get(unit)]
    return " ".join(parts) or "0"


def _template(step: dict, names: Names) -> str:
    template_id = step.get("template")
    name = names.templates.get(template_id) if isinstance(template_id, int) else None
    return name if name is not None else _("template %(id)s") % {"id": template_id}


def _points(step: dict) -> str:
    points = int(step.get("points") or 0)
    if points < 0:
        return ngettext("Take %(count)d point", "Take %(count)d points", -points) % {"count": -points}
    return ngettext("Award %(count)d point", "Award %(count)d points", points) % {"count": points}


def step_label(step: dict, names: Names) -> str:
    """A step as a marketer reads it: "Wait 2 days", "Send “Birthday”", "If … (yes / no)", "Exit"."""
    kind = step.get("type")
    if kind == "wait":
        return _("Wait %(duration)s") % {"duration": _duration(step)}
    if kind == "wait_until":
        return _("Wait until %(time)s") % {"time": step.get("time", "")}
    if kind == "send_email":
        return _("Send “%(template)s”") % {"template": _template(step, names)}
    if kind == "branch":
        return _("If %(condition)s (yes / no)") % {"condition": rules_label(step.get("rules"), names)}
    if kind == "add_tag":
        return _("Add tag %(tag)s") % {"tag": step.get("tag", "")}
    if kind == "remove_tag":
        return _("Remove tag %(tag)s") % {"tag": step.get("tag", "")}
    if kind == "award_points":
        return _points(step)
    if kind == "exit":
        return _("Exit")
    return str(kind)


def step_detail(step: dict) -> str:
    """What the label leaves out and a marketer may want to see: the reason of points, a mail's sender."""
    if step.get("type") == "award_points":
        return str(step.get("reason") or "")
    if step.get("type") == "send_email":
        return str(step.get("from_email") or "")
    return ""


def path_label(flow: Flow, path: str, names: Names) -> str:
    """The step at `path` of the flow in words; "" for none (finishing its last wait, or finished)."""
    if not path:
        return ""
    step = step_at(flow.steps or [], path)
    return (
        step_label(step, names) if step is not None else _("a step no longer in the flow (%(path)s)") % {"path": path}
    )


def enrollment_step_label(enrollment: Enrollment, names: Names) -> str:
    """Where an enrollment is: the step it runs next, or "" once it has left the flow."""
    if enrollment.state != Enrollment.State.ACTIVE:
        return ""
    if not enrollment.step:
        return _("The end, after its last wait")
    return path_label(enrollment.flow, enrollment.step, names)


def exit_reason_label(reason: str) -> str:
    return str(EXIT_REASONS.get(reason, reason))


# ------------------------------------------------------------------ rules and triggers


def _leaf_label(leaf: dict, names: Names) -> str:
    condition = registry.get(str(leaf.get("field")))
    if condition is None or leaf.get("op") not in condition.ops:
        return str(leaf.get("field", "?"))
    if isinstance(leaf.get("segment"), int):
        leaf = {**leaf, "segment": names.segments.get(leaf["segment"], leaf["segment"])}
    return describe(leaf)


def rules_label(rules: Any, names: Names, *, nested: bool = False) -> str:
    """A rule tree (§3) in one line: its conditions as the segment pages word them, joined by and / or."""
    if not isinstance(rules, dict) or not rules:
        return _("no rules")
    for group, joiner in (("all", _(" and ")), ("any", _(" or "))):
        if group in rules:
            text = joiner.join(rules_label(child, names, nested=True) for child in rules[group] or [])
            return f"({text})" if nested and len(rules[group] or []) > 1 else text
    if "not" in rules:
        return _("not %(condition)s") % {"condition": rules_label(rules["not"], names, nested=True)}
    return _leaf_label(rules, names)


def _date_trigger(trigger: dict) -> str:
    moment = str(DATE_FIELDS.get(trigger.get("field", ""), trigger.get("field", "")))
    offset = int(trigger.get("offset_days") or 0)
    if offset > 0:
        moment = ngettext("%(count)d day after: %(date)s", "%(count)d days after: %(date)s", offset) % {
            "count": offset,
            "date": moment,
        }
    elif offset < 0:
        moment = ngettext("%(count)d day before: %(date)s", "%(count)d days before: %(date)s", -offset) % {
            "count": -offset,
            "date": moment,
        }
    return f"{moment}, {trigger.get('time') or '09:00'}"


def trigger_label(trigger: Any, names: Names) -> str:
    """What enrolls a contact, in words: "Birthday, 09:00", "Event: Add to cart", "Enters segment VIP"."""
    kind = trigger.get("type") if isinstance(trigger, dict) else None
    if kind == "segment_entered":
        segment = trigger["segment"]
        return _("Enters segment %(segment)s") % {"segment": names.segments.get(segment, segment)}
    if kind == "event":
        label = dict(Activity.Type.choices).get(trigger.get("event"), trigger.get("event"))
        return _("Event: %(event)s") % {"event": label}
    if kind == "purchase":
        channel = trigger.get("channel")
        if not channel:
            return _("A purchase")
        return _("A purchase, %(channel)s") % {"channel": dict(Channel.choices).get(channel, channel)}
    if kind == "date":
        return _date_trigger(trigger)
    if kind == "replenishment_due":
        days = int(trigger.get("days_before") or 0)
        return ngettext("Due to buy again in %(count)d day", "Due to buy again in %(count)d days", days) % {
            "count": days
        }
    if kind == "lifecycle_changed":
        return _("Lifecycle becomes %(stage)s") % {"stage": dict(Lifecycle.choices).get(trigger.get("to"), "?")}
    return _("No trigger yet")
