"""The patient's copy of their record (right of access, 45 CFR 164.524), as JSON or printable HTML.

An app above clinic adds a format with `register_writer` (the fhir app: a FHIR R4 Bundle); every
format goes through `export`, so the access rules, the exclusions and the access log are one.

The copy is the designated record set (164.501) that NovaMind keeps: demographics, the diagnoses
(the problem list and those resolved or ruled out), appointments, signed clinical notes with
their addenda and the diagnoses each addressed, every medication order (the whole timeline,
revisions and discontinuations included), allergies, including retired ones, every questionnaire
response (item by item, with its score; voided ones marked) with the risk-answer alerts they
raised and what was done about them, and every treatment plan that was signed (the whole
timeline of versions, with the progress recorded on each objective). It leaves out, on purpose:

- psychotherapy notes, which the right of access excludes (164.524(a)(1)(i)). The one rule that
  keeps them apart, `NoteQuerySet.general()`, is the one the note lists use;
- unsigned drafts: a draft is still being written and can change; it enters the record when its
  author signs it. The copy says how many drafts there are, not what they say (treatment plans
  too: a plan enters the record when a clinician signs it);
- blind indexes and audit columns: system data about the rows, not information about the patient.

`COVERAGE` lists every column of the tables the record is read from, with where it appears in
the JSON or why it is left out, and a test compares it with the models, so a new column cannot be
forgotten silently.

Demographics, diagnoses, appointments and medications are read through their apps' repositories; notes,
the one part that grows without bound, are read in chunks (`SignedNotes`) with the notes app's
own rule and mapping (`general()`, `to_domain()`) and written as they are read, so memory does
not grow with their number. The export is one transaction that ends by recording the disclosure
in the access log.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import textwrap
from collections.abc import Iterator
from typing import TextIO

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Prefetch
from django.template.loader import render_to_string
from django.utils import timezone

from appointments import domain as appointments_domain
from appointments import models as appointments_models
from appointments import repository as appointments_repository
from appointments.schedule import clinician_label
from assessments import domain as assessments_domain
from assessments import models as assessments_models
from clinical_notes import domain as notes_domain
from clinical_notes import models as notes_models
from clinical_notes import repository as notes_repository
from diagnoses import codeset
from diagnoses import domain as diagnoses_domain
from diagnoses import repository as diagnoses_repository
from medications import domain as medications_domain
from medications import repository as medications_repository
from novamind import access, db_router
from patients import domain as patients_domain
from patients import policy
from treatment_plans import domain as plans_domain
from treatment_plans import models as plans_models
from treatment_plans import repository as plans_repository

SCHEMA = "novamind.patient_record"
SCHEMA_VERSION = 1
FORMATS = ("json", "html")
TEMPLATE = "clinic/patient_record.html"
DISCLOSURE_ACTION = "disclose"
DISCLOSURE_CATEGORY = "designated_record_set"
NOTE_CHUNK = 100  # notes (with their addenda) held in memory at once
# What the admin asks of a user who reads every part of the copy: a role that sees each of them.
PERMISSIONS = (
    "patients.view_patient",
    "diagnoses.view_diagnosis",
    "appointments.view_appointment",
    "clinical_notes.view_clinicalnote",
    "clinical_notes.view_addendum",
    "medications.view_medicationorder",
    "medications.view_allergy",
    "treatment_plans.view_treatmentplan",
    "assessments.view_response",
    "assessments.view_safetyalert",
)

PSYCHOTHERAPY_STATEMENT = (
    "Psychotherapy notes (45 CFR 164.501) are kept apart from the rest of the record and are not "
    "part of this copy (45 CFR 164.524(a)(1)(i))."
)
DRAFTS_STATEMENT = (
    "Clinical notes are included once their author has signed them, and treatment plans once a clinician "
    "has signed them; unsigned drafts are still being written and are not part of the record yet."
)

# --- What the copy contains, column by column ---------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Coverage:
    """Where each column of one table appears in the JSON (`exported`), or why it does not (`withheld`).

    `section` names the JSON object or list of objects that holds the table's rows; an exported
    path is relative to one such object ("address.line1").
    """

    section: str
    exported: dict[str, str]
    withheld: dict[str, str]


AUDIT = "audit metadata of the row (who changed it last, its version); kept in the system's history"
AUDIT_COLUMNS = {name: AUDIT for name in ("version", "created_by", "created_at", "updated_by", "updated_at")}
OWN_PATIENT = "the patient the whole copy is about"
BLIND_INDEX = "blind index: a keyed hash of other fields used for search, not information about the patient"
LEGAL_HOLD = (
    "retention administration (a hold that stops the record being purged, for litigation or an "
    "investigation): not used to make decisions about the patient, so not in the designated record set"
)


def _same(*names: str) -> dict[str, str]:
    return {name: name for name in names}


COVERAGE: dict[str, Coverage] = {
    "patients.Patient": Coverage(
        section="patient",
        exported={
            **_same(
                "mrn",
                "legal_first_name",
                "legal_last_name",
                "preferred_name",
                "pronouns",
                "date_of_birth",
                "sex_assigned_at_birth",
                "gender_identity",
                "phone",
                "email",
                "status",
            ),
            **{
                f"address_{part}": f"address.{part}"
                for part in ("line1", "line2", "city", "region", "postal_code", "country")
            },
            **{f"emergency_contact_{part}": f"emergency_contact.{part}" for part in ("name", "relation", "phone")},
        },
        withheld={
            "id": "internal key; the MRN identifies the patient",
            **{
                name: BLIND_INDEX
                for name in (
                    "full_name_index",
                    "preferred_full_name_index",
                    "last_name_index",
                    "date_of_birth_index",
                    "phone_index",
                    "email_index",
                )
            },
            **{
                name: LEGAL_HOLD
                for name in ("legal_hold", "legal_hold_reason", "legal_hold_changed_by", "legal_hold_changed_at")
            },
            **AUDIT_COLUMNS,
        },
    ),
    "diagnoses.Diagnosis": Coverage(
        section="diagnoses",
        exported=_same("id", "code", "description", "specifier", "onset_date", "status", "status_since", "is_primary"),
        withheld={"patient": OWN_PATIENT, "current_code_key": BLIND_INDEX, **AUDIT_COLUMNS},
    ),
    "appointments.Appointment": Coverage(
        section="appointments",
        exported={
            **_same(
                "id",
                "clinician",
                "start",
                "end",
                "kind",
                "modality",
                "room",
                "reason_for_visit",
                "status",
                "status_changed_at",
                "checked_in_at",
                "cancelled_by",
                "cancellation_reason",
                "late_cancellation",
            ),
            "replaced_by": "replaced_by_id",
            "series": "series_id",
        },
        withheld={"patient": OWN_PATIENT, **AUDIT_COLUMNS},
    ),
    "clinical_notes.ClinicalNote": Coverage(
        section="clinical_notes",
        exported={
            **_same(
                "id",
                "author",
                "kind",
                "format",
                "date_of_service",
                "status",
                "signed_at",
                "signed_by",
                "content_hash",
                "late_entry",
                "cosign_requested_from",
                "cosign_requested_at",
                "cosigned_by",
                "cosigned_at",
            ),
            **{name: f"sections.{name}" for name in notes_domain.SECTIONS},
        },
        withheld={"patient": OWN_PATIENT, **AUDIT_COLUMNS},
    ),
    "clinical_notes.Addendum": Coverage(
        section="clinical_notes.addenda",
        exported=_same("id", "author", "text", "reason", "signed_at", "content_hash"),
        withheld={"note": "each addendum is listed under the note it corrects", **AUDIT_COLUMNS},
    ),
    "clinical_notes.AddressedDiagnosis": Coverage(
        section="clinical_notes.diagnoses",
        exported={"diagnosis": "diagnosis_id"},
        withheld={
            "id": "internal key of the link; the diagnosis is named by its id and code",
            "note": "each link is listed under the note that addresses the diagnosis",
            **AUDIT_COLUMNS,
        },
    ),
    "medications.MedicationOrder": Coverage(
        section="medication_orders",
        exported={
            **_same(
                "id",
                "prescriber",
                "drug_name",
                "rxnorm_code",
                "strength",
                "dose_form",
                "dose_amount",
                "dose_unit",
                "route",
                "schedule",
                "start_date",
                "end_date",
                "quantity",
                "refills",
                "instructions",
                "status",
                "discontinued_on",
                "discontinue_reason",
                "discontinue_note",
                "allergy_override_reason",
                "duplicate_override_reason",
                "recorded_from",
            ),
            "frequency_kind": "frequency.kind",
            "frequency_interval": "frequency.interval",
            "as_needed": "frequency.as_needed",
            "prn_indication": "frequency.indication",
            "replaces": "replaces_id",
        },
        withheld={"patient": OWN_PATIENT, **AUDIT_COLUMNS},
    ),
    "medications.Allergy": Coverage(
        section="allergies",
        exported=_same("id", "substance", "reaction", "severity", "status"),
        withheld={"patient": OWN_PATIENT, **AUDIT_COLUMNS},
    ),
    "treatment_plans.TreatmentPlan": Coverage(
        section="treatment_plans",
        exported={
            **_same(
                "id",
                "status",
                "problems",
                "signed_by",
                "signed_at",
                "review_due",
                "content_hash",
                "discontinued_on",
                "discontinue_reason",
                "discontinue_note",
            ),
            "version_number": "version",
            "replaces": "replaces_id",
            "agreed_on": "agreement.agreed_on",
            "agreement_method": "agreement.method",
            "agreement_note": "agreement.note",
        },
        withheld={"patient": OWN_PATIENT, **AUDIT_COLUMNS},
    ),
    "treatment_plans.PlanDiagnosis": Coverage(
        section="treatment_plans.diagnoses",
        exported={"diagnosis": "diagnosis_id", "code": "code"},
        withheld={
            "id": "internal key of the link; the diagnosis is named by its own id and code",
            "plan": "each diagnosis is listed under the plan that addresses it",
            **AUDIT_COLUMNS,
        },
    ),
    "treatment_plans.Goal": Coverage(
        section="treatment_plans.goals",
        exported=_same("number", "text"),
        withheld={
            "id": "internal key; a goal is named by its number in its plan",
            "plan": "each goal is listed under its plan",
            **AUDIT_COLUMNS,
        },
    ),
    "treatment_plans.Objective": Coverage(
        section="treatment_plans.goals.objectives",
        exported=_same("id", "number", "text", "target_date", "status"),
        withheld={
            "plan": "each objective is listed under its goal, in its plan",
            "goal_number": "each objective is listed under its goal",
            **AUDIT_COLUMNS,
        },
    ),
    "treatment_plans.Intervention": Coverage(
        section="treatment_plans.interventions",
        exported={**_same("number", "modality", "frequency"), "clinician": "responsible_clinician"},
        withheld={
            "id": "internal key; an intervention is named by its number in its plan",
            "plan": "each intervention is listed under its plan",
            **AUDIT_COLUMNS,
        },
    ),
    "treatment_plans.ObjectiveProgress": Coverage(
        section="treatment_plans.goals.objectives.progress",
        exported={
            **_same("id", "status", "rating", "comment"),
            "note": "note_id",
            "created_by": "recorded_by",
            "created_at": "recorded_at",
        },
        withheld={
            "objective": "each entry is listed under the objective it is about",
            **{name: AUDIT for name in ("version", "updated_by", "updated_at")},
        },
    ),
    "assessments.Response": Coverage(
        section="questionnaire_responses",
        exported={
            **_same(
                "id",
                "instrument",
                "administered_on",
                "answers",
                "total",
                "band",
                "scoring_basis",
                "status",
                "voided_at",
                "void_reason",
                "correction_reason",
            ),
            "administered_by": "entered_by",
            "appointment": "appointment_id",
        },
        withheld={"patient": OWN_PATIENT, "instrument_key": BLIND_INDEX, **AUDIT_COLUMNS},
    ),
    "assessments.SafetyAlert": Coverage(
        section="risk_answer_alerts",
        exported={
            **_same(
                "id", "raised_at", "status", "reviewed_by", "reviewed_at", "action_taken", "cleared_by", "cleared_at"
            ),
            "response": "response_id",
            "reason": "risk_answer",
            "clear_reason": "clear_reason",
        },
        withheld={"patient": OWN_PATIENT, **AUDIT_COLUMNS},
    ),
}

# --- The record, assembled ----------------------------------------------------------------------


class StaffNames:
    """Staff names as the patient reads them ("Dana Lee, PhD"), looked up once per person."""

    def __init__(self):
        self._names: dict[int, str] = {}

    def __call__(self, user_id: int | None) -> str:
        """Return the name of the user with this id ("" for none)."""
        if user_id is None:
            return ""
        if user_id not in self._names:
            user = get_user_model().objects.select_related("staff_profile").filter(pk=user_id).first()
            self._names[user_id] = clinician_label(user) if user is not None else f"user {user_id}"
        return self._names[user_id]


@dataclasses.dataclass(frozen=True)
class AppointmentEntry:
    """An appointment with the names of its clinician and room."""

    appointment: appointments_domain.Appointment
    clinician: str
    room: str


@dataclasses.dataclass(frozen=True)
class AddendumEntry:
    """An addendum with its author's name."""

    addendum: notes_domain.Addendum
    author: str


