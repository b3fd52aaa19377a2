"""The load test's tables, in Markdown: the stages, each request type's latencies, and the ratios."""

from __future__ import annotations


def _ms(value: float) -> str:
    return f"{value:.0f}"


def render(stages: list, *, users: list[int], workers: list[int], duration: int) -> str:
    """Return the tables of a run: stages, per request type per worker count, throughput ratios."""
    lines = [
        f"Each stage: {duration} s. Throughput excludes sign-in (once per user, at the start).",
        "",
        "| workers | users | requests/s | errors | bookings acknowledged | bookings stored |",
        "|---|---|---|---|---|---|",
    ]
    by_key = {(stage.workers, stage.users): stage for stage in stages}
    for stage in stages:
        lines.append(
            f"| {stage.workers} | {stage.users} | {stage.throughput:.1f} | {stage.errors} | "
            f"{stage.acknowledged} | {stage.stored} |"
        )
    low, high = min(users), max(users)
    for count in workers:
        lines += [
            "",
            f"{count} worker(s): p50 / p95 / p99 in ms (errors), and p95 at {high} users ÷ p95 at {low} user(s)",
            "",
            "| request | " + " | ".join(f"{level} users" for level in users) + f" | p95 {high}u ÷ {low}u |",
            "|---|" + "---|" * (len(users) + 1),
        ]
        names = sorted({row.name for level in users if (count, level) in by_key for row in by_key[count, level].work})
        for name in names:
            cells = []
            for level in users:
                row = by_key.get((count, level)) and by_key[count, level].rows.get(name)
                cells.append(f"{_ms(row.p50)} / {_ms(row.p95)} / {_ms(row.p99)} ({row.failures})" if row else "–")
            first = by_key.get((count, low)) and by_key[count, low].rows.get(name)
            last = by_key.get((count, high)) and by_key[count, high].rows.get(name)
            ratio = f"{last.p95 / first.p95:.1f}x" if first and last and first.p95 else "–"
            lines.append(f"| {name} | " + " | ".join(cells) + f" | {ratio} |")
    if len(workers) > 1:
        few, many = min(workers), max(workers)
        lines += ["", f"| users | throughput {many} workers ÷ {few} worker(s) |", "|---|---|"]
        for level in users:
            a, b = by_key.get((few, level)), by_key.get((many, level))
            ratio = f"{b.throughput / a.throughput:.2f}x" if a and b and a.throughput else "–"
            lines.append(f"| {level} | {ratio} |")
    return "\n".join(lines)
