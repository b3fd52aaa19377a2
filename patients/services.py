"""Patient services: the only write door for patients' rows that the admin, commands and importer call.

Each service takes the actor, asks the access policy (`patients.policy`), validates through the
domain and writes through the audited path, in one transaction with its access-log entry.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from novamind import access, audit
from novamind.domain import AccessDenied, NotFound, RuleViolation
from patients import domain, models, policy, repository

CARE_CATEGORY = "care team"
REGISTER = "patients.add_patient"
CHANGE = "patients.change_patient"


def patient_register(*, patient: domain.Patient, actor) -> domain.Patient:
    """Register `patient` under a new MRN, as `actor` (who needs patients.add_patient); return it as stored.

    Registering gives nobody care: the front desk assigns clinicians (`care_assign`).
    """
    policy.require(actor, REGISTER)
    with transaction.atomic():
        return repository.DjangoPatientRepository(actor=actor).add(patient)


def patient_register_batch(*, patients: list[domain.Patient], actor, now: dt.datetime, reason: str) -> int:
    """Register many patients at once (an import), each validated by the domain; return how many.

    Written in bulk with their creation history rows, attributed to `actor` at `now`; all of
    them or, on a RuleViolation naming the first patient at fault, none.
    """
    policy.require(actor, REGISTER)
    today, region = timezone.localdate(), settings.NOVAMIND_DEFAULT_PHONE_REGION
    checked = [patient.validated(today=today, phone_region=region) for patient in patients]
    with transaction.atomic():
        return repository.DjangoPatientRepository(actor=actor).add_many(checked, now=now, reason=reason)


def patient_update(*, patient: domain.Patient, actor) -> domain.Patient:
    """Store the changed details of `patient` (read at its version), as `actor`; return it as stored.

    `actor` needs patients.change_patient and must see the patient (care, for a clinician); an
    edit of a record changed since it was read raises ConcurrencyError and writes nothing.
    """
    policy.require(actor, CHANGE, patient_id=patient.id)
    with transaction.atomic():
        return repository.DjangoPatientRepository(actor=actor).update(patient)


def patient_status_set(*, patient_id, status: domain.PatientStatus, actor) -> domain.Patient:
    """Set the patient's status (deactivate, reactivate, record a death), as `actor`."""
    policy.require(actor, CHANGE, patient_id=patient_id)
    with transaction.atomic():
        return repository.DjangoPatientRepository(actor=actor).set_status(patient_id, status)


def _patient_ref(patient_id) -> models.Patient:
    patient = models.Patient.objects.filter(pk=patient_id).only("id", "mrn").first()
    if patient is None:
        raise NotFound("No such patient.")
    return patient


def care_assign(*, patient_id, clinician, actor, request=None) -> models.CareAssignment:
    """Put `clinician` on the patient's care team, as `actor` (who must be allowed to assign care).

    Returns the open assignment; assigning a clinician who is already on the team changes nothing.
    """
    audit.require_actor(actor)
    if not policy.may_assign_care(actor):
        raise AccessDenied(f"{actor.get_username()} may not assign clinicians to patients.")
    if not policy.is_care_clinician(clinician):
        raise RuleViolation({"clinician": ["Only an active clinician, prescriber or supervisor can join a care team."]})
    with transaction.atomic():
        patient = _patient_ref(patient_id)
        current = models.CareAssignment.objects.filter(patient=patient, clinician=clinician, ended_at=None).first()
        if current is not None:
            return current
        assignment = models.CareAssignment(patient=patient, clinician=clinician, started_at=timezone.now())
        try:
            with transaction.atomic():
                audit.audited_save(assignment, actor=actor, reason="Care assigned", validate=False)
        except IntegrityError:
            # Assigned by someone else at the same moment: the open assignment is theirs.
            return models.CareAssignment.objects.get(patient=patient, clinician=clinician, ended_at=None)
        access.record(
            user=actor,
            action="care assigned",
            category=CARE_CATEGORY,
            patient=patient,
            obj=assignment,
            request=request,
            detail=f"clinician {clinician.get_username()}",
        )
    return assignment


