"""Progress on objectives: recorded from a signed progress note of the patient, on the current plan."""

import dataclasses
import datetime as dt
import uuid

import pytest

from novamind.domain import RuleViolation
from treatment_plans import domain as d
from treatment_plans.tests.unit.test_plan_rules import DESK, DRPATEL, PATIENT, TODAY, signed


def note(**changes) -> d.NoteFacts:
    facts = d.NoteFacts(
        id=uuid.uuid4(), patient_id=PATIENT, is_progress_note=True, is_signed=True, date_of_service=TODAY
    )
    return dataclasses.replace(facts, **changes)


def entry(plan, **changes) -> d.ObjectiveProgress:
    progress = d.ObjectiveProgress(
        objective_id=plan.goals[0].objectives[0].id, note_id=uuid.uuid4(), status=d.ObjectiveStatus.IN_PROGRESS
    )
    return dataclasses.replace(progress, **changes)


def refusal(call) -> dict[str, list[str]]:
    with pytest.raises(RuleViolation) as raised:
        call()
    return raised.value.errors


def test_progress_is_recorded_from_a_signed_progress_note_of_the_plans_patient():
    plan = signed()
    d.check_progress(entry(plan), plan=plan, note=note(), recorder=DRPATEL)
    assert refusal(
        lambda: d.check_progress(entry(plan), plan=plan, note=note(patient_id=uuid.uuid4()), recorder=DRPATEL)
    ) == {"note": ["The note must be about the plan's patient."]}
    assert refusal(
        lambda: d.check_progress(entry(plan), plan=plan, note=note(is_progress_note=False), recorder=DRPATEL)
    ) == {"note": ["Progress on a plan is recorded from a progress note."]}
    assert refusal(lambda: d.check_progress(entry(plan), plan=plan, note=note(is_signed=False), recorder=DRPATEL)) == {
        "note": ["Sign the progress note first: progress is recorded from a final note."]
    }


def test_progress_is_recorded_on_an_objective_of_the_current_plan_by_a_clinician():
    plan = signed()
    assert refusal(
        lambda: d.check_progress(entry(plan, objective_id=uuid.uuid4()), plan=plan, note=note(), recorder=DRPATEL)
    ) == {"objective": ["Choose an objective of this plan."]}
    superseded = plan.superseded()
    assert refusal(lambda: d.check_progress(entry(plan), plan=superseded, note=note(), recorder=DRPATEL)) == {
        "__all__": ["Progress is recorded on the objectives of the current plan."]
    }
    with pytest.raises(RuleViolation, match="does not say clinician"):
        d.check_progress(entry(plan), plan=plan, note=note(), recorder=DESK)


def test_an_entry_says_where_the_objective_stands_never_revised_and_a_short_comment():
    plan = signed()
    assert entry(plan, comment="  Walked daily.  ").validated().comment == "Walked daily."
    assert refusal(lambda: entry(plan, status=None).validated()) == {"status": ["This field is required."]}
    assert refusal(lambda: entry(plan, status=d.ObjectiveStatus.REVISED).validated()) == {
        "status": ["A progress note says how the objective went; a new plan version revises it."]
    }
    assert refusal(lambda: entry(plan, comment="x" * (d.COMMENT_MAX + 1)).validated()) == {
        "comment": [f"Use at most {d.COMMENT_MAX} characters (this has {d.COMMENT_MAX + 1})."]
    }


def test_an_objectives_latest_status_is_that_of_its_latest_note():
    first, second = uuid.uuid4(), uuid.uuid4()
    at = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)

    def recorded(objective, status, day, minutes=0):
        return d.ObjectiveProgress(
            objective_id=objective,
            note_id=uuid.uuid4(),
            status=status,
            date_of_service=TODAY - dt.timedelta(days=day),
            recorded_at=at + dt.timedelta(minutes=minutes),
        )

    entries = [
        recorded(first, d.ObjectiveStatus.MET, 1),
        recorded(first, d.ObjectiveStatus.IN_PROGRESS, 10, minutes=99),  # recorded later, about an older session
        recorded(second, d.ObjectiveStatus.IN_PROGRESS, 3),
        recorded(second, d.ObjectiveStatus.DISCONTINUED, 3, minutes=5),
    ]
    assert d.latest_statuses(entries) == {first: d.ObjectiveStatus.MET, second: d.ObjectiveStatus.DISCONTINUED}
