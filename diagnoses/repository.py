"""The Django implementation of the problem list: domain diagnoses out, attributed writes in.

Every write locks the patient's row first (`patients.repository.lock_patient`) and then reads the
patient's current diagnoses, so "a code once on the problem list" and "one primary at a time" are
decided on what is stored: two clinicians recording the same code at the same moment run one
after the other, and the second is told the code is listed. The unique blind index of (patient,
code) and the one-primary index are the backstop of any path that skipped the lock; their
refusal is turned into the same RuleViolation, next to the field, never a server error.

Nothing is deleted: `delete` resolves the diagnosis today.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from diagnoses import domain, models
from novamind import audit
from novamind.domain import ConcurrencyError, NotFound, RuleViolation, parse_id
from patients import repository as patients_repository

RELATIONS = ("created_by", "updated_by")
CURRENT = [status.value for status in domain.CURRENT_STATUSES]
# What the database's backstops are called (PostgreSQL names the constraint; SQLite the column).
_CODE_CONSTRAINT = ("diagnoses_code_once_on_problem_list", "current_code_key")
_PRIMARY_CONSTRAINT = ("diagnoses_one_primary_per_patient", "diagnoses_diagnosis.patient_id")


class DjangoDiagnosisRepository:
    """A patient's diagnoses, read and written on behalf of one named user (`actor`)."""

    def __init__(self, *, actor):
        self.actor = audit.require_actor(actor)

    # --- reads ------------------------------------------------------------------------------

    def get_by_id(self, diagnosis_id) -> domain.Diagnosis | None:
        """Return the diagnosis with this id, or None."""
        row = self._row(diagnosis_id)
        return row.to_domain() if row else None

    def for_patient(self, patient_id, *, include_past: bool = False) -> list[domain.Diagnosis]:
        """Return the patient's problem list (with `include_past`, also what was resolved or ruled out).

        The primary diagnosis first, then the active ones, then those in remission, each by code;
        the past ones last, most recent first. Sorted here: the code is encrypted.
        """
        patient_id = parse_id(patient_id)
        if patient_id is None:
            return []
        rows = models.Diagnosis.objects.select_related(*RELATIONS).filter(patient_id=patient_id)
        if not include_past:
            rows = rows.filter(status__in=CURRENT)
        return in_list_order(row.to_domain() for row in rows)

    # --- writes -----------------------------------------------------------------------------

    def add(self, diagnosis: domain.Diagnosis) -> domain.Diagnosis:
        """Record `diagnosis` on the patient's problem list and return it as stored.

        Recorded as primary, it takes the place of the patient's primary diagnosis, which stays
        on the list as a secondary one (in the same transaction, each change in the history).
        """
        if diagnosis.id is not None:
            raise RuleViolation("A new diagnosis has no id yet; change a recorded one with update.")
        recorded = diagnosis.as_recorded(today=timezone.localdate())
        with transaction.atomic():
            patients_repository.lock_patient(recorded.patient_id)
            row = models.Diagnosis()
            self._store(row, recorded, reason="Recorded" + (" as primary" if recorded.is_primary else ""))
        return self.get_by_id(row.pk)

    def update(self, diagnosis: domain.Diagnosis, *, reason: str = "Changed") -> domain.Diagnosis:
        """Store the changes of `diagnosis`, read at the version it carries; its patient and code stay."""
        if diagnosis.audit is None:
            raise RuleViolation("Update a diagnosis that was read from the repository (it carries its version).")
        with transaction.atomic():
            # The patient first, as every write of the list does: one lock order, no deadlock.
            patients_repository.lock_patient(self._patient_of(diagnosis.id))
            row = self._locked(diagnosis.id, diagnosis.audit.version)
            domain.check_change(row.to_domain(with_audit=False), diagnosis)
            self._store(row, diagnosis.validated(today=timezone.localdate()), reason=reason)
        return self.get_by_id(row.pk)

    def delete(self, diagnosis_id) -> domain.Diagnosis:
        """Resolve the diagnosis today: diagnoses are kept, never deleted."""
        today = timezone.localdate()
        stored = self.get_by_id(diagnosis_id)
        if stored is None:
            raise NotFound(f"No diagnosis with id {diagnosis_id}.")
        resolved = domain.with_status(stored, domain.DiagnosisStatus.RESOLVED, on=today, today=today)
        return self.update(resolved, reason="Resolved")

    # --- helpers ----------------------------------------------------------------------------

    def _store(self, row: models.Diagnosis, diagnosis: domain.Diagnosis, *, reason: str) -> None:
        """Check `diagnosis` against the patient's list and save it on `row`, demoting the old primary.

        The caller holds the patient's lock.
        """
        check_problem_list(diagnosis)
        if diagnosis.is_primary:
            others = models.Diagnosis.objects.filter(patient_id=diagnosis.patient_id).exclude(pk=row.pk)
            for previous in others.filter(is_primary=True):
                previous.is_primary = False
                audit.checked_save(previous, actor=self.actor, reason="No longer primary")
        row.update_from_domain(diagnosis)
        try:
            with transaction.atomic():
                audit.checked_save(row, actor=self.actor, reason=reason)
        except IntegrityError as error:
            raise _refusal(error, diagnosis) from None

    def _row(self, diagnosis_id) -> models.Diagnosis | None:
        diagnosis_id = parse_id(diagnosis_id)
        if diagnosis_id is None:
            return None
        return models.Diagnosis.objects.select_related(*RELATIONS).filter(pk=diagnosis_id).first()

    def _patient_of(self, diagnosis_id):
        diagnosis_id = parse_id(diagnosis_id)
        patient_id = (
            models.Diagnosis.objects.filter(pk=diagnosis_id).values_list("patient_id", flat=True).first()
            if diagnosis_id
            else None
        )
        if patient_id is None:
            raise NotFound(f"No diagnosis with id {diagnosis_id}.")
        return patient_id

    def _locked(self, diagnosis_id, version: int | None) -> models.Diagnosis:
        """Return the diagnosis row locked for this transaction; refuse a stale version."""
        diagnosis_id = parse_id(diagnosis_id)
        row = models.Diagnosis.objects.select_for_update().filter(pk=diagnosis_id).first() if diagnosis_id else None
        if row is None:
            raise NotFound(f"No diagnosis with id {diagnosis_id}.")
        if version is not None and row.version != version:
            raise ConcurrencyError("Diagnosis", row, version, row.version)
        return row


