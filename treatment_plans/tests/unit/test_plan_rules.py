"""The rules of a treatment plan, on plain domain objects: drafting, signing, versions, closing, agreement."""

import dataclasses
import datetime as dt
import uuid

import pytest

from novamind.domain import RuleViolation
from treatment_plans import domain as d

TODAY = dt.date(2026, 12, 7)
NOW = dt.datetime(2026, 12, 7, 15, 30, tzinfo=dt.UTC)
PATIENT = uuid.uuid4()
DRPATEL = d.Clinician(id=7, username="drpatel", name="Priya Patel, PhD", is_clinician=True)
DESK = d.Clinician(id=9, username="frontdesk", name="Felix Desk", is_clinician=False)
F32 = d.ProblemListEntry(id=uuid.uuid4(), patient_id=PATIENT, code="F32.1", is_current=True)
F41 = d.ProblemListEntry(id=uuid.uuid4(), patient_id=PATIENT, code="F41.1", is_current=False)
ELSEWHERE = d.ProblemListEntry(id=uuid.uuid4(), patient_id=uuid.uuid4(), code="F43.10", is_current=True)
PROBLEM_LIST = {entry.id: entry for entry in (F32, F41, ELSEWHERE)}


def objective(text="Out of bed by 9 on 5 days a week.", target=TODAY + dt.timedelta(days=60), **options):
    return d.Objective(text=text, target_date=target, id=options.pop("id", uuid.uuid4()), **options)


def complete(**changes) -> d.TreatmentPlan:
    """Return a complete draft: one diagnosis, one goal with two objectives, one intervention."""
    plan = d.TreatmentPlan(
        patient_id=PATIENT,
        problems="I can't get out of bed.",
        diagnoses=(d.AddressedDiagnosis(diagnosis_id=F32.id, code="F32.1"),),
        goals=(d.Goal(number=1, text="Face the day.", objectives=(objective(), objective("PHQ-9 below 10."))),),
        interventions=(d.Intervention(modality="Individual CBT", frequency="Weekly", clinician=DRPATEL),),
        id=uuid.uuid4(),
    )
    return dataclasses.replace(plan, **changes)


def signed(plan=None, **changes) -> d.TreatmentPlan:
    plan = plan or complete(**changes)
    return plan.signed(signer=DRPATEL, at=NOW, signed_on=TODAY, review_days=90, problem_list=PROBLEM_LIST)


def errors(call) -> dict[str, list[str]]:
    with pytest.raises(RuleViolation) as raised:
        call()
    return raised.value.errors


def text(errors_by_part) -> str:
    return " ".join(message for messages in errors_by_part.values() for message in messages)


# --- a draft's content ----------------------------------------------------------------------------


def test_a_draft_may_be_incomplete_but_what_it_holds_must_be_well_formed():
    assert d.TreatmentPlan(patient_id=PATIENT).validated(today=TODAY).goals == ()
    found = errors(
        lambda: complete(
            problems="x" * (d.PROBLEMS_MAX + 1),
            goals=(
                d.Goal(number=1, text="", objectives=(objective(text=""),)),
                d.Goal(number=1, text="Again."),
                d.Goal(number=d.GOALS_MAX + 1, text="Too far."),
            ),
            interventions=(d.Intervention(modality="", frequency="", clinician=None),),
        ).validated(today=TODAY)
    )
    assert found["problems"] == [f"Use at most {d.PROBLEMS_MAX} characters (this has {d.PROBLEMS_MAX + 1})."]
    assert "Two goals are numbered 1: give each goal its own number." in found["goals"]
    assert "Goal 1, text: This field is required." in found["goals"]
    assert f"Goal {d.GOALS_MAX + 1}, number: Number the goal from 1 to {d.GOALS_MAX}." in found["goals"]
    assert found["objectives"] == ["Objective 1.1, text: This field is required."]
    assert found["interventions"] == [
        "Intervention 1, modality: This field is required.",
        "Intervention 1, frequency: This field is required.",
        "Intervention 1, clinician: This field is required.",
    ]


def test_the_patient_is_required_and_a_plan_cannot_revise_itself():
    plan = complete()
    found = errors(lambda: dataclasses.replace(plan, patient_id=None, replaces_id=plan.id).validated(today=TODAY))
    assert found["patient"] == ["This field is required."]
    assert found["__all__"] == ["A plan cannot revise itself."]


