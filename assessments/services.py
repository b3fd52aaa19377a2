"""Assessment services: the only write door for questionnaire responses and safety alerts.

Each service takes the actor and asks the access policy (`patients.policy`) first: the role's
permission, then care. The front desk may record a response (a questionnaire filled in on paper)
and do nothing else with it; clinical roles record, correct and void. A risk answer is reviewed
only by a clinician on the patient's care team (`policy.treats`: an emergency grant, a superuser's
rights or another role are not enough), since the review records what that team did.

Recording or correcting a response and what becomes of its safety alert (`domain.alert_change`:
raise, clear, open again, keep) are one transaction: a response is never stored without the alert
its answers call for.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.db import transaction
from django.db.models import F, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from assessments import domain, models, repository
from assessments.instruments import auditc
from novamind import access, audit, encryption
from novamind.domain import AccessDenied, ConcurrencyError, NotFound, parse_id
from patients import models as patients_models
from patients import policy

ADD_RESPONSE = "assessments.add_response"
CHANGE_RESPONSE = "assessments.change_response"
VIEW_RESPONSE = "assessments.view_response"
VIEW_ALERT = "assessments.view_safetyalert"
REVIEW_ALERT = "assessments.change_safetyalert"
CATEGORY = "assessments"  # the access log's data category


def _responses(actor) -> repository.DjangoResponseRepository:
    return repository.DjangoResponseRepository(actor=audit.require_actor(actor))


def _alerts(actor) -> repository.DjangoAlertRepository:
    return repository.DjangoAlertRepository(actor=audit.require_actor(actor))


def _response_patient(response_id, actor, permission: str):
    """Ask the policy about the stored response `response_id`; return its patient's id."""
    patient_id = models.Response.objects.filter(pk=parse_id(response_id)).values_list("patient_id", flat=True).first()
    if patient_id is None:
        raise NotFound(f"No questionnaire response with id {response_id}.")
    policy.require(actor, permission, patient_id=patient_id)
    return patient_id


def _with_basis(response: domain.Response) -> domain.Response:
    """Return `response` with the scoring basis its instrument reads (the AUDIT-C's depends on the patient)."""
    if response.instrument != auditc.INSTRUMENT.code or response.patient_id is None:
        return dataclasses.replace(response, answers=dataclasses.replace(response.answers, basis=""))
    patient = patients_models.Patient.objects.filter(pk=response.patient_id).only("id", "sex_assigned_at_birth").first()
    sex = patient.sex_assigned_at_birth if patient is not None else ""
    return dataclasses.replace(response, answers=dataclasses.replace(response.answers, basis=auditc.basis_for(sex)))


def response_record(*, response: domain.Response, actor) -> domain.Response:
    """Record `response` for a patient `actor` may see, entered by them; raise its safety alert if it calls for one."""
    policy.require(actor, ADD_RESPONSE, patient_id=response.patient_id)
    response = _with_basis(response)
    with transaction.atomic():
        stored = _responses(actor).add(response)
        _follow_risk(stored, actor=actor, why="")
    return stored


def response_correct(
    *,
    response_id,
    answers: domain.Answers,
    administered_on: dt.date | None,
    appointment_id=None,
    reason: str,
    version: int | None = None,
    actor,
) -> domain.Response:
    """Correct the answers (or date, or appointment) of a response, for `reason`; score it again.

    `version` is the version the corrector read (a stale one is refused). The safety alert
    follows the corrected answers (`domain.alert_change`), in the same transaction.
    """
    _response_patient(response_id, actor, CHANGE_RESPONSE)
    responses = _responses(actor)
    with transaction.atomic():
        stored = responses.get_by_id(response_id)
        if version is not None and stored.audit.version != version:
            raise ConcurrencyError("Questionnaire response", stored.short_id, version, stored.audit.version)
        corrected = domain.correct(
            stored,
            answers=answers,
            administered_on=administered_on,
            appointment_id=parse_id(appointment_id),
            reason=reason,
            today=timezone.localdate(),
        )
        saved = responses.update(corrected, reason="Corrected")
        _follow_risk(saved, actor=actor, why=reason)
    return saved


def response_void(*, response_id, reason: str, version: int | None = None, actor) -> domain.Response:
    """Void the response as entered in error, for `reason`. Its safety alert, if any, still waits for its review."""
    _response_patient(response_id, actor, CHANGE_RESPONSE)
    return _responses(actor).delete(response_id, reason=reason, version=version)