def check_problem_list(diagnosis: domain.Diagnosis) -> None:
    """Raise RuleViolation when `diagnosis` would list a code twice on its patient's problem list.

    The one rule of the list that spans diagnoses, read from what is stored: the repository runs
    it under the patient's lock before every write, the admin's form before it saves (next to
    the code). Only the patient's current diagnoses are read, the one being saved left out.
    """
    if not diagnosis.is_current or diagnosis.patient_id is None:
        return
    current = models.Diagnosis.objects.filter(patient_id=diagnosis.patient_id, status__in=CURRENT)
    if diagnosis.id is not None:
        current = current.exclude(pk=diagnosis.id)
    domain.check_problem_list(diagnosis, [row.to_domain(with_audit=False) for row in current])


def in_list_order(diagnoses) -> list[domain.Diagnosis]:
    """Return `diagnoses` as the problem list reads: primary, active, in remission (each by code), then the past."""
    rank = {domain.DiagnosisStatus.ACTIVE: 1, domain.DiagnosisStatus.IN_REMISSION: 2}

    def key(diagnosis: domain.Diagnosis):
        if diagnosis.is_current:
            return (0, 0 if diagnosis.is_primary else rank[diagnosis.status], diagnosis.code, 0)
        since = diagnosis.status_since.toordinal() if diagnosis.status_since else 0
        return (1, 0, "", -since)

    return sorted(diagnoses, key=key)


def _refusal(error: IntegrityError, diagnosis: domain.Diagnosis) -> Exception:
    """Return the RuleViolation a constraint's refusal means, or `error` itself if it is another."""
    text = str(error)
    if any(name in text for name in _CODE_CONSTRAINT):
        return RuleViolation({"code": [f"{diagnosis.code} is already on the problem list."]})
    if any(name in text for name in _PRIMARY_CONSTRAINT):
        return RuleViolation({"is_primary": ["Another diagnosis of this patient was made primary at the same moment."]})
    return error