def test_each_diagnosis_is_named_once():
    twice = (d.AddressedDiagnosis(diagnosis_id=F32.id), d.AddressedDiagnosis(diagnosis_id=F32.id))
    assert errors(lambda: complete(diagnoses=twice).validated(today=TODAY)) == {
        "diagnoses": ["Name each diagnosis once."]
    }


def test_a_target_date_lies_between_1900_and_five_years_ahead():
    far = TODAY.replace(year=TODAY.year + 5) + dt.timedelta(days=1)
    found = errors(
        lambda: complete(goals=(d.Goal(number=1, text="g", objectives=(objective(target=far),)),)).validated(
            today=TODAY
        )
    )
    assert found["objectives"] == [
        f"Objective 1.1, target date: Enter a date no later than 7 December {TODAY.year + 5}."
    ]
    assert d.target_date_problem(dt.date(1899, 12, 31), today=TODAY) == "Enter a date no earlier than 1 January 1900."


def test_the_responsible_clinician_is_an_active_clinician():
    gone = dataclasses.replace(DRPATEL, is_active=False)
    for who in (DESK, gone):
        plan = complete(interventions=(d.Intervention(modality="CBT", frequency="Weekly", clinician=who),))
        assert errors(lambda plan=plan: plan.validated(today=TODAY))["interventions"] == [
            f"Intervention 1, clinician: {who.username} is not an active clinician."
        ]


def test_validation_normalises_text_orders_goals_and_numbers_objectives():
    plan = complete(
        problems="  line one\r\nline two \r\n",
        goals=(
            d.Goal(number=2, text=" second ", objectives=(objective("b"), objective("c"))),
            d.Goal(number=1, text="first", objectives=(objective("a"),)),
        ),
        interventions=(d.Intervention(modality=" CBT  group ", frequency="weekly", clinician=DRPATEL),),
    ).validated(today=TODAY)
    assert plan.problems == "line one\nline two"
    assert [(goal.number, goal.text) for goal in plan.goals] == [(1, "first"), (2, "second")]
    assert [(goal.number, o.number, o.text) for goal, o in plan.objectives] == [(1, 1, "a"), (2, 1, "b"), (2, 2, "c")]
    assert plan.interventions[0].modality == "CBT group" and plan.interventions[0].number == 1


# --- signing --------------------------------------------------------------------------------------


def test_signing_needs_a_diagnosis_a_goal_with_objectives_with_target_dates_and_an_intervention():
    bare = d.TreatmentPlan(patient_id=PATIENT, id=uuid.uuid4())
    found = errors(lambda: signed(bare))
    assert found == {
        "diagnoses": ["Choose at least one diagnosis the plan addresses."],
        "goals": ["Write at least one goal."],
        "interventions": ["Add at least one intervention (modality, frequency, clinician)."],
    }
    undated = complete(
        goals=(d.Goal(number=1, text="g", objectives=(objective(target=None),)), d.Goal(number=2, text="h"))
    )
    assert errors(lambda: signed(undated))["objectives"] == [
        "Objective 1.1 has no target date: set one.",
        "Goal 2 has no objective: give it at least one measurable objective.",
    ]


def test_a_signed_plan_is_current_due_for_review_and_sealed_with_its_hash():
    plan = signed()
    assert plan.status is d.PlanStatus.SIGNED and plan.is_current
    assert plan.signed_by == DRPATEL and plan.signed_at == NOW
    assert plan.review_due == TODAY + dt.timedelta(days=90)
    assert len(plan.content_hash) == 64 and plan.hash_matches()


def test_only_a_clinician_signs_and_only_a_draft():
    assert "does not say clinician" in text(
        errors(
            lambda: complete().signed(signer=DESK, at=NOW, signed_on=TODAY, review_days=90, problem_list=PROBLEM_LIST)
        )
    )
    assert errors(lambda: signed(signed())) == {"__all__": ["Only a draft is signed; this plan is current (signed)."]}


def test_a_plan_addresses_only_current_diagnoses_of_its_own_patient():
    resolved = complete(diagnoses=(d.AddressedDiagnosis(diagnosis_id=F41.id),))
    assert errors(lambda: signed(resolved))["diagnoses"] == [
        "A diagnosis the plan addresses is no longer on the problem list (resolved or ruled out): remove it from the plan."
    ]
    foreign = complete(diagnoses=(d.AddressedDiagnosis(diagnosis_id=ELSEWHERE.id),))
    assert errors(lambda: foreign.with_codes_from(PROBLEM_LIST)) == {
        "diagnoses": ["Choose only diagnoses of this patient."]
    }
    unknown = complete(diagnoses=(d.AddressedDiagnosis(diagnosis_id=uuid.uuid4()),))
    assert errors(lambda: unknown.with_codes_from(PROBLEM_LIST)) == {
        "diagnoses": ["Choose only diagnoses of this patient."]
    }


