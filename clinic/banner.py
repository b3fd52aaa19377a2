"""The patient banner: whom a page is about, what to watch for, and what to do next for them.

Every page about one patient — the patient's own page, and the change and add pages of an
appointment, a diagnosis, a note, an order or an allergy of that patient — shows it above the form, through
one template (`clinic/patient_banner.html`, put in by the `{% patient_banner %}` tag) and this one
builder. It reads several apps, so it lives here, above them.

It is shown only to a user the access policy lets see the patient (`patients.policy`: the role's
`patients.view_patient`, then care); each part only where the role may see it: the problem list
(the active and in-remission diagnoses, primary first) with `diagnoses.view_diagnosis`, the
allergies with `medications.view_allergy`, the care team with `patients.view_careassignment`, the
treatment plan's review date with `treatment_plans.view_treatmentplan`, and each action where the
user may take it. It costs the same few queries whatever the patient's record holds.

Alerts come from `ALERT_SOURCES`, functions of a `Subject` that return what staff must see before
acting (a legal hold, the viewer's emergency access, a patient no longer active, a risk answer on
a questionnaire waiting for review); each source reads at most one query. The diagnoses are not
alerts but a part of their own, as the allergies are.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable
from urllib.parse import urlencode

from django.core.exceptions import ObjectDoesNotExist
from django.urls import reverse
from django.utils import timezone

from appointments import schedule
from assessments import selectors as assessments_selectors
from diagnoses import domain as diagnoses_domain
from diagnoses import selectors as diagnoses_selectors
from medications import domain as medications_domain
from medications import models as medications_models
from novamind import access
from novamind.domain import parse_id
from patients import display, policy
from patients import domain as patients_domain
from patients import models as patients_models
from treatment_plans import domain as plans_domain
from treatment_plans import models as plans_models

ACCESS_CATEGORY = "demographics"
VIEW_PLANS = "treatment_plans.view_treatmentplan"


@dataclasses.dataclass(frozen=True)
class Alert:
    """Something staff must see before acting on the record."""

    kind: str  # a short slug, also the alert's CSS class: "legal-hold", "emergency-access", "status"
    text: str
    severe: bool = False


@dataclasses.dataclass(frozen=True)
class Allergy:
    """One active allergy, as the banner lists it."""

    text: str
    severe: bool


@dataclasses.dataclass(frozen=True)
class Diagnosis:
    """One diagnosis of the problem list, as the banner lists it: code and official description, linked to its page."""

    text: str
    url: str
    primary: bool
    in_remission: bool


@dataclasses.dataclass(frozen=True)
class Action:
    """A next step for this patient: a form opened for them that returns to their page once saved."""

    id: str
    label: str
    url: str


@dataclasses.dataclass(frozen=True)
class PlanLine:
    """The patient's treatment plan as the banner states it: the current plan's review date, or what there is."""

    text: str
    url: str = ""  # the plan's page, when there is a plan
    overdue: bool = False


@dataclasses.dataclass(frozen=True)
class Banner:
    """What the banner shows. `diagnoses`, `allergies`, `care_team` and `treatment_plan` are None where the role
    may not see them."""

    patient: display.PatientLabel
    status: str
    url: str  # the patient's page
    diagnoses: tuple[Diagnosis, ...] | None
    allergies: tuple[Allergy, ...] | None
    care_team: tuple[str, ...] | None
    alerts: tuple[Alert, ...]
    actions: tuple[Action, ...]
    on_patient_page: bool
    treatment_plan: PlanLine | None = None


@dataclasses.dataclass(frozen=True)
class Subject:
    """What an alert source reads: who is looking, the patient's row (label columns, status, legal hold), now."""

    user: object
    patient: patients_models.Patient
    now: dt.datetime


AlertSource = Callable[[Subject], Iterable[Alert]]
ALERT_SOURCES: list[AlertSource] = []


def alert_source(source: AlertSource) -> AlertSource:
    """Register `source` as a source of the banner's alerts (risk alerts join here)."""
    ALERT_SOURCES.append(source)
    return source


@alert_source
def legal_hold(subject: Subject) -> Iterable[Alert]:
    """Return an alert while the record is under a legal hold."""
    if subject.patient.legal_hold:
        yield Alert("legal-hold", "Legal hold: this record is kept, whatever its age, until the hold is released.")


