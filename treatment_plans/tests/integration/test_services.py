"""The plan services on the real database: the timeline, the review date, the care rule, nothing half-written."""

import dataclasses
import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clinical_notes import domain as notes_domain
from clinical_notes.tests import factories as notes_factories
from conftest import assign_care
from diagnoses import domain as diagnoses_domain
from novamind import audit, roles
from novamind.domain import AccessDenied, ConcurrencyError, RuleViolation
from novamind.tests.integration.role_users import member
from patients import models as patients_models
from treatment_plans import domain, models, services
from treatment_plans.tests import factories

pytestmark = pytest.mark.django_db


def statuses(patient):
    return list(
        models.TreatmentPlan.objects.filter(patient_id=patient.id)
        .order_by("created_at")
        .values_list("version_number", "status")
    )


def test_a_plan_is_drafted_then_signed_current_and_due_for_review_after_the_clinics_period(
    clinician, patient, settings
):
    settings.NOVAMIND_PLAN_REVIEW_DAYS = 30
    draft = factories.drafted(clinician, patient)
    assert draft.status is domain.PlanStatus.DRAFT and draft.version_number == 1
    assert [o.text for _g, o in draft.objectives] == ["Out of bed by 9 on 5 days a week.", "PHQ-9 below 10."]

    signed = services.plan_sign(plan_id=draft.id, actor=clinician)

    assert signed.is_current and signed.signed_by.username == "drpatel"
    assert signed.review_due == timezone.localdate() + dt.timedelta(days=30)
    assert signed.hash_matches()
    row = models.TreatmentPlan.objects.get(pk=signed.id)
    assert [h.history_change_reason for h in row.history.order_by("history_id")] == [
        "Drafted (version 1)",
        "Signed (version 1)",
    ]
    assert {h.history_user for h in row.history.all()} == {clinician}


def test_signing_the_next_version_supersedes_the_current_plan_in_the_same_step(clinician, patient):
    first = factories.signed(clinician, patient)
    draft = services.plan_revise(plan_id=first.id, actor=clinician)
    assert statuses(patient) == [(1, "signed"), (2, "draft")]  # the current plan stays in force meanwhile

    second = services.plan_sign(plan_id=draft.id, actor=clinician)

    assert statuses(patient) == [(1, "superseded"), (2, "signed")]
    assert second.replaces_id == first.id
    assert services_get(clinician, first.id).replaced_by_id == second.id


def services_get(actor, plan_id):
    from treatment_plans import repository

    return repository.DjangoTreatmentPlanRepository(actor=actor).get_by_id(plan_id)


def test_a_revision_copies_the_plan_with_objectives_at_their_latest_progress(clinician, patient):
    plan = factories.signed(clinician, patient)
    note = notes_factories.signed(clinician, patient)
    objective = plan.goals[0].objectives[1]
    services.objective_progress_record(
        objective_id=objective.id, note_id=note.id, status=domain.ObjectiveStatus.MET, actor=clinician
    )

    draft = services.plan_revise(plan_id=plan.id, actor=clinician)

    assert draft.version_number == 2 and draft.problems == plan.problems and draft.diagnoses == plan.diagnoses
    assert [(o.text, o.status) for _g, o in draft.objectives] == [
        ("Out of bed by 9 on 5 days a week.", domain.ObjectiveStatus.NOT_STARTED),
        ("PHQ-9 below 10.", domain.ObjectiveStatus.MET),
    ]
    assert {o.id for _g, o in draft.objectives}.isdisjoint({o.id for _g, o in plan.objectives})


def test_a_new_plan_while_one_is_current_is_its_next_version_and_supersedes_it_once_signed(clinician, patient):
    current = factories.signed(clinician, patient)
    fresh = factories.drafted(clinician, patient, problems="Starting over.")
    assert (fresh.version_number, fresh.replaces_id) == (2, current.id)
    services.plan_sign(plan_id=fresh.id, actor=clinician)
    assert statuses(patient) == [(1, "superseded"), (2, "signed")]


def test_one_version_is_written_at_a_time(clinician, patient):
    plan = factories.signed(clinician, patient)
    services.plan_revise(plan_id=plan.id, actor=clinician)
    with pytest.raises(RuleViolation, match="already has a draft"):
        services.plan_revise(plan_id=plan.id, actor=clinician)
    with pytest.raises(RuleViolation, match="already has a draft"):
        factories.drafted(clinician, patient)
    assert statuses(patient) == [(1, "signed"), (2, "draft")]


