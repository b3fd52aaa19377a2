"""Diagnosis services: the only write door to the problem list that the admin and commands call.

Each service takes the actor and asks the access policy (`patients.policy`) first: the role's
permission, then care — a diagnosis of a patient outside the actor's care is refused, and
recording one never puts its author on the care team. The rules of one diagnosis are the
domain's; the rules of the list (a code listed once, one primary at a time) are the
repository's, decided under the patient's lock, in one transaction with the write.

Status changes and the primary flag have their own steps (`diagnosis_set_status` and its
`diagnosis_resolve` / `diagnosis_rule_out`, `diagnosis_make_primary`), each written to the
history with what it was; `diagnosis_update` changes the clinician's details only.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from diagnoses import domain, models, repository, selectors
from novamind import audit
from novamind.domain import ConcurrencyError, NotFound, RuleViolation, parse_id
from patients import policy

VIEW = selectors.VIEW
ADD = "diagnoses.add_diagnosis"
CHANGE = "diagnoses.change_diagnosis"
STEPS = {
    domain.DiagnosisStatus.ACTIVE: "Active again",
    domain.DiagnosisStatus.IN_REMISSION: "In remission",
    domain.DiagnosisStatus.RESOLVED: "Resolved",
    domain.DiagnosisStatus.RULED_OUT: "Ruled out",
}


def _diagnoses(actor) -> repository.DjangoDiagnosisRepository:
    return repository.DjangoDiagnosisRepository(actor=audit.require_actor(actor))


def _stored(diagnosis_id, actor, version: int | None = None) -> domain.Diagnosis:
    """Return the stored diagnosis once the policy lets `actor` change it (at `version`, if given)."""
    patient_id = (
        models.Diagnosis.objects.filter(pk=parse_id(diagnosis_id)).values_list("patient_id", flat=True).first()
        if parse_id(diagnosis_id)
        else None
    )
    if patient_id is None:
        raise NotFound(f"No diagnosis with id {diagnosis_id}.")
    policy.require(actor, CHANGE, patient_id=patient_id)
    stored = _diagnoses(actor).get_by_id(diagnosis_id)
    if version is not None and stored.audit.version != version:
        raise ConcurrencyError("Diagnosis", stored.id, version, stored.audit.version)
    return stored


def diagnosis_record(*, diagnosis: domain.Diagnosis, actor) -> domain.Diagnosis:
    """Record `diagnosis` on the problem list of a patient in `actor`'s care; return it as stored."""
    policy.require(actor, ADD, patient_id=diagnosis.patient_id)
    return _diagnoses(actor).add(diagnosis)


def diagnosis_update(*, diagnosis: domain.Diagnosis, actor) -> domain.Diagnosis:
    """Store the changed details (specifier, onset) of `diagnosis`, read at the version it carries."""
    stored = _stored(diagnosis.id, actor)
    if diagnosis.status is not stored.status or diagnosis.status_since != stored.status_since:
        raise RuleViolation({"status": ["Change the status with its own step (resolve, rule out…), not by editing."]})
    if diagnosis.is_primary != stored.is_primary:
        raise RuleViolation({"is_primary": ["Make another diagnosis primary with its own step, not by editing."]})
    return _diagnoses(actor).update(diagnosis, reason="Details changed")


def diagnosis_set_status(
    *, diagnosis_id, status: domain.DiagnosisStatus, on: dt.date | None = None, version: int | None = None, actor
) -> domain.Diagnosis:
    """Move the diagnosis to `status` since `on` (default today); leaving the list ends its being primary."""
    stored = _stored(diagnosis_id, actor, version)
    today = timezone.localdate()
    changed = domain.with_status(stored, status, on=on or today, today=today)
    reason = STEPS[status] + (" (no longer primary)" if stored.is_primary and not changed.is_primary else "")
    return _diagnoses(actor).update(changed, reason=reason)


def diagnosis_resolve(
    *, diagnosis_id, on: dt.date | None = None, version: int | None = None, actor
) -> domain.Diagnosis:
    """Resolve the diagnosis on `on` (default today): it leaves the problem list and stays in the record."""
    return diagnosis_set_status(
        diagnosis_id=diagnosis_id, status=domain.DiagnosisStatus.RESOLVED, on=on, version=version, actor=actor
    )


def diagnosis_rule_out(
    *, diagnosis_id, on: dt.date | None = None, version: int | None = None, actor
) -> domain.Diagnosis:
    """Rule the diagnosis out on `on` (default today): it was considered and is not the patient's."""
    return diagnosis_set_status(
        diagnosis_id=diagnosis_id, status=domain.DiagnosisStatus.RULED_OUT, on=on, version=version, actor=actor
    )


def diagnosis_make_primary(*, diagnosis_id, version: int | None = None, actor) -> domain.Diagnosis:
    """Make the diagnosis the patient's primary one; the previous primary is demoted in the same transaction."""
    stored = _stored(diagnosis_id, actor, version)
    return _diagnoses(actor).update(domain.made_primary(stored), reason="Made primary")
