"""Demo treatment plans for `seed_demo`: signed plans, a revised one, plans due for review soon and overdue.

Made up, and written through the services in the treating clinician's own name, so they follow
every rule real plans do. The patients are the first demo patients with notes (the notes' demo put
a clinician on their care team); each gets a plan built on a diagnosis of their problem list.
The diagnoses' own demo data is written elsewhere: a patient with no current diagnosis is given
one here, and only then. A patient who already has a plan is left alone, so a second run creates
nothing.

Which scenario a patient gets follows their place among the chosen patients, so every scenario
appears: a plan revised once (the first version superseded) with progress from a progress note
and the patient's agreement; a plan signed long enough ago to be due for review within two weeks;
one overdue; a draft; and plans signed recently. Signatures in the past are made with the
services' `now`, as the appointments' demo books its history.
"""

from __future__ import annotations

import datetime as dt
import random

from django.utils import timezone

from clinical_notes import domain as notes_domain
from clinical_notes import models as notes_models
from diagnoses import domain as diagnoses_domain
from diagnoses import models as diagnoses_models
from novamind import audit
from patients import models as patients_models
from patients import services as patients_services
from treatment_plans import domain, models, services

PATIENTS_WITH_PLANS = 12
CLINICIANS = ("drlee", "drpatel", "msmith")
# ICD-10-CM codes a demo problem list may need (billable, with their official descriptions).
DEMO_CODES = ("F32.1", "F41.1", "F43.10", "F33.1", "F51.01")
PROBLEMS = [
    "I can't get out of bed most days and I've stopped seeing my friends.",
    "I worry all the time about work and can't switch off at night.",
    "Since the accident I keep reliving it and I avoid driving.",
    "I sleep three or four hours a night and I'm exhausted.",
]
GOALS = [
    (
        "Get back to the things I used to enjoy.",
        ["Takes part in one planned pleasant activity 3 times a week.", "PHQ-9 score below 10."],
    ),
    ("Worry less and sleep better.", ["GAD-7 score below 8.", "Falls asleep within 30 minutes on 5 nights a week."]),
    (
        "Drive again without panic.",
        ["Drives a short familiar route twice a week.", "PCL-5 score reduced by 10 points."],
    ),
]
INTERVENTIONS = [
    ("Individual CBT", "Weekly, 50 minutes"),
    ("Behavioural activation", "Weekly, within therapy sessions"),
    ("Medication management", "Monthly, 30 minutes"),
]


def seed(*, actor, staff, stdout, patients, **context):
    """Create demo plans for some of the demo patients; return nothing new."""
    chosen = _patients_with_notes(patients)
    created = skipped = 0
    for place, patient in enumerate(chosen):
        if models.TreatmentPlan.objects.filter(patient_id=patient.id).exists():
            skipped += 1
            continue
        clinician = _treating_clinician(patient, staff, actor)
        rng = random.Random(f"treatment plans demo {patient.mrn}")
        SCENARIOS[place % len(SCENARIOS)](clinician, patient, rng)
        created += 1
    stdout.write(f"Treatment plans: plans for {created} patients created, {skipped} already had one.")
    return {}


def _patients_with_notes(patients) -> list:
    """Return the first demo patients with notes, those with a signed progress note first (progress is recorded from one)."""
    notes = notes_models.ClinicalNote.objects.filter(patient_id__in=[p.id for p in patients])
    with_notes = set(notes.values_list("patient_id", flat=True))
    with_progress_notes = set(
        notes.filter(
            kind=notes_domain.NoteKind.PROGRESS_NOTE.value, status=notes_domain.NoteStatus.SIGNED.value
        ).values_list("patient_id", flat=True)
    )
    chosen = [patient for patient in patients if patient.id in with_notes][:PATIENTS_WITH_PLANS]
    return sorted(chosen, key=lambda patient: patient.id not in with_progress_notes)


def _treating_clinician(patient, staff, actor):
    """Return a demo clinician on the patient's care team, putting one there (as the front desk) if none is."""
    clinicians = [staff[name] for name in CLINICIANS]
    assignment = (
        patients_models.CareAssignment.objects.filter(patient_id=patient.id, clinician__in=clinicians, ended_at=None)
        .order_by("started_at")
        .first()
    )
    if assignment is not None:
        return assignment.clinician
    patients_services.care_assign(patient_id=patient.id, clinician=staff["drpatel"], actor=actor)
    return staff["drpatel"]


