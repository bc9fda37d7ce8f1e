"""Rule trees: validation with errors that point at the bad node, and compilation to ONE Q.

A tree is a group — {"all": [...]}, {"any": [...]}, {"not": node} — or a condition
{"field", "op", "value", ...extra keys}; see CONTRACT.md §3.
"""

import dataclasses
import datetime as dt
import math
import re
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, NoReturn

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext as _

from . import registry
from .registry import Context

if TYPE_CHECKING:
    from .limits import Counter

GROUP_KEYS = ("all", "any", "not")
ATTRIBUTE_KEY = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
MAX_INT = 1_000_000
MAX_WINDOW_DAYS = 366
SCORES = (1, 5)  # RFM scores


class RuleError(ValidationError):
    """A problem in a rule tree; `path` says where, e.g. all[1].any[0].value."""

    def __init__(self, path: str, message: str):
        self.path = path or "rules"
        self.detail = message
        super().__init__({"rules": [f"{self.path}: {message}"]})


def join_path(path: str, part: str) -> str:
    return f"{path}.{part}" if path and not part.startswith("[") else f"{path}{part}"


# ------------------------------------------------------------------ validation


def validate(tree: Any, *, segment_id: int | None = None) -> dict:
    """Check a whole tree against the registry and the size caps, and make sure the database can
    plan it; returns it with values normalized. A tree that passes can be stored and evaluated."""
    if tree is None:
        raise RuleError("rules", _("A dynamic segment needs rules."))
    from . import limits

    clean = _validate_node(tree, "", 0, limits.Counter())
    if segment_id is not None:
        _check_cycles(segment_id, clean)
    sizes = limits.Sizes(segment_id=segment_id, tree=clean)
    limits.check_expanded_size(clean, sizes)
    if segment_id is not None:
        limits.check_including_segments(segment_id, sizes)
    limits.check_compiles(clean)
    return clean


def _validate_node(node: Any, path: str, depth: int, counter: "Counter") -> dict:
    limit = settings.SEGMENT_RULES_MAX_DEPTH
    if depth > limit:
        raise RuleError(path, _("Groups are nested too deeply: at most %(max)d levels.") % {"max": limit})
    if not isinstance(node, dict):
        raise RuleError(path, _("Expected a group or a condition object."))
    groups = [k for k in GROUP_KEYS if k in node]
    if groups:
        if len(node) != 1:
            raise RuleError(path, _("A group has exactly one key: all, any or not."))
        key = groups[0]
        if key == "not":
            return {"not": _validate_node(node["not"], join_path(path, "not"), depth + 1, counter)}
        children = node[key]
        if not isinstance(children, list):
            raise RuleError(join_path(path, key), _("Expected a list of conditions."))
        if not children:
            counter.add(path)
        return {
            key: [
                _validate_node(child, join_path(path, f"{key}[{i}]"), depth + 1, counter)
                for i, child in enumerate(children)
            ]
        }
    counter.add(path)
    return validate_condition(node, path)


def validate_condition(node: dict, path: str) -> dict:
    """One condition alone; the builder checks each row with it to mark every faulty row at once."""
    key = node.get("field")
    condition = registry.get(key) if isinstance(key, str) else None
    if condition is None:
        raise RuleError(join_path(path, "field"), _("Unknown field “%(field)s”.") % {"field": key})
    op_name = node.get("op")
    if not isinstance(op_name, str) or op_name not in condition.ops:
        allowed = ", ".join(condition.ops)
        raise RuleError(
            join_path(path, "op"),
            _("Operator “%(op)s” does not apply to %(field)s (use one of: %(allowed)s).")
            % {"op": op_name, "field": key, "allowed": allowed},
        )
    op = condition.ops[op_name]
    allowed_keys = {"field", "op", "value", *condition.extras}
    unknown = sorted(set(node) - allowed_keys)
    if unknown:
        raise RuleError(join_path(path, unknown[0]), _("Unknown key for %(field)s.") % {"field": key})
    clean = {"field": key, "op": op_name}
    value = _check_value(op.value, node.get("value"), join_path(path, "value"), condition.choices, op_name)
    if op.value != "none":
        clean["value"] = value
    for name, extra in condition.extras.items():
        raw = node.get(name)
        if raw is None:
            if extra.required:
                raise RuleError(join_path(path, name), _("This key is required."))
            continue
        clean[name] = _check_value(extra.type, raw, join_path(path, name), extra.choices, name)
    return clean