@alert_source
def patient_status(subject: Subject) -> Iterable[Alert]:
    """Return an alert for a patient who is no longer active."""
    status = subject.patient.status
    if status == patients_domain.PatientStatus.DECEASED.value:
        yield Alert("status", "Deceased.", severe=True)
    elif status == patients_domain.PatientStatus.INACTIVE.value:
        yield Alert("status", "Inactive: not currently in the clinic's care.")


@alert_source
def risk_answers(subject: Subject) -> Iterable[Alert]:
    """Return an alert while a risk answer (PHQ-9 item 9 above 0) waits for the care team's review.

    To the roles that see safety alerts (clinical roles), in one query; the front desk, who may
    enter a questionnaire but never read its answers, is not told.
    """
    waiting = assessments_selectors.open_alert_count(subject.user, subject.patient.pk)
    if waiting:
        many = f"{waiting} risk answers" if waiting > 1 else "A risk answer"
        yield Alert(
            "risk-answer",
            f"{many} on a questionnaire (thoughts of being better off dead or of self-harm) "
            f"{'wait' if waiting > 1 else 'waits'} for review by the care team.",
            severe=True,
        )


@alert_source
def emergency_access(subject: Subject) -> Iterable[Alert]:
    """Return an alert while the viewer sees this patient only under their emergency grant."""
    user, patient = subject.user, subject.patient
    if not policy.emergency_for(user, patient.pk):
        return
    expires = (
        patients_models.EmergencyAccessGrant.objects.filter(user=user, patient=patient, expires_at__gt=subject.now)
        .order_by("-expires_at")
        .values_list("expires_at", flat=True)
        .first()
    )
    until = f" until {timezone.localtime(expires):%H:%M}" if expires else ""
    yield Alert(
        "emergency-access",
        f"Emergency access{until}: you are not on this patient's care team. Everything you open is flagged for review.",
        severe=True,
    )


def build(*, user, patient_id, on_patient_page=False) -> Banner | None:
    """Return the banner of the patient `patient_id` as `user` may see it, or None if they may not."""
    patient_id = parse_id(patient_id)
    if patient_id is None or not display.may_read_names(user):
        return None
    patient = (
        policy.visible_patients(user, patients_models.Patient.objects.filter(pk=patient_id))
        .only(*display.LABEL_FIELDS, "status", "legal_hold")
        .first()
    )
    if patient is None:
        return None
    url = reverse("admin:patients_patient_change", args=[patient.pk])
    subject = Subject(user=user, patient=patient, now=timezone.now())
    plans = _open_plans(user, patient.pk)
    return Banner(
        patient=display.PatientLabel.of(patient),
        status=patient.get_status_display(),
        url=url,
        diagnoses=_diagnoses(user, patient.pk),
        allergies=_allergies(user, patient.pk),
        care_team=_care_team(user, patient.pk),
        alerts=tuple(alert for source in ALERT_SOURCES for alert in source(subject)),
        actions=_actions(user, patient.pk, url, starts_plan=plans == {}),
        on_patient_page=on_patient_page,
        treatment_plan=_plan_line(plans),
    )


def record_view(*, user, banner: Banner, request=None, detail: str) -> None:
    """Write the access-log entry of a banner shown on a page that writes none of its own (an add form)."""
    access.record(
        user=user,
        action="view",
        category=ACCESS_CATEGORY,
        patient=access.PatientRef(banner.patient.id, banner.patient.mrn),
        request=request,
        detail=detail,
    )


def _diagnoses(user, patient_id) -> tuple[Diagnosis, ...] | None:
    if not policy.may(user, diagnoses_selectors.VIEW):
        return None
    return tuple(
        Diagnosis(
            text=diagnosis.label,
            url=reverse("admin:diagnoses_diagnosis_change", args=[diagnosis.id]),
            primary=diagnosis.is_primary,
            in_remission=diagnosis.status is diagnoses_domain.DiagnosisStatus.IN_REMISSION,
        )
        for diagnosis in diagnoses_selectors.problem_list(patient_id=patient_id, user=user)
    )


