"""Treatment plans, stored: everything that says what is treated, or how, is encrypted.

A plan's problems (in the patient's words), its goals and objectives, the modality and frequency
of its interventions, the codes of the diagnoses it addresses, the agreement note, the note on
closing it and the comment of a progress entry are encrypted. Plaintext is kept only for what the
workflow queries and the database constrains: keys (patient, plan, note, clinician), statuses,
dates, the version number, goal and objective numbers, coded reasons and the content hash — none
of which says what the patient is treated for.

A plan's parts (diagnoses addressed, goals, objectives, interventions) are rows of their own,
written with the plan by its services while it is a draft; each refuses any write once its plan
is signed, on every path (`PlanPart`). An objective belongs to the goal of its plan with the
same number (`goal_number`): goals are numbered by staff, so a new plan's objectives can name
their goal on the same form, before any goal is saved.
"""

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from diagnoses import codeset
from novamind import encryption
from novamind.domain import RuleViolation, choice_or
from novamind.models import AnonymousWriteError, DomainValidatedModel, profile_of, staff_label
from treatment_plans import domain

USER = settings.AUTH_USER_MODEL
DRAFT = domain.PlanStatus.DRAFT.value
SIGNED = domain.PlanStatus.SIGNED.value
SUPERSEDED = domain.PlanStatus.SUPERSEDED.value
DISCONTINUED = domain.PlanStatus.DISCONTINUED.value


def clinician_of(user) -> domain.Clinician | None:
    """Return `user` as the plan rules see them: identity, name and whether their profile says clinician."""
    if user is None:
        return None
    profile = profile_of(user)
    return domain.Clinician(
        id=user.pk,
        username=user.get_username(),
        name=staff_label(user, profile),
        is_clinician=bool(profile and profile.is_clinician),
        is_active=user.is_active,
    )


