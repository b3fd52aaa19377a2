"""Demo problem lists for `seed_demo`: mental-health diagnoses, one primary, some resolved or ruled out.

Recorded through the services by the clinician the front desk first puts on the patient's care
team, so every rule of the list applies (billable codes, a code once, one primary). The clinician
and the dates are drawn from a generator seeded by the patient's MRN, not from the shared `rng`:
the apps seeded before may draw a different number of values on a second run. The notes' demo,
which runs after this one, writes each patient's notes as the clinician found on the care team
and makes the signed progress notes address the primary diagnosis. A patient who already has a
diagnosis is left alone, which makes a second run create nothing.

Only ICD-10-CM codes and their official descriptions: DSM-5 names are copyrighted.
"""

import datetime as dt
import random

from django.utils import timezone

from diagnoses import domain, models, services
from patients import services as patients_services

PATIENTS_WITH_DIAGNOSES = 60  # the patients the notes' demo writes for (clinical_notes.demo)
S = domain.DiagnosisStatus

# Each list: (code, status, specifier), the first one primary. Every list keeps one current.
SCENARIOS = (
    (("F33.1", S.ACTIVE, "with anxious distress"), ("F41.1", S.ACTIVE, "")),
    (("F32.1", S.ACTIVE, "first episode after job loss"), ("F51.01", S.RESOLVED, "")),
    (("F43.10", S.ACTIVE, "nightmares, hypervigilance"), ("F32.0", S.IN_REMISSION, "")),
    (("F90.2", S.ACTIVE, "diagnosed in childhood; reassessed"), ("F41.1", S.ACTIVE, "worse before exams")),
    (("F41.0", S.ACTIVE, "weekly attacks"), ("F40.10", S.ACTIVE, ""), ("F43.10", S.RULED_OUT, "")),
    (("F43.23", S.ACTIVE, "after divorce"), ("F32.0", S.RULED_OUT, "")),
    (("F31.81", S.ACTIVE, ""), ("F10.20", S.IN_REMISSION, "sober since spring")),
    (("F33.0", S.ACTIVE, ""), ("F42.2", S.ACTIVE, "checking rituals"), ("F90.0", S.RESOLVED, "")),
)


def seed(*, staff, stdout, patients, **context):
    """Create demo problem lists for the first demo patients who have none; return nothing new."""
    clinicians = [staff["drlee"], staff["drpatel"], staff["msmith"]]
    today = timezone.localdate()
    created = skipped = 0
    for position, patient in enumerate(patients[:PATIENTS_WITH_DIAGNOSES]):
        if models.Diagnosis.objects.filter(patient_id=patient.id).exists():
            skipped += 1
            continue
        draw = random.Random(f"diagnoses demo {patient.mrn}")
        clinician = draw.choice(clinicians)
        # Care begins by an explicit act (patients.policy): the front desk assigns the clinician first.
        patients_services.care_assign(patient_id=patient.id, clinician=clinician, actor=staff["frontdesk"])
        for place, (code, status, specifier) in enumerate(SCENARIOS[position % len(SCENARIOS)]):
            onset = today - dt.timedelta(days=draw.randint(60, 900))
            since = (
                onset + dt.timedelta(days=draw.randint(20, (today - onset).days)) if status is not S.ACTIVE else None
            )
            recorded = services.diagnosis_record(
                diagnosis=domain.Diagnosis(
                    patient_id=patient.id,
                    code=code,
                    specifier=specifier,
                    onset_date=onset,
                    is_primary=place == 0,
                ),
                actor=clinician,
            )
            if status is not S.ACTIVE:
                services.diagnosis_set_status(diagnosis_id=recorded.id, status=status, on=since, actor=clinician)
            created += 1
    stdout.write(f"Diagnoses: {created} recorded; {skipped} patients already had a problem list.")
    return None
