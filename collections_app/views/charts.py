"""Horizontal bar charts drawn as SVG on the server: the geometry is computed here, the template only writes it out.

The SVG's viewBox is scaled as a whole (``preserveAspectRatio`` left at its default, "meet"): text keeps its shape
at every width. Labels sit in a left column, values in a right column, so neither is cut off by a long bar; each bar
carries a <title> (the browser's hover tooltip) with its label and value; an axis with ticks runs under the bars.
Proportions are kept: rates are drawn on a 0 to 100 % axis (or further when a rate passes 100 %), amounts from 0."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

WIDTH = 560
LABEL_WIDTH = 150  # the label column, right-aligned against the axis
VALUE_WIDTH = 118  # the value column, right-aligned against the right edge
PLOT_LEFT = LABEL_WIDTH + 6
PLOT_WIDTH = WIDTH - PLOT_LEFT - VALUE_WIDTH - 6
ROW = 24
TOP = 6
AXIS = 26  # the axis line, its ticks and their labels under the rows
LABEL_CHARS = 24


@dataclass
class Bar:
    label: str
    value: float
    text: str
    hover: str = ""
    group: int = 0  # colour of the bar (a series: 0, 1, 2)


@dataclass
class Chart:
    """A chart and its CSV: ``columns`` and ``records`` are the numbers behind the bars, for ``?chart=<name>``."""

    name: str
    title: str
    bars: list[Bar]
    columns: list[str]
    records: list[list[Any]]
    percent: bool = False
    legend: list[tuple[int, str]] = field(default_factory=list)
    empty: str = ""
    note: str = ""

    def geometry(self) -> dict[str, Any]:
        top = max((b.value for b in self.bars), default=0.0)
        scale = _nice_top(top, percent=self.percent)
        rows = []
        for index, bar in enumerate(self.bars):
            y = TOP + index * ROW
            width = 0.0 if scale == 0 else max(0.0, bar.value) / scale * PLOT_WIDTH
            label = bar.label if len(bar.label) <= LABEL_CHARS else bar.label[: LABEL_CHARS - 1] + "…"
            rows.append(
                {
                    "y": y,
                    "text_y": y + 15,
                    "bar_y": y + 4,
                    "width": round(width, 1),
                    "label": label,
                    "text": bar.text,
                    "hover": bar.hover or f"{bar.label}: {bar.text}",
                    "group": bar.group,
                }
            )
        axis_y = TOP + len(self.bars) * ROW + 2
        ticks = []
        for step in range(5):
            value = scale * step / 4
            ticks.append(
                {
                    "x": round(PLOT_LEFT + PLOT_WIDTH * step / 4, 1),
                    "label": f"{value * 100:.0f} %" if self.percent else _short(value),
                }
            )
        return {
            "rows": rows,
            "ticks": ticks,
            "width": WIDTH,
            "height": axis_y + AXIS,
            "axis_y": axis_y,
            "tick_y": axis_y + 5,
            "tick_text_y": axis_y + 18,
            "plot_left": PLOT_LEFT,
            "plot_right": PLOT_LEFT + PLOT_WIDTH,
            "label_x": LABEL_WIDTH,
            "value_x": WIDTH - 2,
        }


def _nice_top(top: float, *, percent: bool) -> float:
    """The axis' end: 100 % for rates (further if one passes it), else a round number at or above the largest."""
    if percent:
        return max(1.0, math.ceil(top * 4) / 4)
    if top <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(top))
    for step in (1, 2, 2.5, 5, 10):
        if top <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def _short(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if value >= 1000:
        return f"{value / 1000:g}k"
    return f"{value:g}"


def percent_text(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f} %"


def rate_bars(rows: list[dict], label: Callable[[dict], str], detail: Callable[[dict], str], group=None) -> list[Bar]:  # type: ignore[no-untyped-def]
    """Bars of rates: a row with no denominator has no rate and is drawn as an empty bar reading "—"."""
    return [
        Bar(
            label(row),
            row["rate"] or 0.0,
            percent_text(row["rate"]),
            f"{label(row)}: {percent_text(row['rate'])} ({detail(row)})",
            group(row) if group else 0,
        )
        for row in rows
    ]
