"""Reads of questionnaire responses and safety alerts for one user, as the access policy allows.

Each returns plain data in a fixed number of queries, whatever the number of rows, and decrypts
only what its caller shows: a chart reads the questionnaire, total, band and scoring basis of each
response, never its answers; an alert list reads no encrypted column at all. The callers (the
patient page, the dashboard, the commands) write their own access-log entry for what they show.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from django.db.models import Max

from assessments import domain, instruments, models
from diagnoses import domain as diagnoses_domain
from diagnoses import models as diagnoses_models
from novamind.domain import parse_id
from patients import models as patients_models
from patients import policy

VIEW_RESPONSE = "assessments.view_response"
VIEW_ALERT = "assessments.view_safetyalert"
CHART_COLUMNS = ("id", "patient_id", "administered_on", "created_at", "instrument", "total", "band", "scoring_basis")


@dataclasses.dataclass(frozen=True)
class Series:
    """A patient's scores on one instrument, oldest first, read for a chart."""

    instrument: instruments.scale.Instrument
    points: tuple[domain.TrendPoint, ...]
    basis: str  # the latest response's scoring basis: the bands the chart shades

    @property
    def latest(self) -> domain.TrendPoint:
        """Return the most recent score."""
        return self.points[-1]


def series_for_patient(user, patient_id) -> list[Series] | None:
    """Return the patient's scores by instrument (in the instruments' order), or None if `user` may not see them.

    One query whatever the number of responses; voided responses are left out.
    """
    patient_id = parse_id(patient_id)
    if patient_id is None or not policy.may(user, VIEW_RESPONSE) or not policy.may_see(user, patient_id):
        return None
    rows = (
        models.Response.objects.filter(patient_id=patient_id, status=domain.ResponseStatus.RECORDED.value)
        .only(*CHART_COLUMNS)
        .order_by("administered_on", "created_at")
    )
    by_instrument: dict[str, list] = defaultdict(list)
    for row in rows:
        total = models.total_of(row.total)
        if total is not None:
            by_instrument[row.instrument].append((row.pk, row.administered_on, total, row.band, row.scoring_basis))
    found = []
    for code, instrument in instruments.INSTRUMENTS.items():
        scores = by_instrument.get(code)
        if scores:
            points = domain.trend(instrument, scores)
            found.append(Series(instrument=instrument, points=tuple(points), basis=scores[-1][4]))
    return found


def current_codes(patient_ids: Iterable) -> dict[object, list[str]]:
    """Return {patient id: the codes of their current diagnoses}, in one query (the codes are decrypted here)."""
    ids = {parse_id(value) for value in patient_ids} - {None}
    if not ids:
        return {}
    codes: dict[object, list[str]] = defaultdict(list)
    current = [status.value for status in diagnoses_domain.CURRENT_STATUSES]
    rows = diagnoses_models.Diagnosis.objects.filter(patient_id__in=ids, status__in=current).only(
        "id", "patient_id", "code"
    )
    for row in rows:
        codes[row.patient_id].append(row.code)
    return codes


def last_given(patient_ids: Iterable, codes: Iterable[str]) -> dict[object, dict[str, dt.date]]:
    """Return {patient id: {instrument: date of the latest recorded response}} for these instruments, in one query.

    The questionnaire is encrypted: a patient's responses to one are found by their blind index,
    computed here for each patient and instrument asked about.
    """
    ids = {parse_id(value) for value in patient_ids} - {None}
    if not ids:
        return {}
    keys = {models.instrument_key(patient_id, code): (patient_id, code) for patient_id in ids for code in codes}
    rows = (
        models.Response.objects.filter(
            patient_id__in=ids, instrument_key__in=list(keys), status=domain.ResponseStatus.RECORDED.value
        )
        .order_by()
        .values_list("instrument_key")
        .annotate(last=Max("administered_on"))
    )
    found: dict[object, dict[str, dt.date]] = defaultdict(dict)
    for key, last in rows:
        patient_id, code = keys[key]
        found[patient_id][code] = last
    return found


def due_for_patients(patient_ids: Iterable, *, today: dt.date) -> dict[object, list[domain.DueMeasure]]:
    """Return {patient id: the measures due today or overdue}, for the patients that have any, in two queries."""
    ids = {parse_id(value) for value in patient_ids} - {None}
    codes = current_codes(ids)
    if not codes:
        return {}
    scheduled = {schedule.instrument for schedule in domain.SCHEDULES}
    given = last_given(codes, scheduled)
    due = {}
    for patient_id, patient_codes in codes.items():
        measures = domain.due_measures(patient_codes, given.get(patient_id, {}), today=today)
        if measures:
            due[patient_id] = measures
    return due


def open_alert_count(user, patient_id) -> int | None:
    """Return how many of the patient's safety alerts wait for review, or None if `user` may not see alerts."""
    if not policy.may(user, VIEW_ALERT):
        return None
    return models.SafetyAlert.objects.filter(patient_id=patient_id, status=domain.AlertStatus.OPEN.value).count()


@dataclasses.dataclass(frozen=True)
class WaitingAlert:
    """An open safety alert, as a list shows it: no answer, no questionnaire, only whose and since when."""

    alert_id: object
    patient_id: object
    mrn: str
    raised_at: dt.datetime
    version: int

    def hours_waiting(self, now: dt.datetime) -> int:
        """Return the whole hours since it was raised."""
        return int((now - self.raised_at).total_seconds() // 3600)


def open_alerts(user, *, raised_before: dt.datetime | None = None, treated_only: bool = False):
    """Return the open alerts `user` may see (the policy's care rule), the longest waiting first, as a queryset of rows.

    `raised_before` keeps those raised before it (overdue); `treated_only` keeps the patients on
    whose care team `user` is (an emergency grant does not count).
    """
    rows = models.SafetyAlert.objects.filter(status=domain.AlertStatus.OPEN.value)
    if raised_before is not None:
        rows = rows.filter(raised_at__lt=raised_before)
    rows = policy.restrict(rows, user)
    if treated_only:
        team = patients_models.CareAssignment.objects.filter(clinician=user, ended_at=None).values("patient_id")
        rows = rows.filter(patient_id__in=team)
    return rows.order_by("raised_at", "pk")


def waiting(rows) -> list[WaitingAlert]:
    """Return alert rows (from `open_alerts`, sliced) as WaitingAlerts, reading no encrypted column."""
    return [
        WaitingAlert(alert_id=pk, patient_id=patient_id, mrn=mrn, raised_at=raised_at, version=version)
        for pk, patient_id, mrn, raised_at, version in rows.values_list(
            "pk", "patient_id", "patient__mrn", "raised_at", "version"
        )
    ]
