"""The home page's SVG charts: round axes, right-to-left mirroring, and text drawn as text."""

import re

import pytest

from campaigns.reports import charts


@pytest.mark.parametrize(
    ("peak", "end", "step"),
    [(0, 1, 1), (0.4, 1, 1), (3, 3, 1), (7, 8, 2), (11, 15, 5), (101, 150, 50), (180, 200, 50), (99999, 100000, 20000)],
)
def test_an_axis_ends_on_a_round_number_in_round_whole_steps(peak, end, step):
    assert charts.scale(peak) == (end, step)


def test_a_tick_is_written_at_every_step():
    assert charts.ticks(8, 2, lambda v: f"{v:g}") == [(0, "0"), (2, "2"), (4, "4"), (6, "6"), (8, "8")]


def bars(rtl: bool) -> str:
    axis = charts.Axis(10, charts.ticks(10, 5, str), goal=5, goal_text="goal")
    return str(
        charts.bar_chart(
            [charts.Bar("<script>alert(1)</script>", 10, "10 & more", href="/admin/?a=1&b=2")],
            axis=axis,
            label='Sales "by" <b>',
            rtl=rtl,
        )
    )


def test_names_and_figures_are_escaped_inside_the_chart():
    drawn = bars(rtl=False)
    assert "<script>" not in drawn and "&lt;script&gt;alert(1)&lt;/script&gt;" in drawn
    assert "10 &amp; more" in drawn
    assert 'href="/admin/?a=1&amp;b=2"' in drawn
    assert 'aria-label="Sales &quot;by&quot; &lt;b&gt;"' in drawn


def test_a_right_to_left_chart_is_the_mirror_image_of_the_left_to_right_one():
    width = charts.LABEL_WIDTH + charts.BAR_AREA + charts.VALUE_WIDTH
    ltr, rtl = bars(rtl=False), bars(rtl=True)
    assert 'direction="ltr"' in ltr and 'direction="rtl"' in rtl
    left = re.search(r'<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', ltr)
    right = re.search(r'<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', rtl)
    assert left and right and left.group(2) == right.group(2)
    assert float(right.group(1)) == width - float(left.group(1)) - float(left.group(2))
    # The axis stands at the start side: the left edge in English, the right edge in Hebrew.
    assert f'<line x1="{charts.LABEL_WIDTH}"' in ltr
    assert f'<line x1="{width - charts.LABEL_WIDTH}"' in rtl


def test_the_funnel_is_as_wide_as_each_layer_reached_and_names_the_step_between_layers():
    layers = [
        charts.Layer("All", "10", reached=10, title="All"),
        charts.Layer("Buyers", "5", reached=5, title="Buyers", step="50.0%"),
    ]
    drawn = str(charts.funnel_chart(layers, label="Funnel", rtl=False))
    widths = [float(w) for w in re.findall(r'<rect x="[\d.]+" y="[\d.]+" width="([\d.]+)"', drawn)]
    assert widths[0] == 2 * widths[1]
    assert "▼ 50.0%" in drawn