class TreatmentPlan(DomainValidatedModel):
    """One version of a patient's treatment plan: a draft, then signed, then superseded or discontinued.

    A signed plan never changes. A change is a new version (`replaces` the plan it revises) that
    supersedes it once signed; at most one plan per patient is current (signed) and one is a draft.
    `content_hash` is the SHA-256 of the content taken at signing; `verify_plans` recomputes it.
    """

    patient = models.ForeignKey(
        "patients.Patient", verbose_name="patient", on_delete=models.PROTECT, related_name="treatment_plans"
    )
    version_number = models.PositiveSmallIntegerField(
        "version", default=1, editable=False, help_text="1 for a first plan; each revision adds one."
    )
    replaces = models.ForeignKey(
        "self",
        verbose_name="revises",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="revisions",
        editable=False,
        help_text="The plan this version revises; it is superseded when this one is signed.",
    )
    status = models.CharField(
        "status",
        max_length=12,
        choices=domain.PlanStatus.choices(),
        default=DRAFT,
        editable=False,
        help_text="Changed by signing, revising and discontinuing only: a signed plan is final.",
    )
    problems = encryption.EncryptedTextField(
        "problems, in the patient's words",
        blank=True,
        help_text="What brings the patient to care, as they say it (for example “I can't get out of bed”).",
    )
    diagnoses = models.ManyToManyField(
        "diagnoses.Diagnosis",
        through="PlanDiagnosis",
        verbose_name="diagnoses addressed",
        related_name="treatment_plans",
        blank=True,
    )
    signed_by = models.ForeignKey(
        USER,
        verbose_name="signed by",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    signed_at = models.DateTimeField("signed", null=True, blank=True, editable=False)
    review_due = models.DateField(
        "review due",
        null=True,
        blank=True,
        editable=False,
        help_text="Set at signing, the clinic's review period later; reviewing is revising and signing again.",
    )
    content_hash = models.CharField(
        "content hash",
        max_length=64,
        blank=True,
        editable=False,
        help_text="SHA-256 of the content taken at signing; verify_plans recomputes it.",
    )
    agreed_on = models.DateField("patient agreed on", null=True, blank=True, editable=False)
    agreement_method = models.CharField(
        "how the patient agreed",
        max_length=24,
        blank=True,
        choices=domain.AgreementMethod.choices(),
        editable=False,
    )
    agreement_note = encryption.EncryptedTextField("agreement note", blank=True, editable=False)
    discontinued_on = models.DateField("discontinued on", null=True, blank=True, editable=False)
    discontinue_reason = models.CharField(
        "reason discontinued", max_length=20, blank=True, choices=domain.DiscontinueReason.choices(), editable=False
    )
    discontinue_note = encryption.EncryptedTextField("note on discontinuing", blank=True, editable=False)

    class Meta:
        verbose_name = "treatment plan"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["patient", "status"], name="treatment_plan_patient_status"),
            # The admin list's order (the pk makes it total): its first page is read from the index.
            models.Index(fields=["-created_at", "-id"], name="treatment_plan_list_order"),
            # The dashboard's plans due for review: only current plans are in it, by review date.
            models.Index(
                fields=["review_due", "id"],
                include=["patient", "signed_by"],
                condition=Q(status=SIGNED),
                name="treatment_plan_review_queue",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in domain.PlanStatus]), name="treatment_plan_status_valid"
            ),
            models.CheckConstraint(
                condition=(
                    Q(status=DRAFT, signed_at__isnull=True, signed_by__isnull=True, content_hash="", review_due=None)
                    | (
                        Q(status__in=[SIGNED, SUPERSEDED])
                        & Q(signed_at__isnull=False, signed_by__isnull=False, review_due__isnull=False)
                        & ~Q(content_hash="")
                    )
                    | Q(status=DISCONTINUED)
                ),
                name="treatment_plan_signature_complete",
            ),
            models.CheckConstraint(
                condition=(Q(status=DISCONTINUED, discontinued_on__isnull=False) & ~Q(discontinue_reason=""))
                | (~Q(status=DISCONTINUED) & Q(discontinued_on__isnull=True, discontinue_reason="")),
                name="treatment_plan_closing_iff_discontinued",
            ),
            models.CheckConstraint(
                condition=Q(agreed_on__isnull=True, agreement_method="")
                | (Q(agreed_on__isnull=False, signed_at__isnull=False) & ~Q(agreement_method="")),
                name="treatment_plan_agreement_on_signed_plan",
            ),
            # The backstops of the timeline: one plan in force, one version written at a time, and
            # a plan revised by one live version at most (a discontinued draft frees it again).
            models.UniqueConstraint(
                fields=["patient"],
                condition=Q(status=SIGNED),
                name="treatment_plan_one_current",
                violation_error_message="This patient already has a current plan: revise it.",
            ),
            models.UniqueConstraint(
                fields=["patient"],
                condition=Q(status=DRAFT),
                name="treatment_plan_one_draft",
                violation_error_message="This patient's plan already has a draft: go on with it, or discontinue it first.",
            ),
            models.UniqueConstraint(
                fields=["replaces"],
                condition=~Q(status=DISCONTINUED),
                name="treatment_plan_one_live_revision",
                violation_error_message="This plan already has a newer version.",
            ),
            models.CheckConstraint(condition=~Q(replaces=models.F("id")), name="treatment_plan_not_self_revision"),
            models.CheckConstraint(condition=Q(version_number__gte=1), name="treatment_plan_version_positive"),
        ]

    def __str__(self):
        # The admin log keeps str(obj) in plaintext: an id, never the content.
        return f"treatment plan {str(self.pk)[:8]}" if self.pk else "new treatment plan"

    def clean(self):
        try:
            plan = self.to_domain(with_audit=False).validated(today=timezone.localdate())
        except RuleViolation as violation:
            raise self.validation_error(violation) from None
        self.problems = plan.problems

    def save(self, *args, **kwargs):
        if self.__dict__.get("_actor") is None:
            raise AnonymousWriteError("Save treatment plans with novamind.audit.audited_save(…, actor=…).")
        with transaction.atomic():
            stored = None if self._state.adding else type(self)._base_manager.select_for_update().get(pk=self.pk)
            # The backstop of every path: a signed plan's content and signature never change.
            domain.check_write(stored.to_domain(with_audit=False) if stored else None, self.to_domain(with_audit=False))
            super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuleViolation("A treatment plan is part of the record: discontinue it instead of deleting it.")

    def to_domain(self, *, with_audit=True, parts: "Parts | None" = None) -> domain.TreatmentPlan:
        """Return the domain plan this row holds, with its `parts` if they were read (else none)."""
        parts = parts or Parts()
        agreement = None
        if self.agreed_on is not None or self.agreement_method:
            agreement = domain.Agreement(
                agreed_on=self.agreed_on,
                method=choice_or(domain.AgreementMethod, self.agreement_method),
                note=self.agreement_note or "",
            )
        return domain.TreatmentPlan(
            id=None if self._state.adding else self.pk,
            patient_id=self.patient_id,
            problems=self.problems or "",
            diagnoses=parts.diagnoses,
            goals=parts.goals,
            interventions=parts.interventions,
            status=choice_or(domain.PlanStatus, self.status) or domain.PlanStatus.DRAFT,
            version_number=self.version_number,
            replaces_id=self.replaces_id,
            replaced_by_id=parts.replaced_by_id,
            signed_by=clinician_of(self.signed_by) if self.signed_by_id else None,
            signed_at=self.signed_at,
            review_due=self.review_due,
            content_hash=self.content_hash,
            agreement=agreement,
            discontinued_on=self.discontinued_on,
            discontinue_reason=choice_or(domain.DiscontinueReason, self.discontinue_reason),
            discontinue_note=self.discontinue_note or "",
            audit=self.audit_info() if with_audit and not self._state.adding else None,
        )

    def update_from_domain(self, plan: domain.TreatmentPlan) -> None:
        """Copy the plan's own fields onto this row (identity, parts and audit excluded)."""
        self.patient_id = plan.patient_id
        self.problems = plan.problems
        self.status = plan.status.value
        self.version_number = plan.version_number
        self.replaces_id = plan.replaces_id
        self.signed_by_id = plan.signed_by.id if plan.signed_by else None
        self.signed_at = plan.signed_at
        self.review_due = plan.review_due
        self.content_hash = plan.content_hash
        agreement = plan.agreement
        self.agreed_on = agreement.agreed_on if agreement else None
        self.agreement_method = agreement.method.value if agreement and agreement.method else ""
        self.agreement_note = agreement.note if agreement else ""
        self.discontinued_on = plan.discontinued_on
        self.discontinue_reason = plan.discontinue_reason.value if plan.discontinue_reason else ""
        self.discontinue_note = plan.discontinue_note


