"""Demo notes for `seed_demo`: signed notes, drafts, addenda, co-signatures, psychotherapy notes.

Made up, drawn from the seeded random generator, and written through the services in each
clinician's own name, so they follow every rule real notes do: the clinician is the one who
recorded the patient's problem list (the diagnoses' demo), the intake addresses the patient's problem list
and each progress note its primary diagnosis. A patient who already has notes is left alone,
which makes a second run create nothing.
"""

import datetime as dt

from django.utils import timezone

from clinical_notes import domain, models, services
from diagnoses import models as diagnoses_models
from diagnoses import selectors as diagnoses_selectors
from patients import services as patients_services

PATIENTS_WITH_NOTES = 60
COMPLAINTS = [
    "low mood",
    "panic attacks",
    "poor sleep",
    "worry about work",
    "grief after a loss",
    "irritability",
    "intrusive memories",
    "loss of appetite",
]
OBSERVATIONS = [
    "Calm and cooperative, good eye contact.",
    "Restless, speech slightly pressured.",
    "Tearful at times, affect congruent.",
    "Well groomed, linear thought process.",
    "Flat affect, answers briefly but fully.",
]
ASSESSMENTS = [
    "Symptoms improving with current plan.",
    "Little change since last visit.",
    "Moderate symptoms; no safety concerns today.",
    "Gradual improvement in sleep and mood.",
]
PLANS = [
    "Continue weekly CBT; review sleep diary next visit.",
    "Practise breathing exercises daily; follow up in two weeks.",
    "Continue current medication; recheck PHQ-9 next visit.",
    "Begin behavioural activation; weekly sessions.",
]
PROCESS = [
    "Noticed my own urge to reassure; explore in supervision.",
    "Themes of abandonment recurred; hypothesis about early attachment.",
    "Strong countertransference when discussing the father.",
    "Session felt stuck; consider shifting to schema work.",
]


def seed(*, staff, rng, stdout, patients, **context):
    """Create demo notes for patients who have none yet; return nothing for later apps."""
    clinicians = [staff["drlee"], staff["drpatel"], staff["msmith"]]
    today = timezone.localdate()
    created = skipped = 0
    for patient in patients[:PATIENTS_WITH_NOTES]:
        if models.ClinicalNote.objects.filter(patient_id=patient.id).exists():
            skipped += 1
            continue
        chosen = rng.choice(clinicians)  # drawn either way: the draws after it stay the same
        clinician = _treating(patient, clinicians) or chosen
        # Care begins by an explicit act (patients.policy): the front desk puts the clinician on
        # the team before they write; writing a note grants nothing.
        patients_services.care_assign(patient_id=patient.id, clinician=clinician, actor=staff["frontdesk"])
        created += _notes_for(patient, clinician, staff["drlee"], rng, today, frontdesk=staff["frontdesk"])
    stdout.write(f"Clinical notes: {created} created; {skipped} patients already had notes.")
    return None


def _treating(patient, clinicians):
    """Return the demo clinician who recorded the patient's problem list (the diagnoses' demo), or None."""
    recorder = (
        diagnoses_models.Diagnosis.objects.filter(patient_id=patient.id)
        .order_by("created_at")
        .values_list("created_by", flat=True)
        .first()
    )
    return next((clinician for clinician in clinicians if clinician.pk == recorder), None)


def _notes_for(patient, clinician, supervisor, rng, today, *, frontdesk) -> int:
    complaint = rng.choice(COMPLAINTS)
    problem_list = diagnoses_selectors.problem_list(patient_id=patient.id, user=clinician)
    primary = problem_list[:1]  # primary first

    def write(kind, note_format, days_ago, sections, *, sign=True, addresses=()):
        note = services.note_create(
            note=domain.ClinicalNote(
                patient_id=patient.id,
                author=models.staff_of(clinician),
                kind=kind,
                format=note_format,
                date_of_service=today - dt.timedelta(days=days_ago),
                sections=sections,
                diagnoses=services.addressing(diagnosis.id for diagnosis in addresses),
            ),
            actor=clinician,
        )
        return services.note_sign(note_id=note.id, actor=clinician) if sign else note

    intake = write(
        domain.NoteKind.INTAKE_ASSESSMENT,
        domain.NoteFormat.SOAP,
        rng.randint(3, 6),
        domain.Sections(
            subjective=f"Referred for {complaint}; reports it began about {rng.randint(2, 12)} months ago.",
            objective=rng.choice(OBSERVATIONS),
            assessment=rng.choice(ASSESSMENTS),
            plan=rng.choice(PLANS),
        ),
        addresses=problem_list,
    )
    count = 1
    if rng.random() < 0.3:
        services.addendum_add(
            note_id=intake.id,
            actor=clinician,
            text=f"Patient also mentioned {rng.choice(COMPLAINTS)} at the end of the visit.",
            reason="Information recalled after signing",
        )
    progress = write(
        domain.NoteKind.PROGRESS_NOTE,
        domain.NoteFormat.DAP,
        rng.randint(0, 3),
        domain.Sections(
            data=f"Discussed {complaint}; homework partly completed.",
            assessment=rng.choice(ASSESSMENTS),
            plan=rng.choice(PLANS),
        ),
        # A progress note is signed with the diagnosis it addresses (none on the list: a draft).
        sign=rng.random() < 0.7 and bool(primary),
        addresses=primary,
    )
    count += 1
    if progress.is_signed and clinician != supervisor and rng.random() < 0.5:
        # The demo's supervisor treats the patient too; the request alone would open this note only.
        patients_services.care_assign(patient_id=patient.id, clinician=supervisor, actor=frontdesk)
        services.cosignature_request(note_id=progress.id, supervisor_id=supervisor.pk, actor=clinician)
        if rng.random() < 0.5:
            services.note_cosign(note_id=progress.id, actor=supervisor)
    if rng.random() < 0.3:
        write(
            domain.NoteKind.TREATMENT_PLAN,
            domain.NoteFormat.FREE_TEXT,
            0,
            domain.Sections(body=f"Goals: reduce {complaint}. {rng.choice(PLANS)}"),
            sign=False,
        )
        count += 1
    if clinician.username == "msmith" and rng.random() < 0.5:
        write(
            domain.NoteKind.PSYCHOTHERAPY_NOTE,
            domain.NoteFormat.FREE_TEXT,
            rng.randint(0, 2),
            domain.Sections(body=rng.choice(PROCESS)),
        )
        count += 1
    return count