def _diagnosis(patient, clinician, rng):
    """Return a current diagnosis of the patient: theirs if there is one, else one made here."""
    current = [status.value for status in diagnoses_domain.CURRENT_STATUSES]
    row = diagnoses_models.Diagnosis.objects.filter(patient_id=patient.id, status__in=current).first()
    if row is not None:
        return row
    return audit.audited_save(
        diagnoses_models.Diagnosis(patient_id=patient.id, code=rng.choice(DEMO_CODES), is_primary=True),
        actor=clinician,
        reason="Diagnosis recorded (demo)",
    )


def _plan(patient, clinician, rng, *, signed_on: dt.date) -> domain.TreatmentPlan:
    diagnosis = _diagnosis(patient, clinician, rng)
    goal, objectives = rng.choice(GOALS)
    modality, frequency = rng.choice(INTERVENTIONS)
    target = signed_on + dt.timedelta(days=rng.randint(60, 120))
    return domain.TreatmentPlan(
        patient_id=patient.id,
        problems=rng.choice(PROBLEMS),
        diagnoses=(domain.AddressedDiagnosis(diagnosis_id=diagnosis.pk, code=diagnosis.code),),
        goals=(
            domain.Goal(
                number=1,
                text=goal,
                objectives=tuple(domain.Objective(text=text, target_date=target) for text in objectives),
            ),
        ),
        interventions=(
            domain.Intervention(modality=modality, frequency=frequency, clinician=models.clinician_of(clinician)),
        ),
    )


def _signed(patient, clinician, rng, *, days_ago: int) -> domain.TreatmentPlan:
    moment = timezone.now() - dt.timedelta(days=days_ago)
    draft = services.plan_create(
        plan=_plan(patient, clinician, rng, signed_on=timezone.localdate(moment)), actor=clinician
    )
    return services.plan_sign(plan_id=draft.id, actor=clinician, now=moment)


def revised_with_progress(clinician, patient, rng) -> None:
    """A plan signed four months ago, revised and signed today: progress from a note, the patient's agreement."""
    first = _signed(patient, clinician, rng, days_ago=120)
    draft = services.plan_revise(plan_id=first.id, actor=clinician)
    current = services.plan_sign(plan_id=draft.id, actor=clinician)
    services.plan_agreement_record(
        plan_id=current.id,
        agreed_on=timezone.localdate(current.signed_at),
        method=domain.AgreementMethod.SIGNED_IN_PERSON,
        note="Copy given to the patient.",
        actor=clinician,
    )
    note = (
        notes_models.ClinicalNote.objects.filter(
            patient_id=patient.id,
            kind=notes_domain.NoteKind.PROGRESS_NOTE.value,
            status=notes_domain.NoteStatus.SIGNED.value,
        )
        .order_by("-date_of_service")
        .first()
    )
    if note is not None:
        _goal, objective = current.objectives[0]
        services.objective_progress_record(
            objective_id=objective.id,
            note_id=note.pk,
            status=domain.ObjectiveStatus.IN_PROGRESS,
            rating=domain.ProgressRating.SOME,
            comment="Planned two activities this week and did one.",
            actor=clinician,
        )


def due_soon(clinician, patient, rng) -> None:
    """A plan due for review within two weeks."""
    _signed(patient, clinician, rng, days_ago=80)


def overdue(clinician, patient, rng) -> None:
    """A plan past its review date."""
    _signed(patient, clinician, rng, days_ago=100)


def drafted(clinician, patient, rng) -> None:
    """A plan still being written."""
    services.plan_create(plan=_plan(patient, clinician, rng, signed_on=timezone.localdate()), actor=clinician)


def recent(clinician, patient, rng) -> None:
    """A plan signed in the last weeks."""
    _signed(patient, clinician, rng, days_ago=rng.randint(1, 40))


SCENARIOS = (revised_with_progress, due_soon, overdue, drafted, recent, recent)