class Parts:
    """The parts of a plan as read from their tables, ready for `TreatmentPlan.to_domain`."""

    def __init__(self, *, diagnoses=(), goals=(), interventions=(), replaced_by_id=None):
        self.diagnoses = tuple(diagnoses)
        self.goals = tuple(goals)
        self.interventions = tuple(interventions)
        self.replaced_by_id = replaced_by_id

    @classmethod
    def of(cls, *, links, goals, objectives, interventions, replaced_by_id=None) -> "Parts":
        """Return the parts from their rows: objectives join the goal of their number."""
        by_goal: dict[int, list] = {}
        for objective in sorted(objectives, key=lambda row: (row.goal_number, row.number, row.created_at)):
            by_goal.setdefault(objective.goal_number, []).append(objective.to_domain())
        return cls(
            diagnoses=[link.to_domain() for link in links],
            goals=[
                goal.to_domain(objectives=by_goal.get(goal.number, ()))
                for goal in sorted(goals, key=lambda row: row.number)
            ],
            interventions=[
                row.to_domain() for row in sorted(interventions, key=lambda row: (row.number, row.created_at))
            ],
            replaced_by_id=replaced_by_id,
        )


def require_draft(plan_id) -> None:
    """Raise RuleViolation unless the plan `plan_id` is a draft (its row locked until the transaction ends)."""
    status = TreatmentPlan._base_manager.select_for_update().filter(pk=plan_id).values_list("status", flat=True).first()
    if status != DRAFT:
        raise RuleViolation(domain.SIGNED_IS_FINAL if status in (SIGNED, SUPERSEDED) else "This plan is not a draft.")