def care_end(*, assignment_id, actor, request=None) -> models.CareAssignment:
    """End a care assignment: the clinician no longer sees the patient's records."""
    audit.require_actor(actor)
    if not policy.may_assign_care(actor):
        raise AccessDenied(f"{actor.get_username()} may not change care teams.")
    with transaction.atomic():
        assignment = models.CareAssignment.objects.select_for_update().filter(pk=assignment_id).first()
        if assignment is None:
            raise NotFound("No such care assignment.")
        if assignment.ended_at is not None:
            raise RuleViolation("This care assignment has already ended.")
        assignment.ended_at = timezone.now()
        audit.audited_save(assignment, actor=actor, reason="Care ended", validate=False)
        access.record(
            user=actor,
            action="care ended",
            category=CARE_CATEGORY,
            patient=_patient_ref(assignment.patient_id),
            obj=assignment,
            request=request,
            detail=f"clinician {assignment.clinician.get_username()}",
        )
    return assignment


def emergency_access_grant(*, patient_id, reason: str, actor, request=None) -> models.EmergencyAccessGrant:
    """Grant `actor` emergency access to the patient for a reason, and log it, in one transaction."""
    audit.require_actor(actor)
    minimum = policy.REASON_MIN
    reason = " ".join((reason or "").split())
    if len(reason) < minimum:
        raise RuleViolation(
            {"reason": [f"Give the reason for opening this record (at least {minimum} characters): it is reviewed."]}
        )
    with transaction.atomic():
        patient = models.Patient.objects.filter(pk=patient_id).only("id", "mrn").first()
        if patient is None:
            raise RuleViolation({"patient": ["No such patient."]})
        now = timezone.now()
        grant = models.EmergencyAccessGrant(
            patient=patient, user=actor, reason=reason, granted_at=now, expires_at=now + policy.grant_duration()
        )
        audit.audited_save(grant, actor=actor, reason="Emergency access granted", validate=False)
        policy.forget_grants(actor)
        access.record(
            user=actor,
            action=policy.GRANT_ACTION,
            category=policy.GRANT_CATEGORY,
            patient=patient,
            obj=grant,
            request=request,
            emergency=True,
            detail=f"until {timezone.localtime(grant.expires_at).isoformat(timespec='minutes')}",
        )
    return grant


def patient_legal_hold_place(*, patient_id, reason: str, actor) -> models.Patient:
    """Place a legal hold on the patient's record, as `actor`, with a reason: it is never purged."""
    return _change_hold(patient_id, place=True, reason=reason, actor=actor)


def patient_legal_hold_release(*, patient_id, reason: str, actor) -> models.Patient:
    """Release the legal hold on the patient's record, as `actor`, with a reason."""
    return _change_hold(patient_id, place=False, reason=reason, actor=actor)


def _change_hold(patient_id, *, place: bool, reason: str, actor) -> models.Patient:
    actor = audit.require_actor(actor)
    with transaction.atomic():
        row = models.Patient.objects.select_for_update().filter(pk=patient_id).first()
        if row is None:
            raise NotFound(f"No patient with id {patient_id}.")
        policy.require(actor, CHANGE, patient_id=patient_id)
        reason = domain.check_hold_change(held=row.legal_hold, place=place, reason=reason)
        row.legal_hold, row.legal_hold_reason = place, reason
        row.legal_hold_changed_by, row.legal_hold_changed_at = actor, timezone.now()
        row._legal_hold_change = True  # the one sanctioned change of the hold (see Patient.save)
        # Not validated: a hold must be placeable on any record, even one whose details an
        # older rule would no longer accept.
        audit.audited_save(
            row, actor=actor, reason="Legal hold placed" if place else "Legal hold released", validate=False
        )
    return row