@dataclasses.dataclass(frozen=True)
class NoteEntry:
    """A signed note with the names of the staff it mentions, its addenda and the diagnoses it addressed."""

    note: notes_domain.ClinicalNote
    author: str
    signed_by: str
    cosign_requested_from: str
    cosigned_by: str
    addenda: tuple[AddendumEntry, ...]
    descriptions: dict = dataclasses.field(default_factory=dict)  # diagnosis id -> official description

    @property
    def diagnoses(self) -> list[tuple[notes_domain.AddressedDiagnosis, str]]:
        """Return each diagnosis the note addressed, with its description."""
        return [(diagnosis, self.descriptions.get(diagnosis.id, "")) for diagnosis in self.note.diagnoses]

    @property
    def sections(self) -> list[tuple[str, str, str]]:
        """Return (name, label, text) of each section the note's format uses, in order."""
        return [
            (name, notes_domain.SECTION_LABELS[name], getattr(self.note.sections, name))
            for name in self.note.used_sections()
        ]


class SignedNotes:
    """The patient's signed notes, psychotherapy notes excluded, oldest first, read in chunks.

    Iterating reads `NOTE_CHUNK` notes (and their addenda) at a time and counts what it yields;
    `len()` asks the database, so a template can say how many there are before it reads them.
    """

    def __init__(self, patient_id, names: StaffNames, chunk_size: int = NOTE_CHUNK, descriptions=None):
        self.patient_id, self.names, self.chunk_size = patient_id, names, chunk_size
        self.descriptions = descriptions or {}
        self.notes_read = 0
        self.addenda_read = 0
        self._count: int | None = None

    def _rows(self):
        addenda = notes_models.Addendum.objects.select_related(
            "author__staff_profile", "created_by", "updated_by"
        ).order_by("signed_at", "id")
        return notes_repository.with_diagnoses(
            notes_models.ClinicalNote.objects.general()
            .filter(patient_id=self.patient_id, status=notes_domain.NoteStatus.SIGNED.value)
            .select_related(
                "author__staff_profile",
                "signed_by__staff_profile",
                "cosign_requested_from__staff_profile",
                "cosigned_by__staff_profile",
            )
            .prefetch_related(Prefetch("addenda", queryset=addenda))
        )

    def __len__(self) -> int:
        if self._count is None:
            self._count = self._rows().count()
        return self._count

    def __iter__(self) -> Iterator[NoteEntry]:
        rows = self._rows().order_by("date_of_service", "signed_at", "id")
        for row in rows.iterator(chunk_size=self.chunk_size):
            addenda = tuple(
                AddendumEntry(addendum=addendum.to_domain(), author=self.names(addendum.author_id))
                for addendum in row.addenda.all()
            )
            note = row.to_domain(with_audit=False, addenda=[entry.addendum for entry in addenda])
            self.notes_read += 1
            self.addenda_read += len(addenda)
            yield NoteEntry(
                note=note,
                author=self.names(row.author_id),
                signed_by=self.names(row.signed_by_id),
                cosign_requested_from=self.names(row.cosign_requested_from_id),
                cosigned_by=self.names(row.cosigned_by_id),
                addenda=addenda,
                descriptions=self.descriptions,
            )