def test_a_discontinued_draft_frees_the_plan_for_another_revision(clinician, patient):
    plan = factories.signed(clinician, patient)
    draft = services.plan_revise(plan_id=plan.id, actor=clinician)
    services.plan_discontinue(plan_id=draft.id, reason=domain.DiscontinueReason.DRAFT_NOT_USED, actor=clinician)
    again = services.plan_revise(plan_id=plan.id, actor=clinician)
    assert again.version_number == 2 and statuses(patient) == [(1, "signed"), (2, "discontinued"), (2, "draft")]


def test_a_draft_is_updated_whole_and_a_signed_plan_refuses_any_update(clinician, patient):
    draft = factories.drafted(clinician, patient)
    goal = draft.goals[0]
    kept = goal.objectives[0]
    changed = dataclasses.replace(
        draft,
        problems="Worse in the mornings.",
        goals=(
            dataclasses.replace(goal, objectives=(dataclasses.replace(kept, text="Out of bed by 8."),)),
            domain.Goal(
                number=2, text="Sleep", objectives=(domain.Objective(text="7 hours", target_date=kept.target_date),)
            ),
        ),
    )

    stored = services.plan_update(plan=changed, actor=clinician)

    assert stored.problems == "Worse in the mornings." and stored.audit.version == draft.audit.version + 1
    assert [(g.number, o.number, o.text) for g, o in stored.objectives] == [
        (1, 1, "Out of bed by 8."),
        (2, 1, "7 hours"),
    ]
    assert stored.goals[0].objectives[0].id == kept.id  # the same row, changed
    removed = models.Objective.history.filter(history_type="-").get()
    assert removed.history_user == clinician and removed.history_change_reason == "Removed from the draft"

    signed = services.plan_sign(plan_id=stored.id, actor=clinician)
    with pytest.raises(RuleViolation, match="signed and can no longer be changed"):
        services.plan_update(plan=dataclasses.replace(signed, problems="Tampered."), actor=clinician)


def test_two_editors_of_one_draft_cannot_both_win(clinician, patient):
    draft = factories.drafted(clinician, patient)
    services.plan_update(plan=dataclasses.replace(draft, problems="First."), actor=clinician)
    with pytest.raises(ConcurrencyError):
        services.plan_update(plan=dataclasses.replace(draft, goals=()), actor=clinician)
    assert models.Goal.objects.filter(plan_id=draft.id).count() == 1


def test_signing_refuses_an_incomplete_plan_and_writes_nothing(clinician, patient):
    diagnosis = factories.a_diagnosis(patient, actor=clinician)
    draft = services.plan_create(
        plan=domain.TreatmentPlan(
            patient_id=patient.id, **factories.content(diagnosis=diagnosis, clinician=clinician, interventions=())
        ),
        actor=clinician,
    )
    with pytest.raises(RuleViolation) as refused:
        services.plan_sign(plan_id=draft.id, actor=clinician)
    assert refused.value.errors == {
        "interventions": ["Add at least one intervention (modality, frequency, clinician)."]
    }
    assert statuses(patient) == [(1, "draft")]


def test_a_plan_addresses_the_patients_current_diagnoses_only(clinician, patient, root):
    resolved = factories.a_diagnosis(
        patient, actor=clinician, code="F41.1", status=diagnoses_domain.DiagnosisStatus.RESOLVED
    )
    with pytest.raises(RuleViolation, match="no longer on the problem list"):
        factories.drafted(clinician, patient, diagnosis=resolved)
    other = patients_models.Patient.objects.exclude(pk=patient.id).first() or _another_patient(root, clinician)
    foreign = factories.a_diagnosis(other, actor=root, code="F43.10")
    with pytest.raises(RuleViolation, match="only diagnoses of this patient"):
        factories.drafted(clinician, patient, diagnosis=foreign)
    assert statuses(patient) == []


def _another_patient(root, clinician):
    from patients import domain as patients_domain
    from patients import repository as patients_repository

    return patients_repository.DjangoPatientRepository(actor=root).add(
        patients_domain.Patient(legal_first_name="Sam", legal_last_name="Other", date_of_birth=dt.date(1985, 1, 2))
    )


