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
# The phone layout: narrower, a label line above each bar.
COMPACT_WIDTH = 340
COMPACT_LEFT = 14
COMPACT_PLOT_WIDTH = COMPACT_WIDTH - COMPACT_LEFT - 84
COMPACT_ROW = 34


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
    value_suffix: list[str] = field(default_factory=list)  # said after each bar's value (e.g. its window)

    def __post_init__(self) -> None:
        for bar, suffix in zip(self.bars, self.value_suffix, strict=False):
            bar.text = f"{bar.text} · {suffix}"

    @property
    def wide(self) -> dict[str, Any]:
        """From 576 px up: labels in a column left of the bars, values in a column right of them."""
        top = _nice_top(max((b.value for b in self.bars), default=0.0), percent=self.percent)
        rows = []
        for index, bar in enumerate(self.bars):
            y = TOP + index * ROW
            label = bar.label if len(bar.label) <= LABEL_CHARS else bar.label[: LABEL_CHARS - 1] + "…"
            rows.append(self._row(bar, top, PLOT_WIDTH, y=y, label=label, text_y=y + 15, bar_y=y + 4, value_y=y + 15))
        axis_y = TOP + len(self.bars) * ROW + 2
        return self._frame(rows, top, width=WIDTH, plot_left=PLOT_LEFT, plot_width=PLOT_WIDTH, axis_y=axis_y,
                           label_x=LABEL_WIDTH, anchor="end", row_height=ROW)  # fmt: skip

    @property
    def compact(self) -> dict[str, Any]:
        """On a phone: each label on its own line above its bar, so the text stays large on a narrow screen."""
        top = _nice_top(max((b.value for b in self.bars), default=0.0), percent=self.percent)
        rows = []
        for index, bar in enumerate(self.bars):
            y = TOP + index * COMPACT_ROW
            rows.append(self._row(bar, top, COMPACT_PLOT_WIDTH, y=y, label=bar.label, text_y=y + 12, bar_y=y + 16,
                                  value_y=y + 27))  # fmt: skip
        axis_y = TOP + len(self.bars) * COMPACT_ROW + 2
        return self._frame(rows, top, width=COMPACT_WIDTH, plot_left=COMPACT_LEFT, plot_width=COMPACT_PLOT_WIDTH,
                           axis_y=axis_y, label_x=COMPACT_LEFT + 4, anchor="start", row_height=COMPACT_ROW)  # fmt: skip

    def _row(self, bar: Bar, top: float, plot_width: float, **where: Any) -> dict[str, Any]:
        width = max(0.0, bar.value) / top * plot_width
        return {**where, "width": round(width, 1), "text": bar.text, "group": bar.group,
                "hover": bar.hover or f"{bar.label}: {bar.text}"}  # fmt: skip

    def _frame(self, rows: list[dict[str, Any]], top: float, *, width: int, plot_left: int, plot_width: int,
               axis_y: int, label_x: int, anchor: str, row_height: int) -> dict[str, Any]:  # fmt: skip
        ticks = []
        for step in range(5):
            value = top * step / 4
            ticks.append(
                {
                    "x": round(plot_left + plot_width * step / 4, 1),
                    "label": f"{value * 100:.0f} %" if self.percent else _short(value),
                }
            )
        return {
            "rows": rows,
            "ticks": ticks,
            "width": width,
            "height": axis_y + AXIS,
            "row_height": row_height,
            "axis_y": axis_y,
            "tick_y": axis_y + 5,
            "tick_text_y": axis_y + 18,
            "plot_left": plot_left,
            "plot_right": plot_left + plot_width,
            "label_x": label_x,
            "anchor": anchor,
            "value_x": width - 2,
        }


def _nice_top(top: float, *, percent: bool) -> float:
    """The axis' end, four ticks from 0: 100 % for rates (further if one passes it), else the least four round
    steps (1, 2, 2.5 or 5 times a power of ten) reaching the largest value."""
    if percent:
        return max(1.0, math.ceil(top * 4) / 4)
    if top <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(top / 4))
    for step in (1, 2, 2.5, 5, 10):
        if 4 * step * magnitude >= top:
            return 4 * step * magnitude
    return 40 * magnitude


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