def test_signing_takes_the_codes_as_the_problem_list_has_them():
    stale = complete(diagnoses=(d.AddressedDiagnosis(diagnosis_id=F32.id, code="F32.9"),))
    assert signed(stale).diagnoses == (d.AddressedDiagnosis(diagnosis_id=F32.id, code="F32.1"),)


# --- the content hash -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        lambda plan: dataclasses.replace(plan, problems="Something else."),
        lambda plan: dataclasses.replace(plan, diagnoses=(d.AddressedDiagnosis(diagnosis_id=F32.id, code="F33.1"),)),
        lambda plan: dataclasses.replace(plan, goals=(dataclasses.replace(plan.goals[0], text="Another goal."),)),
        lambda plan: dataclasses.replace(
            plan,
            goals=(
                dataclasses.replace(
                    plan.goals[0],
                    objectives=(
                        dataclasses.replace(plan.goals[0].objectives[0], target_date=TODAY),
                        plan.goals[0].objectives[1],
                    ),
                ),
            ),
        ),
        lambda plan: dataclasses.replace(
            plan,
            interventions=(dataclasses.replace(plan.interventions[0], clinician=dataclasses.replace(DRPATEL, id=8)),),
        ),
        lambda plan: dataclasses.replace(plan, review_due=plan.review_due + dt.timedelta(days=1)),
        lambda plan: dataclasses.replace(plan, signed_at=plan.signed_at + dt.timedelta(seconds=1)),
    ],
    ids=["problems", "code", "goal", "target date", "clinician", "review date", "signature time"],
)
def test_the_hash_detects_any_change_of_what_was_signed(change):
    plan = signed()
    assert not change(plan).hash_matches()


def test_the_hash_ignores_what_follows_signing_and_a_plan_never_signed_has_none():
    plan = signed()
    later = plan.with_agreement(
        d.Agreement(agreed_on=TODAY, method=d.AgreementMethod.VERBAL_IN_SESSION), today=TODAY, signed_on=TODAY
    )
    assert later.hash_matches() and later.superseded().hash_matches()
    assert complete().hash_matches() and complete().content_hash == ""


# --- versions -------------------------------------------------------------------------------------


def test_revising_copies_the_current_plan_into_the_next_version_a_draft():
    plan = signed()
    met = plan.goals[0].objectives[0].id
    draft = plan.revision(author=DRPATEL, problem_list=PROBLEM_LIST, latest_status={met: d.ObjectiveStatus.MET})
    assert draft.status is d.PlanStatus.DRAFT and draft.id is None and draft.signed_at is None
    assert draft.version_number == 2 and draft.replaces_id == plan.id
    assert draft.problems == plan.problems and draft.diagnoses == plan.diagnoses
    assert [o.text for _goal, o in draft.objectives] == [o.text for _goal, o in plan.objectives]
    assert all(o.id is None for _goal, o in draft.objectives) and draft.goals[0].id is None
    assert [o.status for _goal, o in draft.objectives] == [d.ObjectiveStatus.MET, d.ObjectiveStatus.NOT_STARTED]
    assert draft.interventions[0].id is None and draft.interventions[0].clinician == DRPATEL


def test_a_revision_drops_the_diagnoses_no_longer_on_the_problem_list():
    plan = signed()
    resolved = {F32.id: dataclasses.replace(F32, is_current=False)}
    assert plan.revision(author=DRPATEL, problem_list=resolved, latest_status={}).diagnoses == ()


def test_only_the_current_plan_is_revised_by_a_clinician():
    assert errors(lambda: complete().revision(author=DRPATEL, problem_list={}, latest_status={})) == {
        "__all__": ["Only the current plan is revised; this one is draft."]
    }
    superseded = signed().superseded()
    assert "Open the plan that replaced it." in text(
        errors(lambda: superseded.revision(author=DRPATEL, problem_list={}, latest_status={}))
    )
    assert "does not say clinician" in text(
        errors(lambda: signed().revision(author=DESK, problem_list={}, latest_status={}))
    )


