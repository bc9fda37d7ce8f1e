"""A read-only picture of a flow: its trigger, its steps in a column, each branch's yes and no side by side,
arrows between them, and each step's live numbers; an inline SVG made on the server (no script, no
external reference, nothing fetched), which scales down with the page.

The layout is computed here in left-to-right coordinates and mirrored for a right-to-left language, so
that in Hebrew "yes" stands on the right and the flow reads from the right as the page does. Every text
that a marketer typed (names, tags, reasons) goes through `format_html`, which escapes it; the boxes
clip long words and carry the whole text in a tooltip.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import formats, translation
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from . import selectors
from .labels import Names, step_detail, step_label, trigger_label
from .models import Flow
from .paths import BRANCHES

BOX_WIDTH = 240
EMPTY_SIDE_WIDTH = 70  # a branch side without steps: room for its "yes" or "no"
PADDING = 10
TITLE_HEIGHT = 18
LINE_HEIGHT = 15
ARROW = 30  # the gap between two boxes in a column
COLUMN_GAP = 24
FORK = 14  # from a branch box down to the bar its sides hang from
DROP = 28  # from that bar down to the first box of a side
JOIN = 18  # from the longer side's end down to the bar where both sides meet again
MARGIN = 16
TITLE_CHARS, LINE_CHARS = 32, 40  # what a box's width holds at the title's and the numbers' font sizes

FG = "fill: var(--body-fg, #333)"
QUIET = "fill: var(--body-quiet-color, #666)"
STROKE = "stroke: var(--body-quiet-color, #666); stroke-width: 1.5; fill: none"
BOX_STYLES = {
    "trigger": "fill: var(--selected-bg, #e4e4e4); stroke: var(--primary, #79aec8); stroke-width: 2",
    "step": "fill: var(--darkened-bg, #f8f8f8); stroke: var(--border-color, #ccc)",
    "branch": "fill: var(--darkened-bg, #f8f8f8); stroke: var(--primary, #79aec8)",
    "exit": "fill: var(--darkened-bg, #f8f8f8); stroke: var(--error-fg, #ba2121)",
    "end": "fill: var(--body-bg, #fff); stroke: var(--body-quiet-color, #666)",
}


@dataclass
class Node:
    """One box and, for a branch, the steps of its two sides."""

    kind: str
    title: str
    detail: str = ""
    numbers: list[str] = field(default_factory=list)
    sides: dict[str, list["Node"]] = field(default_factory=dict)

    @property
    def box_height(self) -> int:
        lines = len(self.numbers) + (1 if self.detail else 0)
        return PADDING + TITLE_HEIGHT + LINE_HEIGHT * lines + PADDING // 2


@dataclass
class Canvas:
    """What the layout draws, in left-to-right coordinates."""

    boxes: list[tuple[int, int, int, int, Node]] = field(default_factory=list)
    lines: list[tuple[int, int, int, int]] = field(default_factory=list)
    arrows: list[tuple[int, int, int]] = field(default_factory=list)  # x, from y, to y (always downwards)
    captions: list[tuple[int, int, str]] = field(default_factory=list)


# ------------------------------------------------------------------ what each box says


def _count(value: int | None) -> str:
    return formats.number_format(value or 0, force_grouping=True)


def _numbers(row: dict) -> list[str]:
    lines = [
        " · ".join(
            [
                _("waiting now %(count)s") % {"count": _count(row["waiting"])},
                _("passed %(count)s") % {"count": _count(row["passed"])},
            ]
        )
    ]
    if row["type"] == "send_email":
        sent = _("sent %(count)s") % {"count": _count(row["sent"])}
        opened = _("opened %(count)s") % {"count": _count(row["unique_opens"])}
        clicked = _("clicked %(count)s") % {"count": _count(row["unique_clicks"])}
        lines.append(" · ".join([sent, opened, clicked]))
        lines += _money_lines(row)
    return lines


def _money_lines(row: dict) -> list[str]:
    """What a mail step sold (left out while it has mailed nobody: a zero there would read "sold nothing")."""
    if row.get("conversions") is None:
        return []
    converted = _("converted %(count)s") % {"count": _count(row["converted_contacts"])}
    purchases = _("purchases %(count)s") % {"count": _count(row["conversions"])}
    revenue = _("revenue %(amount)s") % {"amount": _money(row["revenue"])}
    in_store = _("in store %(amount)s") % {"amount": _money(row["in_store_revenue"])}
    lines = [" · ".join([converted, purchases]), " · ".join([revenue, in_store])]
    if row["revenue_per_recipient"] is not None:
        lines.append(_("%(amount)s per delivered mail") % {"amount": _money(row["revenue_per_recipient"])})
    return lines


def _entered(counts: dict[str, int]) -> str:
    return _("entered %(count)s") % {"count": _count(counts["entered"])}


def _ended(counts: dict[str, int], finishing: int) -> str:
    parts = [
        _("waiting now %(count)s") % {"count": _count(finishing)},
        _("completed %(count)s") % {"count": _count(counts["completed"])},
        _("exited %(count)s") % {"count": _count(counts["exited"])},
    ]
    return " · ".join(parts)


def _money(amount: Decimal) -> str:
    return formats.number_format(amount, decimal_pos=2, force_grouping=True)


def _nodes(steps: list, prefix: str, numbers: dict[str, dict], names: Names) -> list[Node]:
    nodes = []
    for index, step in enumerate(steps):
        path = f"{prefix}{index}"
        kind = step.get("type")
        node = Node(
            kind="branch" if kind == "branch" else "exit" if kind == "exit" else "step",
            title=step_label(step, names),
            detail=step_detail(step),
            numbers=_numbers(numbers[path]) if path in numbers else [],
        )
        if kind == "branch":
            node.sides = {side: _nodes(step.get(side) or [], f"{path}.{side}.", numbers, names) for side in BRANCHES}
        nodes.append(node)
    return nodes


# ------------------------------------------------------------------ layout


def _column_size(nodes: list[Node]) -> tuple[int, int]:
    """Width and height of a column of boxes (0 × 0 when it has none)."""
    if not nodes:
        return 0, 0
    sizes = [_node_size(node) for node in nodes]
    return max(width for width, _height in sizes), sum(height for _width, height in sizes) + ARROW * (len(nodes) - 1)


def _side_width(nodes: list[Node]) -> int:
    return _column_size(nodes)[0] or EMPTY_SIDE_WIDTH


def _node_size(node: Node) -> tuple[int, int]:
    if node.kind != "branch":
        return BOX_WIDTH, node.box_height
    sides = [node.sides[side] for side in BRANCHES]
    width = max(BOX_WIDTH, sum(_side_width(side) for side in sides) + COLUMN_GAP)
    return width, node.box_height + FORK + DROP + max(_column_size(side)[1] for side in sides) + JOIN


def _place_column(nodes: list[Node], center: int, top: int, canvas: Canvas) -> int:
    """Draw a column of boxes from `top` down; returns where it ends."""
    y = top
    for index, node in enumerate(nodes):
        if index:
            canvas.arrows.append((center, y, y + ARROW))
            y += ARROW
        y = _place_node(node, center, y, canvas)
    return y


def _place_node(node: Node, center: int, top: int, canvas: Canvas) -> int:
    canvas.boxes.append((center - BOX_WIDTH // 2, top, BOX_WIDTH, node.box_height, node))
    bottom = top + node.box_height
    if node.kind != "branch":
        return bottom
    widths = [_side_width(node.sides[side]) for side in BRANCHES]
    left = center - (sum(widths) + COLUMN_GAP) // 2
    centers = [left + widths[0] // 2, left + widths[0] + COLUMN_GAP + widths[1] // 2]
    fork = bottom + FORK
    canvas.lines += [(center, bottom, center, fork), (centers[0], fork, centers[1], fork)]
    ends = []
    for side, side_center in zip(BRANCHES, centers, strict=True):
        canvas.captions.append((side_center + 6, fork + 17, _("yes") if side == "yes" else _("no")))
        if node.sides[side]:
            canvas.arrows.append((side_center, fork, fork + DROP))
            ends.append((side_center, _place_column(node.sides[side], side_center, fork + DROP, canvas)))
        else:
            ends.append((side_center, fork))
    join = max(fork + DROP, *(end for _x, end in ends)) + JOIN
    canvas.lines += [(x, end, x, join) for x, end in ends]
    canvas.lines.append((centers[0], join, centers[1], join))
    return join


def _layout(trigger: Node, steps: list[Node], end: Node) -> tuple[Canvas, int, int]:
    width = max(BOX_WIDTH, _column_size(steps)[0]) + 2 * MARGIN
    center = width // 2
    canvas = Canvas()
    y = _place_node(trigger, center, MARGIN, canvas)
    canvas.arrows.append((center, y, y + ARROW))
    y = _place_column([*steps, end], center, y + ARROW, canvas)
    return canvas, width, y + MARGIN


# ------------------------------------------------------------------ drawing


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _box(x: int, y: int, width: int, height: int, node: Node) -> SafeString:
    center = x + width // 2
    texts = [
        format_html(
            '<text x="{}" y="{}" style="{}; font-weight: bold">{}</text>',
            center,
            y + PADDING + 13,
            FG,
            _clip(node.title, TITLE_CHARS),
        )
    ]
    lines = ([node.detail] if node.detail else []) + node.numbers
    baseline = y + PADDING + TITLE_HEIGHT + 12
    for index, line in enumerate(lines):
        texts.append(
            format_html(
                '<text x="{}" y="{}" style="{}; font-size: 11px">{}</text>',
                center,
                baseline + index * LINE_HEIGHT,
                QUIET,
                _clip(line, LINE_CHARS),
            )
        )
    tooltip = " — ".join(part for part in (node.title, node.detail) if part)
    return format_html(
        '<g><title>{}</title><rect x="{}" y="{}" width="{}" height="{}" rx="{}" style="{}"/>{}</g>',
        tooltip,
        x,
        y,
        width,
        height,
        16 if node.kind == "end" else 6,
        BOX_STYLES[node.kind],
        format_html_join("", "{}", ((text,) for text in texts)),
    )


def _mirror(canvas: Canvas, width: int) -> Canvas:
    """The same picture read from the right: x becomes width − x, and captions stand left of their line."""
    return Canvas(
        boxes=[(width - x - w, y, w, h, node) for x, y, w, h, node in canvas.boxes],
        lines=[(width - x1, y1, width - x2, y2) for x1, y1, x2, y2 in canvas.lines],
        arrows=[(width - x, y1, y2) for x, y1, y2 in canvas.arrows],
        captions=[(width - x, y, text) for x, y, text in canvas.captions],
    )


def _svg(canvas: Canvas, width: int, height: int, label: str, rtl: bool) -> SafeString:
    arrows = format_html_join(
        "",
        '<line x1="{0}" y1="{1}" x2="{0}" y2="{2}" style="{3}"/>'
        '<polygon points="{4},{5} {6},{5} {0},{2}" style="{7}"/>',
        ((x, y1, y2 - 1, STROKE, x - 4, y2 - 7, x + 4, QUIET) for x, y1, y2 in canvas.arrows),
    )
    return format_html(
        '<svg class="flow-diagram" role="img" aria-label="{}" viewBox="0 0 {} {}" width="100%" direction="{}" '
        'text-anchor="middle" style="max-width: {}px; height: auto; font-family: var(--font-family-primary, '
        'sans-serif); font-size: 13px">{}{}{}{}</svg>',
        label,
        width,
        height,
        "rtl" if rtl else "ltr",
        width,
        format_html_join(
            "", '<line x1="{}" y1="{}" x2="{}" y2="{}" style="{}"/>', ((*line, STROKE) for line in canvas.lines)
        ),
        arrows,
        format_html_join(
            "",
            '<text x="{}" y="{}" text-anchor="start" style="{}; font-size: 11px">{}</text>',
            ((x, y, QUIET, text) for x, y, text in canvas.captions),
        ),
        format_html_join("", "{}", ((_box(*box),) for box in canvas.boxes)),
    )


def flow_diagram(flow: Flow, *, stats: dict | None = None) -> SafeString:
    """The flow as an inline SVG with each step's numbers now: a fixed number of queries (the names of its
    templates and segments, the counts grouped by step), however many steps and contacts. A page that has
    read `selectors.flow_stats` already passes them as `stats`, and only the names are read again."""
    names = Names.for_flows([flow])
    if stats is None:
        stats = {**selectors.flow_counts(flow), "steps": selectors.step_numbers(flow)}
    numbers = {row["step"]: row for row in stats["steps"]}
    trigger = Node(kind="trigger", title=trigger_label(flow.trigger, names), numbers=[_entered(stats)])
    steps = _nodes(flow.steps or [], "", numbers, names)
    # Active enrollments at no step of the tree: in the flow's last wait (or at a step an edit removed).
    finishing = stats["active"] - sum(row["waiting"] for row in numbers.values())
    end = Node(kind="end", title=_("End"), numbers=[_ended(stats, finishing)])
    canvas, width, height = _layout(trigger, steps, end)
    rtl = translation.get_language_bidi()
    if rtl:
        canvas = _mirror(canvas, width)
    label = _("Diagram of the automation “%(name)s”") % {"name": flow.name}
    return _svg(canvas, width, height, label, rtl)
