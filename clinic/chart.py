"""Line charts drawn on the server: plain numbers in, a self-contained SVG out.

One renderer (`draw`, for a `Plot`) serves every chart of NovaMind: the dashboard's twelve weeks
of visits (`render_svg`, from `WeekCounts`) and a patient's questionnaire scores over time
(`clinic.measures`), which add what a score chart needs: bands of values shaded behind the
lines (the severity bands), points drawn in their own shape where they mean something (a
response, a remission), and dated markers across the plot (a plan's start).

Pure Python (standard library only), so it is tested without a database or a browser. The SVG
carries no script and no reference to anything outside itself; every piece of text in it is
escaped here. Each line has its own colour (Okabe–Ito, safe for colour-blind readers), its own
line pattern and its own marker shape, so it can be told apart without colour; `<title>` and
`<desc>` give screen readers the chart's subject and its totals, and the page beside it carries
the same numbers as a table.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import math
from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT = 760, 300
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 44, 58  # margins around the plot area
MARKERS = ("circle", "square", "triangle", "diamond")


# --- A chart in general ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Point:
    """One value of a line: where it sits across the plot (0 to 1), its value, what hovering it says.

    `marker` draws it in another shape than its line's (a score that is a response, a remission).
    """

    x: float
    y: float
    tip: str
    marker: str = ""


@dataclasses.dataclass(frozen=True)
class Line:
    """One series of the chart and how it is drawn."""

    key: str  # the group's data-series
    label: str
    colour: str
    dash: str  # stroke-dasharray; "" for a solid line
    marker: str  # one of MARKERS
    points: tuple[Point, ...]


@dataclasses.dataclass(frozen=True)
class Shade:
    """A band of values shaded behind the lines, named at the plot's right edge."""

    low: float
    high: float
    label: str
    opacity: float


@dataclasses.dataclass(frozen=True)
class Rule:
    """A dated event drawn across the plot: a dashed vertical line with its label."""

    x: float
    label: str


@dataclasses.dataclass(frozen=True)
class Key:
    """A legend entry for a marker that is not a line (a response, a remission)."""

    marker: str
    colour: str
    label: str


@dataclasses.dataclass(frozen=True)
class Plot:
    """Everything a chart shows, in plain values."""

    title: str
    description: str
    y_label: str
    x_caption: str
    x_labels: tuple[tuple[float, str], ...]  # (position 0 to 1, label)
    y_ticks: tuple[int, ...]  # from 0 up to the top of the plot
    lines: tuple[Line, ...]
    shades: tuple[Shade, ...] = ()
    rules: tuple[Rule, ...] = ()
    keys: tuple[Key, ...] = ()
    css_class: str = "trend-chart"
    right: int = RIGHT  # the right margin: wider when shaded bands are named there