@dataclasses.dataclass(frozen=True)
class ProgressEntry:
    """Progress recorded on an objective, with who recorded it."""

    progress: plans_domain.ObjectiveProgress
    recorded_by: str


@dataclasses.dataclass(frozen=True)
class PlanEntry:
    """A signed treatment plan with the names it mentions and the progress on its objectives."""

    plan: plans_domain.TreatmentPlan
    signed_by: str
    progress: dict  # objective id -> tuple of ProgressEntry, oldest first

    @property
    def objectives(self) -> list[tuple]:
        """Return (goal, objective, its progress entries) in order, for the printable copy."""
        return [(goal, objective, self.progress.get(objective.id, ())) for goal, objective in self.plan.objectives]


def signed_plans(patient_id, names: StaffNames) -> tuple[list[PlanEntry], int]:
    """Return the patient's plans that were signed, oldest first, and how many drafts were left out.

    A fixed number of queries whatever the number of plans (their parts and progress are read
    together).
    """
    rows = list(
        plans_models.TreatmentPlan.objects.select_related(*plans_repository.PLAN_RELATIONS)
        .filter(patient_id=patient_id)
        .order_by("created_at", "id")
    )
    signed = [row for row in rows if row.signed_at is not None]
    drafts = sum(row.status == plans_models.DRAFT for row in rows)
    parts = plans_repository.parts_of([row.pk for row in signed])
    progress: dict = {}
    for row in plans_repository.progress_rows(objective__plan_id__in=[row.pk for row in signed]):
        entry = ProgressEntry(progress=row.to_domain(), recorded_by=names(row.created_by_id))
        progress.setdefault(row.objective_id, []).append(entry)
    entries = [
        PlanEntry(
            plan=row.to_domain(parts=parts[row.pk]),
            signed_by=names(row.signed_by_id),
            progress={key: tuple(value) for key, value in progress.items()},
        )
        for row in signed
    ]
    return entries, drafts