def _allergies(user, patient_id) -> tuple[Allergy, ...] | None:
    if not policy.may(user, "medications.view_allergy"):
        return None
    rows = medications_models.Allergy.objects.filter(
        patient_id=patient_id, status=medications_domain.AllergyStatus.ACTIVE.value
    ).only("id", "patient_id", "substance", "reaction", "severity")
    severe = {
        medications_domain.AllergySeverity.SEVERE.value,
        medications_domain.AllergySeverity.LIFE_THREATENING.value,
    }
    listed = []
    for row in rows.order_by("created_at"):
        details = [
            row.get_severity_display().lower()
            if row.severity != medications_domain.AllergySeverity.UNKNOWN.value
            else "",
            row.reaction,
        ]
        said = ": ".join(part for part in details if part)
        listed.append(Allergy(f"{row.substance} ({said})" if said else row.substance, row.severity in severe))
    return tuple(listed)


def _care_team(user, patient_id) -> tuple[str, ...] | None:
    if not policy.may(user, "patients.view_careassignment"):
        return None
    assignments = (
        patients_models.CareAssignment.objects.filter(patient_id=patient_id, ended_at=None)
        .select_related("clinician__staff_profile")
        .order_by("started_at")
    )
    return tuple(schedule.clinician_label(assignment.clinician) for assignment in assignments)


def _open_plans(user, patient_id) -> dict[str, tuple] | None:
    """Return the patient's current plan and draft ({status: (id, version, review due)}), or None if the role sees no plans.

    One query: statuses and dates only, nothing decrypted.
    """
    if not policy.may(user, VIEW_PLANS):
        return None
    rows = plans_models.TreatmentPlan.objects.filter(
        patient_id=patient_id, status__in=[plans_models.SIGNED, plans_models.DRAFT]
    ).values_list("status", "pk", "version_number", "review_due")
    return {status: (pk, version, review_due) for status, pk, version, review_due in rows}


def _plan_line(plans: dict[str, tuple] | None) -> PlanLine | None:
    if plans is None:
        return None
    current, draft = plans.get(plans_models.SIGNED), plans.get(plans_models.DRAFT)
    if current is not None:
        pk, version, review_due = current
        overdue = plans_domain.is_overdue(review_due, today=timezone.localdate())
        text = f"version {version}, review due {review_due:%Y-%m-%d}" + (" (overdue)" if overdue else "")
        return PlanLine(text, reverse("admin:treatment_plans_treatmentplan_change", args=[pk]), overdue)
    if draft is not None:
        pk, version, _ = draft
        return PlanLine(
            f"draft (version {version}), not signed yet",
            reverse("admin:treatment_plans_treatmentplan_change", args=[pk]),
        )
    return PlanLine("no current plan")


def _actions(user, patient_id, patient_url, *, starts_plan=False) -> tuple[Action, ...]:
    """Return the forms the user may open for this patient, each pre-filled and returning to the patient.

    "New plan" is offered while the patient has neither a current plan nor a draft (`starts_plan`):
    a current plan is changed by revising it, from its page.
    """
    try:
        profile = user.staff_profile
    except ObjectDoesNotExist:  # no profile: neither clinician nor prescriber
        profile = None
    query = urlencode({"patient": str(patient_id), "next": patient_url})
    steps = (
        ("book-appointment", "Book appointment", "appointments.add_appointment", "appointments_appointment", True),
        (
            "new-note",
            "New note",
            "clinical_notes.add_clinicalnote",
            "clinical_notes_clinicalnote",
            bool(profile and profile.is_clinician),  # notes are written by clinicians (clinical_notes.domain)
        ),
        (
            "prescribe",
            "Prescribe",
            "medications.add_medicationorder",
            "medications_medicationorder",
            bool(profile and profile.is_prescriber),  # prescribing needs the profile too (novamind.roles)
        ),
        ("record-diagnosis", "Record diagnosis", "diagnoses.add_diagnosis", "diagnoses_diagnosis", True),
        ("record-allergy", "Record allergy", "medications.add_allergy", "medications_allergy", True),
        (
            "new-plan",
            "New plan",
            "treatment_plans.add_treatmentplan",
            "treatment_plans_treatmentplan",
            starts_plan and bool(profile and profile.is_clinician),  # plans are written by clinicians
        ),
        # A questionnaire: a clinician gives it, or the front desk enters one filled in on paper.
        ("record-measure", "Record a measure", "assessments.add_response", "assessments_response", True),
    )
    return tuple(
        Action(step_id, label, f"{reverse(f'admin:{page}_add')}?{query}")
        for step_id, label, permission, page, qualified in steps
        if qualified and policy.may(user, permission)
    )