class PlanPart(DomainValidatedModel):
    """A row that belongs to a plan's content: written only while its plan is a draft, on every path."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.__dict__.get("_actor") is None:
            raise AnonymousWriteError(f"Save {self._meta.verbose_name}s with novamind.audit.audited_save(…, actor=…).")
        with transaction.atomic():
            require_draft(self.plan_id)
            super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.__dict__.get("_history_user") is None:
            raise AnonymousWriteError(
                "Set the user removing a part of a draft as _history_user (its history names them)."
            )
        with transaction.atomic():
            require_draft(self.plan_id)
            return super().delete(*args, **kwargs)


class PlanDiagnosis(PlanPart):
    """A diagnosis of the problem list a plan addresses, with its code as it was when the plan took it."""

    plan = models.ForeignKey(TreatmentPlan, verbose_name="plan", on_delete=models.PROTECT, related_name="addressed")
    diagnosis = models.ForeignKey(
        "diagnoses.Diagnosis", verbose_name="diagnosis", on_delete=models.PROTECT, related_name="plan_links"
    )
    code = encryption.EncryptedCharField(
        "ICD-10-CM code", max_length=codeset.CODE_MAX, blank=True, help_text="As it was when the plan was signed."
    )

    class Meta:
        verbose_name = "diagnosis addressed"
        verbose_name_plural = "diagnoses addressed"
        ordering = ["created_at"]
        constraints = [models.UniqueConstraint(fields=["plan", "diagnosis"], name="treatment_plan_diagnosis_once")]

    def __str__(self):
        return f"diagnosis addressed {str(self.pk)[:8]}" if self.pk else "new diagnosis addressed"

    def to_domain(self) -> domain.AddressedDiagnosis:
        """Return the addressed diagnosis this row holds."""
        return domain.AddressedDiagnosis(diagnosis_id=self.diagnosis_id, code=self.code or "")


class Goal(PlanPart):
    """A goal of a plan, numbered; its objectives name it by its number."""

    plan = models.ForeignKey(TreatmentPlan, verbose_name="plan", on_delete=models.PROTECT, related_name="goals")
    number = models.PositiveSmallIntegerField("goal no.", help_text="Objectives name their goal by this number.")
    text = encryption.EncryptedTextField("goal", help_text="What the patient wants to reach, in plain words.")

    class Meta:
        verbose_name = "goal"
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "number"], name="treatment_plan_goal_number_once"),
            models.CheckConstraint(
                condition=Q(number__gte=1, number__lte=domain.GOALS_MAX), name="treatment_plan_goal_number_range"
            ),
        ]

    def __str__(self):
        return f"goal {self.number}" if self.number else "new goal"

    def clean(self):
        errors = domain.Goal(number=self.number, text=self.text or "").problems()
        if errors:
            raise self.validation_error(RuleViolation(errors))

    def to_domain(self, *, objectives=()) -> domain.Goal:
        """Return the domain goal this row holds, with `objectives`."""
        return domain.Goal(number=self.number, text=self.text or "", objectives=tuple(objectives), id=self.pk)


class Objective(PlanPart):
    """A measurable objective of one goal of a plan, with its target date and status."""

    plan = models.ForeignKey(TreatmentPlan, verbose_name="plan", on_delete=models.PROTECT, related_name="objectives")
    goal_number = models.PositiveSmallIntegerField("goal no.", default=1, help_text="The number of its goal.")
    number = models.PositiveSmallIntegerField("objective no.", default=0, editable=False)
    text = encryption.EncryptedTextField("objective", help_text="Measurable: what will be seen, how often, how much.")
    target_date = models.DateField("target date", null=True, blank=True, help_text="Required before signing.")
    status = models.CharField(
        "status",
        max_length=12,
        choices=domain.ObjectiveStatus.choices(),
        default=domain.ObjectiveStatus.NOT_STARTED.value,
    )

    class Meta:
        verbose_name = "objective"
        ordering = ["goal_number", "number", "created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in domain.ObjectiveStatus]),
                name="treatment_plan_objective_status_valid",
            ),
            models.CheckConstraint(condition=Q(goal_number__gte=1), name="treatment_plan_objective_goal_positive"),
        ]

    def __str__(self):
        return f"objective {self.goal_number}.{self.number}" if self.number else "new objective"

    def clean(self):
        errors = self._domain_row().problems(today=timezone.localdate())
        if errors:
            raise self.validation_error(RuleViolation(errors))

    def _domain_row(self) -> domain.Objective:
        return domain.Objective(
            text=self.text or "",
            target_date=self.target_date,
            status=choice_or(domain.ObjectiveStatus, self.status) or domain.ObjectiveStatus.NOT_STARTED,
            number=self.number,
            id=None if self._state.adding else self.pk,
        )

    def to_domain(self) -> domain.Objective:
        """Return the domain objective this row holds."""
        return self._domain_row()


class Intervention(PlanPart):
    """What the clinic does for a plan: a modality, how often, and the clinician responsible."""

    plan = models.ForeignKey(TreatmentPlan, verbose_name="plan", on_delete=models.PROTECT, related_name="interventions")
    number = models.PositiveSmallIntegerField("intervention no.", default=0, editable=False)
    modality = encryption.EncryptedCharField(
        "modality", max_length=domain.MODALITY_MAX, help_text="For example individual CBT, medication management."
    )
    frequency = encryption.EncryptedCharField(
        "frequency", max_length=domain.FREQUENCY_MAX, help_text="For example weekly, 50 minutes."
    )
    clinician = models.ForeignKey(
        USER,
        verbose_name="responsible clinician",
        on_delete=models.PROTECT,
        related_name="+",
        help_text="A clinician of the clinic (their staff profile says clinician).",
    )

    class Meta:
        verbose_name = "intervention"
        ordering = ["number", "created_at"]

    def __str__(self):
        return f"intervention {self.number}" if self.number else "new intervention"

    def clean(self):
        errors = self.to_domain().problems()
        if errors:
            raise self.validation_error(RuleViolation(errors))

    def to_domain(self) -> domain.Intervention:
        """Return the domain intervention this row holds."""
        clinician = None
        if self.clinician_id is not None:
            clinician = clinician_of(self.clinician)
        return domain.Intervention(
            modality=self.modality or "",
            frequency=self.frequency or "",
            clinician=clinician,
            number=self.number,
            id=None if self._state.adding else self.pk,
        )


class ObjectiveProgress(DomainValidatedModel):
    """How one objective of a current plan went, as one signed progress note records it.

    Recorded once per objective and note, never changed or deleted: a later note records later
    progress. `created_by` is who recorded it.
    """

    objective = models.ForeignKey(
        Objective, verbose_name="objective", on_delete=models.PROTECT, related_name="progress"
    )
    note = models.ForeignKey(
        "clinical_notes.ClinicalNote",
        verbose_name="progress note",
        on_delete=models.PROTECT,
        related_name="+",
        help_text="A signed progress note of the plan's patient.",
    )
    status = models.CharField("status", max_length=12, choices=domain.ObjectiveStatus.choices())
    rating = models.CharField("progress", max_length=12, blank=True, choices=domain.ProgressRating.choices())
    comment = encryption.EncryptedTextField("comment", blank=True)

    class Meta:
        verbose_name = "objective progress entry"
        verbose_name_plural = "objective progress"
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["objective", "note"], name="treatment_plan_progress_once_per_note"),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in domain.PROGRESS_STATUSES]),
                name="treatment_plan_progress_status_valid",
            ),
        ]

    def __str__(self):
        return f"objective progress {str(self.pk)[:8]}" if self.pk else "new objective progress"

    def clean(self):
        try:
            self.to_domain(with_audit=False).validated()
        except RuleViolation as violation:
            raise self.validation_error(violation) from None

    def save(self, *args, **kwargs):
        if self.__dict__.get("_actor") is None:
            raise AnonymousWriteError("Save progress entries with novamind.audit.audited_save(…, actor=…).")
        if not self._state.adding:
            raise RuleViolation("A progress entry is part of the record and never changes: record another.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuleViolation("A progress entry is part of the record and cannot be deleted.")

    def to_domain(self, *, with_audit=True) -> domain.ObjectiveProgress:
        """Return the progress entry this row holds (the note's date where it was read with it)."""
        adding = self._state.adding
        return domain.ObjectiveProgress(
            id=None if adding else self.pk,
            objective_id=self.objective_id,
            note_id=self.note_id,
            status=choice_or(domain.ObjectiveStatus, self.status),
            rating=choice_or(domain.ProgressRating, self.rating),
            comment=self.comment or "",
            recorded_by=self.created_by.get_username() if not adding and self.created_by_id else "",
            recorded_at=None if adding else self.created_at,
            # Read with the entry when the query annotated it (repository.PROGRESS_WITH_NOTE_DATE).
            date_of_service=getattr(self, "note_date", None),
            audit=self.audit_info() if with_audit and not adding else None,
        )
