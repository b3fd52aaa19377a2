"""The treatment-plan repository: domain objects out, attributed writes in. Persistence only.

It decides nothing about who may write, or whether a step may be taken: that is
`treatment_plans.services`, the only write door, which asks the policy and the domain first and
then stores through this module. The models still refuse a change to a signed plan or its parts
on every path (`domain.check_write`, `models.PlanPart`), as the backstop.

A draft is stored whole: `update` saves the plan's own row and its parts as given (rows added,
changed rows saved, rows no longer there removed, each with its history row), and the plan's row
is saved every time, so its version covers the whole draft and two people editing one draft
cannot both win. A plan's parts are read in a fixed number of queries, however many plans.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from clinical_notes import domain as notes_domain
from clinical_notes import models as notes_models
from diagnoses import domain as diagnoses_domain
from diagnoses import models as diagnoses_models
from novamind import audit
from novamind.domain import ConcurrencyError, NotFound, RuleViolation, parse_id
from patients import models as patients_models
from treatment_plans import domain, models

PLAN_RELATIONS = ("signed_by__staff_profile", "created_by", "updated_by")
CURRENT_DIAGNOSES = [status.value for status in diagnoses_domain.CURRENT_STATUSES]


def lock_patient(patient_id) -> patients_models.Patient:
    """Return the patient's row, locked until the transaction ends: plans of one patient are written one at a time."""
    patient = (
        patients_models.Patient.objects.select_for_update().filter(pk=patient_id).only("id", "mrn", "status").first()
        if parse_id(patient_id)
        else None
    )
    if patient is None:
        raise RuleViolation({"patient": ["No patient with this id."]})
    return patient


def parts_of(plan_ids: Iterable) -> dict[uuid.UUID, models.Parts]:
    """Return {plan id: its parts} for these plans, in five queries whatever their number."""
    ids = [plan_id for plan_id in plan_ids if plan_id is not None]
    if not ids:
        return {}
    links, goals, objectives, interventions = ({plan_id: [] for plan_id in ids} for _ in range(4))
    for link in models.PlanDiagnosis.objects.filter(plan_id__in=ids).order_by("created_at"):
        links[link.plan_id].append(link)
    for goal in models.Goal.objects.filter(plan_id__in=ids):
        goals[goal.plan_id].append(goal)
    for objective in models.Objective.objects.filter(plan_id__in=ids):
        objectives[objective.plan_id].append(objective)
    for intervention in models.Intervention.objects.filter(plan_id__in=ids).select_related("clinician__staff_profile"):
        interventions[intervention.plan_id].append(intervention)
    revised_by = dict(
        models.TreatmentPlan.objects.filter(replaces_id__in=ids)
        .exclude(status=models.DISCONTINUED)
        .values_list("replaces_id", "id")
    )
    return {
        plan_id: models.Parts.of(
            links=links[plan_id],
            goals=goals[plan_id],
            objectives=objectives[plan_id],
            interventions=interventions[plan_id],
            replaced_by_id=revised_by.get(plan_id),
        )
        for plan_id in ids
    }


def progress_rows(**conditions):
    """Return progress entries (with who recorded them and their note's date of service), oldest first."""
    return (
        models.ObjectiveProgress.objects.filter(**conditions)
        .select_related("created_by", "updated_by")
        .annotate(note_date=F("note__date_of_service"))
        .order_by("note__date_of_service", "created_at", "id")
    )


