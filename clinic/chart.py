"""The dashboard's trend chart: weekly counts in, a self-contained SVG line chart out.

Pure Python (standard library only), so it is tested without a database or a browser. The SVG
carries no script and no reference to anything outside itself; every piece of text in it is
escaped here. Each series has its own colour (Okabe–Ito, safe for colour-blind readers), its own
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
    """One line of the chart: which count it plots and how it is drawn."""

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
    ids = {name: f"{element_id}-{name}" for name in ("title", "desc")}
    plot_left, plot_right = LEFT, WIDTH - RIGHT
    plot_top, plot_bottom = TOP, HEIGHT - BOTTOM
    ticks = nice_ticks(max((getattr(w, s.attribute) for w in weeks for s in SERIES), default=0))
    top_value = ticks[-1]

    def y(value: int) -> float:
        return plot_bottom - (plot_bottom - plot_top) * value / top_value

    step = (plot_right - plot_left) / max(len(weeks), 1)

    def x(index: int) -> float:
        return plot_left + step * (index + 0.5)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id={_attr(element_id)} class="trend-chart" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f"aria-labelledby={_attr(ids['title'] + ' ' + ids['desc'])} "
        f'font-family="system-ui, sans-serif" font-size="12" fill="currentColor">',
        f"<title id={_attr(ids['title'])}>{_text(title_for(weeks))}</title>",
        f"<desc id={_attr(ids['desc'])}>{_text(describe(weeks))}</desc>",
    ]
    # Grid lines and the count axis.
    parts.append('<g class="y-axis" text-anchor="end">')
    for tick in ticks:
        ty = _n(y(tick))
        parts.append(
            f'<line x1="{plot_left}" x2="{plot_right}" y1="{ty}" y2="{ty}" stroke="currentColor" '
            f'stroke-opacity="{0.5 if tick == 0 else 0.15}"/>'
            f'<text x="{plot_left - 6}" y="{ty}" dy="0.32em">{tick}</text>'
        )
    middle = _n((plot_top + plot_bottom) / 2)
    parts.append(
        f'<text x="14" y="{middle}" text-anchor="middle" transform="rotate(-90 14 {middle})">'
        f"Appointments per week</text></g>"
    )
    # The week axis: every label while they fit, every other one (and so on) when they do not.
    every = max(1, math.ceil(len(weeks) / 13))
    parts.append('<g class="x-axis" text-anchor="middle">')
    for index, week in enumerate(weeks):
        if index % every and index != len(weeks) - 1:
            continue
        label = week_label(week.week_start) + ("*" if week.to_date else "")
        parts.append(f'<text x="{_n(x(index))}" y="{plot_bottom + 18}">{_text(label)}</text>')
    caption = "Week beginning (Monday)" + ("; * this week so far" if any(w.to_date for w in weeks) else "")
    parts.append(f'<text x="{_n((plot_left + plot_right) / 2)}" y="{HEIGHT - 10}">{_text(caption)}</text></g>')
    # The legend, above the plot.
    parts.append('<g class="legend">')
    legend_x = plot_left
    for series in SERIES:
        parts.append(
            f'<line x1="{legend_x}" x2="{legend_x + 28}" y1="16" y2="16" stroke="{series.colour}" '
            f'stroke-width="2.5"{_dash(series)}/>'
            f"{_marker(series, legend_x + 14, 16)}"
            f'<text x="{legend_x + 34}" y="16" dy="0.32em">{_text(series.label)}</text>'
        )
        legend_x += 48 + 7 * len(series.label)
    parts.append("</g>")
    # The lines, with a marker per week that names its value on hover.
    for series in SERIES:
        points = [(x(index), y(getattr(week, series.attribute))) for index, week in enumerate(weeks)]
        parts.append(f'<g class="series" data-series={_attr(series.attribute)}>')
        if len(points) > 1:
            path = " ".join(f"{_n(px)},{_n(py)}" for px, py in points)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{series.colour}" stroke-width="2.5" '
                f'stroke-linejoin="round"{_dash(series)}/>'
            )
        for (px, py), week in zip(points, weeks, strict=True):
            value = getattr(week, series.attribute)
            tip = f"{series.label}, {long_week_label(week)}: {value}"
            parts.append(f"<g>{_marker(series, px, py)}<title>{_text(tip)}</title></g>")
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def _marker(series: Series, cx: float, cy: float) -> str:
    paint = f'fill="{series.colour}" stroke="white" stroke-width="1"'
    if series.marker == "square":
        return f'<rect x="{_n(cx - 4)}" y="{_n(cy - 4)}" width="8" height="8" {paint}/>'
    if series.marker == "triangle":
        corners = ((cx, cy - 5.5), (cx + 5, cy + 4), (cx - 5, cy + 4))
        return f'<polygon points="{" ".join(f"{_n(a)},{_n(b)}" for a, b in corners)}" {paint}/>'
    return f'<circle cx="{_n(cx)}" cy="{_n(cy)}" r="4.5" {paint}/>'


def _dash(series: Series) -> str:
    return f' stroke-dasharray="{series.dash}"' if series.dash else ""


def _n(value: float) -> str:
    """Return a coordinate with at most one decimal, as SVG reads it."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _text(value: str) -> str:
    return escape(value, quote=False)


def _attr(value: str) -> str:
    return f'"{escape(value, quote=True)}"'
