"""The only tags and filters a campaign template may use, and the limits every render runs under.

Templates are written by marketers and rendered with contact data, so the engine that runs them
knows nothing else: no {% load %}, {% include %}, {% extends %}, {% url %}, {% debug %} or
{% autoescape off %}, no template loaders, and a context of plain dicts — no model instances,
so there is no method to call and no settings to reach.

Nor can a template exhaust the worker that renders it: each render carries a budget (loop
iterations, output size, seconds) that loops and filters draw on, and padding filters refuse
widths above TEMPLATE_MAX_WIDTH. The budget is checked inside the render itself — no signal, no
thread — and an exceeded one raises TemplateLimitError, which fails that one render.
"""

import contextvars
import functools
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import cast

from django.conf import settings
from django.template import Library, defaultfilters, defaulttags
from django.template.base import FilterExpression, NodeList
from django.template.defaulttags import ForNode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

register = Library()

SAFE_TAGS = ("if", "with", "firstof", "comment", "now", "spaceless", "verbatim", "cycle", "ifchanged")
SAFE_FILTERS = (
    "default",
    "default_if_none",
    "upper",
    "lower",
    "title",
    "capfirst",
    "date",
    "time",
    "floatformat",
    "truncatewords",
    "truncatechars",
    "length",
    "first",
    "last",
    "join",
    "yesno",
    "pluralize",
    "linebreaksbr",
    "escape",
    "urlencode",
    "add",
    "slice",
    "cut",
    "divisibleby",
    "stringformat",
    "wordcount",
    "center",
    "ljust",
    "rjust",
    "length_is",
    "make_list",
    "striptags",
)
# Filters whose argument is a width or a number of digits: the output grows with it.
WIDTH_FILTERS = ("center", "ljust", "rjust", "floatformat", "stringformat")


class TemplateLimitError(Exception):
    """A render went past one of the template limits; the message says which, where (`field`,
    `line`, filled in by the renderer) and in the language of whoever reads it, not the mail's."""

    def __init__(self, message, params: dict | None = None):
        super().__init__(message)
        self.message, self.params = message, params or {}
        self.field: str | None = None
        self.line: int | None = None

    def __str__(self) -> str:
        text = str(self.message) % self.params if self.params else str(self.message)
        if self.line:
            text = _("line %(line)d: %(problem)s") % {"line": self.line, "problem": text}
        return f"{self.field}: {text}" if self.field else text


def limits() -> dict:
    return {
        "output": settings.TEMPLATE_MAX_OUTPUT_BYTES,
        "iterations": settings.TEMPLATE_MAX_LOOP_ITERATIONS,
        "width": settings.TEMPLATE_MAX_WIDTH,
        "seconds": settings.TEMPLATE_MAX_RENDER_SECONDS,
    }


@dataclass
class Budget:
    """What one render (all parts of one mail) may still spend."""

    max_output: int
    max_iterations: int
    deadline: float
    iterations: int = 0
    output: int = 0
    error: TemplateLimitError | None = field(default=None)

    @classmethod
    def start(cls) -> "Budget":
        cap = limits()
        return cls(
            max_output=cap["output"], max_iterations=cap["iterations"], deadline=time.monotonic() + cap["seconds"]
        )

    def fail(self, message, params: dict | None = None) -> None:
        """Raise, and remember: an {% if %} swallows errors of its condition, the render must not."""
        if self.error is None:
            self.error = TemplateLimitError(message, params)
        raise self.error

    def check_time(self) -> None:
        if self.error is not None:
            raise self.error
        if time.monotonic() > self.deadline:
            self.fail(
                gettext_lazy("rendering took longer than %(seconds)s seconds (TEMPLATE_MAX_RENDER_SECONDS)."),
                {"seconds": settings.TEMPLATE_MAX_RENDER_SECONDS},
            )

    def charge_iterations(self, count: int) -> None:
        self.iterations += count
        if self.iterations > self.max_iterations:
            self.fail(
                gettext_lazy("loops repeat more than %(n)d times in all (TEMPLATE_MAX_LOOP_ITERATIONS)."),
                {"n": self.max_iterations},
            )

    def charge_output(self, size: int) -> None:
        self.output += size
        if self.output > self.max_output:
            self.fail(
                gettext_lazy("the output is longer than %(n)d bytes (TEMPLATE_MAX_OUTPUT_BYTES)."),
                {"n": self.max_output},
            )


_budget: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("template_budget", default=None)


