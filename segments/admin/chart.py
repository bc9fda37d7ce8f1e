"""Geometry of the segment-size chart, drawn as inline SVG by the template: no chart library, no CDN.

The plot keeps time flowing left to right in both languages (as dates are read in Hebrew too); the axis
labels are text elements the template fills with localized dates and numbers.
"""

from django.utils import formats

WIDTH, HEIGHT = 600, 240
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 22, 44  # room for the count labels and the date labels


def _nice_top(peak: int) -> int:
    """A round number at or above `peak`, so the count axis reads 0 / 50 / 100 rather than 0 / 47 / 94."""
    if peak <= 4:
        return 4
    step = 1
    while step * 10 < peak:
        step *= 10
    for factor in (1, 2, 2.5, 5, 10):
        top = int(step * factor)
        if top >= peak and top % 2 == 0:
            return top
    return peak


def size_chart(series: list[dict]) -> dict:
    """Points of the size line, with count ticks (0, half, top) and date ticks (first, middle, last)."""
    top = _nice_top(max([0] + [day["size"] for day in series]))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(1, len(series) - 1)

    def y(value: int) -> float:
        return round(TOP + plot_h - value / top * plot_h, 1)

    points = [(round(LEFT + i * step, 1), y(day["size"])) for i, day in enumerate(series)]
    base = TOP + plot_h
    line = " ".join(f"{x},{py}" for x, py in points)
    area = f"{LEFT},{base} {line} {points[-1][0]},{base}" if points else ""
    picked = sorted({0, len(series) // 2, len(series) - 1}) if series else []
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "top": TOP,
        "base": base,
        "line": line,
        "area": area,
        "dots": [{"x": x, "y": py, **day} for (x, py), day in zip(points, series, strict=True)],
        "y_ticks": [{"y": y(v), "label": formats.number_format(v, force_grouping=True)} for v in (0, top // 2, top)],
        "x_ticks": [{"x": points[i][0], "day": series[i]["day"]} for i in picked],
    }