def test_a_new_plan_while_one_is_current_is_its_next_version_from_scratch():
    current = dataclasses.replace(signed(), version_number=3)
    new = d.new_plan(d.TreatmentPlan(patient_id=PATIENT), author=DRPATEL, current=current, today=TODAY)
    assert (new.version_number, new.replaces_id, new.status) == (4, current.id, d.PlanStatus.DRAFT)
    first = d.new_plan(d.TreatmentPlan(patient_id=PATIENT), author=DRPATEL, current=None, today=TODAY)
    assert (first.version_number, first.replaces_id) == (1, None)


def test_a_new_plan_is_a_draft_written_by_a_clinician():
    assert "does not say clinician" in text(
        errors(lambda: d.new_plan(d.TreatmentPlan(patient_id=PATIENT), author=DESK, current=None, today=TODAY))
    )
    assert errors(lambda: d.new_plan(signed(), author=DRPATEL, current=None, today=TODAY)) == {
        "__all__": ["A new plan starts as a draft; sign it once it is complete."]
    }


def test_one_draft_at_a_time_and_a_draft_signs_over_the_plan_it_revises_only():
    d.check_one_draft([])
    draft = complete(version_number=2)
    assert "already has a draft (version 2" in text(errors(lambda: d.check_one_draft([draft])))
    current = signed()
    d.check_sign_over(complete(replaces_id=current.id), current)
    d.check_sign_over(complete(), None)
    assert "became current since this draft was started" in text(
        errors(lambda: d.check_sign_over(complete(replaces_id=uuid.uuid4()), current))
    )


def test_only_a_draft_is_edited():
    d.check_draft_edit(complete())
    assert errors(lambda: d.check_draft_edit(signed())) == {"__all__": [d.SIGNED_IS_FINAL]}
    closed = complete().discontinued(on=TODAY, reason=d.DiscontinueReason.DRAFT_NOT_USED, today=TODAY)
    assert errors(lambda: d.check_draft_edit(closed)) == {"__all__": ["This plan is discontinued."]}


def test_only_the_current_plan_is_superseded():
    assert signed().superseded().status is d.PlanStatus.SUPERSEDED
    assert errors(lambda: complete().superseded()) == {
        "__all__": ["Only the current plan is superseded; this one is draft."]
    }


# --- closing and agreement --------------------------------------------------------------------------


def test_a_draft_or_the_current_plan_is_discontinued_with_a_reason_and_a_date():
    closed = signed().discontinued(
        on=TODAY, reason=d.DiscontinueReason.TREATMENT_COMPLETED, today=TODAY, begun_on=TODAY
    )
    assert closed.status is d.PlanStatus.DISCONTINUED and closed.was_signed and closed.hash_matches()
    found = errors(lambda: complete().discontinued(on=None, reason=None, today=TODAY))
    assert found == {"discontinued_on": ["This field is required."], "discontinue_reason": ["This field is required."]}
    assert errors(lambda: complete().discontinued(on=TODAY, reason=d.DiscontinueReason.OTHER, today=TODAY)) == {
        "discontinue_note": ["Describe the reason when it is 'Other'."]
    }


def test_a_plan_stops_neither_in_the_future_nor_before_it_began():
    future = errors(
        lambda: complete().discontinued(
            on=TODAY + dt.timedelta(days=1), reason=d.DiscontinueReason.LEFT_CARE, today=TODAY
        )
    )
    assert future == {"discontinued_on": ["The date cannot be in the future."]}
    early = errors(
        lambda: complete().discontinued(
            on=TODAY - dt.timedelta(days=2), reason=d.DiscontinueReason.LEFT_CARE, today=TODAY, begun_on=TODAY
        )
    )
    assert early == {"discontinued_on": [f"The plan began on {TODAY:%Y-%m-%d}: it cannot stop before that."]}


def test_a_superseded_or_closed_plan_is_not_discontinued_again():
    for plan in (
        signed().superseded(),
        complete().discontinued(on=TODAY, reason=d.DiscontinueReason.LEFT_CARE, today=TODAY),
    ):
        assert "only a draft or the current plan can be discontinued" in text(
            errors(lambda plan=plan: plan.discontinued(on=TODAY, reason=d.DiscontinueReason.LEFT_CARE, today=TODAY))
        )


