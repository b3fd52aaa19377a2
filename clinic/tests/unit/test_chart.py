"""The dashboard's trend chart, on plain weekly counts: well-formed, self-contained, accessible SVG."""

import datetime as dt
import re
import xml.etree.ElementTree as ET

import pytest

from clinic import chart
from clinic.chart import WeekCounts

SVG = "{http://www.w3.org/2000/svg}"
FIRST_MONDAY = dt.date(2024, 12, 16)  # the twelve weeks cross a year end


def twelve_weeks(overrides=None):
    """Return twelve weeks of varied counts; `overrides` maps a week index to its counts."""
    overrides = overrides or {}
    weeks = []
    for index in range(12):
        counts = dict(visits=20 + index, late_cancellations=index % 3, no_shows=(index * 7) % 4)
        counts.update(overrides.get(index, {}))
        weeks.append(WeekCounts(week_start=FIRST_MONDAY + dt.timedelta(weeks=index), to_date=index == 11, **counts))
    return weeks


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def texts(root: ET.Element) -> list[str]:
    return ["".join(element.itertext()) for element in root.iter(f"{SVG}text")]


def marker_titles(root: ET.Element) -> list[str]:
    return [group.find(f"{SVG}title").text for group in root.iter(f"{SVG}g") if group.find(f"{SVG}title") is not None]


def test_the_chart_is_well_formed_svg_with_no_script_and_nothing_from_outside():
    svg = chart.render_svg(twelve_weeks())
    root = parse(svg)
    assert root.tag == f"{SVG}svg"
    assert not [element for element in root.iter() if element.tag.lower().endswith("script")]
    assert "<script" not in svg.lower() and "javascript:" not in svg.lower()
    assert not [name for element in root.iter() for name in element.attrib if name.lower().startswith("on")]
    # No links, images or styles that would fetch anything: the only URL is the namespace itself.
    assert not [
        element for element in root.iter() if element.tag in (f"{SVG}image", f"{SVG}use", f"{SVG}a", f"{SVG}style")
    ]
    assert re.findall(r"https?://[^\"']+", svg) == ["http://www.w3.org/2000/svg"]


def test_the_chart_names_itself_for_screen_readers():
    root = parse(chart.render_svg(twelve_weeks(), element_id="chart"))
    assert root.get("role") == "img"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert root.get("aria-labelledby").split() == [title.get("id"), desc.get("id")] == ["chart-title", "chart-desc"]
    assert title.text.startswith("Visits, late cancellations and no-shows per week, 12 weeks from 16 Dec 2024")
    totals = twelve_weeks()
    visits = sum(week.visits for week in totals)
    late = sum(week.late_cancellations for week in totals)
    missed = sum(week.no_shows for week in totals)
    assert f"{visits} visits, {late} late cancellations and {missed} no-shows in all" in desc.text
    # The latest full week is the one before the current (partial) week.
    assert f"week of 24 Feb 2025: {totals[10].visits} visits" in desc.text


def test_the_chart_has_axis_labels_a_legend_and_a_label_per_week():
    root = parse(chart.render_svg(twelve_weeks()))
    words = texts(root)
    for label in ("Visits (completed)", "Late cancellations", "No-shows", "Appointments per week"):
        assert label in words
    assert "Week beginning (Monday); * this week so far" in words
    week_labels = [f"{day.day} {day:%b}" for day in (FIRST_MONDAY + dt.timedelta(weeks=i) for i in range(12))]
    week_labels[-1] += "*"
    assert [word for word in words if word in week_labels] == week_labels
    assert [word for word in words if word.isdigit()] == ["0", "10", "20", "30", "40"]


