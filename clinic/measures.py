"""Measures on the patient's page: a chart per questionnaire, the same numbers as a table, and what is due.

For a user who may see the patient's questionnaire responses (the role's view permission, then
care), the page shows, per instrument the patient has answered, the scores over time drawn as
the dashboard's chart is (`clinic.chart`: SVG drawn on the server, no script) with the severity
bands shaded, the first score marked as the baseline, a response (a fall of 50% or more from the
baseline) and a remission (below the instrument's cut-point, PHQ-9 and GAD-7 under 5) drawn in
their own shapes, and the events of the patient's care marked across the plot
(`care_markers`: the start of the current treatment plan). Under each chart, the same numbers as
a table for screen readers. Then the measures due (`assessments.domain.SCHEDULES`), each with a
link that opens the entry form for it.

It reads only what it shows: each response's questionnaire, total, band and scoring basis, never
its answers; the same queries whatever the number of responses. Showing scores writes one
access-log entry.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from urllib.parse import urlencode

from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from assessments import domain, selectors
from assessments.instruments import scale
from clinic import chart
from novamind import access
from novamind.domain import parse_id
from patients import policy
from treatment_plans import models as plans_models

ACCESS_CATEGORY = "assessments"
LINE_COLOUR = "#0072B2"
RESPONSE_MARKER, REMISSION_MARKER = "diamond", "square"


def care_markers(patient_id) -> list[tuple[dt.date, str]]:
    """Return the dated events of the patient's care to mark on every chart: (day, label).

    The current treatment plan's start, the day its version was signed ("Plan v2 signed"), so a
    clinician sees the scores before and since. One query; the caller has asked the policy.
    """
    current = (
        plans_models.TreatmentPlan.objects.filter(patient_id=patient_id, status=plans_models.SIGNED)
        .values_list("signed_at", "version_number")
        .first()
    )
    if current is None or current[0] is None:
        return []
    signed_at, version = current
    return [(timezone.localdate(signed_at), f"Plan v{version} signed")]


@dataclasses.dataclass(frozen=True)
class MeasureChart:
    """One instrument's scores for the patient, drawn and tabled."""

    series: selectors.Series
    markers: tuple[tuple[dt.date, str], ...] = ()

    @property
    def instrument(self) -> scale.Instrument:
        """Return the questionnaire this chart shows."""
        return self.series.instrument

    @property
    def points(self) -> tuple[domain.TrendPoint, ...]:
        """Return the scores, oldest first."""
        return self.series.points

    @property
    def element_id(self) -> str:
        """Return the chart's id on the page."""
        return f"measure-chart-{self.instrument.code}"

    @property
    def title(self) -> str:
        """Return the chart's title."""
        first, last = self.points[0].on, self.points[-1].on
        return f"{self.instrument.name} total scores, {len(self.points)} from {first:%Y-%m-%d} to {last:%Y-%m-%d}"

    @property
    def summary(self) -> str:
        """Return the baseline, the latest score and what it shows, in one sentence."""
        baseline, latest = self.points[0], self.points[-1]
        text = f"Baseline {_score(baseline)} on {baseline.on:%Y-%m-%d}"
        if latest is not baseline:
            text += f"; latest {_score(latest)} on {latest.on:%Y-%m-%d}"
            shown = [word for word in ("response", "remission") if word in latest.flags]
            if shown:
                text += f" ({' and '.join(shown)})"
        return text + "."

    @property
    def svg(self) -> SafeString:
        """Return the chart as inline SVG, safe to put in the page as it is."""
        # chart.draw escapes every piece of text it writes; its inputs are dates, numbers and labels.
        return mark_safe(chart.draw(self.plot(), element_id=self.element_id))

    def plot(self) -> chart.Plot:
        """Return what the chart shows, as plain values."""
        instrument, points = self.instrument, self.points
        days = [point.on for point in points] + [day for day, _ in self.markers]
        positions = chart.day_positions(days)
        spans_years = len({day.year for day in days}) > 1
        shown = chart.every_nth(len(points), most=8)
        line = chart.Line(
            key=instrument.code,
            label=f"{instrument.name} total",
            colour=LINE_COLOUR,
            dash="",
            marker="circle",
            points=tuple(
                chart.Point(x=positions[index], y=point.total, tip=_tip(instrument, point), marker=_marker(point))
                for index, point in enumerate(points)
            ),
        )
        keys = []
        if instrument.response_drop is not None:
            keys.append(chart.Key(RESPONSE_MARKER, LINE_COLOUR, "Response (≥ 50% below baseline)"))
        if instrument.remission_below is not None:
            keys.append(chart.Key(REMISSION_MARKER, LINE_COLOUR, f"Remission (under {instrument.remission_below})"))
        return chart.Plot(
            title=self.title,
            description=self.summary,
            y_label=f"{instrument.name} total",
            x_caption="Date given",
            x_labels=tuple(
                (positions[index], _day(point.on, spans_years)) for index, point in enumerate(points) if index in shown
            ),
            y_ticks=tuple(_ticks(instrument, self.series.basis)),
            lines=(line,),
            shades=tuple(_shades(instrument, self.series.basis)),
            rules=tuple(
                chart.Rule(x=positions[len(points) + number], label=label)
                for number, (_day_, label) in enumerate(self.markers)
            ),
            keys=tuple(keys),
            css_class="trend-chart measure-chart",
            right=150,
        )


