"""Care assignments for the care that existing records implied.

Before care assignments, a clinician "treated" a patient when they were the clinician of one of
the patient's appointments, the author of one of their notes or the prescriber of one of their
orders. Those clinicians keep their patients: each such pair becomes an open assignment, started
when the earliest of those records was created and attributed to whoever created that record
(its `created_by`), with a creation history row by the same user. From here on only an explicit
act creates care.
"""

import uuid

from django.db import migrations

SOURCES = (
    ("appointments", "Appointment", "clinician_id"),
    ("clinical_notes", "ClinicalNote", "author_id"),
    ("medications", "MedicationOrder", "prescriber_id"),
)
REASON = "Care implied by an existing record (migration 0005)"


def forwards(apps, schema_editor):
    assignment_model = apps.get_model("patients", "CareAssignment")
    history_model = apps.get_model("patients", "HistoricalCareAssignment")
    earliest = {}
    for app_label, model_name, column in SOURCES:
        model = apps.get_model(app_label, model_name)
        rows = model._base_manager.values_list("patient_id", column, "created_at", "created_by_id").iterator()
        for patient_id, clinician_id, created_at, created_by_id in rows:
            key = (patient_id, clinician_id)
            if key not in earliest or created_at < earliest[key][0]:
                earliest[key] = (created_at, created_by_id)
    existing = set(
        assignment_model._base_manager.filter(ended_at__isnull=True).values_list("patient_id", "clinician_id")
    )
    batch = []
    for (patient_id, clinician_id), (started_at, actor_id) in earliest.items():
        if (patient_id, clinician_id) in existing:
            continue
        batch.append(
            assignment_model(
                id=uuid.uuid4(),
                patient_id=patient_id,
                clinician_id=clinician_id,
                started_at=started_at,
                created_by_id=actor_id,
                updated_by_id=actor_id,
                created_at=started_at,
                updated_at=started_at,
            )
        )
    for start in range(0, len(batch), 1000):
        chunk = batch[start : start + 1000]
        assignment_model._base_manager.bulk_create(chunk)
        history_model._base_manager.bulk_create(
            [
                history_model(
                    id=row.id,
                    patient_id=row.patient_id,
                    clinician_id=row.clinician_id,
                    started_at=row.started_at,
                    ended_at=None,
                    version=1,
                    created_by_id=row.created_by_id,
                    updated_by_id=row.updated_by_id,
                    created_at=row.created_at,
                    updated_at=row.updated_at,
                    history_date=row.started_at,
                    history_type="+",
                    history_user_id=row.created_by_id,
                    history_change_reason=REASON,
                )
                for row in chunk
            ]
        )


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0004_care_assignment"),
        ("appointments", "0002_no_double_booking"),
        ("clinical_notes", "0002_cosign_permission"),
        ("medications", "0002_current_medications_permission"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