@dataclasses.dataclass(frozen=True)
class ResponseEntry:
    """A questionnaire response with the name of who entered it."""

    response: assessments_domain.Response
    entered_by: str

    @property
    def instrument_name(self) -> str:
        """Return the questionnaire's name ("PHQ-9")."""
        spec = self.response.spec
        return spec.name if spec else self.response.instrument

    @property
    def answers(self) -> list[dict]:
        """Return each item as asked, with the answer given (None where it was left unanswered)."""
        spec, given = self.response.spec, self.response.answers
        if spec is None:
            return []
        listed = []
        for item in spec.items:
            points = given.get(item.number)
            option = next((o for o in spec.options_of(item) if o.points == points), None)
            listed.append(
                {
                    "item": item.number,
                    "question": item.text,
                    "answer": option.label if option else None,
                    "points": points if item.scored else None,
                }
            )
        return listed


@dataclasses.dataclass(frozen=True)
class AlertEntry:
    """A risk-answer alert with the names of who reviewed or cleared it."""

    alert: assessments_domain.SafetyAlert
    reviewed_by: str
    cleared_by: str


@dataclasses.dataclass
class PatientRecord:
    """Everything the copy holds; the notes are read only when the copy is written."""

    patient: patients_domain.Patient
    generated_at: dt.datetime
    generated_by: str
    generated_by_name: str
    diagnoses: list[diagnoses_domain.Diagnosis]
    appointments: list[AppointmentEntry]
    medication_orders: list[medications_domain.MedicationOrder]
    allergies: list[medications_domain.Allergy]
    notes: SignedNotes
    drafts_not_included: int
    treatment_plans: list[PlanEntry] = dataclasses.field(default_factory=list)
    plan_drafts_not_included: int = 0
    questionnaire_responses: list[ResponseEntry] = dataclasses.field(default_factory=list)
    risk_answer_alerts: list[AlertEntry] = dataclasses.field(default_factory=list)
    psychotherapy_statement: str = PSYCHOTHERAPY_STATEMENT
    drafts_statement: str = DRAFTS_STATEMENT


