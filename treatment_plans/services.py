"""Treatment-plan services: the only write door for plans and progress that the admin and commands call.

Each service takes the actor (keyword-only) and, before anything is written, asks the access
policy (`patients.policy.require`: the role's permission, then care for the plan's patient —
writing a plan never puts anyone on a care team), then the domain, and writes through the
repository (the audited path) in one transaction. Plans are written by clinicians (their staff
profile says so): drafting, signing, revising, discontinuing, recording the patient's agreement
and progress. A refusal raises AccessDenied or RuleViolation and writes nothing.

The patient's row is locked while one of their plans changes state, so the timeline's rules (one
current plan, one draft at a time) are decided on what the database holds; its constraints are
the backstop.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from novamind import access, audit, encryption, roles
from novamind.domain import AccessDenied, ConcurrencyError, NotFound, RuleViolation, parse_id
from patients import models as patients_models
from patients import policy
from treatment_plans import domain, models, repository

VIEW = "treatment_plans.view_treatmentplan"
ADD = "treatment_plans.add_treatmentplan"
CHANGE = "treatment_plans.change_treatmentplan"
RECORD_PROGRESS = "treatment_plans.add_objectiveprogress"
ACCESS_CATEGORY = "treatment_plans"


def _plans(actor) -> repository.DjangoTreatmentPlanRepository:
    return repository.DjangoTreatmentPlanRepository(actor=audit.require_actor(actor))


def _today() -> dt.date:
    return timezone.localdate()


def _author(actor) -> domain.Clinician:
    return models.clinician_of(actor)


def _plan_row(plan_id, actor, *permissions: str) -> models.TreatmentPlan:
    """Return the plan's row after asking the policy about it (each permission, then care); or raise."""
    actor = audit.require_actor(actor)
    row = _plans(actor).row(plan_id)
    if row is None:
        raise NotFound(f"No treatment plan with id {plan_id}.")
    for permission in permissions:
        policy.require(actor, permission, patient_id=row.patient_id)
    return row


def _at_version(plan: domain.TreatmentPlan, version: int | None) -> domain.TreatmentPlan:
    if version is not None and plan.audit.version != version:
        raise ConcurrencyError("Treatment plan", plan.short_id, version, plan.audit.version)
    return plan


def plan_create(*, plan: domain.TreatmentPlan, actor) -> domain.TreatmentPlan:
    """Store `plan` as a new draft by `actor`, for a patient in their care; return it as stored.

    While the patient has a current plan, the new draft is its next version (written from
    scratch; revising copies it) and supersedes it once signed.
    """
    actor = audit.require_actor(actor)
    patient_id = parse_id(plan.patient_id)
    if patient_id is None or not patients_models.Patient.objects.filter(pk=patient_id).exists():
        raise RuleViolation({"patient": ["Choose the patient this plan is for."]})
    policy.require(actor, ADD, patient_id=patient_id)
    plans = _plans(actor)
    with transaction.atomic():
        repository.lock_patient(patient_id)
        domain.check_one_draft(plans.for_patient(patient_id, statuses=[domain.PlanStatus.DRAFT]))
        current = next(iter(plans.for_patient(patient_id, statuses=[domain.PlanStatus.SIGNED])), None)
        draft = domain.new_plan(
            dataclasses.replace(plan, patient_id=patient_id), author=_author(actor), current=current, today=_today()
        )
        draft = draft.with_codes_from(plans.problem_list(patient_id))
        reason = f"Drafted (version {draft.version_number})"
        return plans.add(draft, reason=reason)


def plan_update(*, plan: domain.TreatmentPlan, actor) -> domain.TreatmentPlan:
    """Store the changed content of a draft, read at `plan.audit.version`; a signed plan is refused."""
    row = _plan_row(plan.id, actor, CHANGE)
    plans = _plans(actor)
    with transaction.atomic():
        stored = plans.get_by_id(row.pk)
        domain.check_draft_edit(stored)
        if plan.patient_id != stored.patient_id:
            raise RuleViolation({"patient": ["A plan stays with the patient it was written for."]})
        _require_clinician(actor, "write treatment plans")
        # The content is the editor's; everything else is as stored, at the version they read.
        draft = dataclasses.replace(
            stored,
            problems=plan.problems,
            diagnoses=plan.diagnoses,
            goals=plan.goals,
            interventions=plan.interventions,
            audit=plan.audit,
        ).validated(today=_today())
        draft = draft.with_codes_from(plans.problem_list(stored.patient_id))
        return plans.update(draft)