class DjangoTreatmentPlanRepository:
    """Treatment plans in the database, written on behalf of one named user (`actor`).

    Plans are retained: `delete` discontinues a plan (a draft as not used, a current plan as
    entered in error), never removes it.
    """

    def __init__(self, *, actor):
        self.actor = audit.require_actor(actor)

    # --- reads ------------------------------------------------------------------------------

    def row(self, plan_id) -> models.TreatmentPlan | None:
        """Return the plan's own row (no parts, nothing decrypted), for access decisions; or None."""
        plan_id = parse_id(plan_id)
        if plan_id is None:
            return None
        return (
            models.TreatmentPlan._base_manager.defer("problems", "agreement_note", "discontinue_note")
            .filter(pk=plan_id)
            .first()
        )

    def get_by_id(self, plan_id) -> domain.TreatmentPlan | None:
        """Return the plan with its parts, or None. Decides no access: callers do."""
        plan_id = parse_id(plan_id)
        row = (
            models.TreatmentPlan.objects.select_related(*PLAN_RELATIONS).filter(pk=plan_id).first() if plan_id else None
        )
        if row is None:
            return None
        return row.to_domain(parts=parts_of([row.pk])[row.pk])

    def for_patient(self, patient_id, *, statuses: Iterable[domain.PlanStatus] = ()) -> list[domain.TreatmentPlan]:
        """Return the patient's plans (of `statuses`, default all) without their parts, oldest first."""
        rows = models.TreatmentPlan.objects.select_related(*PLAN_RELATIONS).filter(patient_id=parse_id(patient_id))
        if statuses:
            rows = rows.filter(status__in=[status.value for status in statuses])
        return [row.to_domain() for row in rows.order_by("created_at", "id")]

    def current_for_patient(self, patient_id) -> domain.TreatmentPlan | None:
        """Return the patient's current (signed) plan with its parts, or None."""
        row = models.TreatmentPlan.objects.filter(patient_id=parse_id(patient_id), status=models.SIGNED).first()
        return self.get_by_id(row.pk) if row else None

    def problem_list(self, patient_id) -> dict[uuid.UUID, domain.ProblemListEntry]:
        """Return the patient's diagnoses (current or not) by id, as the plan rules read them."""
        rows = diagnoses_models.Diagnosis.objects.filter(patient_id=parse_id(patient_id)).only(
            "id", "patient_id", "code", "status"
        )
        return {
            row.pk: domain.ProblemListEntry(
                id=row.pk, patient_id=row.patient_id, code=row.code or "", is_current=row.status in CURRENT_DIAGNOSES
            )
            for row in rows
        }

    def progress_for_plan(self, plan_id) -> list[domain.ObjectiveProgress]:
        """Return the progress recorded on the plan's objectives, oldest note first."""
        return [row.to_domain() for row in progress_rows(objective__plan_id=parse_id(plan_id))]

    def note_facts(self, note_id) -> domain.NoteFacts | None:
        """Return what the progress rules need of a clinical note (never its text), or None."""
        note_id = parse_id(note_id)
        found = (
            notes_models.ClinicalNote._base_manager.filter(pk=note_id)
            .values_list("patient_id", "kind", "status", "date_of_service")
            .first()
            if note_id
            else None
        )
        if found is None:
            return None
        patient_id, kind, status, date_of_service = found
        return domain.NoteFacts(
            id=note_id,
            patient_id=patient_id,
            is_progress_note=kind == notes_domain.NoteKind.PROGRESS_NOTE.value,
            is_signed=status == notes_domain.NoteStatus.SIGNED.value,
            date_of_service=date_of_service,
        )

    # --- writes -----------------------------------------------------------------------------

    def add(self, plan: domain.TreatmentPlan, *, reason: str = "Drafted") -> domain.TreatmentPlan:
        """Store `plan` as a new draft with its parts, and return it as stored."""
        with transaction.atomic():
            row = models.TreatmentPlan()
            row.update_from_domain(plan)
            audit.checked_save(row, actor=self.actor, reason=reason)
            self._write_parts(row.pk, plan)
        return self.get_by_id(row.pk)

    def update(self, plan: domain.TreatmentPlan, *, reason: str = "Draft changed") -> domain.TreatmentPlan:
        """Store the draft `plan` whole (its row and its parts), read at the version it carries."""
        with transaction.atomic():
            row = self._locked(plan)
            self._write_parts(row.pk, plan)
            row.update_from_domain(plan)
            audit.checked_save(row, actor=self.actor, reason=reason)
        return self.get_by_id(row.pk)

    def store(self, plan: domain.TreatmentPlan, *, reason: str, with_parts: bool = False) -> domain.TreatmentPlan:
        """Store a workflow step of `plan` (its own row; its parts too when `with_parts`), at its version.

        The parts are written first, while the stored plan is still a draft: signing takes the
        codes of the diagnoses as they are when the plan is signed.
        """
        with transaction.atomic():
            row = self._locked(plan)
            if with_parts:
                self._write_parts(row.pk, plan)
            row.update_from_domain(plan)
            audit.checked_save(row, actor=self.actor, reason=reason)
        return self.get_by_id(row.pk)

    def delete(self, plan_id) -> domain.TreatmentPlan:
        """Discontinue the plan (a draft as not used, the current plan as entered in error): plans are kept."""
        plan = self.get_by_id(plan_id)
        if plan is None:
            raise NotFound(f"No treatment plan with id {plan_id}.")
        reason = domain.DiscontinueReason.DRAFT_NOT_USED if plan.is_draft else domain.DiscontinueReason.ENTERED_IN_ERROR
        today = timezone.localdate()
        closed = plan.discontinued(on=today, reason=reason, today=today)
        return self.store(closed, reason=f"Discontinued ({reason.value})")

    def add_progress(self, progress: domain.ObjectiveProgress) -> domain.ObjectiveProgress:
        """Store a progress entry recorded by the actor, and return it as stored."""
        row = models.ObjectiveProgress(
            objective_id=progress.objective_id,
            note_id=progress.note_id,
            status=progress.status.value if progress.status else "",
            rating=progress.rating.value if progress.rating else "",
            comment=progress.comment,
        )
        audit.checked_save(row, actor=self.actor, reason="Progress recorded")
        return progress_rows(pk=row.pk).get().to_domain()

    # --- helpers ----------------------------------------------------------------------------

    def _locked(self, plan: domain.TreatmentPlan) -> models.TreatmentPlan:
        """Return the plan's row, locked; refuse a plan read at another version than the stored one."""
        if plan.audit is None:
            raise RuleViolation("Store a plan that was read from the repository (it carries its version).")
        row = models.TreatmentPlan.objects.select_for_update().filter(pk=parse_id(plan.id)).first()
        if row is None:
            raise NotFound(f"No treatment plan with id {plan.id}.")
        if row.version != plan.audit.version:
            raise ConcurrencyError("Treatment plan", row, plan.audit.version, row.version)
        return row

    def _write_parts(self, plan_id, plan: domain.TreatmentPlan) -> None:
        """Make the plan's stored parts what `plan` holds; write only what changed."""
        self._write_diagnoses(plan_id, plan.diagnoses)
        self._write_goals(plan_id, plan.goals)
        self._write_objectives(plan_id, plan.goals)
        self._write_interventions(plan_id, plan.interventions)

    def _write_diagnoses(self, plan_id, wanted: tuple[domain.AddressedDiagnosis, ...]) -> None:
        stored = {link.diagnosis_id: link for link in models.PlanDiagnosis.objects.filter(plan_id=plan_id)}
        wanted_ids = {diagnosis.diagnosis_id for diagnosis in wanted}
        self._remove(link for diagnosis_id, link in stored.items() if diagnosis_id not in wanted_ids)
        for diagnosis in wanted:
            link = stored.get(diagnosis.diagnosis_id) or models.PlanDiagnosis(
                plan_id=plan_id, diagnosis_id=diagnosis.diagnosis_id
            )
            self._save_if_changed(link, code=diagnosis.code)

    def _write_goals(self, plan_id, wanted: tuple[domain.Goal, ...]) -> None:
        # A goal is known by its number (its objectives name it by that number): a renumbered goal
        # is the old number's goal removed and the new number's added.
        stored = {goal.number: goal for goal in models.Goal.objects.filter(plan_id=plan_id)}
        numbers = {goal.number for goal in wanted}
        self._remove(goal for number, goal in stored.items() if number not in numbers)
        for goal in wanted:
            row = stored.get(goal.number) or models.Goal(plan_id=plan_id, number=goal.number)
            self._save_if_changed(row, text=goal.text)

    def _write_objectives(self, plan_id, goals: tuple[domain.Goal, ...]) -> None:
        stored = {row.pk: row for row in models.Objective.objects.filter(plan_id=plan_id)}
        wanted = [(goal, objective) for goal in goals for objective in goal.objectives]
        kept = {objective.id for _goal, objective in wanted if objective.id is not None}
        self._remove(row for pk, row in stored.items() if pk not in kept)
        for goal, objective in wanted:
            row = stored.get(objective.id) if objective.id is not None else None
            if row is None:
                if objective.id is not None:
                    raise RuleViolation({"objectives": ["An objective of another plan cannot be moved here."]})
                row = models.Objective(plan_id=plan_id)
            self._save_if_changed(
                row,
                goal_number=goal.number,
                number=objective.number,
                text=objective.text,
                target_date=objective.target_date,
                status=objective.status.value,
            )

    def _write_interventions(self, plan_id, wanted: tuple[domain.Intervention, ...]) -> None:
        stored = {row.pk: row for row in models.Intervention.objects.filter(plan_id=plan_id)}
        kept = {intervention.id for intervention in wanted if intervention.id is not None}
        self._remove(row for pk, row in stored.items() if pk not in kept)
        for intervention in wanted:
            row = stored.get(intervention.id) if intervention.id is not None else None
            if row is None:
                if intervention.id is not None:
                    raise RuleViolation({"interventions": ["An intervention of another plan cannot be moved here."]})
                row = models.Intervention(plan_id=plan_id)
            self._save_if_changed(
                row,
                number=intervention.number,
                modality=intervention.modality,
                frequency=intervention.frequency,
                clinician_id=intervention.clinician.id if intervention.clinician else None,
            )

    def _save_if_changed(self, row, **values) -> None:
        adding = row._state.adding
        changed = [name for name, value in values.items() if getattr(row, name) != value]
        if not adding and not changed:
            return
        for name, value in values.items():
            setattr(row, name, value)
        verb = "Added to the draft" if adding else "Changed in the draft"
        audit.checked_save(row, actor=self.actor, reason=verb)

    def _remove(self, rows) -> None:
        for row in list(rows):
            row._history_user = self.actor
            row._change_reason = "Removed from the draft"
            row.delete()
