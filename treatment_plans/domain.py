"""Treatment plans: what the clinic does about a patient's diagnoses, signed, reviewed, revised.

A plan names the diagnoses it addresses (the patient's problem list: current diagnoses only), the
problems in the patient's own words, goals with measurable objectives (each with a target date
and a status) and the interventions that serve them (modality, frequency, the clinician
responsible). A draft is edited freely. A clinician signs it once it is complete; signing takes a
SHA-256 content hash and sets the date the plan is due for review (the clinic's number of days
after signing). A signed plan never changes: a change is a new version, a draft linked to the plan
it revises (`replaces`), which supersedes it once signed, so a patient's plans read as a timeline
with at most one current plan. A plan is closed by discontinuing it, never deleted. Progress notes
record progress on the objectives of the current plan (`ObjectiveProgress`).

Errors are keyed by the stored field names (`problems`, `target_date`, …), or by the part of the
plan they are about (`diagnoses`, `goals`, `interventions`), so the admin shows each one where it
belongs. Standard library only; the content hash is the notes' canonical hash (plain Python too),
so a signed note and a signed plan are sealed the same way.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Iterable, Mapping

from novamind import domain as kernel
from novamind.domain import (
    EARLIEST_DATE,
    REQUIRED,
    AuditInfo,
    Choice,
    Collector,
    RuleViolation,
    date_bounds_error,
    years_from,
)

NON_FIELD = RuleViolation.NON_FIELD
HASH_SCHEME = "novamind.treatment_plan.v1"

PROBLEMS_MAX = 5000
GOAL_MAX = 1000
OBJECTIVE_MAX = 1000
MODALITY_MAX = 200
FREQUENCY_MAX = 200
NOTE_MAX = 1000
COMMENT_MAX = 2000
GOALS_MAX = 20  # goal numbers run from 1 to this; a plan with more is not a plan staff can follow
LATEST_YEARS = 5  # a target date lies no further ahead than this, from today
REVIEW_DAYS_MAX = 366  # a plan is reviewed at least once a year

SIGNED_IS_FINAL = "This plan is signed and can no longer be changed; revise it to make a new version."


class PlanStatus(Choice):
    """Where a plan is in its life."""

    DRAFT = "draft", "Draft"
    SIGNED = "signed", "Current (signed)"
    SUPERSEDED = "superseded", "Superseded by a later version"
    DISCONTINUED = "discontinued", "Discontinued"


# A plan that was signed keeps its signature, its hash and its review date whatever happens next.
WAS_SIGNED = (PlanStatus.SIGNED, PlanStatus.SUPERSEDED)


class ObjectiveStatus(Choice):
    """Where one objective stands."""

    NOT_STARTED = "not_started", "Not started"
    IN_PROGRESS = "in_progress", "In progress"
    MET = "met", "Met"
    REVISED = "revised", "Revised"
    DISCONTINUED = "discontinued", "Discontinued"


# A progress note says how an objective went; "revised" is said by a new version of the plan.
PROGRESS_STATUSES = tuple(status for status in ObjectiveStatus if status is not ObjectiveStatus.REVISED)


class ProgressRating(Choice):
    """How the patient moved towards an objective since the last time it was rated."""

    WORSE = "worse", "Worse"
    NO_CHANGE = "no_change", "No change"
    SOME = "some", "Some progress"
    MUCH = "much", "Much progress"


class AgreementMethod(Choice):
    """How the patient agreed to the plan."""

    SIGNED_IN_PERSON = "signed_in_person", "Signed in person"
    SIGNED_ELECTRONICALLY = "signed_electronically", "Signed electronically"
    VERBAL_IN_SESSION = "verbal_in_session", "Agreed verbally in a session"
    VERBAL_TELEHEALTH = "verbal_telehealth", "Agreed verbally in a telehealth session"


class DiscontinueReason(Choice):
    """Why a plan was closed without a later version."""

    TREATMENT_COMPLETED = "treatment_completed", "Treatment completed"
    LEFT_CARE = "left_care", "Patient left care"
    TRANSFERRED = "transferred", "Transferred to another provider"
    DRAFT_NOT_USED = "draft_not_used", "Draft not used"
    ENTERED_IN_ERROR = "entered_in_error", "Entered in error"
    OTHER = "other", "Other (see note)"


# --- The parts of a plan ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Clinician:
    """A staff member as the plan rules see them."""

    id: int
    username: str
    name: str = ""
    is_clinician: bool = False
    is_active: bool = True

    @property
    def label(self) -> str:
        """Return the name staff read ("Dana Lee, MD"), or the username."""
        return self.name or self.username


@dataclasses.dataclass(frozen=True)
class AddressedDiagnosis:
    """A diagnosis of the problem list the plan addresses, with its code as the plan holds it."""

    diagnosis_id: uuid.UUID
    code: str = ""


@dataclasses.dataclass(frozen=True)
class ProblemListEntry:
    """A diagnosis of the patient, as far as the plan rules need it (the code may be read, not searched)."""

    id: uuid.UUID
    patient_id: uuid.UUID
    code: str
    is_current: bool


@dataclasses.dataclass(frozen=True)
class Objective:
    """A measurable step towards a goal, due by its target date."""

    text: str
    target_date: dt.date | None = None
    status: ObjectiveStatus = ObjectiveStatus.NOT_STARTED
    number: int = 0  # its place under its goal, from 1 (given when the plan is validated)
    id: uuid.UUID | None = None

    def problems(self, *, today: dt.date) -> dict[str, list[str]]:
        """Return what is wrong with this objective, by field."""
        errors = Collector()
        _text(errors, "text", self.text, OBJECTIVE_MAX)
        if self.target_date is not None and (problem := target_date_problem(self.target_date, today=today)):
            errors.add("target_date", problem)
        return errors.errors


@dataclasses.dataclass(frozen=True)
class Goal:
    """What the patient wants to reach, with the objectives that measure it."""

    number: int
    text: str
    objectives: tuple[Objective, ...] = ()
    id: uuid.UUID | None = None

    def problems(self) -> dict[str, list[str]]:
        """Return what is wrong with the goal itself (its objectives aside), by field."""
        errors = Collector()
        if self.number is None:
            errors.add("number", REQUIRED)
        elif not isinstance(self.number, int) or not 1 <= self.number <= GOALS_MAX:
            errors.add("number", f"Number the goal from 1 to {GOALS_MAX}.")
        _text(errors, "text", self.text, GOAL_MAX)
        return errors.errors


@dataclasses.dataclass(frozen=True)
class Intervention:
    """What the clinic does: a modality, how often, and the clinician responsible for it."""

    modality: str
    frequency: str
    clinician: Clinician | None
    number: int = 0
    id: uuid.UUID | None = None

    def problems(self) -> dict[str, list[str]]:
        """Return what is wrong with this intervention, by field."""
        errors = Collector()
        _text(errors, "modality", self.modality, MODALITY_MAX)
        _text(errors, "frequency", self.frequency, FREQUENCY_MAX)
        if self.clinician is None:
            errors.add("clinician", REQUIRED)
        elif not (self.clinician.is_clinician and self.clinician.is_active):
            errors.add("clinician", f"{self.clinician.username} is not an active clinician.")
        return errors.errors


@dataclasses.dataclass(frozen=True)
class Agreement:
    """The patient's agreement to a signed plan: when, how, and a note."""

    agreed_on: dt.date | None
    method: AgreementMethod | None
    note: str = ""


