"""Writes of patients' rows that are not plain edits: each takes the actor, validates, and is audited."""

from django.db import transaction
from django.utils import timezone

from novamind import audit
from novamind.domain import NotFound
from patients import domain, models


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