def test_every_week_of_every_series_is_plotted_and_named_with_its_value():
    weeks = twelve_weeks({3: dict(visits=42, late_cancellations=5, no_shows=2)})
    root = parse(chart.render_svg(weeks))
    series = {group.get("data-series"): group for group in root.iter(f"{SVG}g") if group.get("data-series")}
    assert set(series) == {"visits", "late_cancellations", "no_shows"}
    for group in series.values():
        points = group.find(f"{SVG}polyline").get("points").split()
        assert len(points) == 12
    titles = marker_titles(root)
    assert "Visits (completed), week of 6 Jan 2025: 42" in titles
    assert "Late cancellations, week of 6 Jan 2025: 5" in titles
    assert "No-shows, week of 6 Jan 2025: 2" in titles
    assert "Visits (completed), week of 3 Mar 2025 (so far): 31" in titles
    assert len(titles) == 36


def test_heights_are_proportional_to_the_counts():
    weeks = [WeekCounts(week_start=FIRST_MONDAY + dt.timedelta(weeks=i), visits=v) for i, v in enumerate((0, 25, 50))]
    root = parse(chart.render_svg(weeks))
    visits = next(g for g in root.iter(f"{SVG}g") if g.get("data-series") == "visits")
    ys = [float(point.split(",")[1]) for point in visits.find(f"{SVG}polyline").get("points").split()]
    baseline = chart.HEIGHT - chart.BOTTOM
    assert ys[0] == baseline
    assert ys[2] == chart.TOP  # 50 is the top tick
    assert ys[1] == pytest.approx((ys[0] + ys[2]) / 2)
    xs = [float(point.split(",")[0]) for point in visits.find(f"{SVG}polyline").get("points").split()]
    assert xs[0] < xs[1] < xs[2] and xs[1] - xs[0] == pytest.approx(xs[2] - xs[1])


def test_weeks_with_nothing_still_draw_an_empty_chart():
    weeks = [WeekCounts(week_start=FIRST_MONDAY + dt.timedelta(weeks=i)) for i in range(12)]
    root = parse(chart.render_svg(weeks))
    assert "0 visits, 0 late cancellations and 0 no-shows in all" in root.find(f"{SVG}desc").text
    assert [word for word in texts(root) if word.isdigit()] == ["0", "1"]


def test_a_single_week_and_no_weeks_render():
    one = parse(chart.render_svg([WeekCounts(week_start=FIRST_MONDAY, visits=3)]))
    assert one.find(f".//{SVG}polyline") is None and len(marker_titles(one)) == 3
    none = parse(chart.render_svg([]))
    assert none.find(f"{SVG}desc").text == "No weeks to show."


def test_text_that_reaches_the_chart_is_escaped():
    svg = chart.render_svg(twelve_weeks(), element_id='x" onload="alert(1)"><script>alert(2)</script>')
    root = parse(svg)
    assert not [element for element in root.iter() if element.tag.lower().endswith("script")]
    assert root.get("onload") is None
    assert root.get("id") == 'x" onload="alert(1)"><script>alert(2)</script>'


def test_many_weeks_label_every_other_week_and_the_last():
    weeks = [WeekCounts(week_start=FIRST_MONDAY + dt.timedelta(weeks=i), visits=i) for i in range(26)]
    root = parse(chart.render_svg(weeks))
    x_axis = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "x-axis")
    labels = [t.text for t in x_axis.iter(f"{SVG}text")][:-1]  # the last text is the axis caption
    assert len(labels) == 14
    assert labels[0] == "16 Dec" and labels[-1] == f"{weeks[-1].week_start.day} {weeks[-1].week_start:%b}"


@pytest.mark.parametrize("largest", [0, 1, 4, 5, 6, 7, 9, 10, 11, 42, 59, 99, 100, 101, 999, 12345])
def test_ticks_start_at_zero_are_even_and_reach_the_largest_count(largest):
    ticks = chart.nice_ticks(largest)
    steps = {b - a for a, b in zip(ticks, ticks[1:], strict=False)}
    assert ticks[0] == 0 and ticks[-1] >= largest and len(steps) == 1
    step = steps.pop()
    assert 2 <= len(ticks) <= 6
    assert ticks[-1] - step < max(largest, 1)  # no empty band at the top
    assert str(step).strip("0") in {"1", "2", "5"}


def test_negative_counts_are_refused():
    with pytest.raises(ValueError):
        chart.nice_ticks(-1)


