"""Builders of the treatment-plan tests: diagnoses on a patient's problem list, plans in each state.

Diagnoses are written with `novamind.audit.audited_save` (the diagnoses app's own services are
another engineer's work in progress); everything about plans goes through the plan services.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from diagnoses import domain as diagnoses_domain
from diagnoses import models as diagnoses_models
from novamind import audit
from treatment_plans import domain, models, services


def a_diagnosis(patient, *, actor, code="F32.1", status=diagnoses_domain.DiagnosisStatus.ACTIVE, primary=False):
    """Return a diagnosis of `patient` (domain or ORM) saved as `actor`, or the current one with that code."""
    existing = diagnoses_models.Diagnosis.objects.filter(
        patient_id=patient.id, status__in=[s.value for s in diagnoses_domain.CURRENT_STATUSES]
    )
    for row in existing:
        if row.code == code and status in diagnoses_domain.CURRENT_STATUSES:
            return row
    row = diagnoses_models.Diagnosis(
        patient_id=patient.id,
        code=code,
        status=status.value,
        status_since=timezone.localdate() if status is diagnoses_domain.DiagnosisStatus.RESOLVED else None,
        is_primary=primary,
    )
    return audit.audited_save(row, actor=actor, reason="Diagnosis recorded")


def current_diagnosis(patient, *, actor):
    """Return a current diagnosis of the patient: one already on the problem list, else a new one."""
    row = (
        diagnoses_models.Diagnosis.objects.filter(
            patient_id=patient.id, status__in=[s.value for s in diagnoses_domain.CURRENT_STATUSES]
        )
        .order_by("created_at")
        .first()
    )
    return row or a_diagnosis(patient, actor=actor)


def content(*, diagnosis=None, goals=None, interventions=None, clinician=None, problems="I can't get out of bed."):
    """Return the content of a complete plan: one diagnosis, one goal with two objectives, one intervention."""
    target = timezone.localdate() + dt.timedelta(days=60)
    if goals is None:
        goals = (
            domain.Goal(
                number=1,
                text="Feel able to face the day.",
                objectives=(
                    domain.Objective(text="Out of bed by 9 on 5 days a week.", target_date=target),
                    domain.Objective(text="PHQ-9 below 10.", target_date=target),
                ),
            ),
        )
    if interventions is None:
        interventions = (
            domain.Intervention(
                modality="Individual CBT", frequency="Weekly, 50 minutes", clinician=models.clinician_of(clinician)
            ),
        )
    diagnoses = (
        () if diagnosis is None else (domain.AddressedDiagnosis(diagnosis_id=diagnosis.pk, code=diagnosis.code),)
    )
    return {"problems": problems, "diagnoses": diagnoses, "goals": goals, "interventions": interventions}


def drafted(clinician, patient, **options) -> domain.TreatmentPlan:
    """Return a complete draft for the patient, written by `clinician` (a diagnosis made if none is current)."""
    diagnosis = options.pop("diagnosis", None) or current_diagnosis(patient, actor=clinician)
    plan = domain.TreatmentPlan(patient_id=patient.id, **content(diagnosis=diagnosis, clinician=clinician, **options))
    return services.plan_create(plan=plan, actor=clinician)


def signed(clinician, patient, **options) -> domain.TreatmentPlan:
    """Return a complete plan drafted and signed by `clinician`."""
    return services.plan_sign(plan_id=drafted(clinician, patient, **options).id, actor=clinician)


def revised_and_signed(clinician, plan: domain.TreatmentPlan) -> domain.TreatmentPlan:
    """Return the next version of the current `plan`, copied from it and signed (`plan` is superseded)."""
    draft = services.plan_revise(plan_id=plan.id, actor=clinician)
    return services.plan_sign(plan_id=draft.id, actor=clinician)
