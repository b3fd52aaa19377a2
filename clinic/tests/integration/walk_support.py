"""The small clinic the walking tests (every admin URL, every command, the fuzz) run against.

One staff user per role of novamind.roles plus a superuser; two patients, `inside` (on the care
team of the three clinical users) and `outside` (treated by a colleague, `other`, who is not
walked); for each patient an appointment, a series, a signed note, a psychotherapy note with an
authorization, an order, an allergy, six questionnaire responses with their risk-answer alerts, a
care assignment, an emergency grant and five treatment plans (four drafts not used, then the
current plan). Also what the admin's other pages need an object for (a room, a group, a lockout,
a device...).

Builders go through the repositories and services the apps' own tests use; where a row has no
service (axes, devices), it is created directly: those are not clinical records.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from decimal import Decimal

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.utils import timezone

from appointments import domain as appointments_domain
from appointments import repository as appointments_repository
from appointments import services as appointments_services
from assessments import models as assessments_models
from assessments.tests import builders as assessment_builders
from clinical_notes import domain as notes_domain
from clinical_notes import services as notes_services
from clinical_notes.tests import factories
from conftest import assign_care
from diagnoses import domain as diagnoses_domain
from diagnoses import services as diagnoses_services
from medications import domain as medications_domain
from medications import repository as medications_repository
from novamind import audit, roles
from novamind.tests.integration.role_users import member, superuser
from patients import domain as patients_domain
from patients import models as patients_models
from patients import repository as patients_repository
from patients import services as patients_services
from treatment_plans import domain as plans_domain
from treatment_plans import services as plans_services
from treatment_plans.tests import factories as plan_factories

INSIDE, OUTSIDE = "inside", "outside"
SUPERUSER = "superuser"
DESK_AND_CLINICIAN = "Front desk + Clinician"
# The walked users: role name (or SUPERUSER) -> username.
USERNAMES = {
    roles.FRONT_DESK: "walk-desk",
    roles.CLINICIAN: "walk-clinician",
    roles.PRESCRIBER: "walk-prescriber",
    roles.SUPERVISOR: "walk-supervisor",
    roles.PRACTICE_ADMIN: "walk-office",
    roles.AUDITOR: "walk-auditor",
    SUPERUSER: "root",
    DESK_AND_CLINICIAN: "walk-desk-clinician",
}
CLINICAL = (roles.CLINICIAN, roles.PRESCRIBER, roles.SUPERVISOR)
PROFILES = {
    roles.CLINICIAN: {"is_clinician": True, "credentials": "LCSW"},
    roles.PRESCRIBER: {"is_clinician": True, "is_prescriber": True, "dea_number": "BL1234563", "credentials": "MD"},
    roles.SUPERVISOR: {"is_clinician": True, "is_supervisor": True, "credentials": "PhD"},
}
REASON = "Patient in crisis at the front desk, record needed now."

# Tables whose rows a refused request may legitimately add: the access log records refusals,
# sessions and login attempts belong to signing in.
NOT_RECORDS = {"novamind.accesslogentry", "sessions.session", "contenttypes.contenttype", "auth.permission"}
NOT_RECORD_APPS = {"axes", "sessions", "contenttypes"}


@dataclasses.dataclass
class Records:
    """One patient's records, by the names the URL tables use."""

    patient: object
    mrn: str
    last_name: str
    ids: dict[str, object]


@dataclasses.dataclass
class Clinic:
    """The walked users and both patients' records."""

    users: dict[str, object]
    other: object
    visitor: object
    patients: dict[str, Records]
    globals: dict[str, object]


def _appointment(actor, patient_id, clinician, start):
    repo = appointments_repository.DjangoAppointmentRepository(actor=actor)
    return repo.add(
        appointments_domain.Appointment(
            patient_id=patient_id,
            clinician_id=clinician.pk,
            start=start,
            end=start + dt.timedelta(minutes=50),
            modality=appointments_domain.Modality.TELEHEALTH,
            reason_for_visit="low mood",
        )
    )


def local(days, hour):
    """Return an aware local datetime `days` from today at `hour`:00."""
    return timezone.make_aware(dt.datetime.combine(timezone.localdate() + dt.timedelta(days=days), dt.time(hour)))