def test_the_summary_counts_in_words():
    weeks = [
        WeekCounts(week_start=FIRST_MONDAY, visits=1, late_cancellations=1, no_shows=1),
        WeekCounts(week_start=FIRST_MONDAY + dt.timedelta(weeks=1), visits=2, no_shows=1, to_date=True),
    ]
    assert chart.describe(weeks) == (
        "From the week of 16 Dec 2024 to the week of 23 Dec 2024 (so far): 3 visits, 1 late cancellation "
        "and 2 no-shows in all. In the week of 16 Dec 2024: 1 visit, 1 late cancellation and 1 no-show."
    )


# --- the general renderer, as a questionnaire chart uses it -------------------------------------


def score_plot(**changes):
    points = tuple(
        chart.Point(x=x, y=y, tip=f"score {y}", marker=marker)
        for x, y, marker in ((0.04, 20, ""), (0.5, 10, "diamond"), (0.96, 4, "square"))
    )
    values = dict(
        title="PHQ-9 total scores",
        description="Baseline 20; latest 4.",
        y_label="PHQ-9 total",
        x_caption="Date given",
        x_labels=((0.04, "1 Mar"), (0.96, "1 Sep")),
        y_ticks=(0, 5, 10, 15, 20, 27),
        lines=(chart.Line("phq9", "PHQ-9 total", "#0072B2", "", "circle", points),),
        shades=(chart.Shade(0, 5, "None–minimal", 0.03), chart.Shade(20, 27, "Severe", 0.25)),
        rules=(chart.Rule(0.3, "Plan started"),),
        keys=(chart.Key("diamond", "#0072B2", "Response"),),
        right=150,
    )
    return chart.Plot(**{**values, **changes})


def test_bands_are_shaded_behind_the_lines_between_their_values_and_named():
    root = parse(chart.draw(score_plot(), element_id="measure"))
    bands = root.find(f"{SVG}g[@class='bands']")
    assert list(root).index(bands) < list(root).index(root.find(f"{SVG}g[@class='series']"))
    severe = bands.findall(f"{SVG}rect")[1]
    top, height = float(severe.get("y")), float(severe.get("height"))
    assert top == chart.TOP and top + height == pytest.approx(
        chart.TOP + (chart.HEIGHT - chart.BOTTOM - chart.TOP) * 7 / 27, abs=0.1
    )
    assert [text.text for text in bands.iter(f"{SVG}text")] == ["None–minimal", "Severe"]


def test_points_keep_their_own_shape_and_markers_cross_the_plot():
    root = parse(chart.draw(score_plot(), element_id="measure"))
    series = root.find(f"{SVG}g[@class='series']")
    shapes = [group[0].tag.removeprefix(SVG) for group in series.findall(f"{SVG}g")]
    assert shapes == ["circle", "polygon", "rect"]
    rule = root.find(f"{SVG}g[@class='markers']")
    line = rule.find(f"{SVG}line")
    assert line.get("x1") == line.get("x2") and line.get("stroke-dasharray")
    assert rule.find(f"{SVG}text").text == "Plan started"
    assert "Response" in texts(root) and "PHQ-9 total" in texts(root)


def test_a_value_above_the_top_tick_stays_inside_the_plot():
    points = (chart.Point(x=0.5, y=99, tip="too high"),)
    root = parse(chart.draw(score_plot(lines=(chart.Line("x", "x", "#000", "", "circle", points),)), element_id="m"))
    circle = root.find(f".//{SVG}g[@class='series']/{SVG}g/{SVG}circle")
    assert float(circle.get("cy")) == chart.TOP


def test_days_sit_in_proportion_to_the_time_between_them():
    days = [dt.date(2026, 1, 1), dt.date(2026, 1, 11), dt.date(2026, 2, 10)]
    assert chart.day_positions(days, margin=0) == [0.0, 0.25, 1.0]
    assert chart.day_positions([dt.date(2026, 1, 1)] * 2) == [0.5, 0.5]
    assert chart.day_positions([]) == []
    assert chart.every_nth(20, most=8) == {0, 3, 6, 9, 12, 15, 18, 19}
