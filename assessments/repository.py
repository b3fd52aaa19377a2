"""The Django implementations of the assessment repositories: domain objects out, attributed writes in.

Each write locks the patient's row (responses) or the alert's row first, so two people
recording, correcting or reviewing at once are serialised: the second sees what the first wrote.
The version a caller read is checked by the UPDATE itself (`AuditedModel`), so a stale
correction or review is refused with ConcurrencyError and nothing is written.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from assessments import domain, models
from novamind import audit
from novamind.domain import ConcurrencyError, NotFound, RuleViolation, parse_id
from patients import domain as patients_domain
from patients import models as patients_models

RESPONSE_RELATIONS = ("administered_by", "created_by", "updated_by")
ALERT_RELATIONS = ("reviewed_by", "cleared_by", "created_by", "updated_by")


def lock_patient(patient_id) -> patients_models.Patient:
    """Return the patient row, locked until the transaction ends; RuleViolation if there is none."""
    if patient_id is None:
        raise RuleViolation({"patient": [domain.REQUIRED]})
    with transaction.atomic():
        patient = patients_models.Patient.objects.select_for_update().filter(pk=patient_id).first()
    if patient is None:
        raise RuleViolation({"patient": ["No patient with this id."]})
    return patient


def check_appointment(response: domain.Response) -> None:
    """Raise RuleViolation unless the response's appointment (if any) is one of its patient's."""
    if response.appointment_id is None:
        return
    appointments = models.Response._meta.get_field("appointment").related_model.objects
    owner = appointments.filter(pk=response.appointment_id).values_list("patient_id", flat=True).first()
    if owner is None:
        raise RuleViolation({"appointment": ["No appointment with this id."]})
    if owner != response.patient_id:
        raise RuleViolation({"appointment": ["This appointment is another patient's: choose one of this patient's."]})


class DjangoResponseRepository:
    """Questionnaire responses in the database, written on behalf of one named user (`actor`).

    Responses are retained: `delete` voids one, with a reason.
    """

    def __init__(self, *, actor):
        self.actor = audit.require_actor(actor)

    # --- reads ------------------------------------------------------------------------------

    def get_by_id(self, response_id) -> domain.Response | None:
        """Return the response with this id, or None."""
        row = self._row(response_id)
        return row.to_domain() if row else None

    def for_patient(self, patient_id, *, include_voided: bool = False) -> list[domain.Response]:
        """Return the patient's responses, oldest first (voided ones only if asked)."""
        patient_id = parse_id(patient_id)
        if patient_id is None:
            return []
        rows = models.Response.objects.select_related(*RESPONSE_RELATIONS).filter(patient_id=patient_id)
        if not include_voided:
            rows = rows.filter(status=domain.ResponseStatus.RECORDED.value)
        return [row.to_domain() for row in rows.order_by("administered_on", "created_at")]

    # --- writes -----------------------------------------------------------------------------

    def add(self, response: domain.Response) -> domain.Response:
        """Record `response` (scored here) in the actor's name, as the one who entered it; return it as stored."""
        if response.id is not None or response.status is not domain.ResponseStatus.RECORDED:
            raise RuleViolation("A new response is recorded as given; correct or void it afterwards.")
        response = response.scored(today=timezone.localdate())
        with transaction.atomic():
            patient = lock_patient(response.patient_id)
            if patient.status == patients_domain.PatientStatus.DECEASED.value:
                raise RuleViolation({"patient": ["This patient is recorded as deceased: no new response is recorded."]})
            check_appointment(response)
            row = models.Response(administered_by=self.actor)
            row.update_from_domain(response)
            audit.checked_save(row, actor=self.actor, reason="Recorded")
        return self.get_by_id(row.pk)

    def update(self, response: domain.Response, *, reason: str = "Corrected") -> domain.Response:
        """Store the corrected `response`, read at the version it carries; the patient and questionnaire stay."""
        if response.audit is None:
            raise RuleViolation("Update a response that was read from the repository (it carries its version).")
        response = response.scored(today=timezone.localdate())
        with transaction.atomic():
            row = self._locked(response.id, response.audit.version)
            if (row.patient_id, row.instrument) != (response.patient_id, response.instrument):
                raise RuleViolation(
                    "A response keeps its patient and questionnaire: record a new response for another one."
                )
            lock_patient(row.patient_id)
            check_appointment(response)
            row.update_from_domain(response)
            audit.checked_save(row, actor=self.actor, reason=reason)
        return self.get_by_id(row.pk)

    def delete(self, response_id, *, reason: str, version: int | None = None) -> domain.Response:
        """Void the response (entered in error) for `reason`: responses are kept, never deleted."""
        with transaction.atomic():
            row = self._locked(response_id, version)
            voided = domain.void(row.to_domain(), reason=reason, today=timezone.localdate())
            row.update_from_domain(voided)
            audit.checked_save(row, actor=self.actor, reason="Voided")
        return self.get_by_id(row.pk)

    # --- helpers ----------------------------------------------------------------------------

    def _row(self, response_id) -> models.Response | None:
        response_id = parse_id(response_id)
        if response_id is None:
            return None
        return models.Response.objects.select_related(*RESPONSE_RELATIONS).filter(pk=response_id).first()

    def _locked(self, response_id, version: int | None) -> models.Response:
        """Return the response row locked for this transaction; refuse a stale version."""
        response_id = parse_id(response_id)
        row = (
            models.Response.objects.select_for_update(of=("self",))  # the row, not its users'
            .select_related(*RESPONSE_RELATIONS)
            .filter(pk=response_id)
            .first()
            if response_id
            else None
        )
        if row is None:
            raise NotFound(f"No questionnaire response with id {response_id}.")
        if version is not None and row.version != version:
            raise ConcurrencyError("Questionnaire response", row, version, row.version)
        return row