def _order(patient_id):
    return medications_domain.MedicationOrder(
        patient_id=patient_id,
        drug_name="sertraline",
        strength="50 mg",
        dose_form=medications_domain.DoseForm.TABLET,
        dose_amount=Decimal("50"),
        dose_unit=medications_domain.DoseUnit.MG,
        route=medications_domain.Route.ORAL,
        frequency=medications_domain.Frequency(kind=medications_domain.FrequencyKind.ONCE_DAILY),
        start_date=timezone.localdate() - dt.timedelta(days=10),
        quantity=Decimal("30"),
        refills=2,
    )


def _plans(author, patient):
    """Return the current plan of five, each with at most two history rows: four drafts not used, then one signed.

    Five fill more than a small page of one patient's plans, and test_lists_are_flat grows the
    history of any one of them from two rows.
    """
    for _ in range(4):
        draft = plan_factories.drafted(author, patient)
        plans_services.plan_discontinue(
            plan_id=draft.id, reason=plans_domain.DiscontinueReason.DRAFT_NOT_USED, actor=author
        )
    return plan_factories.signed(author, patient)


def _records(root, *, name, author, treating, day, visitor) -> Records:
    """Register a patient treated by `treating` (the first one authors the notes and orders)."""
    patient = patients_repository.DjangoPatientRepository(actor=root).add(
        patients_domain.Patient(legal_first_name="Walkfirst", legal_last_name=name, date_of_birth=dt.date(1980, 3, 4))
    )
    assignments = [assign_care(patient, clinician, by=root) for clinician in treating]
    appointment = _appointment(root, patient.id, author, local(day, 10))
    series, _ = appointments_services.series_book(
        actor=root,
        series=appointments_domain.Series(
            patient_id=patient.id,
            clinician_id=author.pk,
            start=local(day + 1, 14),
            end=local(day + 1, 14) + dt.timedelta(minutes=50),
            count=3,
            modality=appointments_domain.Modality.TELEHEALTH,
        ),
    )
    diagnosis = diagnoses_services.diagnosis_record(
        diagnosis=diagnoses_domain.Diagnosis(
            patient_id=patient.id, code="F32.1", specifier="with anxious distress", is_primary=True
        ),
        actor=author,
    )
    note = factories.signed(author, patient, diagnoses=[diagnosis])
    draft = factories.drafted(author, patient)
    therapy = factories.signed(
        author,
        patient,
        kind=notes_domain.NoteKind.PSYCHOTHERAPY_NOTE,
        format=notes_domain.NoteFormat.FREE_TEXT,
        sections=notes_domain.Sections(body="Private process notes."),
    )
    authorization = notes_services.authorization_grant(
        note_id=therapy.id,
        grantee=visitor,
        reason="Consultation with a colleague on the treatment plan.",
        expires_at=timezone.now() + dt.timedelta(days=7),
        actor=author,
    )
    order = medications_repository.DjangoMedicationOrderRepository(actor=author).add(_order(patient.id))
    allergy = medications_repository.DjangoAllergyRepository(actor=author).add(
        medications_domain.Allergy(patient_id=patient.id, substance="penicillin", reaction="rash")
    )
    # Six monthly PHQ-9s, each with a risk answer waiting for review: enough rows for every list.
    responses = [
        assessment_builders.record(author, patient.id, total=10 + number, item9=1, days_ago=30 * (5 - number))
        for number in range(6)
    ]
    alert = assessments_models.SafetyAlert.objects.get(response_id=responses[-1].id)
    grant = patients_services.emergency_access_grant(patient_id=patient.id, reason=REASON, actor=visitor)
    plan = _plans(author, patient)
    row = patients_models.Patient.objects.get(pk=patient.id)
    return Records(
        patient=patient,
        mrn=row.mrn,
        last_name=name,
        ids={
            "patient": patient.id,
            "appointment": appointment.id,
            "series": series.id,
            "diagnosis": diagnosis.id,
            "note": note.id,
            "draft": draft.id,
            "therapy_note": therapy.id,
            "authorization": authorization.id,
            "order": order.id,
            "allergy": allergy.id,
            "careassignment": assignments[0].pk,
            "grant": grant.pk,
            "plan": plan.id,
            "response": responses[-1].id,
            "alert": alert.pk,
        },
    )