def plan_sign(*, plan_id, actor, version: int | None = None, now: dt.datetime | None = None) -> domain.TreatmentPlan:
    """Sign a complete draft as `actor`: it becomes the patient's current plan, due for review later.

    The plan it revises, if still current, is superseded in the same transaction. `now` is the
    moment of signing (the clinic's clock by default; the demo's history passes earlier ones).
    """
    row = _plan_row(plan_id, actor, CHANGE)
    plans = _plans(actor)
    now = now or timezone.now()
    with transaction.atomic():
        repository.lock_patient(row.patient_id)
        plan = _at_version(plans.get_by_id(row.pk), version)
        signed = plan.signed(
            signer=_author(actor),
            at=now,
            signed_on=timezone.localdate(now),
            review_days=settings.NOVAMIND_PLAN_REVIEW_DAYS,
            problem_list=plans.problem_list(plan.patient_id),
        )
        current = next(iter(plans.for_patient(plan.patient_id, statuses=[domain.PlanStatus.SIGNED])), None)
        domain.check_sign_over(signed, current)
        if current is not None:
            plans.store(current.superseded(), reason=f"Superseded by version {signed.version_number}")
        return plans.store(signed, reason=f"Signed (version {signed.version_number})", with_parts=True)


def plan_revise(*, plan_id, actor, version: int | None = None) -> domain.TreatmentPlan:
    """Start the next version of the current plan: a draft holding a copy of it, linked to it.

    The current plan stays in force until the new version is signed.
    """
    row = _plan_row(plan_id, actor, ADD, CHANGE)
    plans = _plans(actor)
    with transaction.atomic():
        repository.lock_patient(row.patient_id)
        plan = _at_version(plans.get_by_id(row.pk), version)
        domain.check_one_draft(plans.for_patient(plan.patient_id, statuses=[domain.PlanStatus.DRAFT]))
        revision = plan.revision(
            author=_author(actor),
            problem_list=plans.problem_list(plan.patient_id),
            latest_status=domain.latest_statuses(plans.progress_for_plan(plan.id)),
        )
        return plans.add(revision, reason=f"Drafted (version {revision.version_number}, revises plan {plan.short_id})")


def plan_discontinue(
    *,
    plan_id,
    reason: domain.DiscontinueReason | None,
    on: dt.date | None = None,
    note: str = "",
    version: int | None = None,
    actor,
) -> domain.TreatmentPlan:
    """Close a draft or the current plan on `on` (default today) for `reason`; it is kept, never deleted."""
    row = _plan_row(plan_id, actor, CHANGE)
    plans = _plans(actor)
    today = _today()
    with transaction.atomic():
        plan = _at_version(plans.get_by_id(row.pk), version)
        _require_clinician(actor, "discontinue a treatment plan")
        begun = timezone.localdate(plan.signed_at or plan.audit.created_at)
        closed = plan.discontinued(on=on or today, reason=reason, note=note, today=today, begun_on=begun)
        return plans.store(closed, reason=f"Discontinued ({closed.discontinue_reason.value})")


def plan_agreement_record(
    *,
    plan_id,
    agreed_on: dt.date | None,
    method: domain.AgreementMethod | None,
    note: str = "",
    version: int | None = None,
    actor,
) -> domain.TreatmentPlan:
    """Record the patient's agreement to the current plan: when, how, and a note."""
    row = _plan_row(plan_id, actor, CHANGE)
    plans = _plans(actor)
    with transaction.atomic():
        plan = _at_version(plans.get_by_id(row.pk), version)
        _require_clinician(actor, "record a patient's agreement")
        agreed = plan.with_agreement(
            domain.Agreement(agreed_on=agreed_on, method=method, note=note),
            today=_today(),
            signed_on=timezone.localdate(plan.signed_at) if plan.signed_at else _today(),
        )
        return plans.store(agreed, reason="Patient's agreement recorded")


def plan_delete(*, plan_id, actor) -> domain.TreatmentPlan:
    """Discontinue the plan (a draft as not used, the current plan as entered in error): never a delete."""
    row = _plan_row(plan_id, actor, CHANGE)
    _require_clinician(actor, "discontinue a treatment plan")
    with transaction.atomic():
        return _plans(actor).delete(row.pk)


