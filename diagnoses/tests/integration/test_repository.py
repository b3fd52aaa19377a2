"""The problem list on the real database: a code listed once, one primary, nothing deleted, every change attributed."""

import dataclasses
import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from diagnoses import domain, models, repository
from diagnoses.tests.builders import a_diagnosis
from novamind import audit
from novamind.domain import ConcurrencyError, NotFound, RuleViolation

pytestmark = pytest.mark.django_db
Status = domain.DiagnosisStatus


def today():
    return timezone.localdate()


def reasons(diagnosis_id) -> list[str]:
    return list(
        models.Diagnosis.history.filter(id=diagnosis_id)
        .order_by("history_id")
        .values_list("history_change_reason", flat=True)
    )


def test_add_records_the_official_description_dates_the_status_and_attributes_the_write(diagnoses, patient, staff):
    added = diagnoses.add(a_diagnosis(patient, "f411", specifier="worse in winter", onset_date=dt.date(2025, 11, 3)))
    assert isinstance(added, domain.Diagnosis)
    assert (added.code, added.description, added.specifier) == (
        "F41.1",
        "Generalized anxiety disorder",
        "worse in winter",
    )
    assert (added.status, added.status_since, added.is_primary) == (Status.ACTIVE, dt.date(2025, 11, 3), False)
    assert added.audit.created_by == "alice" and added.audit.version == 1
    assert diagnoses.get_by_id(added.id) == added
    record = models.Diagnosis.history.get()
    assert (record.history_user, record.history_change_reason) == (staff, "Recorded")


def test_a_code_already_on_the_problem_list_is_refused_and_nothing_is_written(diagnoses, patient):
    diagnoses.add(a_diagnosis(patient, "F32.1"))
    with pytest.raises(RuleViolation) as caught:
        diagnoses.add(a_diagnosis(patient, "f32.1", specifier="again"))
    assert caught.value.errors == {"code": ["F32.1 is already on the problem list (active)."]}
    assert models.Diagnosis.objects.count() == 1 and models.Diagnosis.history.count() == 1


def test_the_same_code_is_recorded_for_another_patient_or_once_it_left_the_list(diagnoses, patient, staff):
    from diagnoses.tests.conftest import make_patient

    first = diagnoses.add(a_diagnosis(patient, "F32.1"))
    diagnoses.add(a_diagnosis(make_patient(staff, "Other"), "F32.1"))
    diagnoses.delete(first.id)
    again = diagnoses.add(a_diagnosis(patient, "F32.1", specifier="recurrence"))
    assert again.is_current and models.Diagnosis.objects.filter(patient_id=patient.id).count() == 2


def test_a_resolved_code_cannot_return_to_a_list_that_holds_it_again(diagnoses, patient):
    first = diagnoses.add(a_diagnosis(patient, "F32.1"))
    diagnoses.delete(first.id)
    diagnoses.add(a_diagnosis(patient, "F32.1"))
    stored = diagnoses.get_by_id(first.id)
    with pytest.raises(RuleViolation) as caught:
        diagnoses.update(domain.with_status(stored, Status.ACTIVE, on=today(), today=today()))
    assert list(caught.value.errors) == ["code"]
    assert diagnoses.get_by_id(first.id).status is Status.RESOLVED


def test_recording_a_primary_diagnosis_demotes_the_previous_one_in_the_same_transaction(diagnoses, patient, staff):
    first = diagnoses.add(a_diagnosis(patient, "F32.1", is_primary=True))
    second = diagnoses.add(a_diagnosis(patient, "F41.1", is_primary=True))
    assert diagnoses.get_by_id(second.id).is_primary and not diagnoses.get_by_id(first.id).is_primary
    assert reasons(first.id) == ["Recorded as primary", "No longer primary"]
    assert models.Diagnosis.history.filter(id=first.id).latest("history_id").history_user == staff


def test_update_changes_the_details_at_the_version_read_and_refuses_a_stale_one(diagnoses, patient):
    added = diagnoses.add(a_diagnosis(patient))
    changed = diagnoses.update(dataclasses.replace(added, specifier="with anxious distress"))
    assert (changed.specifier, changed.audit.version) == ("with anxious distress", 2)
    with pytest.raises(ConcurrencyError):
        diagnoses.update(dataclasses.replace(added, specifier="stale"))
    assert diagnoses.get_by_id(added.id).specifier == "with anxious distress"