# --- The plan ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TreatmentPlan:
    """One version of a patient's treatment plan."""

    patient_id: uuid.UUID | None
    problems: str = ""
    diagnoses: tuple[AddressedDiagnosis, ...] = ()
    goals: tuple[Goal, ...] = ()
    interventions: tuple[Intervention, ...] = ()
    status: PlanStatus = PlanStatus.DRAFT
    version_number: int = 1
    replaces_id: uuid.UUID | None = None
    replaced_by_id: uuid.UUID | None = None
    signed_by: Clinician | None = None
    signed_at: dt.datetime | None = None
    review_due: dt.date | None = None
    content_hash: str = ""
    agreement: Agreement | None = None
    discontinued_on: dt.date | None = None
    discontinue_reason: DiscontinueReason | None = None
    discontinue_note: str = ""
    id: uuid.UUID | None = None
    audit: AuditInfo | None = None

    @property
    def is_draft(self) -> bool:
        """Return whether the plan may still be edited."""
        return self.status is PlanStatus.DRAFT

    @property
    def is_current(self) -> bool:
        """Return whether this is the patient's plan in force (signed, not superseded or closed)."""
        return self.status is PlanStatus.SIGNED

    @property
    def was_signed(self) -> bool:
        """Return whether the plan carries a signature (a discontinued plan may, or may be a draft that was never used)."""
        return self.signed_at is not None

    @property
    def objectives(self) -> tuple[tuple[Goal, Objective], ...]:
        """Return every objective with its goal, in order."""
        return tuple((goal, objective) for goal in self.goals for objective in goal.objectives)

    @property
    def short_id(self) -> str:
        """Return the first eight characters of the id, for labels and messages."""
        return str(self.id)[:8] if self.id else "new"

    def validated(self, *, today: dt.date) -> TreatmentPlan:
        """Return the plan's content normalised and numbered, or raise RuleViolation naming every fault.

        A draft may be incomplete (no goal yet, an objective without a target date); what it
        holds must be well formed: every goal, objective and intervention valid, goal numbers
        unique, each diagnosis named once.
        """
        errors = Collector()
        plan = self._normalized()
        if plan.patient_id is None:
            errors.add("patient", REQUIRED)
        if len(plan.problems) > PROBLEMS_MAX:
            errors.add("problems", f"Use at most {PROBLEMS_MAX} characters (this has {len(plan.problems)}).")
        seen = set()
        for diagnosis in plan.diagnoses:
            if diagnosis.diagnosis_id in seen:
                errors.add("diagnoses", "Name each diagnosis once.")
            seen.add(diagnosis.diagnosis_id)
        numbers = [goal.number for goal in plan.goals]
        for number in sorted({n for n in numbers if numbers.count(n) > 1}):
            errors.add("goals", f"Two goals are numbered {number}: give each goal its own number.")
        for goal in plan.goals:
            for field, messages in goal.problems().items():
                errors.errors.setdefault("goals", []).extend(f"Goal {goal.number}, {field}: {m}" for m in messages)
            for objective in goal.objectives:
                for field, messages in objective.problems(today=today).items():
                    label = f"Objective {goal.number}.{objective.number}, {field.replace('_', ' ')}"
                    errors.errors.setdefault("objectives", []).extend(f"{label}: {m}" for m in messages)
        for intervention in plan.interventions:
            for field, messages in intervention.problems().items():
                label = f"Intervention {intervention.number}, {field}"
                errors.errors.setdefault("interventions", []).extend(f"{label}: {m}" for m in messages)
        if plan.replaces_id is not None and plan.replaces_id == plan.id:
            errors.add(NON_FIELD, "A plan cannot revise itself.")
        errors.raise_if_any()
        return plan

    def _normalized(self) -> TreatmentPlan:
        goals = tuple(
            dataclasses.replace(
                goal,
                text=_clean(goal.text),
                objectives=tuple(
                    dataclasses.replace(objective, text=_clean(objective.text), number=place)
                    for place, objective in enumerate(goal.objectives, start=1)
                ),
            )
            for goal in sorted(self.goals, key=lambda goal: (goal.number, _clean(goal.text)))
        )
        interventions = tuple(
            dataclasses.replace(
                intervention,
                modality=_line(intervention.modality),
                frequency=_line(intervention.frequency),
                number=place,
            )
            for place, intervention in enumerate(self.interventions, start=1)
        )
        return dataclasses.replace(self, problems=_clean(self.problems), goals=goals, interventions=interventions)

    def incompleteness(self) -> dict[str, list[str]]:
        """Return what the plan lacks before it can be signed, by part (empty when it is complete)."""
        errors = Collector()
        if not self.diagnoses:
            errors.add("diagnoses", "Choose at least one diagnosis the plan addresses.")
        if not self.goals:
            errors.add("goals", "Write at least one goal.")
        for goal in self.goals:
            if not goal.objectives:
                errors.add(
                    "objectives", f"Goal {goal.number} has no objective: give it at least one measurable objective."
                )
            for objective in goal.objectives:
                if objective.target_date is None:
                    errors.add("objectives", f"Objective {goal.number}.{objective.number} has no target date: set one.")
        if not self.interventions:
            errors.add("interventions", "Add at least one intervention (modality, frequency, clinician).")
        return errors.errors

    def compute_hash(self) -> str:
        """Return the SHA-256 of the plan's canonical content: what is treated, how, by whom, signed when."""
        return kernel.canonical_hash(
            {
                "scheme": HASH_SCHEME,
                "plan_id": str(self.id),
                "patient_id": str(self.patient_id),
                "version_number": self.version_number,
                "replaces_id": str(self.replaces_id) if self.replaces_id else None,
                "problems": self.problems,
                "diagnoses": sorted([str(d.diagnosis_id), d.code] for d in self.diagnoses),
                "goals": [
                    {
                        "number": goal.number,
                        "text": goal.text,
                        "objectives": [
                            {
                                "id": str(objective.id),
                                "number": objective.number,
                                "text": objective.text,
                                "target_date": objective.target_date.isoformat() if objective.target_date else None,
                                "status": objective.status.value,
                            }
                            for objective in goal.objectives
                        ],
                    }
                    for goal in self.goals
                ],
                "interventions": [
                    {
                        "number": intervention.number,
                        "modality": intervention.modality,
                        "frequency": intervention.frequency,
                        "clinician_id": intervention.clinician.id if intervention.clinician else None,
                    }
                    for intervention in self.interventions
                ],
                "signed_by": self.signed_by.id if self.signed_by else None,
                "signed_at": kernel.utc_iso(self.signed_at) if self.signed_at else None,
                "review_due": self.review_due.isoformat() if self.review_due else None,
            }
        )

    def hash_matches(self) -> bool:
        """Return whether the plan's content is still what was signed (True for a plan never signed)."""
        return not self.content_hash or self.compute_hash() == self.content_hash

    # --- transitions ------------------------------------------------------------------------

    def signed(
        self,
        *,
        signer: Clinician,
        at: dt.datetime,
        signed_on: dt.date,
        review_days: int,
        problem_list: Mapping[uuid.UUID, ProblemListEntry],
    ) -> TreatmentPlan:
        """Return this draft signed by `signer` at `at`, due for review `review_days` after `signed_on`.

        The plan must be complete (`incompleteness`), and each diagnosis it addresses still on the
        patient's problem list; the codes are taken as they are at signing, and the hash covers them.
        """
        if not self.is_draft:
            raise RuleViolation(f"Only a draft is signed; this plan is {self.status.label.lower()}.")
        _require_clinician(signer, "sign a plan")
        plan = self.validated(today=signed_on)
        errors = Collector()
        for part, messages in plan.incompleteness().items():
            for message in messages:
                errors.add(part, message)
        try:
            plan = plan.with_codes_from(problem_list)
        except RuleViolation as violation:
            for part, messages in violation.errors.items():
                for message in messages:
                    errors.add(part, message)
        errors.raise_if_any()
        plan = dataclasses.replace(
            plan,
            status=PlanStatus.SIGNED,
            signed_by=signer,
            signed_at=at,
            review_due=signed_on + dt.timedelta(days=review_days),
        )
        return dataclasses.replace(plan, content_hash=plan.compute_hash())

    def with_codes_from(self, problem_list: Mapping[uuid.UUID, ProblemListEntry]) -> TreatmentPlan:
        """Return the plan with each diagnosis's code as the problem list has it; raise if one is not current.

        `problem_list` holds the patient's diagnoses by id (those of other patients are not
        found, so they are refused as not the patient's).
        """
        errors = Collector()
        addressed = []
        for diagnosis in self.diagnoses:
            entry = problem_list.get(diagnosis.diagnosis_id)
            if entry is None or entry.patient_id != self.patient_id:
                errors.add("diagnoses", "Choose only diagnoses of this patient.")
            elif not entry.is_current:
                # No code in the message: it may travel in a message cookie (the admin's "Save and sign").
                errors.add(
                    "diagnoses",
                    "A diagnosis the plan addresses is no longer on the problem list (resolved or ruled out): "
                    "remove it from the plan.",
                )
            else:
                addressed.append(AddressedDiagnosis(diagnosis_id=entry.id, code=entry.code))
        errors.raise_if_any()
        return dataclasses.replace(self, diagnoses=tuple(addressed))

    def superseded(self) -> TreatmentPlan:
        """Return the current plan superseded by its next version."""
        if not self.is_current:
            raise RuleViolation(f"Only the current plan is superseded; this one is {self.status.label.lower()}.")
        return dataclasses.replace(self, status=PlanStatus.SUPERSEDED)

    def discontinued(
        self,
        *,
        on: dt.date | None,
        reason: DiscontinueReason | None,
        note: str = "",
        today: dt.date,
        begun_on: dt.date | None = None,
    ) -> TreatmentPlan:
        """Return the plan (a draft, or the current plan) closed on `on` for `reason`.

        `begun_on` is the clinic's date the plan was signed (or, for a draft, written): it cannot
        stop before it.
        """
        if self.status not in (PlanStatus.DRAFT, PlanStatus.SIGNED):
            raise RuleViolation(
                f"This plan is {self.status.label.lower()}; only a draft or the current plan can be discontinued."
            )
        errors = Collector()
        note = _clean(note)
        if on is None:
            errors.add("discontinued_on", REQUIRED)
        elif on > today:
            errors.add("discontinued_on", "The date cannot be in the future.")
        elif begun_on is not None and on < begun_on:
            errors.add("discontinued_on", f"The plan began on {begun_on:%Y-%m-%d}: it cannot stop before that.")
        elif problem := date_bounds_error(on, earliest=EARLIEST_DATE, latest=today):
            errors.add("discontinued_on", problem)
        if reason is None:
            errors.add("discontinue_reason", REQUIRED)
        elif reason is DiscontinueReason.OTHER and not note:
            errors.add("discontinue_note", "Describe the reason when it is 'Other'.")
        if len(note) > NOTE_MAX:
            errors.add("discontinue_note", f"Use at most {NOTE_MAX} characters (this has {len(note)}).")
        errors.raise_if_any()
        return dataclasses.replace(
            self, status=PlanStatus.DISCONTINUED, discontinued_on=on, discontinue_reason=reason, discontinue_note=note
        )

    def with_agreement(self, agreement: Agreement, *, today: dt.date, signed_on: dt.date) -> TreatmentPlan:
        """Return the current plan with the patient's agreement recorded; it is recorded once.

        `signed_on` is the clinic's date of the signature: the patient agrees to the signed plan,
        on that day or later.
        """
        if not self.is_current:
            raise RuleViolation("The patient's agreement is recorded on the current (signed) plan.")
        if self.agreement is not None:
            raise RuleViolation("The patient's agreement to this plan is already recorded.")
        errors = Collector()
        note = _clean(agreement.note)
        if agreement.agreed_on is None:
            errors.add("agreed_on", REQUIRED)
        elif agreement.agreed_on > today:
            errors.add("agreed_on", "The date cannot be in the future.")
        elif agreement.agreed_on < signed_on:
            errors.add(
                "agreed_on", f"The plan was signed on {signed_on:%Y-%m-%d}: the patient agrees to it then or later."
            )
        if agreement.method is None:
            errors.add("agreement_method", REQUIRED)
        if len(note) > NOTE_MAX:
            errors.add("agreement_note", f"Use at most {NOTE_MAX} characters (this has {len(note)}).")
        errors.raise_if_any()
        return dataclasses.replace(self, agreement=dataclasses.replace(agreement, note=note))

    def revision(
        self,
        *,
        author: Clinician,
        problem_list: Mapping[uuid.UUID, ProblemListEntry],
        latest_status: Mapping[uuid.UUID, ObjectiveStatus],
    ) -> TreatmentPlan:
        """Return the next version of this current plan: a draft holding a copy of its content.

        The copy keeps the diagnoses still on the problem list, and each objective at the status
        its latest progress note gave it (`latest_status`, by objective id); every part is new.
        """
        if not self.is_current:
            raise RuleViolation(
                f"Only the current plan is revised; this one is {self.status.label.lower()}."
                + (" Open the plan that replaced it." if self.status is PlanStatus.SUPERSEDED else "")
            )
        _require_clinician(author, "revise a plan")
        goals = tuple(
            dataclasses.replace(
                goal,
                id=None,
                objectives=tuple(
                    dataclasses.replace(objective, id=None, status=latest_status.get(objective.id, objective.status))
                    for objective in goal.objectives
                ),
            )
            for goal in self.goals
        )
        kept = tuple(
            diagnosis
            for diagnosis in self.diagnoses
            if (entry := problem_list.get(diagnosis.diagnosis_id)) is not None and entry.is_current
        )
        return TreatmentPlan(
            patient_id=self.patient_id,
            problems=self.problems,
            diagnoses=kept,
            goals=goals,
            interventions=tuple(dataclasses.replace(intervention, id=None) for intervention in self.interventions),
            version_number=self.version_number + 1,
            replaces_id=self.id,
        )


