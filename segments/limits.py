"""What a rule tree must pass beyond its shape: the size caps (with in_segment expanded into the
rules of the segment it includes) and a compile check, so that whatever is stored can be evaluated.

Caps are settings: SEGMENT_RULES_MAX_CONDITIONS (an empty group counts as a condition: it acts like
one) and SEGMENT_RULES_MAX_DEPTH (levels of nested groups; an in_segment condition counts as one
more level holding the other segment's tree). Every walk here is iterative, so a stored tree of any
shape is measured without recursion.
"""

import dataclasses
import functools
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from .registry import Context
from .rules import RuleError, compile_condition, compile_tree, join_path, referenced_segments

logger = logging.getLogger(__name__)


@dataclass
class Counter:
    """Conditions seen so far while validating; an empty group counts as one (it acts like one)."""

    conditions: int = 0

    def add(self, path: str, count: int = 1) -> None:
        self.conditions += count
        limit = settings.SEGMENT_RULES_MAX_CONDITIONS
        if self.conditions > limit:
            raise RuleError(
                path,
                _(
                    "Too many conditions: at most %(max)d in one segment, counting those of "
                    "the segments that in_segment conditions include."
                )
                % {"max": limit},
            )


def tree_nodes(tree: Any) -> Iterator[tuple[Any, str, int]]:
    """Every node with its path and depth (enclosing groups), in reading order, without recursion."""
    stack = [(tree, "", 0)]
    while stack:
        node, path, depth = stack.pop()
        yield node, path, depth
        if not isinstance(node, dict):
            continue
        if "not" in node:
            stack.append((node["not"], join_path(path, "not"), depth + 1))
        for key in ("all", "any"):
            children = node.get(key)
            if isinstance(children, list):
                stack.extend(
                    (child, join_path(path, f"{key}[{i}]"), depth + 1)
                    for i, child in reversed(list(enumerate(children)))
                )


def _is_leaf(node: Any) -> bool:
    """A condition, or an empty group: what the size cap counts."""
    if not isinstance(node, dict) or "not" in node:
        return False
    groups = [node[k] for k in ("all", "any") if k in node]
    return not groups or groups[0] == []


@dataclass
class Sizes:
    """Sizes of stored dynamic segments once in_segment is expanded, with one tree standing in for
    the stored rules of `segment_id` (the tree being saved)."""

    segment_id: int | None
    tree: dict
    _rules: dict | None = None
    _memo: dict = field(default_factory=dict)

    def rules(self) -> dict[int, Any]:
        if self._rules is None:
            from .models import Segment

            self._rules = dict(Segment.objects.filter(kind=Segment.Kind.DYNAMIC).values_list("pk", "rules"))
            if self.segment_id is not None:
                self._rules[self.segment_id] = self.tree
        return self._rules

    def of(self, segment_id: int, visiting: tuple[int, ...] = ()) -> tuple[int, int] | None:
        """(conditions, depth) of a dynamic segment's rules with in_segment expanded; None for a
        static list or a missing segment. Cycles and runaway chains come out over every cap."""
        if segment_id not in self.rules():
            return None
        if segment_id in self._memo:
            return self._memo[segment_id]
        over = (settings.SEGMENT_RULES_MAX_CONDITIONS + 1, settings.SEGMENT_RULES_MAX_DEPTH + 1)
        if segment_id in visiting or len(visiting) > settings.SEGMENT_RULES_MAX_DEPTH:
            return over
        conditions, deepest = 0, 0
        for node, _path, depth in tree_nodes(self.rules()[segment_id]):
            deepest = max(deepest, depth)
            conditions += _is_leaf(node)
            nested = self.included(node, visiting + (segment_id,))
            if nested is not None:
                conditions += nested[0]
                deepest = max(deepest, depth + 1 + nested[1])
            if conditions > over[0] - 1 or deepest > over[1] - 1:
                self._memo[segment_id] = over
                return over
        self._memo[segment_id] = (conditions, deepest)
        return conditions, deepest

    def included(self, node: Any, visiting: tuple[int, ...]) -> tuple[int, int] | None:
        if not isinstance(node, dict) or node.get("field") != "in_segment":
            return None
        segment = node.get("segment")
        if segment is None:
            return None
        try:
            return self.of(int(segment), visiting)
        except (TypeError, ValueError):
            return None


def check_expanded_size(tree: dict, sizes: Sizes) -> None:
    """The caps again, with each in_segment condition counted as a group holding the other
    segment's conditions; an error names the in_segment node that tips it over."""
    counter = Counter()
    limit = settings.SEGMENT_RULES_MAX_DEPTH
    for node, path, depth in tree_nodes(tree):
        if _is_leaf(node):
            counter.add(path)
        nested = sizes.included(node, (sizes.segment_id,) if sizes.segment_id is not None else ())
        if nested is None:
            continue
        counter.add(path, nested[0])
        if depth + 1 + nested[1] > limit:
            raise RuleError(
                path,
                _(
                    "Including this segment nests the rules too deeply: at most %(max)d levels, "
                    "counting those of the segments that in_segment conditions include."
                )
                % {"max": limit},
            )


def check_including_segments(segment_id: int, sizes: Sizes) -> None:
    """Segments that include this one (directly or not) must stay within the caps with its new rules."""
    from .models import Segment

    for other_id in sorted(sizes.rules()):
        if other_id == segment_id or segment_id not in _reachable(other_id, sizes.rules()):
            continue
        size = sizes.of(other_id)
        assert size is not None  # other_id is one of the stored dynamic segments
        conditions, depth = size
        if conditions > settings.SEGMENT_RULES_MAX_CONDITIONS or depth > settings.SEGMENT_RULES_MAX_DEPTH:
            name = Segment.objects.filter(pk=other_id).values_list("name", flat=True).first()
            raise RuleError(
                "rules",
                _(
                    "Segment “%(name)s” includes this one and would then exceed the limits of "
                    "%(conditions)d conditions and %(depth)d levels."
                )
                % {
                    "name": name,
                    "conditions": settings.SEGMENT_RULES_MAX_CONDITIONS,
                    "depth": settings.SEGMENT_RULES_MAX_DEPTH,
                },
            )


def _reachable(segment_id: int, rules: dict[int, Any]) -> set[int]:
    seen: set[int] = set()
    frontier = referenced_segments(rules.get(segment_id))
    while frontier:
        seen |= frontier
        frontier = set().union(*(referenced_segments(rules.get(i)) for i in frontier)) - seen
    return seen


def check_compiles(tree: dict) -> None:
    """Compile every condition and have the database plan the whole query (EXPLAIN, in a savepoint
    so a refusal leaves the caller's transaction usable), in both of its forms (`Context.scan`): a tree
    that passes can be evaluated whichever form the planner picks."""
    from contacts.models import Contact

    ctx = Context.current()
    for node, path, _depth in tree_nodes(tree):
        if isinstance(node, dict) and "field" in node:
            _guarded(functools.partial(compile_condition, node, ctx), path, _("This condition cannot be evaluated."))

    def plan() -> None:
        with transaction.atomic():
            for scan in (False, True):
                Contact.objects.filter(compile_tree(tree, dataclasses.replace(ctx, scan=scan))).explain()

    _guarded(plan, "rules", _("The database cannot evaluate these rules."))


def _guarded(step: Callable[[], object], path: str, message: str) -> None:
    try:
        step()
    except RuleError:
        raise
    except Exception:
        logger.warning("segment rules rejected at %s", path, exc_info=True)
        raise RuleError(path, message) from None