def test_update_never_changes_the_code_or_the_patient(diagnoses, patient, staff):
    from diagnoses.tests.conftest import make_patient

    added = diagnoses.add(a_diagnosis(patient))
    with pytest.raises(RuleViolation) as caught:
        diagnoses.update(dataclasses.replace(added, code="F33.1"))
    assert list(caught.value.errors) == ["code"]
    with pytest.raises(RuleViolation) as caught:
        diagnoses.update(dataclasses.replace(added, patient_id=make_patient(staff, "Other").id))
    assert list(caught.value.errors) == ["patient"]
    assert diagnoses.get_by_id(added.id).audit.version == 1


def test_delete_resolves_today_and_keeps_the_diagnosis(diagnoses, patient):
    added = diagnoses.add(a_diagnosis(patient, is_primary=True))
    resolved = diagnoses.delete(added.id)
    assert (resolved.status, resolved.status_since, resolved.is_primary) == (Status.RESOLVED, today(), False)
    assert models.Diagnosis.objects.filter(pk=added.id).exists() and reasons(added.id)[-1] == "Resolved"
    with pytest.raises(NotFound):
        diagnoses.delete("not-an-id")


def test_the_problem_list_reads_primary_first_then_active_then_in_remission_and_the_past_on_request(diagnoses, patient):
    diagnoses.add(a_diagnosis(patient, "F90.0"))
    diagnoses.add(a_diagnosis(patient, "F43.10", status=Status.IN_REMISSION))
    diagnoses.add(a_diagnosis(patient, "F41.1", is_primary=True))
    diagnoses.add(a_diagnosis(patient, "F10.20"))
    diagnoses.add(a_diagnosis(patient, "F32.0", status=Status.RESOLVED, status_since=today()))
    assert [d.code for d in diagnoses.for_patient(patient.id)] == ["F41.1", "F10.20", "F90.0", "F43.10"]
    assert [d.code for d in diagnoses.for_patient(patient.id, include_past=True)][-1] == "F32.0"
    assert diagnoses.for_patient("garbage") == []


def test_the_blind_index_backstop_refuses_a_second_listing_next_to_the_code(diagnoses, patient, monkeypatch):
    diagnoses.add(a_diagnosis(patient, "F32.1"))
    monkeypatch.setattr(domain, "check_problem_list", lambda diagnosis, others: None)  # a path that forgot the check
    with pytest.raises(RuleViolation) as caught:
        diagnoses.add(a_diagnosis(patient, "F32.1"))
    assert caught.value.errors == {"code": ["F32.1 is already on the problem list."]}
    assert models.Diagnosis.objects.count() == 1


def test_the_database_refuses_a_second_primary_and_a_ruled_out_primary_written_behind_the_repository(
    diagnoses, patient, staff
):
    diagnoses.add(a_diagnosis(patient, "F32.1", is_primary=True))
    row = models.Diagnosis(patient_id=patient.id, code="F41.1", description="Generalized anxiety disorder")
    row.is_primary = True
    with pytest.raises(IntegrityError), transaction.atomic():
        audit.audited_save(row, actor=staff, validate=False)
    ruled_out = models.Diagnosis(patient_id=patient.id, code="F90.0", status="ruled_out", is_primary=False)
    audit.audited_save(ruled_out, actor=staff, validate=False)
    ruled_out.is_primary = True
    with pytest.raises(IntegrityError), transaction.atomic():
        audit.audited_save(ruled_out, actor=staff, validate=False)


def test_the_in_list_order_of_the_past_is_most_recent_first():
    old = domain.Diagnosis(patient_id=None, code="F32.0", status=Status.RESOLVED, status_since=dt.date(2020, 1, 1))
    new = domain.Diagnosis(patient_id=None, code="F32.1", status=Status.RULED_OUT, status_since=dt.date(2024, 1, 1))
    assert repository.in_list_order([old, new]) == [new, old]