def new_plan(plan: TreatmentPlan, *, author: Clinician, current: TreatmentPlan | None, today: dt.date) -> TreatmentPlan:
    """Return `plan` as a new draft, or raise RuleViolation.

    A new plan while another is current starts its next version from scratch (revising copies it
    instead): it supersedes the current plan once signed.
    """
    _require_clinician(author, "write a treatment plan")
    if plan.id is not None or plan.status is not PlanStatus.DRAFT or plan.signed_at is not None:
        raise RuleViolation("A new plan starts as a draft; sign it once it is complete.")
    version, replaces = (current.version_number + 1, current.id) if current is not None else (1, None)
    return dataclasses.replace(plan, version_number=version, replaces_id=replaces).validated(today=today)


def check_one_draft(drafts: Iterable[TreatmentPlan]) -> None:
    """Raise RuleViolation when the patient already has a draft: one version is written at a time."""
    for draft in drafts:
        raise RuleViolation(
            f"This patient's plan already has a draft (version {draft.version_number}, plan {draft.short_id}): "
            f"open it and go on with it, or discontinue it first."
        )


def check_sign_over(plan: TreatmentPlan, current: TreatmentPlan | None) -> None:
    """Raise RuleViolation unless signing `plan` may make it the patient's current plan.

    The plan in force must be the one this draft revises (or none): a draft written against a
    plan that has since been replaced is refused rather than silently superseding another.
    """
    if current is not None and current.id != plan.replaces_id:
        raise RuleViolation(
            f"Another plan (version {current.version_number}) became current since this draft was started: "
            f"revise that plan instead."
        )