def objective_progress_record(
    *,
    objective_id,
    note_id,
    status: domain.ObjectiveStatus | None,
    rating: domain.ProgressRating | None = None,
    comment: str = "",
    actor,
) -> domain.ObjectiveProgress:
    """Record, from a signed progress note, how an objective of the patient's current plan went."""
    actor = audit.require_actor(actor)
    objective = models.Objective.objects.filter(pk=parse_id(objective_id)).only("id", "plan_id").first()
    if objective is None:
        raise NotFound(f"No objective with id {objective_id}.")
    row = _plan_row(objective.plan_id, actor, RECORD_PROGRESS)
    plans = _plans(actor)
    with transaction.atomic():
        models.TreatmentPlan.objects.select_for_update().filter(pk=row.pk).first()  # no supersede meanwhile
        plan = plans.get_by_id(row.pk)
        note = plans.note_facts(note_id)
        if note is None:
            raise RuleViolation({"note": ["Choose a signed progress note of this patient."]})
        progress = domain.ObjectiveProgress(
            objective_id=objective.pk, note_id=note.id, status=status, rating=rating, comment=comment
        ).validated()
        domain.check_progress(progress, plan=plan, note=note, recorder=_author(actor))
        if models.ObjectiveProgress.objects.filter(objective_id=objective.pk, note_id=note.id).exists():
            raise RuleViolation({"note": ["Progress on this objective is already recorded from this note."]})
        return plans.add_progress(progress)


def _require_clinician(actor, what: str) -> None:
    if not _author(actor).is_clinician:
        raise RuleViolation(
            f"Only clinicians {what}: the staff profile of {actor.get_username()} does not say clinician."
        )


# --- Integrity --------------------------------------------------------------------------------


def may_verify(user) -> bool:
    """Return whether `user` may check the plans' hashes: the plans' view permission, or an Auditor."""
    if policy.may(user, VIEW):
        return True
    return bool(getattr(user, "pk", None)) and user.is_active and user.groups.filter(name=roles.AUDITOR).exists()


@dataclasses.dataclass
class Verification:
    """The outcome of recomputing the content hash of every signed plan."""

    plans_checked: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        """Return whether every hash matched."""
        return not self.problems


def verify_integrity(*, actor, batch_size: int = 100) -> Verification:
    """Recompute every signed plan's hash from its decrypted content and parts.

    A mismatch means a row of the plan (or of one of its parts) was changed behind the
    application. A plan whose content no longer decrypts is reported, not a stop. Problems name
    plans by id and patient MRN, never by content; the run is one access-log entry in `actor`'s
    name, in the transaction of its reads. A care-restricted actor checks their patients' plans only.
    """
    actor = audit.require_actor(actor)
    if not may_verify(actor):
        raise AccessDenied(
            f"{actor.get_username()} may not run verify_plans: it needs the view permission on treatment plans "
            f"or the Auditor role."
        )
    visible = policy.restrict(models.TreatmentPlan.objects.exclude(signed_at=None), actor)
    mrns = dict(visible.order_by("signed_at", "id").values_list("id", "patient__mrn"))
    ids = list(mrns)
    problems: list[str] = []
    with transaction.atomic():
        for start in range(0, len(ids), batch_size):
            for plan_id, plan in _read(ids[start : start + batch_size]):
                label = f"plan {plan_id} (patient {mrns[plan_id]})"
                if plan is None:
                    problems.append(f"{label}: its content does not decrypt (changed outside NovaMind, or a wrong key)")
                elif not plan.content_hash:
                    problems.append(f"{label}: it is signed but has no content hash")
                elif not plan.hash_matches():
                    problems.append(f"{label}: its content no longer matches the hash taken at signing")
        access.record(
            user=actor,
            action="verify",
            category=ACCESS_CATEGORY,
            detail=f"integrity check of {len(ids)} signed treatment plans; no content shown",
        )
    return Verification(plans_checked=len(ids), problems=problems)


def _read(plan_ids) -> list[tuple]:
    """Return (id, plan) for these plans, read together; one by one, with None for a plan that does not decrypt."""
    try:
        with transaction.atomic():
            return list(_plans_with_parts(plan_ids).items())
    except encryption.DecryptionError:
        found = []
        for plan_id in plan_ids:
            try:
                with transaction.atomic():
                    found.extend(_plans_with_parts([plan_id]).items())
            except encryption.DecryptionError:
                found.append((plan_id, None))
        return found


def _plans_with_parts(plan_ids) -> dict:
    rows = models.TreatmentPlan.objects.select_related(*repository.PLAN_RELATIONS).filter(pk__in=plan_ids)
    parts = repository.parts_of(plan_ids)
    plans = {row.pk: row.to_domain(parts=parts[row.pk]) for row in rows}
    return {plan_id: plans[plan_id] for plan_id in plan_ids if plan_id in plans}