def alert_review(*, alert_id, action_taken: str, version: int | None = None, actor) -> domain.SafetyAlert:
    """Record `actor`'s review of an open safety alert: what was done. Only the patient's care team reviews."""
    patient_id = models.SafetyAlert.objects.filter(pk=parse_id(alert_id)).values_list("patient_id", flat=True).first()
    if patient_id is None:
        raise NotFound(f"No safety alert with id {alert_id}.")
    policy.require(actor, REVIEW_ALERT, patient_id=patient_id)
    if not policy.treats(actor, patient_id):
        raise AccessDenied(
            f"{actor.get_username()} is not on this patient's care team: a risk answer is reviewed by a clinician "
            f"of the patient's care team."
        )
    alerts = _alerts(actor)
    with transaction.atomic():
        alert = alerts.get_by_id(alert_id)
        if version is not None and alert.audit.version != version:
            raise ConcurrencyError("Safety alert", alert.id, version, alert.audit.version)
        reviewed = domain.review(alert, action_taken=action_taken, reviewer=actor.get_username(), now=timezone.now())
        return alerts.update(reviewed, reason="Reviewed")


def _follow_risk(response: domain.Response, *, actor, why: str) -> domain.AlertChange:
    """Raise, clear, open again or keep the response's safety alert, as its answers say (`domain.alert_change`)."""
    alerts = _alerts(actor)
    existing = alerts.for_response(response.id)
    change = domain.alert_change(existing.status if existing else None, risky=response.risky)
    now = timezone.now()
    if change is domain.AlertChange.RAISE:
        alerts.add(
            domain.SafetyAlert(
                patient_id=response.patient_id,
                response_id=response.id,
                raised_at=now,
                reason=domain.describe_risk(response.spec, response.answers),
            )
        )
    elif change is domain.AlertChange.CLEAR:
        alerts.update(
            domain.clear(existing, reason=why, by=actor.get_username(), now=now),
            reason="Cleared: the risk answer was corrected",
        )
    elif change is domain.AlertChange.REOPEN:
        alerts.update(
            domain.reopen(existing, reason=domain.describe_risk(response.spec, response.answers), now=now),
            reason="Opened again: the corrected answers hold a risk answer",
        )
    return change


# --- verification --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Verification:
    """What `responses_verify` checked and what it found (ids and MRNs only)."""

    checked: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        """Return whether every stored total and band matched its answers."""
        return not self.problems


def may_verify(actor) -> bool:
    """Return whether `actor` may check the stored scores (the view permission on responses)."""
    return policy.may(actor, VIEW_RESPONSE)


def responses_verify(*, actor, batch_size: int = 500) -> Verification:
    """Recompute every stored response's total and band from its answers; report each mismatch.

    A mismatch means the row was changed behind the application (or by a scoring rule that
    changed since). A value that no longer decrypts is reported instead of stopping the run.
    The run decrypts every answer the actor may see without showing it, so it is recorded in the
    access log in `actor`'s name; a care-restricted actor checks only their patients' responses.
    """
    actor = audit.require_actor(actor)
    if not may_verify(actor):
        raise AccessDenied(
            f"{actor.get_username()} may not run verify_assessments: it needs the view permission on "
            f"questionnaire responses."
        )
    # The encrypted columns are read as text and decrypted here: the column's own converter would
    # decrypt while fetching, and one row that no longer decrypts would stop the whole check.
    scored = ("instrument", "answers", "total", "band", "scoring_basis")
    rows = (
        policy.restrict(models.Response.objects.all(), actor)
        .defer(*scored, "void_reason", "correction_reason")
        .annotate(patient_mrn=F("patient__mrn"), **{f"ciphertext_{name}": Cast(name, TextField()) for name in scored})
        .order_by("created_at", "id")
    )
    checked, problems = 0, []
    with transaction.atomic():
        for row in rows.iterator(chunk_size=batch_size):
            checked += 1
            label = f"response {row.pk} (patient {row.patient_mrn}, given {row.administered_on:%Y-%m-%d})"
            try:
                values = {name: _plaintext(getattr(row, f"ciphertext_{name}")) for name in scored}
            except encryption.DecryptionError:
                problems.append(f"{label}: it does not decrypt (changed outside NovaMind, or a wrong key)")
                continue
            stored = domain.Response(
                patient_id=row.patient_id,
                instrument=values["instrument"],
                administered_on=row.administered_on,
                answers=models.answers_of(values["answers"], values["scoring_basis"]),
                total=models.total_of(values["total"]),
                band=values["band"],
            )
            problems += [f"{label}: {problem}" for problem in domain.verify(stored)]
        access.record(
            user=actor,
            action="verify",
            category=CATEGORY,
            detail=f"score check of {checked} questionnaire responses; no answer shown",
        )
    return Verification(checked=checked, problems=problems)


def _plaintext(token: str | None) -> str:
    return "" if token is None else encryption.decrypt(token)