def check_draft_edit(stored: TreatmentPlan) -> None:
    """Raise RuleViolation unless the stored plan is a draft, the only plan that may be edited."""
    if not stored.is_draft:
        raise RuleViolation(
            SIGNED_IS_FINAL if stored.status in WAS_SIGNED else f"This plan is {stored.status.label.lower()}."
        )


FIXED_FIELDS = ("version_number", "replaces_id")  # set when the plan is created
SIGNATURE_FIELDS = ("signed_by", "signed_at", "review_due", "content_hash")
CLOSING_FIELDS = ("discontinued_on", "discontinue_reason", "discontinue_note")
TRANSITIONS = {
    PlanStatus.DRAFT: {PlanStatus.DRAFT, PlanStatus.SIGNED, PlanStatus.DISCONTINUED},
    PlanStatus.SIGNED: {PlanStatus.SIGNED, PlanStatus.SUPERSEDED, PlanStatus.DISCONTINUED},
    PlanStatus.SUPERSEDED: {PlanStatus.SUPERSEDED},
    PlanStatus.DISCONTINUED: {PlanStatus.DISCONTINUED},
}


def check_write(before: TreatmentPlan | None, after: TreatmentPlan) -> None:
    """Raise RuleViolation unless the plan's own row may go from `before` (None: new) to `after`.

    The backstop every save of a plan passes (the services, a history revert, any code): a plan
    starts as a draft of its patient and stays theirs; its status moves only along TRANSITIONS;
    once it leaves the draft its content, signature and closing never change; the agreement is
    recorded once, on a signed plan. The parts of a plan (goals, objectives, interventions,
    diagnoses) refuse any write once their plan is no longer a draft (see models).
    """
    errors = Collector()
    if before is None:
        if after.status is not PlanStatus.DRAFT or after.signed_at is not None:
            errors.add(NON_FIELD, "A plan is created as a draft and signed afterwards.")
        errors.raise_if_any()
        return
    if after.status not in TRANSITIONS[before.status]:
        errors.add(
            NON_FIELD, f"A plan that is {before.status.label.lower()} cannot become {after.status.label.lower()}."
        )
    if before.patient_id != after.patient_id:
        errors.add("patient", "A plan stays with the patient it was written for.")
    for name in FIXED_FIELDS:
        if getattr(before, name) != getattr(after, name):
            errors.add(NON_FIELD, "A plan's version and the plan it revises are set when it is created.")
    if not before.is_draft and before.problems != after.problems:
        errors.add("problems", SIGNED_IS_FINAL)
    if before.was_signed and any(_comparable(before, n) != _comparable(after, n) for n in SIGNATURE_FIELDS):
        errors.add(NON_FIELD, "The signature of a plan cannot be changed or withdrawn.")
    if after.status is PlanStatus.DRAFT and (after.signed_at or after.signed_by or after.content_hash):
        errors.add(NON_FIELD, "A draft carries no signature.")
    if after.status is PlanStatus.SIGNED and not (after.signed_at and after.signed_by and after.content_hash):
        errors.add(NON_FIELD, "A signed plan needs its signature: who signed, when, and the content hash.")
    closing_changed = any(getattr(before, name) != getattr(after, name) for name in CLOSING_FIELDS)
    if closing_changed and (before.status is PlanStatus.DISCONTINUED or after.status is not PlanStatus.DISCONTINUED):
        errors.add(NON_FIELD, "A plan's closing is recorded once, when it is discontinued.")
    if before.agreement != after.agreement and (before.agreement is not None or after.status is not PlanStatus.SIGNED):
        errors.add(NON_FIELD, "The patient's agreement is recorded once, on the current plan.")
    errors.raise_if_any()