def test_a_diagnosis_resolved_before_signing_stops_the_signature(clinician, patient):
    draft = factories.drafted(clinician, patient)
    diagnosis = models.PlanDiagnosis.objects.get(plan_id=draft.id).diagnosis
    diagnosis.status, diagnosis.status_since = diagnoses_domain.DiagnosisStatus.RESOLVED.value, timezone.localdate()
    audit.audited_save(diagnosis, actor=clinician)
    with pytest.raises(RuleViolation, match="no longer on the problem list"):
        services.plan_sign(plan_id=draft.id, actor=clinician)


def test_deleting_a_plan_discontinues_it(clinician, patient):
    draft = factories.drafted(clinician, patient)
    closed = services.plan_delete(plan_id=draft.id, actor=clinician)
    assert (closed.status, closed.discontinue_reason) == (
        domain.PlanStatus.DISCONTINUED,
        domain.DiscontinueReason.DRAFT_NOT_USED,
    )
    assert statuses(patient) == [(1, "discontinued")]


def test_a_plan_is_discontinued_never_deleted(clinician, patient):
    plan = factories.signed(clinician, patient)
    closed = services.plan_discontinue(
        plan_id=plan.id, reason=domain.DiscontinueReason.OTHER, note="Moved abroad.", actor=clinician
    )
    assert closed.status is domain.PlanStatus.DISCONTINUED and closed.hash_matches()
    with pytest.raises(RuleViolation, match="discontinue it instead"):
        models.TreatmentPlan.objects.get(pk=plan.id).delete()
    assert models.TreatmentPlan.objects.filter(pk=plan.id).exists()


def test_the_patients_agreement_is_recorded_once_on_the_current_plan(clinician, patient):
    plan = factories.signed(clinician, patient)
    agreed = services.plan_agreement_record(
        plan_id=plan.id,
        agreed_on=timezone.localdate(),
        method=domain.AgreementMethod.VERBAL_IN_SESSION,
        actor=clinician,
    )
    assert agreed.agreement.method is domain.AgreementMethod.VERBAL_IN_SESSION and agreed.hash_matches()
    with pytest.raises(RuleViolation, match="already recorded"):
        services.plan_agreement_record(
            plan_id=plan.id,
            agreed_on=timezone.localdate(),
            method=domain.AgreementMethod.SIGNED_IN_PERSON,
            actor=clinician,
        )


# --- progress ----------------------------------------------------------------------------------------


def test_progress_is_recorded_from_a_signed_progress_note_on_the_current_plan(clinician, patient):
    plan = factories.signed(clinician, patient)
    note = notes_factories.signed(clinician, patient)
    objective = plan.goals[0].objectives[0]

    entry = services.objective_progress_record(
        objective_id=objective.id,
        note_id=note.id,
        status=domain.ObjectiveStatus.IN_PROGRESS,
        rating=domain.ProgressRating.SOME,
        comment="Up by 9 on three days.",
        actor=clinician,
    )

    assert entry.recorded_by == "drpatel" and entry.date_of_service == note.date_of_service
    with pytest.raises(RuleViolation, match="already recorded from this note"):
        services.objective_progress_record(
            objective_id=objective.id, note_id=note.id, status=domain.ObjectiveStatus.MET, actor=clinician
        )


@pytest.mark.parametrize(
    "note_of",
    [
        lambda clinician, patient: notes_factories.drafted(clinician, patient),
        lambda clinician, patient: notes_factories.signed(
            clinician, patient, kind=notes_domain.NoteKind.INTAKE_ASSESSMENT
        ),
        lambda clinician, patient: notes_factories.signed(
            clinician,
            patient,
            kind=notes_domain.NoteKind.PSYCHOTHERAPY_NOTE,
            format=notes_domain.NoteFormat.FREE_TEXT,
            sections=notes_domain.Sections(body="Private."),
        ),
    ],
    ids=["a draft", "an intake assessment", "a psychotherapy note"],
)
def test_progress_is_refused_from_any_other_note(clinician, patient, note_of):
    plan = factories.signed(clinician, patient)
    note = note_of(clinician, patient)
    with pytest.raises(RuleViolation):
        services.objective_progress_record(
            objective_id=plan.goals[0].objectives[0].id,
            note_id=note.id,
            status=domain.ObjectiveStatus.MET,
            actor=clinician,
        )
    assert not models.ObjectiveProgress.objects.exists()


