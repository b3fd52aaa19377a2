"""Diagnoses, stored: the code says what the patient has, so it is encrypted.

A diagnosis code is PHI as surely as a note is (F32.1 beside a patient's key says they are
depressed), so the code, its description and the specifier are encrypted. Plaintext is kept only
for what the workflow queries and the database constrains: the patient key, status, dates and
the primary flag, none of which says what the diagnosis is. "A code once on the problem list" is
checked in Python over the patient's own diagnoses and backed by a unique blind index of
(patient, code) that is set only while the diagnosis is current.
"""

from django.db import models
from django.utils import timezone

from diagnoses import codeset, domain
from novamind import blind_index, encryption
from novamind.domain import RuleViolation
from novamind.models import DomainValidatedModel

CURRENT_CODE_PURPOSE = "diagnoses.current_code"


def _status(value) -> domain.DiagnosisStatus:
    try:
        return domain.DiagnosisStatus(value)
    except ValueError:
        return domain.DiagnosisStatus.ACTIVE


class Diagnosis(DomainValidatedModel):
    """One entry of a patient's problem list, coded in ICD-10-CM; resolved or ruled out, never deleted."""

    patient = models.ForeignKey(
        "patients.Patient",
        verbose_name="patient",
        on_delete=models.PROTECT,
        related_name="diagnoses",
    )
    code = encryption.EncryptedCharField(
        "ICD-10-CM code",
        max_length=codeset.CODE_MAX,
        help_text=f"A billable code of the {codeset.CODE_SET} code set; search by code or by words.",
    )
    description = encryption.EncryptedCharField(
        "description",
        max_length=domain.DESCRIPTION_MAX,
        blank=True,
        editable=False,
        help_text="The code set's official description, kept as it was when the code was recorded.",
    )
    specifier = encryption.EncryptedTextField(
        "specifier",
        blank=True,
        help_text="The clinician's own words: specifiers, severity, course (for example “with anxious distress”).",
    )
    onset_date = models.DateField("onset", null=True, blank=True)
    status = models.CharField(
        "status",
        max_length=20,
        choices=domain.DiagnosisStatus.choices(),
        default=domain.DiagnosisStatus.ACTIVE.value,
        help_text="Active and in-remission diagnoses make the problem list; resolved or ruled out ones stay in the record.",
    )
    status_since = models.DateField(
        "status since", null=True, blank=True, help_text="When it entered its status; required once resolved."
    )
    is_primary = models.BooleanField(
        "primary", default=False, help_text="The main reason for care; one diagnosis per patient at most."
    )
    # NULL, not "", while not current: the unique constraint then ignores resolved and ruled-out rows.
    current_code_key = models.CharField(  # noqa: DJ001
        "problem-list key",
        max_length=blind_index.DIGEST_LENGTH,
        null=True,
        editable=False,
        help_text="Blind index of patient and code while the diagnosis is current: a code is listed once.",
    )

    class Meta:
        verbose_name = "diagnosis"
        verbose_name_plural = "diagnoses"
        ordering = ["-is_primary", "created_at", "id"]
        indexes = [
            models.Index(fields=["patient", "status"], name="diagnoses_patient_status"),
            models.Index(fields=["-created_at", "-id"], name="diagnoses_list"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=[s.value for s in domain.DiagnosisStatus]),
                name="diagnoses_status_valid",
            ),
            models.UniqueConstraint(
                fields=["patient"], condition=models.Q(is_primary=True), name="diagnoses_one_primary_per_patient"
            ),
            models.CheckConstraint(
                condition=~models.Q(is_primary=True, status=domain.DiagnosisStatus.RULED_OUT.value),
                name="diagnoses_ruled_out_not_primary",
            ),
            models.UniqueConstraint(fields=["current_code_key"], name="diagnoses_code_once_on_problem_list"),
        ]

    def __str__(self):
        return f"diagnosis {str(self.pk)[:8]}" if self.pk else "new diagnosis"

    def clean(self):
        try:
            diagnosis = self.to_domain(with_audit=False).validated(today=timezone.localdate())
        except RuleViolation as violation:
            raise self.validation_error(violation) from None
        self.update_from_domain(diagnosis)

    def blind_indexes(self) -> dict[str, str | None]:
        current = _status(self.status) in domain.CURRENT_STATUSES and self.code and self.patient_id
        key = f"{self.patient_id}:{codeset.normalize(self.code)}"
        return {"current_code_key": blind_index.digest(CURRENT_CODE_PURPOSE, key) if current else None}

    def to_domain(self, *, with_audit=True) -> domain.Diagnosis:
        """Return the domain Diagnosis this row holds."""
        return domain.Diagnosis(
            id=None if self._state.adding else self.pk,
            patient_id=self.patient_id,
            code=self.code or "",
            description=self.description or "",
            specifier=self.specifier or "",
            onset_date=self.onset_date,
            status=_status(self.status),
            status_since=self.status_since,
            is_primary=self.is_primary,
            audit=self.audit_info() if with_audit and not self._state.adding else None,
        )

    def update_from_domain(self, diagnosis: domain.Diagnosis) -> None:
        """Copy `diagnosis` onto this row (identity and audit excluded)."""
        self.patient_id = diagnosis.patient_id
        self.code = diagnosis.code
        self.description = diagnosis.description
        self.specifier = diagnosis.specifier
        self.onset_date = diagnosis.onset_date
        self.status = diagnosis.status.value
        self.status_since = diagnosis.status_since
        self.is_primary = diagnosis.is_primary
