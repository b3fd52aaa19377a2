"""seed_demo gives demo patients realistic problem lists and their signed progress notes address them, once."""

import io

import pytest
from django.core.management import call_command

from clinical_notes import models as notes_models
from diagnoses import codeset, models

pytestmark = pytest.mark.django_db


def seed():
    out = io.StringIO()
    call_command("seed_demo", "--patients", "20", stdout=out)
    return out.getvalue()


def test_seed_demo_records_mental_health_diagnoses_with_one_primary_and_some_resolved():
    assert "Diagnoses:" in seed()
    rows = list(models.Diagnosis.objects.select_related("created_by"))
    diagnoses = [row.to_domain() for row in rows]
    assert diagnoses and all(d.code.startswith("F") and d.description == codeset.describe(d.code) for d in diagnoses)
    assert {d.status.value for d in diagnoses} == {"active", "in_remission", "resolved", "ruled_out"}
    assert {row.created_by.username for row in rows} <= {"drlee", "drpatel", "msmith"}
    for patient_id in {d.patient_id for d in diagnoses}:
        mine = [d for d in diagnoses if d.patient_id == patient_id]
        assert [d.is_current for d in mine if d.is_primary] == [True]  # exactly one primary, on the list


def test_the_demos_signed_progress_notes_address_their_patients_primary_diagnosis():
    seed()
    progress = notes_models.ClinicalNote.objects.filter(kind="progress_note", status="signed")
    assert progress.exists()
    for row in progress:
        addressed = row.to_domain().diagnoses
        primary = models.Diagnosis.objects.get(patient_id=row.patient_id, is_primary=True)
        assert [d.id for d in addressed] == [primary.pk] and row.content_hash == row.to_domain().compute_hash()
    out = io.StringIO()
    call_command("verify_notes", "--actor", "admin", stdout=out)
    assert "match" in out.getvalue()


def test_a_second_run_records_nothing_new():
    seed()
    before = (models.Diagnosis.objects.count(), models.Diagnosis.history.count())
    assert "0 recorded" in seed()
    assert (models.Diagnosis.objects.count(), models.Diagnosis.history.count()) == before
