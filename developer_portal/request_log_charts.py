"""The usage page's charts as geometry: bars, polylines and axis labels in an SVG viewBox,
computed here (pure, no Flask) and drawn by portal/usage_chart.html as inline SVG, with CSS
classes only (the pages' CSP forbids inline styles and scripts): calls per day (errors in
red on top of the successful calls), the error rate per day, and the latency percentiles.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from .request_log import DayUsage, Usage

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 14, 28      # the plot's margins inside the viewBox
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
GRID_LINES = 4


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str


@dataclass(frozen=True)
class Line:
    css: str
    label: str
    points: str                     # "x,y x,y ..." for <polyline points>


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str


@dataclass(frozen=True)
class Chart:
    title: str
    description: str
    bars: list[Bar] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    x_labels: list[Label] = field(default_factory=list)
    y_labels: list[Label] = field(default_factory=list)
    grid: list[float] = field(default_factory=list)     # y of each horizontal grid line
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    bottom: int = HEIGHT - BOTTOM


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is at least `value` (> 0)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value - 1e-12:
            return step * power
    return 10 * power


def _slot(index: int, days: int) -> tuple[float, float]:
    """The x of the day's slot and its width."""
    width = PLOT_W / days
    return LEFT + index * width, width


def _y(value: float, top: float) -> float:
    return TOP + PLOT_H * (1 - value / top)


def _axes(days: list[DayUsage], top: float, fmt) -> tuple[list[Label], list[Label],
                                                          list[float]]:
    x_labels = []
    for i, day in enumerate(days):
        if i % 2 == len(days) % 2 or i == len(days) - 1:   # every other day, and today
            x, width = _slot(i, len(days))
            x_labels.append(Label(round(x + width / 2, 1), HEIGHT - 10,
                                  day.day.strftime("%d %b")))
    values = [top * n / GRID_LINES for n in range(GRID_LINES + 1)]
    grid = [round(_y(v, top), 1) for v in values]
    y_labels = [Label(LEFT - 6, round(_y(v, top) + 4, 1), fmt(v)) for v in values]
    return x_labels, y_labels, grid


def _count(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


def _percent(value: float) -> str:
    return f"{value * 100:.0f}%" if value * 100 == int(value * 100) else f"{value * 100:.1f}%"


def _ms(value: float) -> str:
    return f"{value:,.0f} ms" if value >= 10 or value == int(value) else f"{value:.1f} ms"


def calls_chart(usage: Usage) -> Chart:
    days = usage.days
    top = nice_ceiling(max((d.calls for d in days), default=0))
    bars = []
    for i, day in enumerate(days):
        if not day.calls:
            continue
        x, width = _slot(i, len(days))
        x, width = round(x + width * 0.15, 1), round(width * 0.7, 1)
        ok = day.calls - day.errors
        label = f"{day.day:%d %b}: {day.calls} calls, {day.errors} errors"
        if ok:
            y = _y(ok, top)
            bars.append(Bar(x, round(y, 1), width, round(TOP + PLOT_H - y, 1), "bar", label))
        if day.errors:
            y_top, y_bottom = _y(day.calls, top), _y(ok, top)
            bars.append(Bar(x, round(y_top, 1), width, round(y_bottom - y_top, 1), "bar bad",
                            label))
    x_labels, y_labels, grid = _axes(days, top, _count)
    return Chart("Calls per day", f"{usage.calls} calls in {len(days)} days, of which "
                 f"{usage.errors} failed (status 400 or above, in red).",
                 bars=bars, x_labels=x_labels, y_labels=y_labels, grid=grid)


def error_rate_chart(usage: Usage) -> Chart:
    days = usage.days
    top = min(1.0, nice_ceiling(max((d.error_rate for d in days), default=0) or 0.01))
    bars = []
    for i, day in enumerate(days):
        if not day.errors:
            continue
        x, width = _slot(i, len(days))
        y = _y(day.error_rate, top)
        bars.append(Bar(round(x + width * 0.15, 1), round(y, 1), round(width * 0.7, 1),
                        round(TOP + PLOT_H - y, 1), "bar bad",
                        f"{day.day:%d %b}: {_percent(day.error_rate)} of {day.calls} calls"))
    x_labels, y_labels, grid = _axes(days, top, _percent)
    return Chart("Error rate per day", f"The share of calls that failed each day; "
                 f"{_percent(usage.error_rate)} over the {len(days)} days.",
                 bars=bars, x_labels=x_labels, y_labels=y_labels, grid=grid)


def latency_chart(usage: Usage) -> Chart:
    days = usage.days
    top = nice_ceiling(max((d.p99 or 0 for d in days), default=0) or 1)
    lines = []
    for css, label, attr in (("line", "p50", "p50"), ("line p95", "p95", "p95"),
                             ("line p99", "p99", "p99")):
        points = []
        for i, day in enumerate(days):
            value = getattr(day, attr)
            if value is None:
                continue
            x, width = _slot(i, len(days))
            points.append(f"{x + width / 2:.1f},{_y(value, top):.1f}")
        if points:
            if len(points) == 1:     # one day: a short flat stroke, so that it shows
                x, y = (float(v) for v in points[0].split(","))
                points = [f"{x - 4:.1f},{y:.1f}", f"{x + 4:.1f},{y:.1f}"]
            lines.append(Line(css, label, " ".join(points)))
    x_labels, y_labels, grid = _axes(days, top, _ms)
    return Chart("Latency per day", "The 50th, 95th and 99th percentiles of the time the bank "
                 "took to answer (days without calls are left out).",
                 lines=lines, x_labels=x_labels, y_labels=y_labels, grid=grid)


def charts(usage: Usage) -> list[Chart]:
    return [calls_chart(usage), error_rate_chart(usage), latency_chart(usage)]