@dataclasses.dataclass(frozen=True)
class Counts:
    """How much the copy holds, for the access log and the operator."""

    diagnoses: int
    appointments: int
    clinical_notes: int
    addenda: int
    medication_orders: int
    allergies: int
    questionnaire_responses: int
    risk_answer_alerts: int
    drafts_not_included: int
    treatment_plans: int = 0
    plan_drafts_not_included: int = 0

    def describe(self) -> str:
        """Return "2 diagnoses, 3 appointments, 2 signed notes with 1 addendum, …" (no PHI)."""
        return (
            f"{_many(self.diagnoses, 'diagnosis', 'diagnoses')}, "
            f"{_many(self.appointments, 'appointment')}, {_many(self.clinical_notes, 'signed note')} with "
            f"{_many(self.addenda, 'addendum', 'addenda')}, {_many(self.medication_orders, 'medication order')}, "
            f"{_many(self.allergies, 'allergy', 'allergies')}, "
            f"{_many(self.questionnaire_responses, 'questionnaire response')} with "
            f"{_many(self.risk_answer_alerts, 'risk-answer alert')}, {_many(self.treatment_plans, 'signed treatment plan')}; "
            f"{_many(self.drafts_not_included, 'unsigned draft')}, "
            f"{_many(self.plan_drafts_not_included, 'unsigned plan draft')} "
            f"and any psychotherapy notes not included"
        )


def _many(number: int, singular: str, plural: str = "") -> str:
    return f"{number} {singular if number == 1 else plural or singular + 's'}"


def assemble(*, patient: patients_domain.Patient, actor) -> PatientRecord:
    """Return the record of `patient` as read by `actor` (the notes are read later, in chunks)."""
    names = StaffNames()
    appointments = appointments_repository.DjangoAppointmentRepository(actor=actor).list_for_patient(patient.id)
    rooms = dict(
        appointments_models.Room.objects.filter(pk__in={a.room_id for a in appointments if a.room_id}).values_list(
            "pk", "name"
        )
    )
    drafts = (
        notes_models.ClinicalNote.objects.general()
        .filter(patient_id=patient.id, status=notes_domain.NoteStatus.DRAFT.value)
        .count()
    )
    diagnoses = diagnoses_repository.DjangoDiagnosisRepository(actor=actor).for_patient(patient.id, include_past=True)
    plans, plan_drafts = signed_plans(patient.id, names)
    return PatientRecord(
        patient=patient,
        generated_at=timezone.localtime(),
        generated_by=actor.get_username(),
        generated_by_name=names(actor.pk),
        diagnoses=diagnoses,
        appointments=[
            AppointmentEntry(appointment=a, clinician=names(a.clinician_id), room=rooms.get(a.room_id, ""))
            for a in appointments
        ],
        medication_orders=medications_repository.DjangoMedicationOrderRepository(actor=actor).history_for_patient(
            patient.id
        ),
        allergies=medications_repository.DjangoAllergyRepository(actor=actor).for_patient(
            patient.id, include_inactive=True
        ),
        notes=SignedNotes(patient.id, names, descriptions={d.id: d.description for d in diagnoses}),
        drafts_not_included=drafts,
        treatment_plans=plans,
        plan_drafts_not_included=plan_drafts,
        questionnaire_responses=[
            ResponseEntry(response=row.to_domain(with_audit=False), entered_by=names(row.administered_by_id))
            for row in assessments_models.Response.objects.filter(patient_id=patient.id)
            .select_related("administered_by")
            .order_by("administered_on", "created_at")
        ],
        risk_answer_alerts=[
            AlertEntry(
                alert=row.to_domain(with_audit=False),
                reviewed_by=names(row.reviewed_by_id),
                cleared_by=names(row.cleared_by_id),
            )
            for row in assessments_models.SafetyAlert.objects.filter(patient_id=patient.id)
            .select_related("reviewed_by", "cleared_by")
            .order_by("raised_at", "id")
        ],
    )


def counts_of(record: PatientRecord) -> Counts:
    """Return the counts of `record`, once its notes have been read."""
    return Counts(
        diagnoses=len(record.diagnoses),
        appointments=len(record.appointments),
        clinical_notes=record.notes.notes_read,
        addenda=record.notes.addenda_read,
        medication_orders=len(record.medication_orders),
        allergies=len(record.allergies),
        questionnaire_responses=len(record.questionnaire_responses),
        risk_answer_alerts=len(record.risk_answer_alerts),
        drafts_not_included=record.drafts_not_included,
        treatment_plans=len(record.treatment_plans),
        plan_drafts_not_included=record.plan_drafts_not_included,
    )