def _comparable(plan: TreatmentPlan, name: str):
    value = getattr(plan, name)
    return value.id if isinstance(value, Clinician) else value


# --- Progress on objectives ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class NoteFacts:
    """What the progress rules need to know of a clinical note (never its text)."""

    id: uuid.UUID
    patient_id: uuid.UUID
    is_progress_note: bool
    is_signed: bool
    date_of_service: dt.date


@dataclasses.dataclass(frozen=True)
class ObjectiveProgress:
    """How an objective went, as one signed progress note records it."""

    objective_id: uuid.UUID
    note_id: uuid.UUID
    status: ObjectiveStatus | None
    rating: ProgressRating | None = None
    comment: str = ""
    recorded_by: str = ""
    recorded_at: dt.datetime | None = None
    date_of_service: dt.date | None = None
    id: uuid.UUID | None = None
    audit: AuditInfo | None = None

    def validated(self) -> ObjectiveProgress:
        """Return the entry normalised, or raise RuleViolation."""
        errors = Collector()
        comment = _clean(self.comment)
        if self.status is None:
            errors.add("status", REQUIRED)
        elif self.status not in PROGRESS_STATUSES:
            errors.add("status", "A progress note says how the objective went; a new plan version revises it.")
        if len(comment) > COMMENT_MAX:
            errors.add("comment", f"Use at most {COMMENT_MAX} characters (this has {len(comment)}).")
        errors.raise_if_any()
        return dataclasses.replace(self, comment=comment)


