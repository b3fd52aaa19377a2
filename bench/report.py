"""One benchmark row (figure, control, ratio, target, verdict), the printed table and the JSON.

A row's verdict is decided here, from its target, so that every row is judged the same way:
"pass" or "FAIL" against the target; "n/a" when the thing measured does not exist in this
checkout (a command not written yet), which the run reports as incomplete, never as a figure.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
from collections.abc import Callable, Sequence

PASS, FAIL, NOT_AVAILABLE = "pass", "FAIL", "n/a"


@dataclasses.dataclass(frozen=True)
class Target:
    """What a row must achieve: `ratio <= limit`, `ratio >= limit`, or equal counts; plus a memory cap."""

    kind: str  # "at most", "at least", "equal", "memory"
    limit: float | None = None
    rss_limit_mb: float | None = None

    def text(self) -> str:
        """Return the target as the table shows it."""
        parts = []
        if self.kind == "at most":
            parts.append(f"≤ {self.limit:g}x")
        elif self.kind == "at least":
            parts.append(f"≥ {self.limit:.0%} of limit")
        elif self.kind == "equal":
            parts.append("same count")
        if self.rss_limit_mb is not None:
            parts.append(f"RSS ≤ {self.rss_limit_mb:g} MB")
        return "; ".join(parts)

    def met(self, ratio: float | None, rss_mb: float | None) -> bool:
        """Return whether `ratio` (and the peak RSS, if capped) meet the target."""
        if self.kind == "at most" and not (ratio is not None and ratio <= self.limit):
            return False
        if self.kind == "at least" and not (ratio is not None and ratio >= self.limit):
            return False
        if self.kind == "equal" and ratio != 1:
            return False
        if self.rss_limit_mb is not None and not (rss_mb is not None and rss_mb <= self.rss_limit_mb):
            return False
        return True


def at_most(limit: float) -> Target:
    """Return the target "the figure is at most `limit` times the control"."""
    return Target("at most", limit)


def at_least(limit: float, *, rss_limit_mb: float | None = None) -> Target:
    """Return the target "the throughput is at least `limit` of the control's limit"."""
    return Target("at least", limit, rss_limit_mb)


def same_count() -> Target:
    """Return the target "the figure and the control are the same count"."""
    return Target("equal")


def memory(rss_limit_mb: float) -> Target:
    """Return the target "peak RSS at most `rss_limit_mb`"."""
    return Target("memory", rss_limit_mb=rss_limit_mb)


@dataclasses.dataclass
class Row:
    """One line of the table."""

    key: str
    measure: str
    control_label: str
    unit: str
    target: Target
    figure: float | None = None
    control: float | None = None
    ratio: float | None = None
    rss_mb: float | None = None
    verdict: str = NOT_AVAILABLE
    note: str = ""
    detail: dict = dataclasses.field(default_factory=dict)

    def as_json(self) -> dict:
        """Return the row as a JSON-ready dict."""
        data = dataclasses.asdict(self)
        data["target"] = self.target.text()
        return data


def judged(
    key: str,
    measure: str,
    control_label: str,
    unit: str,
    target: Target,
    *,
    figure: float,
    control: float,
    ratio: float | None = None,
    rss_mb: float | None = None,
    note: str = "",
    detail: dict | None = None,
) -> Row:
    """Return a measured row with its ratio (figure / control unless given) and its verdict."""
    if ratio is None:
        ratio = figure / control if control else None
    if target.kind == "equal":
        ratio = 1 if figure == control else (figure / control if control else None)
    return Row(
        key=key,
        measure=measure,
        control_label=control_label,
        unit=unit,
        target=target,
        figure=figure,
        control=control,
        ratio=ratio,
        rss_mb=rss_mb,
        verdict=PASS if target.met(ratio, rss_mb) else FAIL,
        note=note,
        detail=detail or {},
    )


def not_available(key: str, measure: str, control_label: str, unit: str, target: Target, why: str) -> Row:
    """Return a row that could not be measured in this checkout, saying why."""
    return Row(
        key=key, measure=measure, control_label=control_label, unit=unit, target=target, verdict=NOT_AVAILABLE, note=why
    )


def median(values: Sequence[float]) -> float:
    """Return the median of `values`."""
    return statistics.median(values)


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit in ("queries", "rows", "values"):
        return f"{value:,.0f} {unit}"
    if unit == "ms":
        return f"{value:,.2f} ms" if value < 100 else f"{value:,.0f} ms"
    if unit in ("rows/s", "values/s"):
        return f"{value:,.0f} {unit}"
    if unit == "MB":
        return f"{value:,.0f} MB"
    return f"{value:,.3g} {unit}"


def _ratio(row: Row) -> str:
    if row.ratio is None:
        return "—"
    if row.target.kind == "at least":
        return f"{row.ratio:.0%}"
    return f"{row.ratio:.2f}x"


def table(rows: Sequence[Row]) -> str:
    """Return the rows as a Markdown table (what is printed, and pasted into the README)."""
    header = ("measure", "figure", "control (same run)", "control", "ratio", "target", "result")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        figure = _number(row.figure, row.unit)
        if row.rss_mb is not None and row.unit != "MB":
            figure += f"; peak RSS {row.rss_mb:,.0f} MB"
        cells = (
            row.measure,
            figure,
            row.control_label,
            _number(row.control, row.unit),
            _ratio(row),
            row.target.text(),
            row.verdict + (f" ({row.note})" if row.note and row.verdict != PASS else ""),
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary(rows: Sequence[Row]) -> tuple[int, str]:
    """Return the exit status and the closing line: 0 when every row passed, 1 otherwise."""
    failed = [row.key for row in rows if row.verdict == FAIL]
    missing = [row.key for row in rows if row.verdict == NOT_AVAILABLE]
    if not failed and not missing:
        return 0, f"All {len(rows)} rows met their targets."
    parts = []
    if failed:
        parts.append(f"{len(failed)} missed their target ({', '.join(failed)})")
    if missing:
        parts.append(f"{len(missing)} NOT AVAILABLE in this checkout ({', '.join(missing)}): the run is incomplete")
    text = "; ".join(parts)
    return 1, text[0].upper() + text[1:] + "."


def write_json(path, report: dict, default: Callable = str) -> None:
    """Write the report to `path` as indented JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=default, ensure_ascii=False) + "\n", encoding="utf-8")