def build_clinic() -> Clinic:
    """Return the small clinic, saved."""
    root = superuser()
    users = {
        role: member(username, role, profile=PROFILES.get(role))
        for role, username in USERNAMES.items()
        if role not in (SUPERUSER, DESK_AND_CLINICIAN)
    }
    users[SUPERUSER] = root
    # A care role restricts whatever other role a user holds (patients.policy): walk one such user.
    users[DESK_AND_CLINICIAN] = member(
        "walk-desk-clinician", roles.FRONT_DESK, roles.CLINICIAN, profile=PROFILES[roles.CLINICIAN]
    )
    other = member("walk-other", *CLINICAL, profile={**PROFILES[roles.PRESCRIBER], "is_supervisor": True})
    visitor = member("walk-visitor", roles.CLINICIAN, profile=PROFILES[roles.CLINICIAN])
    clinical = [users[role] for role in (*CLINICAL, DESK_AND_CLINICIAN)]
    inside = _records(
        root, name="Insidewalk", author=users[roles.PRESCRIBER], treating=clinical, day=2, visitor=visitor
    )
    outside = _records(root, name="Outsidewalk", author=other, treating=[other], day=3, visitor=visitor)
    return Clinic(
        users=users,
        other=other,
        visitor=visitor,
        patients={INSIDE: inside, OUTSIDE: outside},
        globals=_global_objects(root, users),
    )


def _global_objects(root, users) -> dict[str, object]:
    """Return the objects of the admin pages that are about no patient."""
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from appointments import models as appointments_models
    from novamind.models import AccessLogEntry, StaffProfile

    desk = users[roles.FRONT_DESK]
    # Not one of the walked users: a page about oneself (one's own password) answers differently.
    colleague = member("walk-desk-colleague", roles.FRONT_DESK)
    room = audit.audited_save(appointments_models.Room(name="Walk room"), actor=root)
    attempt = AccessAttempt.objects.create(username="walk-x", ip_address="10.0.0.9", failures_since_start=1)
    log = AccessLog.objects.create(username="walk-desk", ip_address="10.0.0.9")
    failure = AccessFailureLog.objects.create(username="walk-x", ip_address="10.0.0.9")
    totp = TOTPDevice.objects.create(user=desk, name="phone", confirmed=True)
    static = StaticDevice.objects.create(user=desk, name="backup", confirmed=True)
    return {
        "user": colleague.pk,
        "group": Group.objects.get(name=roles.FRONT_DESK).pk,
        "staffprofile": StaffProfile.objects.get(user=users[roles.CLINICIAN]).pk,
        "room": room.pk,
        "accessattempt": attempt.pk,
        "accesslog": log.pk,
        "accessfailurelog": failure.pk,
        "totpdevice": totp.pk,
        "staticdevice": static.pk,
        "accesslogentry": AccessLogEntry.objects.order_by("pk").first().pk,
    }


def record_models() -> list:
    """Return the models whose rows are records (and their history): what a refused request must not write."""
    return [
        model
        for model in apps.get_models()
        if model._meta.label_lower not in NOT_RECORDS
        and model._meta.app_label not in NOT_RECORD_APPS
        and model._meta.managed
        and not model._meta.proxy
    ]


def fingerprint(models=None) -> dict[str, int]:
    """Return the row count of every record table (history tables and the admin log included), in one query."""
    models = models or record_models()
    quote = connection.ops.quote_name
    counts = ", ".join(f"(SELECT COUNT(*) FROM {quote(model._meta.db_table)})" for model in models)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {counts}")  # noqa: S608 - table names from the models, not input
        row = cursor.fetchone()
    return {model._meta.label_lower: count for model, count in zip(models, row, strict=True)}


def written(before: dict[str, int], after: dict[str, int]) -> list[str]:
    """Return the tables whose row count changed, with the change."""
    return [f"{name} {before[name]}→{after[name]}" for name in before if before[name] != after[name]]


def latest_history_id(model, object_id):
    """Return the id of the newest history row of the object (for the history-form URLs)."""
    row = model.history.filter(id=object_id).order_by("-history_id").first()
    return row.history_id if row else None


def user_model():
    return get_user_model()


def uid() -> str:
    return str(uuid.uuid4())
