"""The "why" view: for one contact and each dynamic segment, which conditions it met and which it failed.

Each segment costs one query: every leaf condition becomes a boolean column of a one-row query,
and the groups are then combined in Python from those answers.

The page shows only the segments that concern the contact: those it is in, those its data matches now
(it joins on the next refresh), those it left in the last RECENTLY_LEFT_DAYS days, and those it is one
condition away from (changing the answer of a single condition would make the rules match).
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import BooleanField, ExpressionWrapper
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.models import Contact

from . import registry
from .actuals import actual_value
from .models import Segment, SegmentMembership
from .registry import Context
from .rules import NOTHING, compile_condition
from .selectors import audience

RECENTLY_LEFT_DAYS = 30


@dataclass
class Line:
    depth: int
    text: str
    met: bool
    actual: str | None = None


@dataclass
class Explanation:
    segment: Segment
    member: bool
    matches: bool
    lines: list
    one_away: bool = False
    left_recently: bool = field(default=False)

    @property
    def relevant(self) -> bool:
        return self.member or self.matches or self.one_away or self.left_recently


def describe(node: dict) -> str:
    condition = registry.get(node["field"])
    if condition is None:
        return node["field"]
    op = condition.ops[node["op"]]
    parts = [str(condition.label), str(op.label)]
    if "value" in node:
        labels = {str(value): str(label) for value, label in (condition.choices() if condition.choices else [])}
        values = node["value"] if isinstance(node["value"], list) else [node["value"]]
        parts.append(", ".join(_shown(v, labels) for v in values))
    for key, extra in condition.extras.items():
        if node.get(key) is not None:
            parts.append(f"({extra.label}: {node[key]})")
    return " ".join(parts)


def _shown(value, labels: dict) -> str:
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    return labels.get(str(value), str(value))


def _leaves(node: dict, path: str = "r") -> list[tuple[str, dict]]:
    for key in ("all", "any"):
        if key in node:
            return [leaf for i, child in enumerate(node[key]) for leaf in _leaves(child, f"{path}_{key}{i}")]
    if "not" in node:
        return _leaves(node["not"], f"{path}_not")
    return [(path, node)]


Actual = Callable[[dict], str | None]


def _walk(node: dict, answers: dict, depth: int, path: str, lines: list, actual: Actual | None = None) -> bool:
    if "all" in node or "any" in node:
        key = "all" if "all" in node else "any"
        index = len(lines)
        lines.append(None)
        children = enumerate(node[key])
        results = [_walk(child, answers, depth + 1, f"{path}_{key}{i}", lines, actual) for i, child in children]
        met = all(results) if key == "all" else any(results)
        lines[index] = Line(depth, _("ALL of these") if key == "all" else _("ANY of these"), met)
        return met
    if "not" in node:
        index = len(lines)
        lines.append(None)
        met = not _walk(node["not"], answers, depth + 1, f"{path}_not", lines, actual)
        lines[index] = Line(depth, _("NOT"), met)
        return met
    met = bool(answers.get(path))
    lines.append(Line(depth, describe(node), met, actual(node) if actual else None))
    return met


def _one_away(rules: dict, answers: dict) -> bool:
    """Some single condition whose opposite answer would make the rules match."""
    for path, _leaf in _leaves(rules):
        flipped = {**answers, path: not answers.get(path)}
        if _walk(rules, flipped, 0, "r", []):
            return True
    return False


def explain(segment: Segment, contact: Contact, ctx: Context | None = None) -> Explanation:
    ctx = ctx or Context.current()
    member = SegmentMembership.objects.filter(segment=segment, contact=contact, left_at__isnull=True).exists()
    rules = segment.rules or {"any": []}
    columns = {}
    for path, leaf in _leaves(rules):
        try:
            columns[path] = ExpressionWrapper(compile_condition(leaf, ctx), output_field=BooleanField())
        except Exception:  # noqa: BLE001 - a condition that cannot compile is shown as not met, never as a crash
            columns[path] = ExpressionWrapper(NOTHING, output_field=BooleanField())
    answers: dict[str, Any] = {}
    if columns:
        answers = audience().filter(pk=contact.pk).annotate(**columns).values(*columns).first() or {}
    lines: list = []
    met = _walk(rules, answers, 0, "r", lines, lambda node: actual_value(node, contact, ctx))
    matches = met and contact.erased_at is None
    one_away = not met and contact.erased_at is None and _one_away(rules, answers)
    return Explanation(segment=segment, member=member, matches=matches, lines=lines, one_away=one_away)


def explain_contact(contact: Contact) -> list[Explanation]:
    ctx = Context.current()
    return [
        explain(segment, contact, ctx) for segment in Segment.objects.filter(kind=Segment.Kind.DYNAMIC).order_by("name")
    ]


def relevant_explanations(contact: Contact) -> list[Explanation]:
    """The segments that concern the contact (see the module's docstring), most relevant first."""
    since = timezone.now() - dt.timedelta(days=RECENTLY_LEFT_DAYS)
    left = set(
        SegmentMembership.objects.filter(contact=contact, left_at__gte=since).values_list("segment_id", flat=True)
    )
    explanations = []
    for item in explain_contact(contact):
        item.left_recently = item.segment.pk in left and not item.member
        if item.relevant:
            explanations.append(item)
    return sorted(explanations, key=lambda e: (not e.member, not e.matches, not e.left_recently))
