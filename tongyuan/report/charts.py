"""Trend charts as inline SVG, drawn here so the report needs no JavaScript library.

A chart is a few dozen elements; generating them in Python keeps the site offline, the
output deterministic (tests count the points), and printing exact.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from tongyuan.report.themes import format_rate

WIDTH = 640
HEIGHT = 220
_LEFT, _RIGHT, _TOP, _BOTTOM = 52, 16, 14, 40


def _y_floor(rates: Sequence[float]) -> float:
    """Bottom of the y axis: a round ten below the lowest rate, so small moves show."""
    lowest = min(rates) * 100
    return max(0.0, math.floor((lowest - 5) / 10) * 10)


def line_chart(points: Sequence[tuple[str, float | None]], *, title: str, key: str) -> str:
    """SVG markup of a rate-over-runs line chart.

    ``points`` are (run label, rate) oldest first; a run where nothing was evaluated has
    no rate and is left out rather than drawn as 0 % or 100 %. Every plotted point is a
    ``circle.point`` carrying its label and rate, for the tooltip and the tests.
    """
    plotted = [(label, rate) for label, rate in points if rate is not None]
    head = (
        f'<svg class="trend" data-theme="{escape(key)}" data-points="{len(plotted)}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
    )
    if not plotted:
        return (
            head + f'<text class="empty" x="{WIDTH / 2}" y="{HEIGHT / 2}" '
            'text-anchor="middle">暂无可计算的数据</text></svg>'
        )
    floor = _y_floor([rate for _, rate in plotted])
    inner_w = WIDTH - _LEFT - _RIGHT
    inner_h = HEIGHT - _TOP - _BOTTOM

    def x_at(index: int) -> float:
        if len(plotted) == 1:
            return _LEFT + inner_w / 2
        return _LEFT + inner_w * index / (len(plotted) - 1)

    def y_at(rate: float) -> float:
        return _TOP + inner_h * (1 - (rate * 100 - floor) / (100 - floor or 1))

    parts = [head]
    for step in range(5):
        value = floor + (100 - floor) * step / 4
        y = y_at(value / 100)
        parts.append(
            f'<line class="grid" x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="axis" x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{value:.4g}%</text>"
        )
    coords = [(x_at(i), y_at(rate)) for i, (_, rate) in enumerate(plotted)]
    parts.append(
        '<polyline class="line" fill="none" points="'
        + " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        + '"/>'
    )
    label_every = max(1, math.ceil(len(plotted) / 6))
    for index, ((label, rate), (x, y)) in enumerate(zip(plotted, coords, strict=True)):
        shown = format_rate(rate)
        parts.append(
            f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="4" '
            f'data-label="{escape(label)}" data-rate="{shown}">'
            f"<title>{escape(label)}：{shown}</title></circle>"
        )
        last = index == len(plotted) - 1
        if index % label_every == 0 or last:
            anchor = "end" if last and index else "middle"
            parts.append(
                f'<text class="axis" x="{x:.1f}" y="{HEIGHT - _BOTTOM + 18}" '
                f'text-anchor="{anchor}">{escape(label[:10])}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)