def test_progress_is_refused_on_a_superseded_plan(clinician, patient):
    plan = factories.signed(clinician, patient)
    factories.revised_and_signed(clinician, plan)
    note = notes_factories.signed(clinician, patient)
    with pytest.raises(RuleViolation, match="current plan"):
        services.objective_progress_record(
            objective_id=plan.goals[0].objectives[0].id,
            note_id=note.id,
            status=domain.ObjectiveStatus.MET,
            actor=clinician,
        )


# --- who may --------------------------------------------------------------------------------------


def test_a_clinician_outside_the_patients_care_is_refused_every_step_and_nothing_is_written(
    clinician, colleague, patient
):
    plan = factories.signed(clinician, patient)
    note = notes_factories.signed(clinician, patient)
    steps = [
        lambda: factories.drafted(colleague, patient),
        lambda: services.plan_revise(plan_id=plan.id, actor=colleague),
        lambda: services.plan_sign(plan_id=plan.id, actor=colleague),
        lambda: services.plan_update(plan=plan, actor=colleague),
        lambda: services.plan_discontinue(plan_id=plan.id, reason=domain.DiscontinueReason.LEFT_CARE, actor=colleague),
        lambda: services.plan_agreement_record(
            plan_id=plan.id,
            agreed_on=timezone.localdate(),
            method=domain.AgreementMethod.VERBAL_IN_SESSION,
            actor=colleague,
        ),
        lambda: services.objective_progress_record(
            objective_id=plan.goals[0].objectives[0].id,
            note_id=note.id,
            status=domain.ObjectiveStatus.MET,
            actor=colleague,
        ),
    ]
    for step in steps:
        with pytest.raises(AccessDenied, match="not on this patient's care team"):
            step()
    assert statuses(patient) == [(1, "signed")] and not models.ObjectiveProgress.objects.exists()


def test_roles_without_plans_are_refused_and_only_clinicians_write_them(patient, root):
    desk = member("frontdesk", roles.FRONT_DESK)
    with pytest.raises(AccessDenied, match="lacks the permission"):
        factories.drafted(desk, patient)
    no_profile = member("newcomer", roles.CLINICIAN)
    assign_care(patient, no_profile, by=root)
    with pytest.raises(RuleViolation, match="does not say clinician"):
        factories.drafted(no_profile, patient)
    assert statuses(patient) == []


def test_writing_a_plan_never_puts_anyone_on_the_care_team(clinician, colleague, patient):
    team_before = set(
        patients_models.CareAssignment.objects.filter(patient_id=patient.id).values_list("clinician", flat=True)
    )
    plan = factories.signed(
        clinician,
        patient,
        interventions=(
            domain.Intervention(modality="Group", frequency="Weekly", clinician=models.clinician_of(colleague)),
        ),
    )
    assert plan.interventions[0].clinician.username == "msmith"
    team_after = set(
        patients_models.CareAssignment.objects.filter(patient_id=patient.id).values_list("clinician", flat=True)
    )
    assert team_after == team_before


def test_a_plan_is_read_in_the_same_queries_whatever_it_holds(clinician, patient):
    from treatment_plans import repository

    small = factories.drafted(clinician, patient)
    plans = repository.DjangoTreatmentPlanRepository(actor=clinician)
    with CaptureQueriesContext(connection) as few:
        plans.get_by_id(small.id)
    big = dataclasses.replace(
        small,
        goals=tuple(
            domain.Goal(
                number=n,
                text=f"goal {n}",
                objectives=tuple(
                    domain.Objective(text=f"o{n}.{m}", target_date=timezone.localdate()) for m in range(3)
                ),
            )
            for n in range(1, 6)
        ),
        interventions=small.interventions * 4,
    )
    big = dataclasses.replace(big, interventions=tuple(dataclasses.replace(i, id=None) for i in big.interventions))
    services.plan_update(plan=big, actor=clinician)
    with CaptureQueriesContext(connection) as many:
        plans.get_by_id(small.id)
    assert len(many) == len(few)