def check_progress(progress: ObjectiveProgress, *, plan: TreatmentPlan, note: NoteFacts, recorder: Clinician) -> None:
    """Raise RuleViolation unless `progress` may be recorded: a signed progress note of the plan's
    patient, on an objective of that patient's current plan, by a clinician."""
    _require_clinician(recorder, "record progress on a plan")
    errors = Collector()
    if not plan.is_current:
        errors.add(NON_FIELD, "Progress is recorded on the objectives of the current plan.")
    if progress.objective_id not in {objective.id for _goal, objective in plan.objectives}:
        errors.add("objective", "Choose an objective of this plan.")
    if note.patient_id != plan.patient_id:
        errors.add("note", "The note must be about the plan's patient.")
    elif not note.is_progress_note:
        errors.add("note", "Progress on a plan is recorded from a progress note.")
    elif not note.is_signed:
        errors.add("note", "Sign the progress note first: progress is recorded from a final note.")
    errors.raise_if_any()


def latest_statuses(entries: Iterable[ObjectiveProgress]) -> dict[uuid.UUID, ObjectiveStatus]:
    """Return each objective's status as its latest progress entry left it (by date of service, then recording)."""
    latest: dict[uuid.UUID, tuple] = {}
    for entry in entries:
        key = (entry.date_of_service or dt.date.min, entry.recorded_at or dt.datetime.min.replace(tzinfo=dt.UTC))
        if entry.status is not None and (entry.objective_id not in latest or key >= latest[entry.objective_id][0]):
            latest[entry.objective_id] = (key, entry.status)
    return {objective_id: status for objective_id, (_key, status) in latest.items()}


