"""The home page's charts as inline SVG drawn on the server: no script, no external reference, nothing
fetched, so they show under the admin's Content Security Policy and print as they look.

Each chart is laid out in left-to-right coordinates from a few shapes (rectangles, lines, texts, links) and
mirrored for a right-to-left language: x becomes width − x and the picture carries `direction="rtl"`, under
which a text's "start" and "end" anchors swap sides too, so labels stay beside their bars and the bars grow
from the right as a Hebrew page reads. Texts arrive formatted (numbers in the active locale) and go through
`format_html`, which escapes them: a campaign or source named `<script>` is drawn as those characters.
Colours come from classes styled in `reports/dashboard.css` with the admin's own colour variables, so the
charts follow its light and dark themes.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

LABEL_WIDTH = 120  # the label column of a bar chart
VALUE_WIDTH = 130  # room after the longest bar for its figure
BAR_AREA = 190
ROW = 28
BAR_HEIGHT = 18
AXIS = 28  # below the last bar: the tick labels
TOP = 8
GOAL_ROOM = 16  # above the bars: the goal's name
LABEL_CHARS = 18
TICKS = 5

FUNNEL_WIDTH = 640
FUNNEL_LABEL = 150
FUNNEL_ROW = 34
FUNNEL_GAP = 22  # between two layers: the step conversion
MIN_BAR = 2


# ------------------------------------------------------------------ shapes


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    css: str


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    css: str


@dataclass(frozen=True)
class Text:
    x: float
    y: float
    text: str
    anchor: str = "start"
    css: str = ""


@dataclass(frozen=True)
class Group:
    """Shapes under one tooltip, and a link when `href` is set."""

    shapes: tuple = ()
    title: str = ""
    href: str = ""


Shape = Rect | Line | Text | Group


def mirror(shape: Shape, width: float) -> Shape:
    """The same shape seen from the right edge of a picture `width` wide."""
    if isinstance(shape, Rect):
        return replace(shape, x=width - shape.x - shape.width)
    if isinstance(shape, Line):
        return replace(shape, x1=width - shape.x1, x2=width - shape.x2)
    if isinstance(shape, Text):
        return replace(shape, x=width - shape.x)
    return replace(shape, shapes=tuple(mirror(inner, width) for inner in shape.shapes))


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def render(shape: Shape) -> SafeString:
    if isinstance(shape, Rect):
        return format_html(
            '<rect x="{}" y="{}" width="{}" height="{}" class="{}"/>',
            _num(shape.x),
            _num(shape.y),
            _num(shape.width),
            _num(shape.height),
            shape.css,
        )
    if isinstance(shape, Line):
        return format_html(
            '<line x1="{}" y1="{}" x2="{}" y2="{}" class="{}"/>',
            *(_num(v) for v in (shape.x1, shape.y1, shape.x2, shape.y2)),
            shape.css,
        )
    if isinstance(shape, Text):
        return format_html(
            '<text x="{}" y="{}" text-anchor="{}" class="{}">{}</text>',
            _num(shape.x),
            _num(shape.y),
            shape.anchor,
            shape.css,
            shape.text,
        )
    inner = format_html_join("", "{}", ((render(each),) for each in shape.shapes))
    title = format_html("<title>{}</title>", shape.title) if shape.title else ""
    if shape.href:
        return format_html('<a href="{}">{}{}</a>', shape.href, title, inner)
    return format_html("<g>{}{}</g>", title, inner)


def svg(shapes: Sequence[Shape], *, width: float, height: float, label: str, rtl: bool, css: str) -> SafeString:
    """The picture, mirrored for a right-to-left page; `label` is what a screen reader says of it."""
    if rtl:
        shapes = [mirror(shape, width) for shape in shapes]
    return format_html(
        '<svg class="kpi-chart {}" role="img" aria-label="{}" viewBox="0 0 {} {}" width="{}" direction="{}">{}</svg>',
        css,
        label,
        _num(width),
        _num(height),
        _num(width),
        "rtl" if rtl else "ltr",
        format_html_join("", "{}", ((render(shape),) for shape in shapes)),
    )


def clip(text: str, limit: int = LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ------------------------------------------------------------------ bars


@dataclass(frozen=True)
class Bar:
    """One row of a bar chart: `value` sets the length, `text` is the figure written after it."""

    label: str
    value: float
    text: str
    href: str = ""
    title: str = ""


@dataclass(frozen=True)
class Axis:
    """Where the scale ends, and how a tick's value is written (`ticks` lists (value, text))."""

    end: float
    ticks: list[tuple[float, str]] = field(default_factory=list)
    goal: float | None = None
    goal_text: str = ""


