"""Builders of the assessment tests: answers, responses recorded through the services, diagnoses."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from assessments import domain, services
from assessments.instruments import auditc, gad7, pcl5, phq9
from novamind import audit

INSTRUMENTS = {"phq9": phq9.INSTRUMENT, "gad7": gad7.INSTRUMENT, "pcl5": pcl5.INSTRUMENT, "auditc": auditc.INSTRUMENT}


def phq9_answers(*, total: int = 9, item9: int = 0) -> domain.Answers:
    """Return PHQ-9 answers adding up to `total`, item 9 answered `item9` (its points count in the total)."""
    items, left = {9: item9}, total - item9
    for number in range(1, 9):
        items[number] = min(3, left)
        left -= items[number]
    assert left == 0, f"a PHQ-9 cannot reach {total}"
    return domain.Answers(items=items)


def answers_totalling(instrument: str, total: int) -> domain.Answers:
    """Return answers to every scored item of `instrument` adding up to `total` (item 9 of a PHQ-9 at 0)."""
    if instrument == "phq9":
        return phq9_answers(total=total)
    spec, items, left = INSTRUMENTS[instrument], {}, total
    for item in spec.scored_items:
        items[item.number] = min(max(option.points for option in spec.options_of(item)), left)
        left -= items[item.number]
    assert left == 0
    return domain.Answers(items=items)


def record(actor, patient_id, *, instrument="phq9", answers=None, total=9, item9=0, days_ago=0, appointment_id=None):
    """Record a response through the service, as `actor`; return it as stored."""
    if answers is None:
        answers = (
            phq9_answers(total=total, item9=item9) if instrument == "phq9" else answers_totalling(instrument, total)
        )
    return services.response_record(
        response=domain.Response(
            patient_id=patient_id,
            instrument=instrument,
            administered_on=timezone.localdate() - dt.timedelta(days=days_ago),
            answers=answers,
            appointment_id=appointment_id,
        ),
        actor=actor,
    )


def diagnose(patient_id, code: str, *, by, status: str = "active"):
    """Put `code` on the patient's problem list (directly: the diagnoses app's services are not on this branch)."""
    from diagnoses import models as diagnoses_models

    since = timezone.localdate() if status == "resolved" else None
    diagnosis = diagnoses_models.Diagnosis(patient_id=patient_id, code=code, status=status, status_since=since)
    return audit.audited_save(diagnosis, actor=by)


def form_data(patient_id, answers: domain.Answers, *, instrument="phq9", day=None, **extra) -> dict:
    """Return the admin's entry form as a browser posts it."""
    data = {
        "patient": str(patient_id),
        "instrument": instrument,
        "administered_on": (day or timezone.localdate()).isoformat(),
        "appointment": "",
        "version": "1",
        **{
            domain.item_field(number): "" if points is None else str(points) for number, points in answers.items.items()
        },
    }
    data.update(extra)
    return data