# --- Review dates -------------------------------------------------------------------------------


def review_days_problem(days) -> str | None:
    """Return why `days` cannot be the clinic's plan review period, or None when it can."""
    if isinstance(days, bool) or not isinstance(days, int):
        return f"The plan review period must be a whole number of days, not {days!r}."
    if not 1 <= days <= REVIEW_DAYS_MAX:
        return f"The plan review period is {days} days: it must be between 1 and {REVIEW_DAYS_MAX} (a plan is reviewed at least yearly)."
    return None


def is_overdue(review_due: dt.date | None, *, today: dt.date) -> bool:
    """Return whether a plan due for review on `review_due` is overdue on `today`."""
    return review_due is not None and review_due < today


def target_date_problem(target: dt.date, *, today: dt.date) -> str | None:
    """Return why `target` cannot be an objective's target date, or None."""
    return date_bounds_error(target, earliest=EARLIEST_DATE, latest=years_from(today, LATEST_YEARS))


# --- helpers ------------------------------------------------------------------------------------


def _require_clinician(staff: Clinician | None, what: str) -> None:
    if staff is None or not (staff.is_clinician and staff.is_active):
        who = staff.username if staff is not None else "Someone"
        raise RuleViolation(f"Only clinicians {what}: the staff profile of {who} does not say clinician.")


def _clean(text: str) -> str:
    """Return `text` with Unix line ends and no surrounding blank space (one form, so the hash is stable)."""
    return (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def _line(text: str) -> str:
    return " ".join((text or "").split())


def _text(errors: Collector, field: str, value: str, limit: int) -> None:
    value = _clean(value)
    if not value:
        errors.add(field, REQUIRED)
    elif len(value) > limit:
        errors.add(field, f"Use at most {limit} characters (this has {len(value)}).")