@dataclasses.dataclass(frozen=True)
class Due:
    """A measure due for the patient, with the entry form it opens."""

    measure: domain.DueMeasure
    url: str


@dataclasses.dataclass(frozen=True)
class MeasuresPanel:
    """The patient page's measures: a chart per instrument answered, and the measures due."""

    charts: tuple[MeasureChart, ...]
    due: tuple[Due, ...]
    today: dt.date
    record_url: str


def panel(*, user, patient, request=None, today: dt.date | None = None) -> MeasuresPanel | None:
    """Return the measures of `patient` (its id and MRN) as `user` may see them, or None when they may not.

    The same queries whatever the patient's record holds (the policy's check, the scores, the
    current diagnoses, the last date of each scheduled measure), and one access-log entry when
    scores are shown.
    """
    patient_id = parse_id(getattr(patient, "pk", None))
    series = selectors.series_for_patient(user, patient_id)
    if series is None:
        return None
    today = today or timezone.localdate()
    markers = tuple(care_markers(patient_id))
    page = reverse("admin:patients_patient_change", args=[patient_id])
    add = reverse("admin:assessments_response_add")

    def entry(instrument: str = "") -> str:
        query = {"patient": str(patient_id), "next": page, **({"instrument": instrument} if instrument else {})}
        return f"{add}?{urlencode(query)}"

    due = selectors.due_for_patients([patient_id], today=today).get(patient_id, [])
    charts = tuple(MeasureChart(series=found, markers=markers) for found in series)
    if charts:
        access.record(
            user=user,
            action="view",
            category=ACCESS_CATEGORY,
            patient=access.PatientRef(patient_id, patient.mrn),
            request=request,
            detail=f"patient page: {sum(len(c.points) for c in charts)} score(s) of {len(charts)} questionnaire(s) charted",
        )
    may_record = policy.may(user, "assessments.add_response")
    return MeasuresPanel(
        charts=charts,
        due=tuple(Due(measure, entry(measure.instrument) if may_record else "") for measure in due),
        today=today,
        record_url=entry() if may_record else "",
    )


def _score(point: domain.TrendPoint) -> str:
    return f"{point.total} ({point.band.label})" if point.band else str(point.total)


def _tip(instrument: scale.Instrument, point: domain.TrendPoint) -> str:
    flags = f"; {', '.join(point.flags)}" if point.flags else ""
    return f"{instrument.name}, {point.on:%Y-%m-%d}: {_score(point)}{flags}"


def _marker(point: domain.TrendPoint) -> str:
    if point.remission:
        return REMISSION_MARKER
    if point.response:
        return RESPONSE_MARKER
    return ""


def _day(day: dt.date, with_year: bool) -> str:
    return f"{day.day} {day:%b %Y}" if with_year else f"{day.day} {day:%b}"


def _ticks(instrument: scale.Instrument, basis: str) -> list[int]:
    """Return the value axis' ticks: 0, each band's lower end and the maximum, none crowding the next."""
    top = instrument.max_total
    ticks = [0]
    for value in sorted({band.low for band in instrument.bands_for(basis)} - {0}):
        if value - ticks[-1] >= top / 12 and top - value >= top / 12:
            ticks.append(value)
    return [*ticks, top]


def _shades(instrument: scale.Instrument, basis: str) -> list[chart.Shade]:
    """Return the instrument's bands as shaded ranges, the more severe the darker."""
    bands = instrument.bands_for(basis)
    last = len(bands) - 1 or 1
    return [
        chart.Shade(
            low=band.low,
            high=bands[index + 1].low if index < len(bands) - 1 else instrument.max_total,
            label=band.label.split(" (")[0].split(":")[0],  # "Above the cut-point": the table says the rest
            opacity=0.03 + 0.22 * index / last,
        )
        for index, band in enumerate(bands)
    ]
