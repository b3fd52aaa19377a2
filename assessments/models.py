"""Questionnaire responses and safety alerts, stored: what a patient answered is encrypted, and so is its score.

A response says how a patient feels, drinks or sleeps, and its total and band say it in one word,
so the answers (one encrypted JSON text), the total, the band, the scoring basis and even which
questionnaire was given (a PCL-5 says "trauma", an AUDIT-C "alcohol") are encrypted. Plaintext
is kept only for what the workflow queries and the database constrains: the patient, the date
it was given, who entered it, the optional appointment and whether it is voided. Which of a
patient's responses answer the same questionnaire is found through a blind index of (patient,
questionnaire), which equal values of two patients never share.

A safety alert's existence, status and times are plaintext, because the review workflow must
find the open ones; what raised it, what was done and why it was cleared are encrypted.
"""

import json

from django.conf import settings
from django.db import models
from django.utils import timezone

from assessments import domain, instruments
from novamind import blind_index, encryption
from novamind.domain import RuleViolation, choice_or
from novamind.models import DomainValidatedModel

INSTRUMENT_KEY_PURPOSE = "assessments.patient_instrument"


def instrument_key(patient_id, instrument: str) -> str:
    """Return the blind index of one patient's responses to one questionnaire."""
    return blind_index.digest(INSTRUMENT_KEY_PURPOSE, f"{patient_id}:{instrument}")


def answers_of(text: str, basis: str) -> domain.Answers:
    """Return the answers stored as JSON text (`Response.answers`), read on `basis`."""
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        data = {}
    return domain.Answers.from_data(data if isinstance(data, dict) else {}, basis or "")


def total_of(text) -> int | None:
    """Return the stored total (digits), or None when it holds none."""
    return int(text) if isinstance(text, str) and text.isascii() and text.isdigit() else None


class Response(DomainValidatedModel):
    """One administration of one questionnaire to one patient, scored as the instrument publishes.

    Corrected with a reason (scored again) or voided with a reason; never deleted.
    """

    patient = models.ForeignKey(
        "patients.Patient",
        verbose_name="patient",
        on_delete=models.PROTECT,
        related_name="assessment_responses",
    )
    instrument = encryption.EncryptedCharField(
        "questionnaire", max_length=10, choices=instruments.choices(), help_text="PHQ-9, GAD-7, PCL-5 or AUDIT-C."
    )
    instrument_key = blind_index.BlindIndexField(
        "questionnaire key", help_text="Blind index of patient and questionnaire: finds a patient's series."
    )
    administered_on = models.DateField("given on", help_text="The day the patient answered it.")
    administered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="entered by",
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
        help_text="The staff member who entered the answers.",
    )
    answers = encryption.EncryptedTextField("answers", editable=False)
    total = encryption.EncryptedCharField("total", max_length=4, editable=False)
    band = encryption.EncryptedCharField("band", max_length=40, editable=False)
    scoring_basis = encryption.EncryptedCharField(
        "scoring basis", max_length=10, blank=True, editable=False, help_text="AUDIT-C only: the cut-points used."
    )
    appointment = models.ForeignKey(
        "appointments.Appointment",
        verbose_name="appointment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assessment_responses",
        help_text="Optional: the visit it was given at (one of this patient's).",
    )
    status = models.CharField(
        "status",
        max_length=10,
        choices=domain.ResponseStatus.choices(),
        default=domain.ResponseStatus.RECORDED.value,
        editable=False,
        help_text="A response entered in error is voided, with a reason; it is never deleted.",
    )
    voided_at = models.DateTimeField("voided", null=True, blank=True, editable=False)
    void_reason = encryption.EncryptedTextField("reason voided", blank=True, editable=False)
    correction_reason = encryption.EncryptedTextField(
        "reason for the last correction", blank=True, editable=False, help_text="Each correction's is in the history."
    )

    class Meta:
        verbose_name = "questionnaire response"
        ordering = ["-administered_on", "-created_at"]
        indexes = [
            models.Index(fields=["patient", "instrument_key", "administered_on"], name="assessments_series"),
            models.Index(fields=["-administered_on", "-created_at", "-id"], name="assessments_response_list"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=[s.value for s in domain.ResponseStatus]),
                name="assessments_response_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(status=domain.ResponseStatus.VOIDED.value, voided_at__isnull=False)
                | (~models.Q(status=domain.ResponseStatus.VOIDED.value) & models.Q(voided_at__isnull=True)),
                name="assessments_response_voided_at_iff_voided",
            ),
        ]

    def __str__(self):
        # The admin log keeps str(obj) in plaintext: an id, never the questionnaire or the score.
        return f"questionnaire response {str(self.pk)[:8]}" if self.pk else "new questionnaire response"

    def clean(self):
        try:
            response = self.to_domain(with_audit=False).scored(today=timezone.localdate())
        except RuleViolation as violation:
            raise self.validation_error(violation) from None
        self.update_from_domain(response)

    def blind_indexes(self) -> dict[str, str | None]:
        return {"instrument_key": instrument_key(self.patient_id, self.instrument) if self.instrument else None}

    def to_domain(self, *, with_audit=True) -> domain.Response:
        """Return the domain Response this row holds."""
        adding = self._state.adding
        return domain.Response(
            id=None if adding else self.pk,
            patient_id=self.patient_id,
            instrument=self.instrument or "",
            administered_on=self.administered_on,
            answers=answers_of(self.answers, self.scoring_basis),
            total=total_of(self.total),
            band=self.band or "",
            appointment_id=self.appointment_id,
            administered_by=self.administered_by.get_username() if self.administered_by_id else "",
            status=choice_or(domain.ResponseStatus, self.status, domain.ResponseStatus.RECORDED),
            void_reason=self.void_reason or "",
            voided_at=self.voided_at,
            correction_reason=self.correction_reason or "",
            audit=self.audit_info() if with_audit and not adding else None,
        )

    def update_from_domain(self, response: domain.Response) -> None:
        """Copy `response` onto this row (identity, who entered it and audit excluded)."""
        self.patient_id = response.patient_id
        self.instrument = response.instrument
        self.administered_on = response.administered_on
        self.answers = json.dumps(response.answers.to_data())
        self.scoring_basis = response.answers.basis
        self.total = "" if response.total is None else str(response.total)
        self.band = response.band
        self.appointment_id = response.appointment_id
        self.status = response.status.value
        self.void_reason = response.void_reason
        self.correction_reason = response.correction_reason
        if response.status is domain.ResponseStatus.VOIDED:
            self.voided_at = self.voided_at or timezone.now()
        else:
            self.voided_at = None


