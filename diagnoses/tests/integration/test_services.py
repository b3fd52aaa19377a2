"""The diagnosis services: the policy first (role, then care), then the rules, each step in the history."""

import dataclasses
import datetime as dt

import pytest
from django.utils import timezone

from diagnoses import domain, models, selectors, services
from diagnoses.tests.builders import a_diagnosis
from novamind import roles
from novamind.domain import AccessDenied, ConcurrencyError, RuleViolation
from novamind.tests.integration.role_users import member
from patients import models as patients_models

pytestmark = pytest.mark.django_db
Status = domain.DiagnosisStatus


def today():
    return timezone.localdate()


def history(diagnosis_id):
    return list(
        models.Diagnosis.history.filter(id=diagnosis_id)
        .order_by("history_id")
        .values_list("history_change_reason", "history_user__username")
    )


def test_a_clinician_records_a_diagnosis_of_their_patient_without_joining_any_care_team(patient, clinician):
    teams = patients_models.CareAssignment.objects.count()
    recorded = services.diagnosis_record(diagnosis=a_diagnosis(patient, "F43.10"), actor=clinician)
    assert (
        recorded.audit.created_by == "drcare" and recorded.description == "Post-traumatic stress disorder, unspecified"
    )
    assert patients_models.CareAssignment.objects.count() == teams


def test_a_clinician_outside_the_care_team_reads_and_writes_nothing(patient, clinician, outsider):
    recorded = services.diagnosis_record(diagnosis=a_diagnosis(patient), actor=clinician)
    for attempt in (
        lambda: services.diagnosis_record(diagnosis=a_diagnosis(patient, "F41.1"), actor=outsider),
        lambda: services.diagnosis_resolve(diagnosis_id=recorded.id, actor=outsider),
        lambda: services.diagnosis_make_primary(diagnosis_id=recorded.id, actor=outsider),
        lambda: services.diagnosis_update(diagnosis=dataclasses.replace(recorded, specifier="x"), actor=outsider),
        lambda: selectors.problem_list(patient_id=patient.id, user=outsider),
    ):
        with pytest.raises(AccessDenied, match="not on this patient's care team"):
            attempt()
    assert models.Diagnosis.history.count() == 1


@pytest.mark.parametrize("role", [roles.FRONT_DESK, roles.PRACTICE_ADMIN, roles.AUDITOR])
def test_roles_without_diagnoses_neither_read_nor_record_them(patient, clinician, role):
    user = member(f"user-{role.split()[0].lower()}", role)
    with pytest.raises(AccessDenied, match="lacks the permission"):
        services.diagnosis_record(diagnosis=a_diagnosis(patient), actor=user)
    with pytest.raises(AccessDenied):
        selectors.problem_list(patient_id=patient.id, user=user)


def test_making_a_diagnosis_primary_demotes_the_previous_one_with_both_in_the_history(patient, clinician):
    first = services.diagnosis_record(diagnosis=a_diagnosis(patient, "F32.1", is_primary=True), actor=clinician)
    second = services.diagnosis_record(diagnosis=a_diagnosis(patient, "F41.1"), actor=clinician)
    services.diagnosis_make_primary(diagnosis_id=second.id, version=second.audit.version, actor=clinician)
    listed = selectors.problem_list(patient_id=patient.id, user=clinician)
    assert [(d.code, d.is_primary) for d in listed] == [("F41.1", True), ("F32.1", False)]
    assert history(first.id) == [("Recorded as primary", "drcare"), ("No longer primary", "drcare")]
    assert history(second.id)[-1] == ("Made primary", "drcare")


def test_resolving_a_primary_diagnosis_dates_it_and_ends_its_being_primary(patient, clinician):
    recorded = services.diagnosis_record(diagnosis=a_diagnosis(patient, is_primary=True), actor=clinician)
    on = today() - dt.timedelta(days=2)
    resolved = services.diagnosis_resolve(diagnosis_id=recorded.id, on=on, actor=clinician)
    assert (resolved.status, resolved.status_since, resolved.is_primary) == (Status.RESOLVED, on, False)
    assert history(recorded.id)[-1] == ("Resolved (no longer primary)", "drcare")
    assert selectors.problem_list(patient_id=patient.id, user=clinician) == []
    assert len(selectors.problem_list(patient_id=patient.id, user=clinician, include_past=True)) == 1


def test_ruling_out_remission_and_back_to_active_are_status_steps(patient, clinician):
    recorded = services.diagnosis_record(diagnosis=a_diagnosis(patient, "F90.0"), actor=clinician)
    services.diagnosis_set_status(diagnosis_id=recorded.id, status=Status.IN_REMISSION, actor=clinician)
    services.diagnosis_rule_out(diagnosis_id=recorded.id, actor=clinician)
    back = services.diagnosis_set_status(diagnosis_id=recorded.id, status=Status.ACTIVE, actor=clinician)
    assert back.status is Status.ACTIVE and back.status_since == today()
    assert [reason for reason, _ in history(recorded.id)] == ["Recorded", "In remission", "Ruled out", "Active again"]


def test_a_step_taken_on_a_stale_page_is_refused(patient, clinician):
    recorded = services.diagnosis_record(diagnosis=a_diagnosis(patient), actor=clinician)
    services.diagnosis_update(diagnosis=dataclasses.replace(recorded, specifier="seen again"), actor=clinician)
    with pytest.raises(ConcurrencyError):
        services.diagnosis_resolve(diagnosis_id=recorded.id, version=recorded.audit.version, actor=clinician)
    assert models.Diagnosis.objects.get(pk=recorded.id).status == "active"


def test_update_changes_details_only_the_status_and_primary_have_their_own_steps(patient, clinician):
    recorded = services.diagnosis_record(diagnosis=a_diagnosis(patient), actor=clinician)
    with pytest.raises(RuleViolation) as caught:
        services.diagnosis_update(
            diagnosis=dataclasses.replace(recorded, status=Status.RESOLVED, status_since=today()), actor=clinician
        )
    assert list(caught.value.errors) == ["status"]
    with pytest.raises(RuleViolation) as caught:
        services.diagnosis_update(diagnosis=dataclasses.replace(recorded, is_primary=True), actor=clinician)
    assert list(caught.value.errors) == ["is_primary"]
    changed = services.diagnosis_update(
        diagnosis=dataclasses.replace(recorded, onset_date=dt.date(2026, 1, 2)), actor=clinician
    )
    assert changed.onset_date == dt.date(2026, 1, 2) and history(recorded.id)[-1][0] == "Details changed"


def test_of_patient_answers_only_that_patients_diagnoses(patient, clinician, staff):
    from diagnoses.tests.conftest import make_patient

    mine = services.diagnosis_record(diagnosis=a_diagnosis(patient), actor=clinician)
    theirs = services.diagnosis_record(diagnosis=a_diagnosis(make_patient(staff, "Other")), actor=staff)
    found = selectors.of_patient(patient_id=patient.id, ids=[mine.id, theirs.id, "junk"], user=clinician)
    assert list(found) == [mine.id]