@contextmanager
def render_budget():
    """One budget for everything rendered inside the block (the parts of one mail)."""
    budget = Budget.start()
    token = _budget.set(budget)
    try:
        yield budget
    finally:
        _budget.reset(token)


def current_budget() -> Budget:
    """The render's budget; outside `render_budget` a fresh one, so one loop is still capped."""
    return _budget.get() or Budget.start()


# ------------------------------------------------------------------ loops


class LimitedForNode(ForNode):
    """{% for %} that draws each iteration and its output from the render's budget."""

    # What `do_for` builds from a parsed template (the stubs also allow raw constructor inputs).
    sequence: FilterExpression
    nodelist_loop: NodeList
    nodelist_empty: NodeList

    def render(self, context):
        budget = current_budget()
        parentloop = context.get("forloop", {})
        with context.push():
            values = self.sequence.resolve(context, ignore_failures=True)
            values = [] if values is None else values
            if not hasattr(values, "__len__"):
                values = list(values)
            if len(values) < 1:
                return self.nodelist_empty.render(context)
            budget.charge_iterations(len(values))
            return mark_safe("".join(self._iterations(context, values, parentloop, budget)))

    def _iterations(self, context, values, parentloop, budget: Budget):
        total = len(values)
        loop = context["forloop"] = {"parentloop": parentloop}
        for index, item in enumerate(reversed(values) if self.is_reversed else values):
            budget.check_time()
            loop.update(
                counter0=index,
                counter=index + 1,
                revcounter=total - index,
                revcounter0=total - index - 1,
                first=index == 0,
                last=index == total - 1,
            )
            unpack = len(self.loopvars) > 1
            if unpack:
                context.update(self._unpacked(item))
            else:
                context[self.loopvars[0]] = item
            before = budget.output
            # The stubs type render_annotated as int | str; Django's returns the rendered str.
            chunk = "".join(cast(str, node.render_annotated(context)) for node in self.nodelist_loop)
            budget.charge_output(max(len(chunk) - (budget.output - before), 0))
            if unpack:
                context.pop()
            yield chunk

    def _unpacked(self, item) -> dict:
        try:
            size = len(item)
        except TypeError:
            size = 1
        if size != len(self.loopvars):
            raise ValueError(f"Need {len(self.loopvars)} values to unpack in for loop; got {size}.")
        return dict(zip(self.loopvars, item, strict=False))


@register.tag("for")
def do_for(parser, token):
    node = defaulttags.do_for(parser, token)
    return LimitedForNode(node.loopvars, node.sequence, node.is_reversed, node.nodelist_loop, node.nodelist_empty)


# ------------------------------------------------------------------ filters


def width_problem(name: str, argument) -> tuple | None:
    """Why a width filter's argument is refused, as (message, params), or None; checked on save
    and on every call."""
    if name not in WIDTH_FILTERS or argument is None:
        return None
    numbers = [int(n) for n in re.findall(r"\d+", str(argument))] if name == "stringformat" else None
    if numbers is None:
        try:
            numbers = [abs(int(str(argument).rstrip("gu")))]
        except ValueError:
            return gettext_lazy("“%(filter)s” needs a whole number, not “%(arg)s”."), {"filter": name, "arg": argument}
    widest = max(numbers, default=0)
    if widest > settings.TEMPLATE_MAX_WIDTH:
        return gettext_lazy("“%(filter)s” with %(width)d is wider than %(max)d (TEMPLATE_MAX_WIDTH)."), {
            "filter": name,
            "width": widest,
            "max": settings.TEMPLATE_MAX_WIDTH,
        }
    return None


def _limited(name: str, func):
    """The filter, refusing oversized widths and results and checking the clock on each call."""

    @functools.wraps(func)
    def limited(value, *args, **kwargs):
        budget = current_budget()
        budget.check_time()
        problem = width_problem(name, args[0]) if args else None
        if problem:
            budget.fail(*problem)
        result = func(value, *args, **kwargs)
        if isinstance(result, (str, list)) and len(result) > budget.max_output:
            budget.fail(
                gettext_lazy("“%(filter)s” made a value longer than %(n)d (TEMPLATE_MAX_OUTPUT_BYTES)."),
                {"filter": name, "n": budget.max_output},
            )
        return result

    return limited


for _name in SAFE_TAGS:
    register.tags[_name] = defaulttags.register.tags[_name]
for _name in SAFE_FILTERS:
    if _name in defaultfilters.register.filters:
        register.filters[_name] = _limited(_name, defaultfilters.register.filters[_name])