def test_the_patient_agrees_once_to_the_current_plan_on_or_after_its_signature():
    agreement = d.Agreement(agreed_on=TODAY, method=d.AgreementMethod.SIGNED_IN_PERSON, note=" Copy given. ")
    agreed = signed().with_agreement(agreement, today=TODAY, signed_on=TODAY)
    assert agreed.agreement == dataclasses.replace(agreement, note="Copy given.")
    assert errors(lambda: agreed.with_agreement(agreement, today=TODAY, signed_on=TODAY)) == {
        "__all__": ["The patient's agreement to this plan is already recorded."]
    }
    assert errors(lambda: complete().with_agreement(agreement, today=TODAY, signed_on=TODAY)) == {
        "__all__": ["The patient's agreement is recorded on the current (signed) plan."]
    }
    early = d.Agreement(agreed_on=TODAY - dt.timedelta(days=1), method=None)
    assert errors(lambda: signed().with_agreement(early, today=TODAY, signed_on=TODAY)) == {
        "agreed_on": [f"The plan was signed on {TODAY:%Y-%m-%d}: the patient agrees to it then or later."],
        "agreement_method": ["This field is required."],
    }
    late = d.Agreement(agreed_on=TODAY + dt.timedelta(days=1), method=d.AgreementMethod.VERBAL_TELEHEALTH)
    assert errors(lambda: signed().with_agreement(late, today=TODAY, signed_on=TODAY)) == {
        "agreed_on": ["The date cannot be in the future."]
    }


# --- the backstop every save of a plan's row passes -------------------------------------------------


def test_a_plan_is_created_as_a_draft():
    d.check_write(None, complete())
    assert errors(lambda: d.check_write(None, signed())) == {
        "__all__": ["A plan is created as a draft and signed afterwards."]
    }


def test_a_signed_plans_content_and_signature_never_change():
    plan = signed()
    found = errors(lambda: d.check_write(plan, dataclasses.replace(plan, problems="Rewritten.")))
    assert found == {"problems": [d.SIGNED_IS_FINAL]}
    assert errors(lambda: d.check_write(plan, dataclasses.replace(plan, review_due=TODAY))) == {
        "__all__": ["The signature of a plan cannot be changed or withdrawn."]
    }
    assert errors(lambda: d.check_write(plan, dataclasses.replace(plan, patient_id=uuid.uuid4()))) == {
        "patient": ["A plan stays with the patient it was written for."]
    }
    assert "version and the plan it revises are set when it is created" in text(
        errors(lambda: d.check_write(plan, dataclasses.replace(plan, version_number=9)))
    )


def test_a_status_moves_only_forward():
    plan = signed()
    d.check_write(complete(), plan)
    d.check_write(plan, plan.superseded())
    assert "cannot become draft" in text(errors(lambda: d.check_write(plan, complete())))
    superseded = plan.superseded()
    assert "cannot become current (signed)" in text(errors(lambda: d.check_write(superseded, plan)))


def test_a_draft_carries_no_signature_and_a_signed_plan_all_of_it():
    assert errors(lambda: d.check_write(complete(), complete(signed_at=NOW))) == {
        "__all__": ["A draft carries no signature."]
    }
    plan = signed()
    assert "needs its signature" in text(
        errors(lambda: d.check_write(complete(), dataclasses.replace(plan, content_hash="")))
    )


def test_the_closing_and_the_agreement_are_recorded_once():
    plan = signed()
    closed = plan.discontinued(on=TODAY, reason=d.DiscontinueReason.LEFT_CARE, today=TODAY)
    d.check_write(plan, closed)
    assert "closing is recorded once" in text(
        errors(lambda: d.check_write(closed, dataclasses.replace(closed, discontinue_note="afterwards")))
    )
    agreement = d.Agreement(agreed_on=TODAY, method=d.AgreementMethod.SIGNED_IN_PERSON)
    agreed = plan.with_agreement(agreement, today=TODAY, signed_on=TODAY)
    d.check_write(plan, agreed)
    assert "recorded once, on the current plan" in text(
        errors(lambda: d.check_write(agreed, dataclasses.replace(agreed, agreement=None)))
    )
    assert "recorded once, on the current plan" in text(
        errors(lambda: d.check_write(complete(), complete(agreement=agreement)))
    )


# --- review dates -----------------------------------------------------------------------------------


def test_the_review_period_is_a_whole_number_of_days_up_to_a_year():
    assert d.review_days_problem(90) is None and d.review_days_problem(1) is None
    assert "between 1 and 366" in d.review_days_problem(0)
    assert "between 1 and 366" in d.review_days_problem(400)
    assert "whole number of days" in d.review_days_problem("90")
    assert "whole number of days" in d.review_days_problem(True)


def test_a_plan_is_overdue_the_day_after_its_review_date():
    assert not d.is_overdue(TODAY, today=TODAY)
    assert d.is_overdue(TODAY - dt.timedelta(days=1), today=TODAY)
    assert not d.is_overdue(None, today=TODAY)
