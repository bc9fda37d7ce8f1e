"""Which variables a template shows that are empty for one contact: the editor's warnings.

A mail that says "Hello ," or "your 0 points" looks broken to the reader; the marketer who previews
it as a real contact is told which variables are empty for that contact, and whether the template
gives them a fallback (`|default:…`), before anyone gets the mail. The walk reads the same compiled
template the renderer uses (`campaigns.rendering`), so it sees exactly what the mail would show.
"""

from typing import Any

from django.template.base import FilterExpression, Node, VariableNode
from django.template.defaulttags import ForNode, IfNode, WithNode

from .personalization import SCHEMA
from .rendering import Compiled

FALLBACK_FILTERS = {"default", "default_if_none", "yesno"}
MAX_WARNINGS = 50


def variable_warnings(compiled: Compiled, context: dict) -> list[dict]:
    """`{"variable": "contact.first_name", "fallback": bool}` for each variable of the subject, preheader
    and HTML that is empty (None, "" or an empty list) for this context, in order of first use."""
    found: dict[str, bool] = {}
    for part in (compiled.subject, compiled.preheader, compiled.html):
        if part is not None:
            _walk(part.nodelist, set(), found)
    warnings = []
    for name, fallback in found.items():
        if _is_empty(_resolve(context, name.split("."))):
            warnings.append({"variable": name, "fallback": fallback})
    return warnings[:MAX_WARNINGS]


def _walk(nodelist, bound: set, found: dict[str, bool]) -> None:
    for node in nodelist:
        _visit(node, bound, found)


def _visit(node: Node, bound: set, found: dict[str, bool]) -> None:
    """Variables of the schema; not the names a loop or {% with %} binds, nor what an {% if %} tested."""
    if isinstance(node, VariableNode):
        _note(node.filter_expression, bound, found)
    elif isinstance(node, ForNode):
        _note(node.sequence, bound, found)  # type: ignore[arg-type]  # a FilterExpression once compiled
        _walk(node.nodelist_loop, bound | set(node.loopvars) | {"forloop"}, found)
        _walk(node.nodelist_empty, bound, found)
        return
    elif isinstance(node, WithNode):
        for expression in node.extra_context.values():
            _note(expression, bound, found)
        _walk(node.nodelist, bound | set(node.extra_context), found)
        return
    elif isinstance(node, IfNode):
        for condition, nodelist in node.conditions_nodelists:
            _walk(nodelist, bound | _tested(condition), found)
        return
    for attr in node.child_nodelists:
        _walk(getattr(node, attr, None) or [], bound, found)


def _tested(condition) -> set:
    """What `{% if club %}` makes safe to show: inside it, `club` and everything under it is only shown
    when it is there, so an empty one is not worth a warning."""
    expression = getattr(condition, "value", None)
    lookups = getattr(getattr(expression, "var", None), "lookups", None)
    return {".".join(lookups)} if lookups else set()


def _note(expression: FilterExpression, bound: set, found: dict[str, bool]) -> None:
    lookups = getattr(expression.var, "lookups", None)
    if not lookups or lookups[0] not in SCHEMA:
        return
    name = ".".join(lookups)
    if any(name == scope or name.startswith(scope + ".") for scope in bound):
        return
    fallback = any(getattr(func, "_filter_name", "") in FALLBACK_FILTERS for func, _args in expression.filters)
    found[name] = found.get(name, True) and fallback  # a fallback only if every use of it has one


def _resolve(context: dict, path: list[str]) -> Any:
    value: Any = context
    for part in path:
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit():
            value = value[int(part)] if int(part) < len(value) else None
        else:
            return None
        if value is None:
            return None
    return value


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, (str, list, dict)) and not value)