class DjangoAlertRepository:
    """Safety alerts in the database, written on behalf of one named user (`actor`). Never deleted."""

    def __init__(self, *, actor):
        self.actor = audit.require_actor(actor)

    def get_by_id(self, alert_id) -> domain.SafetyAlert | None:
        """Return the alert with this id, or None."""
        alert_id = parse_id(alert_id)
        row = (
            models.SafetyAlert.objects.select_related(*ALERT_RELATIONS).filter(pk=alert_id).first()
            if alert_id
            else None
        )
        return row.to_domain() if row else None

    def for_response(self, response_id) -> domain.SafetyAlert | None:
        """Return the alert of the response, or None when it has none."""
        row = models.SafetyAlert.objects.select_related(*ALERT_RELATIONS).filter(response_id=response_id).first()
        return row.to_domain() if row else None

    def add(self, alert: domain.SafetyAlert) -> domain.SafetyAlert:
        """Raise `alert` (open) on its response; a response has one alert at most."""
        if alert.status is not domain.AlertStatus.OPEN or alert.id is not None:
            raise RuleViolation("A new alert is raised open.")
        with transaction.atomic():
            if models.SafetyAlert.objects.filter(response_id=alert.response_id).exists():
                raise RuleViolation("This response already has its safety alert.")
            row = models.SafetyAlert()
            row.update_from_domain(alert)
            audit.checked_save(row, actor=self.actor, reason="Raised: a risk answer")
        return self.get_by_id(row.pk)

    def update(self, alert: domain.SafetyAlert, *, reason: str) -> domain.SafetyAlert:
        """Store the changed `alert`, read at the version it carries; `reason` goes to its history."""
        if alert.audit is None:
            raise RuleViolation("Update an alert that was read from the repository (it carries its version).")
        with transaction.atomic():
            row = self._locked(alert.id, alert.audit.version)
            if (row.patient_id, row.response_id) != (alert.patient_id, alert.response_id):
                raise RuleViolation("An alert stays on the response that raised it.")
            row.update_from_domain(alert, users={self.actor.get_username(): self.actor})
            audit.checked_save(row, actor=self.actor, reason=reason)
        return self.get_by_id(row.pk)

    def _locked(self, alert_id, version: int | None) -> models.SafetyAlert:
        alert_id = parse_id(alert_id)
        # The row only: PostgreSQL locks no nullable side of an outer join (the reviewer may be none).
        row = (
            models.SafetyAlert.objects.select_for_update(of=("self",))
            .select_related(*ALERT_RELATIONS)
            .filter(pk=alert_id)
            .first()
            if alert_id
            else None
        )
        if row is None:
            raise NotFound(f"No safety alert with id {alert_id}.")
        if version is not None and row.version != version:
            raise ConcurrencyError("Safety alert", row, version, row.version)
        return row
