"""The problem list's rules, without a database: codes, dates, status, primary, a code listed once."""

import dataclasses
import datetime as dt
import uuid

import pytest

from diagnoses import domain
from novamind.domain import RuleViolation

TODAY = dt.date(2026, 6, 15)
PATIENT = uuid.uuid4()
Status = domain.DiagnosisStatus


def a_diagnosis(code="F32.1", **changes):
    return domain.Diagnosis(patient_id=PATIENT, code=code, **changes)


def stored(code="F32.1", **changes):
    """Return a diagnosis as the repository returns it: validated, with an identity."""
    return dataclasses.replace(a_diagnosis(code, **changes).as_recorded(today=TODAY), id=uuid.uuid4())


def errors_of(call) -> dict[str, list[str]]:
    with pytest.raises(RuleViolation) as caught:
        call()
    return caught.value.errors


# --- the code -----------------------------------------------------------------------------------


def test_a_billable_code_gets_its_official_description_whatever_description_was_given():
    diagnosis = a_diagnosis(description="my own words").validated(today=TODAY)
    assert (diagnosis.code, diagnosis.description) == ("F32.1", "Major depressive disorder, single episode, moderate")
    assert diagnosis.label == "F32.1 Major depressive disorder, single episode, moderate"


def test_a_code_is_written_as_the_code_set_writes_it():
    assert a_diagnosis(" f411 ").validated(today=TODAY).code == "F41.1"


def test_a_category_is_not_billable_and_says_to_choose_a_more_specific_code():
    assert errors_of(lambda: a_diagnosis("F32").validated(today=TODAY)) == {
        "code": ["F32 is a category, not a billable code: choose one of its more specific codes."]
    }


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("", "This field is required."),
        ("depression", "is not an ICD-10-CM code"),
        ("F99.9", "is not in the ICD-10-CM, April 1, 2026 update (FY2026) code set"),
    ],
)
def test_a_missing_malformed_or_unknown_code_is_refused_next_to_the_code(code, message):
    [error] = errors_of(lambda: a_diagnosis(code).validated(today=TODAY))["code"]
    assert message in error


def test_the_specifier_is_trimmed_and_limited():
    assert a_diagnosis(specifier="  with anxious distress \n").validated(today=TODAY).specifier == (
        "with anxious distress"
    )
    [error] = errors_of(lambda: a_diagnosis(specifier="x" * 1001).validated(today=TODAY))["specifier"]
    assert "at most 1000 characters" in error


# --- dates --------------------------------------------------------------------------------------


def test_an_onset_in_the_future_or_before_1900_is_refused():
    assert (
        "no later than"
        in errors_of(lambda: a_diagnosis(onset_date=TODAY + dt.timedelta(days=1)).validated(today=TODAY))["onset_date"][
            0
        ]
    )
    assert (
        "no earlier than"
        in errors_of(lambda: a_diagnosis(onset_date=dt.date(1899, 12, 31)).validated(today=TODAY))["onset_date"][0]
    )


def test_resolving_needs_the_date_it_resolved():
    assert errors_of(lambda: a_diagnosis(status=Status.RESOLVED).validated(today=TODAY)) == {
        "status_since": ["Enter the date it resolved."]
    }


def test_a_status_cannot_begin_before_the_onset():
    diagnosis = a_diagnosis(onset_date=dt.date(2026, 3, 1), status=Status.RESOLVED, status_since=dt.date(2026, 2, 1))
    assert errors_of(lambda: diagnosis.validated(today=TODAY)) == {"status_since": ["This is before the onset."]}


def test_a_new_active_diagnosis_is_active_since_its_onset_or_since_today():
    assert a_diagnosis(onset_date=dt.date(2026, 1, 5)).as_recorded(today=TODAY).status_since == dt.date(2026, 1, 5)
    assert a_diagnosis().as_recorded(today=TODAY).status_since == TODAY
    assert a_diagnosis(status=Status.IN_REMISSION).as_recorded(today=TODAY).status_since == TODAY


def test_a_diagnosis_recorded_as_resolved_is_never_given_a_guessed_date():
    assert errors_of(lambda: a_diagnosis(status=Status.RESOLVED).as_recorded(today=TODAY)) == {
        "status_since": ["Enter the date it resolved."]
    }


# --- the primary diagnosis ----------------------------------------------------------------------


def test_a_ruled_out_diagnosis_is_never_primary():
    diagnosis = a_diagnosis(status=Status.RULED_OUT, is_primary=True)
    assert errors_of(lambda: diagnosis.validated(today=TODAY)) == {
        "is_primary": ["A ruled-out diagnosis cannot be the primary one."]
    }


def test_a_resolved_diagnosis_is_not_primary_either():
    diagnosis = a_diagnosis(status=Status.RESOLVED, status_since=TODAY, is_primary=True)
    assert errors_of(lambda: diagnosis.validated(today=TODAY)) == {"is_primary": [domain.NOT_ON_THE_LIST]}