def scale(peak: float, most: int = TICKS) -> tuple[float, float]:
    """(end, step) of an axis from 0 that holds `peak` in at most `most` round steps (1, 2 or 5 times a
    power of ten, never below 1), so every tick is a round whole number."""
    if peak <= 0:
        return 1.0, 1.0
    power = 10 ** max(math.floor(math.log10(peak / most)), 0)
    while True:
        for factor in (1, 2, 5):
            step = factor * power
            if math.ceil(peak / step) <= most:
                return step * math.ceil(peak / step), step
        power *= 10


def ticks(end: float, step: float, write: Callable[[float], str]) -> list[tuple[float, str]]:
    """A tick every `step` from 0 to `end`, written by `write`."""
    return [(step * index, write(step * index)) for index in range(round(end / step) + 1)]


def bar_chart(bars: Sequence[Bar], *, axis: Axis, label: str, rtl: bool, css: str = "") -> SafeString:
    """Horizontal bars, their labels at the start side and their figures after them, over a scale from 0 to
    `axis.end` with its ticks and grid lines (and the goal as a marked line, named above the bars)."""
    top = TOP + (GOAL_ROOM if axis.goal is not None else 0)
    bottom = top + ROW * len(bars)
    unit = BAR_AREA / axis.end if axis.end else 0
    shapes: list[Shape] = [_tick(LABEL_WIDTH + value * unit, top, bottom, text) for value, text in axis.ticks]
    shapes += [_bar_row(bar, top + ROW * index, min(bar.value, axis.end) * unit) for index, bar in enumerate(bars)]
    shapes.append(Line(LABEL_WIDTH, top - 4, LABEL_WIDTH, bottom, "kpi-axis"))
    if axis.goal is not None:
        x = LABEL_WIDTH + axis.goal * unit
        shapes += [
            Line(x, top - 8, x, bottom, "kpi-goal"),
            Text(x, top - 12, axis.goal_text, "middle", "kpi-goal-text"),
        ]
    width = LABEL_WIDTH + BAR_AREA + VALUE_WIDTH
    return svg(shapes, width=width, height=bottom + AXIS, label=label, rtl=rtl, css=f"kpi-bars {css}".strip())


def _bar_row(bar: Bar, y: float, length: float) -> Group:
    length = max(length, MIN_BAR if bar.value else 0)
    return Group(
        (
            Text(LABEL_WIDTH - 8, y + 14, clip(bar.label), "end", "kpi-label"),
            Rect(LABEL_WIDTH, y + (ROW - BAR_HEIGHT) / 2 - 4, length, BAR_HEIGHT, "kpi-bar"),
            Text(LABEL_WIDTH + length + 6, y + 14, bar.text, "start", "kpi-value"),
        ),
        title=bar.title or f"{bar.label}: {bar.text}",
        href=bar.href,
    )


def _tick(x: float, top: float, bottom: float, text: str) -> Group:
    return Group((Line(x, top - 4, x, bottom, "kpi-grid"), Text(x, bottom + 16, text, "middle", "kpi-tick")))


# ------------------------------------------------------------------ funnel


@dataclass(frozen=True)
class Layer:
    """One layer of the funnel: `count` contacts stand at it, `reached` at it or beyond (the bar's width);
    `step` is the conversion into it from the layer above, written between the two."""

    label: str
    count: str
    reached: float
    title: str
    href: str = ""
    step: str = ""


def funnel_chart(layers: Sequence[Layer], *, label: str, rtl: bool) -> SafeString:
    """A centred pyramid: each layer as wide as the contacts who reached it, its name at the start side, its
    count on the bar, and the step conversion between two layers."""
    area = FUNNEL_WIDTH - 2 * FUNNEL_LABEL
    center = FUNNEL_LABEL + area / 2
    widest = max((layer.reached for layer in layers), default=0) or 1
    shapes: list[Shape] = []
    y = float(TOP)
    for index, layer in enumerate(layers):
        if index:
            if layer.step:
                shapes.append(Text(center, y + FUNNEL_GAP / 2 + 4, f"▼ {layer.step}", "middle", "kpi-step"))
            y += FUNNEL_GAP
        width = max(area * layer.reached / widest, MIN_BAR)
        shapes.append(
            Group(
                (
                    Text(FUNNEL_LABEL - 10, y + FUNNEL_ROW / 2 + 5, clip(layer.label), "end", "kpi-label"),
                    Rect(center - width / 2, y, width, FUNNEL_ROW, "kpi-layer"),
                    Text(center, y + FUNNEL_ROW / 2 + 5, layer.count, "middle", "kpi-layer-count"),
                ),
                title=layer.title,
                href=layer.href,
            )
        )
        y += FUNNEL_ROW
    return svg(shapes, width=FUNNEL_WIDTH, height=y + TOP, label=label, rtl=rtl, css="kpi-funnel")