def draw(plot: Plot, *, element_id: str) -> str:
    """Return `plot` as an inline SVG document fragment."""
    ids = {name: f"{element_id}-{name}" for name in ("title", "desc")}
    plot_left, plot_right = LEFT, WIDTH - plot.right
    plot_top, plot_bottom = TOP, HEIGHT - BOTTOM
    top_value = plot.y_ticks[-1] if plot.y_ticks and plot.y_ticks[-1] > 0 else 1

    def y(value: float) -> float:
        return plot_bottom - (plot_bottom - plot_top) * min(max(value, 0), top_value) / top_value

    def x(position: float) -> float:
        return plot_left + (plot_right - plot_left) * position

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id={_attr(element_id)} class={_attr(plot.css_class)} '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f"aria-labelledby={_attr(ids['title'] + ' ' + ids['desc'])} "
        f'font-family="system-ui, sans-serif" font-size="12" fill="currentColor">',
        f"<title id={_attr(ids['title'])}>{_text(plot.title)}</title>",
        f"<desc id={_attr(ids['desc'])}>{_text(plot.description)}</desc>",
    ]
    # Shaded bands first, behind everything else; each named at the right edge of the plot.
    if plot.shades:
        parts.append('<g class="bands">')
        for shade in plot.shades:
            band_top, band_bottom = y(shade.high), y(shade.low)
            parts.append(
                f'<rect x="{plot_left}" y="{_n(band_top)}" width="{_n(plot_right - plot_left)}" '
                f'height="{_n(band_bottom - band_top)}" fill="#D55E00" fill-opacity="{shade.opacity:.2f}"/>'
                f'<text x="{plot_right + 6}" y="{_n((band_top + band_bottom) / 2)}" dy="0.32em" '
                f'font-size="11">{_text(shade.label)}</text>'
            )
        parts.append("</g>")
    # Grid lines and the value axis.
    parts.append('<g class="y-axis" text-anchor="end">')
    for tick in plot.y_ticks:
        ty = _n(y(tick))
        parts.append(
            f'<line x1="{plot_left}" x2="{plot_right}" y1="{ty}" y2="{ty}" stroke="currentColor" '
            f'stroke-opacity="{0.5 if tick == 0 else 0.15}"/>'
            f'<text x="{plot_left - 6}" y="{ty}" dy="0.32em">{tick}</text>'
        )
    middle = _n((plot_top + plot_bottom) / 2)
    parts.append(
        f'<text x="14" y="{middle}" text-anchor="middle" transform="rotate(-90 14 {middle})">'
        f"{_text(plot.y_label)}</text></g>"
    )
    # The time axis.
    parts.append('<g class="x-axis" text-anchor="middle">')
    for position, label in plot.x_labels:
        parts.append(f'<text x="{_n(x(position))}" y="{plot_bottom + 18}">{_text(label)}</text>')
    parts.append(f'<text x="{_n((plot_left + plot_right) / 2)}" y="{HEIGHT - 10}">{_text(plot.x_caption)}</text></g>')
    # Dated events across the plot.
    if plot.rules:
        parts.append('<g class="markers">')
        for rule in plot.rules:
            rx = _n(x(rule.x))
            parts.append(
                f'<line x1="{rx}" x2="{rx}" y1="{plot_top}" y2="{plot_bottom}" stroke="currentColor" '
                f'stroke-width="1.5" stroke-dasharray="4 3"/>'
                f'<text x="{rx}" y="{plot_top - 4}" text-anchor="middle" font-size="11">{_text(rule.label)}</text>'
            )
        parts.append("</g>")
    # The legend, above the plot.
    parts.append('<g class="legend">')
    legend_x = plot_left
    for line in plot.lines:
        parts.append(
            f'<line x1="{legend_x}" x2="{legend_x + 28}" y1="16" y2="16" stroke="{line.colour}" '
            f'stroke-width="2.5"{_dash(line.dash)}/>'
            f"{_marker(line.marker, line.colour, legend_x + 14, 16)}"
            f'<text x="{legend_x + 34}" y="16" dy="0.32em">{_text(line.label)}</text>'
        )
        legend_x += 48 + 7 * len(line.label)
    for key in plot.keys:
        parts.append(
            f"{_marker(key.marker, key.colour, legend_x + 6, 16)}"
            f'<text x="{legend_x + 16}" y="16" dy="0.32em">{_text(key.label)}</text>'
        )
        legend_x += 30 + 7 * len(key.label)
    parts.append("</g>")
    # The lines, with a marker per value that names it on hover.
    for line in plot.lines:
        points = [(x(point.x), y(point.y)) for point in line.points]
        parts.append(f'<g class="series" data-series={_attr(line.key)}>')
        if len(points) > 1:
            path = " ".join(f"{_n(px)},{_n(py)}" for px, py in points)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{line.colour}" stroke-width="2.5" '
                f'stroke-linejoin="round"{_dash(line.dash)}/>'
            )
        for (px, py), point in zip(points, line.points, strict=True):
            marker = _marker(point.marker or line.marker, line.colour, px, py)
            parts.append(f"<g>{marker}<title>{_text(point.tip)}</title></g>")
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def nice_ticks(largest: int, *, most: int = 6) -> list[int]:
    """Return evenly spaced whole-number ticks from 0 that reach at least `largest` (1-2-5 steps)."""
    if largest < 0:
        raise ValueError("Counts cannot be negative.")
    target = max(largest, 1)
    for power in itertools.count():
        step = next((f * 10**power for f in (1, 2, 5) if math.ceil(target / (f * 10**power)) <= most - 1), None)
        if step is not None:
            break
    top = step * math.ceil(target / step)
    return list(range(0, top + 1, step))


def every_nth(count: int, *, most: int = 13) -> set[int]:
    """Return the indexes of `count` evenly spaced labels to draw: all while they fit, else every other one (and so on) and the last."""
    every = max(1, math.ceil(count / most))
    return {index for index in range(count) if index % every == 0 or index == count - 1}


def day_positions(days: Sequence[dt.date], *, margin: float = 0.04) -> list[float]:
    """Return where each day sits across a plot (0 to 1), in proportion to the time between them.

    The first and last day sit `margin` inside the plot; a single day sits in the middle.
    """
    if not days:
        return []
    first, last = min(days), max(days)
    span = (last - first).days
    if span == 0:
        return [0.5 for _ in days]
    return [margin + (1 - 2 * margin) * (day - first).days / span for day in days]


# --- The dashboard's twelve weeks --------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class WeekCounts:
    """What became of the appointments that started in one week (Monday to Sunday, clinic time)."""

    week_start: dt.date
    visits: int = 0
    late_cancellations: int = 0
    no_shows: int = 0
    to_date: bool = False  # the current week, counted so far


@dataclasses.dataclass(frozen=True)
class Series:
    """One line of the weekly chart: which count it plots and how it is drawn."""

    attribute: str
    label: str
    colour: str
    dash: str  # stroke-dasharray; "" for a solid line
    marker: str  # "circle", "square" or "triangle"