def _fail(path: str, message: str) -> NoReturn:
    raise RuleError(path, message)


def _check_value(kind: str, value: Any, path: str, choices: Any, op: str) -> Any:
    checker = VALUE_CHECKERS[kind]
    return checker(value, path, choices, op)


def _none(value, path, choices, op):
    if value not in (None, "", []):
        _fail(path, _("This operator takes no value."))
    return None


def _text(value, path, choices, op):
    if not isinstance(value, str) or not value.strip():
        _fail(path, _("Enter a text value."))
    if len(value) > 200:
        _fail(path, _("At most 200 characters."))
    return value.strip()


def _text_list(value, path, choices, op):
    if not isinstance(value, list) or not value:
        _fail(path, _("Enter a list of one or more values."))
    if len(value) > 1000:
        _fail(path, _("At most 1000 values."))
    return [_text(v, f"{path}[{i}]", choices, op) for i, v in enumerate(value)]


def _choice(value, path, choices, op):
    allowed = {str(v).lower(): v for v, _label in (choices() if choices else [])}
    if not isinstance(value, str) or value.strip().lower() not in allowed:
        _fail(path, _("“%(value)s” is not one of: %(allowed)s.") % {"value": value, "allowed": ", ".join(allowed)})
    return allowed[value.strip().lower()]


def _choice_list(value, path, choices, op):
    if not isinstance(value, list) or not value:
        _fail(path, _("Choose one or more values."))
    return [_choice(v, f"{path}[{i}]", choices, op) for i, v in enumerate(value)]


def _int(value, path, choices, op):
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool):
        _fail(path, _("Enter a whole number."))
    limit = MAX_WINDOW_DAYS if op in ("in_next_days", "anniversary_in_next_days") else MAX_INT
    if value < 0 or value > limit:
        _fail(path, _("Enter a whole number from 0 to %(max)d.") % {"max": limit})
    return value


def _number(value, path, choices, op):
    if isinstance(value, bool):
        _fail(path, _("Enter a number."))
    try:
        number = Decimal(str(value).strip()) if isinstance(value, (str, int, float)) else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or abs(number) > Decimal("1e12"):
        _fail(path, _("Enter a number."))
    as_float = float(number)
    return int(number) if number == number.to_integral_value() and not math.isinf(as_float) else as_float


def _range_of(single):
    """A [from, to] pair of values each checked by `single`."""

    def check(value, path, choices, op):
        if not isinstance(value, list) or len(value) != 2:
            _fail(path, _("Enter two numbers: [from, to]."))
        low, high = (single(v, f"{path}[{i}]", choices, op) for i, v in enumerate(value))
        if low > high:
            _fail(path, _("The first number must not be larger than the second."))
        return [low, high]

    return check


_int_range = _range_of(_int)
_number_range = _range_of(_number)


def _score(value, path, choices, op):
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    low, high = SCORES
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        _fail(path, _("Enter a score from %(low)d to %(high)d.") % {"low": low, "high": high})
    return value


_score_range = _range_of(_score)


def _date(value, path, choices, op):
    try:
        return dt.date.fromisoformat(value.strip()).isoformat()
    except (AttributeError, ValueError):
        _fail(path, _("Enter a date as YYYY-MM-DD."))


def _bool(value, path, choices, op):
    if not isinstance(value, bool):
        _fail(path, _("Enter true or false."))
    return value


def _sku_list(value, path, choices, op):
    from contacts.models import Product

    skus = _text_list(value, path, choices, op)
    known = set(Product.objects.filter(sku__in=skus).values_list("sku", flat=True))
    for i, sku in enumerate(skus):
        if sku not in known:
            _fail(f"{path}[{i}]", _("Unknown product %(sku)s.") % {"sku": sku})
    return skus


def _tag(value, path, choices, op):
    return _text(value, path, choices, op)


def _ref(model_path: str, label: str):
    def check(value, path, choices, op):
        from django.apps import apps

        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            _fail(path, _("Enter the id of a %(what)s.") % {"what": label})
        model = apps.get_model(model_path)
        if not model.objects.filter(pk=value).exists():
            _fail(path, _("There is no %(what)s with id %(id)s.") % {"what": label, "id": value})
        return value

    return check


def _attribute_key(value, path, choices, op):
    if not isinstance(value, str) or not ATTRIBUTE_KEY.match(value):
        _fail(path, _("Enter a custom field key (letters, digits, _ or -)."))
    return value