# --- JSON ---------------------------------------------------------------------------------------


def _moment(value: dt.datetime | None) -> str | None:
    return timezone.localtime(value).isoformat() if value is not None else None


def _day(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _code(value) -> str | None:
    return value.value if value is not None else None


def _id(value) -> str | None:
    return str(value) if value is not None else None


def patient_json(patient: patients_domain.Patient) -> dict:
    """Return the demographics of the copy."""
    address, contact = patient.address, patient.emergency_contact
    return {
        "mrn": patient.mrn,
        "legal_first_name": patient.legal_first_name,
        "legal_last_name": patient.legal_last_name,
        "preferred_name": patient.preferred_name,
        "pronouns": patient.pronouns,
        "date_of_birth": _day(patient.date_of_birth),
        "sex_assigned_at_birth": _code(patient.sex_assigned_at_birth),
        "gender_identity": patient.gender_identity,
        "phone": patient.phone,
        "email": patient.email,
        "address": {
            part: getattr(address, part) for part in ("line1", "line2", "city", "region", "postal_code", "country")
        },
        "emergency_contact": {"name": contact.name, "relation": contact.relation, "phone": contact.phone},
        "status": _code(patient.status),
    }


def diagnosis_json(diagnosis: diagnoses_domain.Diagnosis) -> dict:
    """Return one diagnosis of the copy (ICD-10-CM code and its official description)."""
    return {
        "id": _id(diagnosis.id),
        "code": diagnosis.code,
        "description": diagnosis.description,
        "specifier": diagnosis.specifier,
        "onset_date": _day(diagnosis.onset_date),
        "status": _code(diagnosis.status),
        "status_since": _day(diagnosis.status_since),
        "is_primary": diagnosis.is_primary,
    }


def appointment_json(entry: AppointmentEntry) -> dict:
    """Return one appointment of the copy."""
    a = entry.appointment
    return {
        "id": _id(a.id),
        "start": _moment(a.start),
        "end": _moment(a.end),
        "clinician": entry.clinician,
        "kind": _code(a.kind),
        "modality": _code(a.modality),
        "room": entry.room or None,
        "reason_for_visit": a.reason_for_visit,
        "status": _code(a.status),
        "status_changed_at": _moment(a.status_changed_at),
        "checked_in_at": _moment(a.checked_in_at),
        "cancelled_by": _code(a.cancelled_by),
        "cancellation_reason": a.cancellation_reason,
        "late_cancellation": a.late_cancellation,
        "replaced_by_id": _id(a.replaced_by_id),
        "series_id": _id(a.series_id),
    }


def addendum_json(entry: AddendumEntry) -> dict:
    """Return one addendum of a note."""
    a = entry.addendum
    return {
        "id": _id(a.id),
        "author": entry.author,
        "signed_at": _moment(a.signed_at),
        "reason": a.reason,
        "text": a.text,
        "content_hash": a.content_hash,
    }


def note_json(entry: NoteEntry) -> dict:
    """Return one signed note with its addenda."""
    n = entry.note
    return {
        "id": _id(n.id),
        "date_of_service": _day(n.date_of_service),
        "kind": _code(n.kind),
        "format": _code(n.format),
        "author": entry.author,
        "status": _code(n.status),
        "signed_at": _moment(n.signed_at),
        "signed_by": entry.signed_by,
        "late_entry": n.late_entry,
        "cosign_requested_from": entry.cosign_requested_from or None,
        "cosign_requested_at": _moment(n.cosign_requested_at),
        "cosigned_by": entry.cosigned_by or None,
        "cosigned_at": _moment(n.cosigned_at),
        "content_hash": n.content_hash,
        "diagnoses": [
            {"diagnosis_id": _id(diagnosis.id), "code": diagnosis.code, "description": description}
            for diagnosis, description in entry.diagnoses
        ],
        "sections": {name: text for name, _label, text in entry.sections},
        "addenda": [addendum_json(addendum) for addendum in entry.addenda],
    }


def order_json(order: medications_domain.MedicationOrder) -> dict:
    """Return one medication order of the timeline."""
    frequency = order.frequency
    return {
        "id": _id(order.id),
        "medication": order.medication,
        "directions": order.sig,
        "drug_name": order.drug_name,
        "rxnorm_code": order.rxnorm_code,
        "strength": order.strength,
        "dose_form": _code(order.dose_form),
        "dose_amount": medications_domain.format_decimal(order.dose_amount) or None,
        "dose_unit": _code(order.dose_unit),
        "route": _code(order.route),
        "frequency": {
            "kind": _code(frequency.kind),
            "interval": frequency.interval,
            "as_needed": frequency.as_needed,
            "indication": frequency.indication,
        },
        "schedule": _code(order.schedule),
        "start_date": _day(order.start_date),
        "end_date": _day(order.end_date),
        "quantity": medications_domain.format_decimal(order.quantity) or None,
        "refills": order.refills,
        "instructions": order.instructions,
        "prescriber": order.prescriber.display_name if order.prescriber else None,
        "recorded_from": order.recorded_from,
        "status": _code(order.status),
        "discontinued_on": _day(order.discontinued_on),
        "discontinue_reason": _code(order.discontinue_reason),
        "discontinue_note": order.discontinue_note,
        "allergy_override_reason": order.allergy_override_reason,
        "duplicate_override_reason": order.duplicate_override_reason,
        "replaces_id": _id(order.replaces_id),
        "replaced_by_id": _id(order.replaced_by_id),
    }


def allergy_json(allergy: medications_domain.Allergy) -> dict:
    """Return one allergy entry."""
    return {
        "id": _id(allergy.id),
        "substance": allergy.substance,
        "reaction": allergy.reaction,
        "severity": _code(allergy.severity),
        "status": _code(allergy.status),
    }


def plan_json(entry: PlanEntry) -> dict:
    """Return one signed treatment plan with its diagnoses, goals, objectives (and their progress) and interventions."""
    plan = entry.plan
    agreement = plan.agreement
    return {
        "id": _id(plan.id),
        "version": plan.version_number,
        "status": _code(plan.status),
        "signed_at": _moment(plan.signed_at),
        "signed_by": entry.signed_by,
        "review_due": _day(plan.review_due),
        "content_hash": plan.content_hash,
        "replaces_id": _id(plan.replaces_id),
        "replaced_by_id": _id(plan.replaced_by_id),
        "problems": plan.problems,
        "diagnoses": [
            {"diagnosis_id": _id(d.diagnosis_id), "code": d.code, "description": codeset.describe(d.code) or ""}
            for d in plan.diagnoses
        ],
        "goals": [
            {
                "number": goal.number,
                "text": goal.text,
                "objectives": [
                    {
                        "id": _id(objective.id),
                        "number": objective.number,
                        "text": objective.text,
                        "target_date": _day(objective.target_date),
                        "status": _code(objective.status),
                        "progress": [
                            {
                                "id": _id(item.progress.id),
                                "note_id": _id(item.progress.note_id),
                                "date_of_service": _day(item.progress.date_of_service),
                                "status": _code(item.progress.status),
                                "rating": _code(item.progress.rating),
                                "comment": item.progress.comment,
                                "recorded_by": item.recorded_by,
                                "recorded_at": _moment(item.progress.recorded_at),
                            }
                            for item in entry.progress.get(objective.id, ())
                        ],
                    }
                    for objective in goal.objectives
                ],
            }
            for goal in plan.goals
        ],
        "interventions": [
            {
                "number": intervention.number,
                "modality": intervention.modality,
                "frequency": intervention.frequency,
                "responsible_clinician": intervention.clinician.label if intervention.clinician else None,
            }
            for intervention in plan.interventions
        ],
        "agreement": {
            "agreed_on": _day(agreement.agreed_on) if agreement else None,
            "method": _code(agreement.method) if agreement else None,
            "note": agreement.note if agreement else "",
        },
        "discontinued_on": _day(plan.discontinued_on),
        "discontinue_reason": _code(plan.discontinue_reason),
        "discontinue_note": plan.discontinue_note,
    }


def response_json(entry: ResponseEntry) -> dict:
    """Return one questionnaire response, item by item, with its score."""
    r = entry.response
    return {
        "id": _id(r.id),
        "instrument": r.instrument,
        "questionnaire": entry.instrument_name,
        "administered_on": _day(r.administered_on),
        "entered_by": entry.entered_by,
        "answers": entry.answers,
        "total": r.total,
        "band": r.band_label,
        "scoring_basis": r.answers.basis or None,
        "appointment_id": _id(r.appointment_id),
        "status": _code(r.status),
        "voided_at": _moment(r.voided_at),
        "void_reason": r.void_reason,
        "correction_reason": r.correction_reason,
    }


def alert_json(entry: AlertEntry) -> dict:
    """Return one risk-answer alert and what was done about it."""
    a = entry.alert
    return {
        "id": _id(a.id),
        "response_id": _id(a.response_id),
        "raised_at": _moment(a.raised_at),
        "risk_answer": a.reason,
        "status": _code(a.status),
        "reviewed_by": entry.reviewed_by or None,
        "reviewed_at": _moment(a.reviewed_at),
        "action_taken": a.action_taken,
        "cleared_by": entry.cleared_by or None,
        "cleared_at": _moment(a.cleared_at),
        "clear_reason": a.clear_reason,
    }


def _member(name: str, value, *, last: bool = False) -> str:
    """Return one top-level member of the document, indented as json.dumps(indent=2) would."""
    text = json.dumps(value, indent=2, ensure_ascii=False)
    return f"  {json.dumps(name)}: {textwrap.indent(text, '  ').lstrip()}{'' if last else ','}\n"


def write_json(record: PatientRecord, out: TextIO) -> Counts:
    """Write the copy as one JSON document, the notes one at a time as they are read."""
    out.write("{\n")
    out.write(_member("schema", SCHEMA))
    out.write(_member("schema_version", SCHEMA_VERSION))
    out.write(_member("generated_at", _moment(record.generated_at)))
    out.write(_member("generated_by", {"username": record.generated_by, "name": record.generated_by_name}))
    out.write(_member("time_zone", timezone.get_current_timezone_name()))
    out.write(
        _member(
            "scope",
            {
                "basis": "Right of access, 45 CFR 164.524: the designated record set kept in NovaMind.",
                "psychotherapy_notes": record.psychotherapy_statement,
                "unsigned_drafts": record.drafts_statement,
            },
        )
    )
    out.write(_member("patient", patient_json(record.patient)))
    out.write(_member("diagnoses", [diagnosis_json(diagnosis) for diagnosis in record.diagnoses]))
    out.write(_member("appointments", [appointment_json(entry) for entry in record.appointments]))
    out.write(_member("allergies", [allergy_json(allergy) for allergy in record.allergies]))
    out.write(_member("medication_orders", [order_json(order) for order in record.medication_orders]))
    out.write(_member("questionnaire_responses", [response_json(entry) for entry in record.questionnaire_responses]))
    out.write(_member("risk_answer_alerts", [alert_json(entry) for entry in record.risk_answer_alerts]))
    out.write('  "clinical_notes": [')
    separator = "\n"
    for entry in record.notes:
        out.write(separator + textwrap.indent(json.dumps(note_json(entry), indent=2, ensure_ascii=False), "    "))
        separator = ",\n"
    out.write("\n  ],\n" if separator != "\n" else "],\n")
    out.write(_member("treatment_plans", [plan_json(entry) for entry in record.treatment_plans]))
    counts = counts_of(record)
    out.write(_member("counts", dataclasses.asdict(counts), last=True))
    out.write("}\n")
    return counts


# --- HTML ---------------------------------------------------------------------------------------


def write_html(record: PatientRecord, out: TextIO) -> Counts:
    """Write the copy as one self-contained, printable HTML page (inline CSS, nothing fetched).

    The template reads the notes in chunks, but the page is rendered to one string before it is
    written: it is the size of the copy, not a multiple of it.
    """
    out.write(render_to_string(TEMPLATE, {"record": record}))
    return counts_of(record)


WRITERS = {"json": write_json, "html": write_html}
# The media type and file-name ending of each format, for a download.
MEDIA = {"json": ("application/json", "json"), "html": ("text/html; charset=utf-8", "html")}


def register_writer(format: str, writer, *, media_type: str, extension: str) -> None:
    """Add a format written by an app above clinic (the fhir app's Bundle), which clinic may not import.

    `writer(record, out)` writes the `PatientRecord` to `out` and returns its `Counts`; the export
    around it (access rules, the one transaction, the access log) stays the one below.
    """
    WRITERS[format] = writer
    MEDIA[format] = (media_type, extension)


def formats() -> tuple[str, ...]:
    """Return every format the copy can be written in: json, html, and those registered."""
    return tuple(WRITERS)


# --- The disclosure -----------------------------------------------------------------------------


class _Tracked:
    """A text stream that remembers whether anything was written to it."""

    def __init__(self, out: TextIO):
        self.out, self.started = out, False

    def write(self, text: str) -> None:
        if text:
            self.started = True
            self.out.write(text)


def require_may_export(actor, patient_id) -> None:
    """Raise AccessDenied unless `actor` may read every part of the patient's record (roles, then care)."""
    for permission in PERMISSIONS:
        policy.require(actor, permission)
    policy.require(actor, patient_id=patient_id)


def export(*, patient: patients_domain.Patient, actor, format: str, out: TextIO, retractable: bool = True) -> Counts:
    """Write the copy of `patient`'s record to `out` in `format`, and log the disclosure as `actor`.

    The reads and the access-log entry are one transaction; the entry is written last, so the
    access log's chain is locked only for a moment. `retractable` says whether the caller can
    throw away what was written if the export fails (a temporary file can be; standard output
    cannot): when it cannot and part of the copy went out, the partial disclosure is logged.
    """
    if format not in WRITERS:
        raise ValueError(f"Unknown format {format!r}; use one of {', '.join(formats())}.")
    require_may_export(actor, patient.id)
    tracked = _Tracked(out)
    try:
        with transaction.atomic():
            # The record is read on the replica when there is one (a moment behind the primary at
            # most); the disclosure is logged on the primary, after the last read.
            with db_router.reporting_reads():
                record = assemble(patient=patient, actor=actor)
                counts = WRITERS[format](record, tracked)
            access.record(
                user=actor,
                action=DISCLOSURE_ACTION,
                category=DISCLOSURE_CATEGORY,
                patient=patient,
                detail=f"right of access (45 CFR 164.524), {format} copy: {counts.describe()}",
            )
    except BaseException:
        if tracked.started and not retractable:
            access.record(
                user=actor,
                action=DISCLOSURE_ACTION,
                category=DISCLOSURE_CATEGORY,
                patient=patient,
                detail=f"right of access (45 CFR 164.524), {format} copy: INCOMPLETE, the export failed "
                f"after part of the record had been written to an output that cannot be withdrawn",
            )
        raise
    return counts