SERIES = (
    Series("visits", "Visits (completed)", "#0072B2", "", "circle"),
    Series("late_cancellations", "Late cancellations", "#E69F00", "7 4", "square"),
    Series("no_shows", "No-shows", "#D55E00", "2 3", "triangle"),
)


def week_label(day: dt.date) -> str:
    """Return "3 Mar", how a week is named on the axis."""
    return f"{day.day} {day:%b}"


def long_week_label(week: WeekCounts) -> str:
    """Return "week of 3 Mar 2025" (and "so far" for the current week)."""
    text = f"week of {week.week_start.day} {week.week_start:%b %Y}"
    return f"{text} (so far)" if week.to_date else text


def describe(weeks: Sequence[WeekCounts]) -> str:
    """Return one sentence of totals, for the chart's <desc> and for readers of the page."""
    if not weeks:
        return "No weeks to show."
    totals = [sum(getattr(week, series.attribute) for week in weeks) for series in SERIES]
    first, last = weeks[0], weeks[-1]
    latest = weeks[-2] if last.to_date and len(weeks) > 1 else last
    return (
        f"From the {long_week_label(first)} to the {long_week_label(last)}: {_counts(*totals)} in all. "
        f"In the {long_week_label(latest)}: "
        f"{_counts(latest.visits, latest.late_cancellations, latest.no_shows)}."
    )


def _counts(visits: int, late_cancellations: int, no_shows: int) -> str:
    """Return "3 visits, 1 late cancellation and 0 no-shows"."""

    def count(number: int, noun: str) -> str:
        return f"{number} {noun}" if number == 1 else f"{number} {noun}s"

    return (
        f"{count(visits, 'visit')}, {count(late_cancellations, 'late cancellation')} and {count(no_shows, 'no-show')}"
    )


def title_for(weeks: Sequence[WeekCounts]) -> str:
    """Return the chart's title, naming the span of weeks it covers."""
    if not weeks:
        return "Visits, late cancellations and no-shows per week"
    first, last = weeks[0].week_start, weeks[-1].week_start
    return (
        f"Visits, late cancellations and no-shows per week, {len(weeks)} weeks from "
        f"{first.day} {first:%b %Y} to the week of {last.day} {last:%b %Y}"
    )


def render_svg(weeks: Sequence[WeekCounts], *, element_id: str = "trend-chart") -> str:
    """Return the chart of `weeks` (oldest first) as an inline SVG document fragment."""
    weeks = list(weeks)
    count = max(len(weeks), 1)

    def position(index: int) -> float:
        return (index + 0.5) / count

    shown = every_nth(len(weeks))
    lines = tuple(
        Line(
            key=series.attribute,
            label=series.label,
            colour=series.colour,
            dash=series.dash,
            marker=series.marker,
            points=tuple(
                Point(
                    x=position(index),
                    y=getattr(week, series.attribute),
                    tip=f"{series.label}, {long_week_label(week)}: {getattr(week, series.attribute)}",
                )
                for index, week in enumerate(weeks)
            ),
        )
        for series in SERIES
    )
    plot = Plot(
        title=title_for(weeks),
        description=describe(weeks),
        y_label="Appointments per week",
        x_caption="Week beginning (Monday)" + ("; * this week so far" if any(w.to_date for w in weeks) else ""),
        x_labels=tuple(
            (position(index), week_label(week.week_start) + ("*" if week.to_date else ""))
            for index, week in enumerate(weeks)
            if index in shown
        ),
        y_ticks=tuple(nice_ticks(max((getattr(w, s.attribute) for w in weeks for s in SERIES), default=0))),
        lines=lines,
    )
    return draw(plot, element_id=element_id)


# --- drawing ---------------------------------------------------------------------------------------


def _marker(shape: str, colour: str, cx: float, cy: float) -> str:
    paint = f'fill="{colour}" stroke="white" stroke-width="1"'
    if shape == "square":
        return f'<rect x="{_n(cx - 4)}" y="{_n(cy - 4)}" width="8" height="8" {paint}/>'
    if shape == "triangle":
        corners = ((cx, cy - 5.5), (cx + 5, cy + 4), (cx - 5, cy + 4))
        return f'<polygon points="{" ".join(f"{_n(a)},{_n(b)}" for a, b in corners)}" {paint}/>'
    if shape == "diamond":
        corners = ((cx, cy - 6.5), (cx + 6.5, cy), (cx, cy + 6.5), (cx - 6.5, cy))
        return f'<polygon points="{" ".join(f"{_n(a)},{_n(b)}" for a, b in corners)}" {paint}/>'
    return f'<circle cx="{_n(cx)}" cy="{_n(cy)}" r="4.5" {paint}/>'


def _dash(dash: str) -> str:
    return f' stroke-dasharray="{dash}"' if dash else ""


def _n(value: float) -> str:
    """Return a coordinate with at most one decimal, as SVG reads it."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _text(value: str) -> str:
    return escape(value, quote=False)


def _attr(value: str) -> str:
    return f'"{escape(value, quote=True)}"'