def _date_attribute_key(value, path, choices, op):
    """A custom field defined with type date: other types hold no dates to compare."""
    from contacts.models import CustomField

    key = _attribute_key(value, path, choices, op)
    kind = CustomField.objects.filter(key=key).values_list("type", flat=True).first()
    if kind is None:
        _fail(path, _("There is no custom field “%(key)s”.") % {"key": key})
    if kind != CustomField.Type.DATE:
        _fail(path, _("The custom field “%(key)s” is not of type date.") % {"key": key})
    return key


VALUE_CHECKERS = {
    "none": _none,
    "text": _text,
    "text_list": _text_list,
    "choice": _choice,
    "choice_list": _choice_list,
    "int": _int,
    "int_range": _int_range,
    "number": _number,
    "number_range": _number_range,
    "date": _date,
    "bool": _bool,
    "sku_list": _sku_list,
    "category_list": _text_list,
    "tag": _tag,
    "campaign": _ref("campaigns.Campaign", "campaign"),
    "segment": _ref("segments.Segment", "segment"),
    "attribute_key": _attribute_key,
    "date_attribute_key": _date_attribute_key,
    "score": _score,
    "score_range": _score_range,
}


def condition_nodes(tree: Any) -> list[dict]:
    """Every condition (a node with a `field`) anywhere in the tree, nested segments not followed."""
    found: list[dict] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict):
            continue
        if "field" in node:
            found.append(node)
        for key in ("all", "any"):
            if isinstance(node.get(key), list):
                stack.extend(node[key])
        if "not" in node:
            stack.append(node["not"])
    return found


def referenced_segments(tree: Any) -> set[int]:
    """Ids of the segments an `in_segment` condition anywhere in the tree points at."""
    return {
        int(node["segment"])
        for node in condition_nodes(tree)
        if node.get("field") == "in_segment" and str(node.get("segment")).isdigit()
    }


def _check_cycles(segment_id: int, tree: dict) -> None:
    from .models import Segment

    seen: set[int] = set()
    frontier = referenced_segments(tree)
    while frontier:
        if segment_id in frontier:
            raise RuleError("rules", _("This segment would include itself through in_segment conditions."))
        seen |= frontier
        rules = Segment.objects.filter(pk__in=frontier, kind=Segment.Kind.DYNAMIC).values_list("rules", flat=True)
        frontier = set().union(*(referenced_segments(r) for r in rules)) - seen if rules else set()


# ------------------------------------------------------------------ compilation


def compile_tree(tree: dict, ctx: Context | None = None) -> Q:
    """The whole tree as one Q on Contact. `tree` must have passed `validate`."""
    return _compile(tree, ctx or Context.current())


NOTHING = Q(pk__in=[])
EVERYTHING = ~Q(pk__in=[])


def _compile(node: dict, ctx: Context) -> Q:
    if "all" in node:
        if not node["all"]:
            return EVERYTHING
        q = _compile(node["all"][0], ctx)
        for child in node["all"][1:]:
            q &= _compile(child, ctx)
        return q
    if "any" in node:
        if not node["any"]:
            return NOTHING
        q = NOTHING
        for child in node["any"]:
            q |= _compile(child, ctx)
        return q
    if "not" in node:
        return ~_compile(node["not"], ctx)
    return compile_condition(node, ctx)


def compile_condition(node: dict, ctx: Context) -> Q:
    """A stored key no longer registered raises KeyError, which marks the segment as failing."""
    condition = registry.conditions()[node["field"]]
    return condition.compile(_typed(node), ctx)


def _typed(node: dict) -> dict:
    """JSON values to Python ones: ISO dates to dates."""
    op = registry.conditions()[node["field"]].ops[node["op"]]
    if op.value == "date":
        return {**node, "value": dt.date.fromisoformat(node["value"])}
    return node


def segment_condition_q(segment_id: int, ctx: Context) -> Q:
    """`in_segment`: a dynamic segment's own rules, inlined (always current); a static list's members."""
    from .models import Segment, SegmentMembership

    if segment_id in ctx.segment_path:
        raise RuleError("rules", _("Segments include each other in a cycle."))
    segment = Segment.objects.filter(pk=segment_id).first()
    if segment is None:
        return NOTHING
    if segment.is_dynamic:
        nested = dataclasses.replace(ctx, segment_path=ctx.segment_path + (segment_id,))
        return _compile(segment.rules or {"any": []}, nested)
    members = SegmentMembership.objects.filter(segment_id=segment_id, contact=OuterRef("pk"), left_at__isnull=True)
    return Q(Exists(members))