def test_a_current_diagnosis_is_made_primary():
    assert domain.made_primary(stored(status=Status.IN_REMISSION)).is_primary


def test_only_a_diagnosis_on_the_problem_list_is_made_primary():
    resolved = stored(status=Status.RESOLVED, status_since=TODAY)
    assert errors_of(lambda: domain.made_primary(resolved)) == {"is_primary": [domain.NOT_ON_THE_LIST]}
    assert errors_of(lambda: domain.made_primary(stored(is_primary=True))) == {
        "is_primary": ["It is already the primary diagnosis."]
    }


# --- status changes -----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [Status.RESOLVED, Status.RULED_OUT])
def test_leaving_the_problem_list_stops_a_diagnosis_being_primary(status):
    changed = domain.with_status(stored(is_primary=True), status, on=TODAY, today=TODAY)
    assert (changed.status, changed.status_since, changed.is_primary, changed.is_current) == (
        status,
        TODAY,
        False,
        False,
    )


def test_going_into_remission_keeps_the_primary_flag():
    changed = domain.with_status(stored(is_primary=True), Status.IN_REMISSION, on=TODAY, today=TODAY)
    assert changed.is_primary and changed.is_current


def test_a_resolved_diagnosis_can_recur_and_a_rule_out_be_reconsidered():
    resolved = stored(status=Status.RESOLVED, status_since=dt.date(2026, 1, 1))
    assert domain.with_status(resolved, Status.ACTIVE, on=TODAY, today=TODAY).status is Status.ACTIVE
    ruled_out = stored(status=Status.RULED_OUT)
    assert domain.with_status(ruled_out, Status.ACTIVE, on=TODAY, today=TODAY).is_current


def test_resolving_without_a_date_or_to_the_same_status_is_refused():
    assert errors_of(lambda: domain.with_status(stored(), Status.RESOLVED, on=None, today=TODAY)) == {
        "status_since": ["Enter the date it resolved."]
    }
    assert errors_of(lambda: domain.with_status(stored(), Status.ACTIVE, on=TODAY, today=TODAY)) == {
        "status": ["It is already active."]
    }


def test_a_status_change_is_not_dated_in_the_future_or_before_the_onset():
    diagnosis = stored(onset_date=dt.date(2026, 3, 1))
    future = TODAY + dt.timedelta(days=1)
    assert (
        "no later than"
        in errors_of(lambda: domain.with_status(diagnosis, Status.RESOLVED, on=future, today=TODAY))["status_since"][0]
    )
    assert errors_of(lambda: domain.with_status(diagnosis, Status.RESOLVED, on=dt.date(2026, 2, 1), today=TODAY)) == {
        "status_since": ["This is before the onset."]
    }


# --- what a recorded diagnosis is ---------------------------------------------------------------


def test_a_recorded_diagnosis_keeps_its_code_and_its_patient():
    before = stored()
    assert list(errors_of(lambda: domain.check_change(before, dataclasses.replace(before, code="F33.1")))) == ["code"]
    moved = dataclasses.replace(before, patient_id=uuid.uuid4())
    assert list(errors_of(lambda: domain.check_change(before, moved))) == ["patient"]
    domain.check_change(before, dataclasses.replace(before, code="f32.1", specifier="with anxious distress"))


# --- the problem list ---------------------------------------------------------------------------


def test_a_code_is_on_the_problem_list_once():
    listed = stored()
    assert errors_of(lambda: domain.check_problem_list(a_diagnosis().validated(today=TODAY), [listed])) == {
        "code": ["F32.1 is already on the problem list (active)."]
    }
    in_remission = stored(status=Status.IN_REMISSION)
    assert (
        "(in remission)"
        in errors_of(lambda: domain.check_problem_list(a_diagnosis().validated(today=TODAY), [in_remission]))["code"][0]
    )


def test_a_code_that_left_the_problem_list_may_be_recorded_again():
    resolved = stored(status=Status.RESOLVED, status_since=TODAY)
    ruled_out = stored(status=Status.RULED_OUT)
    domain.check_problem_list(a_diagnosis().validated(today=TODAY), [resolved, ruled_out])


def test_a_diagnosis_that_leaves_the_list_or_is_saved_again_conflicts_with_nothing():
    listed = stored()
    domain.check_problem_list(dataclasses.replace(listed, specifier="with anxious distress"), [listed])
    resolved = domain.with_status(stored(), Status.RESOLVED, on=TODAY, today=TODAY)
    domain.check_problem_list(resolved, [listed])


def test_returning_to_the_list_conflicts_with_the_same_code_listed_since():
    resolved = stored(status=Status.RESOLVED, status_since=TODAY)
    recurrence = stored()
    back = domain.with_status(resolved, Status.ACTIVE, on=TODAY, today=TODAY)
    assert list(errors_of(lambda: domain.check_problem_list(back, [recurrence]))) == ["code"]