class SafetyAlert(DomainValidatedModel):
    """A risk answer (PHQ-9 item 9 above 0) that a clinician of the patient's care team must review.

    Exactly one per response. Reviewed once, recording what was done; cleared only by a
    correction of the answer while nobody has reviewed it; never deleted.
    """

    patient = models.ForeignKey(
        "patients.Patient", verbose_name="patient", on_delete=models.PROTECT, related_name="safety_alerts"
    )
    response = models.OneToOneField(
        Response,
        verbose_name="questionnaire response",
        on_delete=models.PROTECT,
        related_name="safety_alert",
        editable=False,
    )
    raised_at = models.DateTimeField("raised", default=timezone.now, editable=False)
    reason = encryption.EncryptedTextField("risk answer", editable=False)
    status = models.CharField(
        "status",
        max_length=10,
        choices=domain.AlertStatus.choices(),
        default=domain.AlertStatus.OPEN.value,
        editable=False,
        help_text="Reviewed with the Review button, by a clinician of the patient's care team.",
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="reviewed by",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    reviewed_at = models.DateTimeField("reviewed", null=True, blank=True, editable=False)
    action_taken = encryption.EncryptedTextField("what was done", blank=True, editable=False)
    cleared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="cleared by",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    cleared_at = models.DateTimeField("cleared", null=True, blank=True, editable=False)
    clear_reason = encryption.EncryptedTextField("why it was cleared", blank=True, editable=False)

    class Meta:
        verbose_name = "risk answer alert"
        ordering = ["-raised_at"]
        indexes = [
            models.Index(fields=["status", "raised_at"], name="assessments_alert_waiting"),
            models.Index(fields=["patient", "status"], name="assessments_alert_patient"),
            models.Index(fields=["-raised_at", "-id"], name="assessments_alert_list"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=[s.value for s in domain.AlertStatus]),
                name="assessments_alert_status_valid",
            ),
            models.CheckConstraint(
                condition=~models.Q(status=domain.AlertStatus.REVIEWED.value)
                | models.Q(reviewed_by__isnull=False, reviewed_at__isnull=False),
                name="assessments_alert_reviewed_by_whom_and_when",
            ),
            models.CheckConstraint(
                condition=~models.Q(status=domain.AlertStatus.CLEARED.value)
                | models.Q(cleared_by__isnull=False, cleared_at__isnull=False),
                name="assessments_alert_cleared_by_whom_and_when",
            ),
        ]

    def __str__(self):
        return f"risk answer alert {str(self.pk)[:8]}" if self.pk else "new risk answer alert"

    def clean(self):
        try:
            alert = self.to_domain(with_audit=False).validated()
        except RuleViolation as violation:
            raise self.validation_error(violation) from None
        self.action_taken, self.clear_reason = alert.action_taken, alert.clear_reason

    def to_domain(self, *, with_audit=True) -> domain.SafetyAlert:
        """Return the domain SafetyAlert this row holds."""
        adding = self._state.adding
        return domain.SafetyAlert(
            id=None if adding else self.pk,
            patient_id=self.patient_id,
            response_id=self.response_id,
            raised_at=self.raised_at,
            reason=self.reason or "",
            status=choice_or(domain.AlertStatus, self.status, domain.AlertStatus.OPEN),
            reviewed_by=self.reviewed_by.get_username() if self.reviewed_by_id else "",
            reviewed_at=self.reviewed_at,
            action_taken=self.action_taken or "",
            cleared_at=self.cleared_at,
            cleared_by=self.cleared_by.get_username() if self.cleared_by_id else "",
            clear_reason=self.clear_reason or "",
            audit=self.audit_info() if with_audit and not adding else None,
        )

    def update_from_domain(self, alert: domain.SafetyAlert, *, users=None) -> None:
        """Copy `alert` onto this row; `users` maps a username it newly names (the reviewer) to the user."""
        self.patient_id = alert.patient_id
        self.response_id = alert.response_id
        self.raised_at = alert.raised_at
        self.reason = alert.reason
        self.status = alert.status.value
        self.reviewed_by = _named(self.reviewed_by if self.reviewed_by_id else None, alert.reviewed_by, users)
        self.reviewed_at = alert.reviewed_at
        self.action_taken = alert.action_taken
        self.cleared_by = _named(self.cleared_by if self.cleared_by_id else None, alert.cleared_by, users)
        self.cleared_at = alert.cleared_at
        self.clear_reason = alert.clear_reason


def _named(current, username: str, users):
    """Return the user `username` names: the one already on the row, else the one `users` gives."""
    if not username:
        return None
    if current is not None and current.get_username() == username:
        return current
    return (users or {})[username]
