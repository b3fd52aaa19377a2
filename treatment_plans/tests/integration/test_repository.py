"""The plan repository and the models' backstops: domain objects out, attributed writes, a signed plan final on every path."""

import dataclasses

import pytest
from django.db import IntegrityError, connection, transaction

from novamind import audit
from novamind.domain import ConcurrencyError, NotFound, RuleViolation
from novamind.models import AnonymousWriteError
from treatment_plans import domain, models, repository
from treatment_plans.tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def plans(clinician):
    return repository.DjangoTreatmentPlanRepository(actor=clinician)


def test_add_and_get_by_id_return_the_plan_with_its_parts(plans, clinician, patient):
    diagnosis = factories.a_diagnosis(patient, actor=clinician)
    draft = domain.TreatmentPlan(patient_id=patient.id, **factories.content(diagnosis=diagnosis, clinician=clinician))

    stored = plans.add(draft.validated(today=diagnosis.created_at.date()))

    assert plans.get_by_id(stored.id) == stored
    assert stored.audit.created_by == "drpatel" and stored.audit.version == 1
    assert stored.diagnoses == (domain.AddressedDiagnosis(diagnosis_id=diagnosis.pk, code="F32.1"),)
    assert [(g.number, len(g.objectives)) for g in stored.goals] == [(1, 2)]
    assert stored.interventions[0].clinician.label == "drpatel, PhD"  # no name on file: the username
    assert plans.get_by_id("not-an-id") is None


def test_update_refuses_a_plan_read_at_another_version(plans, clinician, patient):
    draft = factories.drafted(clinician, patient)
    plans.update(dataclasses.replace(draft, problems="First."))
    with pytest.raises(ConcurrencyError):
        plans.update(dataclasses.replace(draft, problems="Second."))
    with pytest.raises(RuleViolation, match="read from the repository"):
        plans.update(dataclasses.replace(draft, audit=None))


def test_delete_discontinues_a_draft_as_not_used_and_a_current_plan_as_entered_in_error(plans, clinician, patient):
    draft = factories.drafted(clinician, patient)
    assert plans.delete(draft.id).discontinue_reason is domain.DiscontinueReason.DRAFT_NOT_USED
    current = factories.signed(clinician, patient)
    closed = plans.delete(current.id)
    assert (closed.status, closed.discontinue_reason) == (
        domain.PlanStatus.DISCONTINUED,
        domain.DiscontinueReason.ENTERED_IN_ERROR,
    )
    assert models.TreatmentPlan.objects.count() == 2
    with pytest.raises(NotFound):
        plans.delete("00000000-0000-0000-0000-000000000000")


def test_a_signed_plans_row_refuses_a_change_of_content_on_any_path(clinician, patient):
    plan = factories.signed(clinician, patient)
    row = models.TreatmentPlan.objects.get(pk=plan.id)
    row.problems = "Rewritten behind the services."
    with pytest.raises(RuleViolation, match="signed and can no longer be changed"):
        audit.audited_save(row, actor=clinician, validate=False)
    row.refresh_from_db()
    row.status = models.DRAFT
    with pytest.raises(RuleViolation, match="cannot become draft"):
        audit.audited_save(row, actor=clinician, validate=False)


@pytest.mark.parametrize("part", [models.Goal, models.Objective, models.Intervention, models.PlanDiagnosis])
def test_the_parts_of_a_signed_plan_refuse_any_write_or_removal(clinician, patient, part):
    plan = factories.signed(clinician, patient)
    row = part.objects.filter(plan_id=plan.id).first()
    with pytest.raises(RuleViolation, match="signed and can no longer be changed"):
        audit.audited_save(row, actor=clinician, validate=False)
    row._history_user = clinician
    with pytest.raises(RuleViolation, match="signed and can no longer be changed"):
        row.delete()
    with pytest.raises(RuleViolation, match="signed and can no longer be changed"):
        audit.audited_save(part(**_new_part(part, plan, row)), actor=clinician, validate=False)


def _new_part(part, plan, row):
    values = {"plan_id": plan.id}
    if part is models.Goal:
        values.update(number=2, text="Another")
    elif part is models.Objective:
        values.update(goal_number=1, text="Another")
    elif part is models.Intervention:
        values.update(modality="Group", frequency="Weekly", clinician_id=row.clinician_id)
    else:
        values.update(diagnosis_id=row.diagnosis_id)
    return values


def test_writes_without_a_named_user_are_refused(clinician, patient):
    draft = factories.drafted(clinician, patient)
    goal = models.Goal.objects.get(plan_id=draft.id)
    with pytest.raises(AnonymousWriteError):
        goal.save()
    with pytest.raises(AnonymousWriteError):
        goal.delete()
    with pytest.raises(AnonymousWriteError):
        models.TreatmentPlan.objects.get(pk=draft.id).save()


def test_a_progress_entry_is_never_changed_or_deleted(clinician, patient):
    from clinical_notes.tests import factories as notes_factories
    from treatment_plans import services

    plan = factories.signed(clinician, patient)
    note = notes_factories.signed(clinician, patient)
    entry = services.objective_progress_record(
        objective_id=plan.goals[0].objectives[0].id, note_id=note.id, status=domain.ObjectiveStatus.MET, actor=clinician
    )
    row = models.ObjectiveProgress.objects.get(pk=entry.id)
    row.comment = "Changed."
    with pytest.raises(RuleViolation, match="never changes"):
        audit.audited_save(row, actor=clinician)
    with pytest.raises(RuleViolation, match="cannot be deleted"):
        row.delete()


# --- the database backstops -----------------------------------------------------------------------


def _key(plan_id):
    return models.TreatmentPlan._meta.pk.get_db_prep_value(plan_id, connection)


def test_the_database_keeps_one_draft_per_patient(clinician, patient):
    factories.drafted(clinician, patient)
    second = models.TreatmentPlan(patient_id=patient.id, version_number=2)
    with pytest.raises(IntegrityError), transaction.atomic():
        audit.audited_save(second, actor=clinician, validate=False)


def test_the_database_keeps_one_current_plan_per_patient(clinician, patient):
    first = factories.signed(clinician, patient)
    closed = factories.drafted(clinician, patient)
    models_table = models.TreatmentPlan._meta.db_table
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {models_table} SET status = 'signed', signed_at = %s, signed_by_id = %s, "  # noqa: S608
            f"content_hash = 'x', review_due = %s WHERE id = %s",
            [first.signed_at, clinician.pk, first.review_due, _key(closed.id)],
        )


def test_a_signed_plan_without_its_signature_is_refused_by_the_database(clinician, patient):
    plan = factories.signed(clinician, patient)
    table = models.TreatmentPlan._meta.db_table
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET content_hash = '' WHERE id = %s",  # noqa: S608
            [_key(plan.id)],
        )
