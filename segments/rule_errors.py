"""Rule errors as a marketer reads them: "Row 2 — Total spent: enter a number", pinned to the builder's row.

Validation stops at the first problem and names it by path (`all[1].value`), which suits the API. The
builder numbers its condition rows in reading order instead, so every row is checked on its own here and
each faulty one is named by its number, its field's label and a plain message; a problem of the tree as a
whole (too many conditions, nested too deeply) is reported once, on the row it points at if any.
"""

import itertools
from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from . import registry
from .limits import tree_nodes
from .rules import GROUP_KEYS, RuleError, validate_condition


@dataclass(frozen=True)
class RowError:
    row: int | None  # 1-based condition row in reading order; None for the tree as a whole
    path: str  # where that row sits in the tree ("all[1]"), for the builder to find it
    key: str  # the part of the row at fault: "field", "op", "value" or an extra key
    message: str

    def as_dict(self) -> dict:
        return asdict(self)


def _is_condition(node: Any) -> bool:
    return isinstance(node, dict) and not any(key in node for key in GROUP_KEYS)


def condition_rows(tree: Any) -> list[tuple[str, dict]]:
    """(path, condition) of each row in reading order, at most one past the size cap."""
    rows = ((path, node) for node, path, _depth in tree_nodes(tree) if _is_condition(node))
    return list(itertools.islice(rows, settings.SEGMENT_RULES_MAX_CONDITIONS + 1))


def rule_errors(tree: Any, first: RuleError) -> list[RowError]:
    """Every row's own problem, plus `first` (validation's own answer) when no row explains it."""
    rows = condition_rows(tree)
    found = []
    for number, (path, node) in enumerate(rows, start=1):
        try:
            validate_condition(node, path)
        except RuleError as exc:
            found.append(_row_error(exc, number, path, node))
    if not any(_within(first.path, error.path) for error in found):
        found.append(_located(first, rows))
    return found


def _within(error_path: str, row_path: str) -> bool:
    if not row_path:
        return error_path in ("rules", "field", "op", "value") or not error_path.startswith(GROUP_KEYS)
    return error_path == row_path or error_path.startswith(f"{row_path}.")


def _located(exc: RuleError, rows: list[tuple[str, dict]]) -> RowError:
    for number, (path, node) in enumerate(rows, start=1):
        if _within(exc.path, path) and exc.path != "rules":
            return _row_error(exc, number, path, node)
    return RowError(row=None, path=exc.path, key="", message=str(exc.detail))


def _row_error(exc: RuleError, number: int, path: str, node: dict) -> RowError:
    rest = exc.path[len(path) + 1 :] if path else exc.path
    key = rest.split(".")[0].split("[")[0] if rest and rest != "rules" else ""
    problem = _plain(str(exc.detail))
    if key:
        message = _("Row %(row)d — %(part)s: %(problem)s") % {
            "row": number,
            "part": _part_label(node, key),
            "problem": problem,
        }
    else:
        message = _("Row %(row)d: %(problem)s") % {"row": number, "problem": problem}
    return RowError(row=number, path=path, key=key, message=message)


def _part_label(node: dict, key: str) -> str:
    condition = registry.get(node["field"]) if isinstance(node.get("field"), str) else None
    if key == "op":
        return _("operator")
    if condition is None or key == "field":
        return _("field")
    if key in condition.extras:
        return str(condition.extras[key].label)
    return str(condition.label)


def _plain(message: str) -> str:
    """'Enter a whole number.' reads as 'enter a whole number' after the row's label."""
    message = message.rstrip(".")
    if len(message) > 1 and message[0].isupper() and message[1].islower():
        return message[0].lower() + message[1:]
    return message
