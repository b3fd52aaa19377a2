"""Retention: a former patient's record is purged once its retention period has run out.

HIPAA keeps documentation at least six years (45 CFR 164.316(b)(2)); state law often keeps
clinical records longer, so the period is NOVAMIND_RETENTION_YEARS (default 10: it covers the
adult-record periods of most states, which run from 5 to 10 years after the last visit), and
a period under six years is refused at start-up (system check novamind.E040) and here.

A record is due when its patient is inactive or deceased, it is not under a legal hold, and
it has had no activity for longer than the period. Activity is the latest date in the record:
the patient's last change, appointments' ends and changes, diagnoses' onsets, status dates and
changes, notes' dates of service, signatures and changes, addenda, the diagnoses notes address,
medication orders' start, end, stop and changes, allergies, questionnaire responses (the day given)
and their risk alerts (raised, reviewed, cleared), treatment plans' signatures, closings and changes
(and their parts' and progress').
The period is counted at the earliest from the patient's eighteenth birthday, because most
states keep a minor's record for some years past the age of majority. That rule is
`decide()`, in plain Python; the database query only narrows the candidates, and
`purge_patient` decides again with the patient's row locked, so a hold placed or a visit
booked in the meantime wins.

Purging deletes the live rows and their history rows (the history holds the same PHI) of every
table in `PARTS`, and the rows derived from the patient (`DERIVED`), in one transaction per patient that ends by appending a tombstone to the
access log: action "purge", the patient's id and MRN, the row counts (the totals, then each kind
of record's, a record's parts folded into it, as far as the log's detail holds them). The access log names
patients by id and MRN only and is never purged, so `verify_audit` keeps verifying. Each
history row deleted leaves an erasure receipt (its place and seal, none of its content), so
every history table's chain verifies too (`novamind.history_chain`).

This is the one sanctioned path around the models' deletion guards (PROTECT foreign keys,
notes, addenda and authorizations that refuse `delete()`, `NoteQuerySet.delete()`, the
admin's missing delete permission). It deletes with plain DELETE statements
(`QuerySet._raw_delete`): no collector, no model `delete()`, and no signals, so
django-simple-history writes no "deleted" copy of the PHI it is removing. Foreign keys are
checked before the tombstone is written, so a row elsewhere that still refers to the record
aborts that patient's purge instead of leaving a dangling reference.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Iterator

from django.apps import apps
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Q
from django.utils import timezone

from novamind import access, audit, dbroles, history_chain
from novamind.domain import DomainError, NotFound, RuleViolation
from novamind.models import AccessLogEntry
from patients import domain as patients_domain
from patients import models as patients_models

HIPAA_MINIMUM_YEARS = 6  # 45 CFR 164.316(b)(2)(i)
ADULTHOOD_AGE = 18
PURGE_ACTION = "purge"
PURGE_CATEGORY = "patient_record"
PURGE_PERMISSION = "patients.purge_patient"
FORMER = (patients_domain.PatientStatus.INACTIVE.value, patients_domain.PatientStatus.DECEASED.value)
CHUNK = 200  # candidate patients read at a time
HELD = "the record is under a legal hold"


class NotDue(DomainError):
    """The record is not due for purging (active, under a legal hold, or too young); nothing was deleted."""

    def __init__(self, mrn: str, decision: Decision):
        self.mrn, self.decision = mrn, decision
        super().__init__(f"{mrn}: not purged, {decision.reason}.")


class PurgeNotAllowed(DomainError):
    """The acting user may not purge records."""


# --- The rules (plain Python) -------------------------------------------------------------------


def period_problem(years) -> str | None:
    """Return why `years` cannot be the retention period, or None when it can."""
    if isinstance(years, bool) or not isinstance(years, int):
        return f"NOVAMIND_RETENTION_YEARS must be a whole number of years, not {years!r}."
    if years < HIPAA_MINIMUM_YEARS:
        return (
            f"NOVAMIND_RETENTION_YEARS is {years}: HIPAA requires keeping records at least "
            f"{HIPAA_MINIMUM_YEARS} years (45 CFR 164.316(b)(2)), so a shorter period is refused."
        )
    return None


def years_after(day: dt.date, years: int) -> dt.date:
    """Return the same calendar day `years` later (or earlier); 29 February becomes 1 March.

    1 March is the later of the two candidate days, so a doubt keeps a record a day longer.
    """
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return dt.date(day.year + years, 3, 1)


@dataclasses.dataclass(frozen=True)
class Policy:
    """The retention period in force, and the day it is applied on."""

    years: int
    today: dt.date

    def __post_init__(self):
        problem = period_problem(self.years)
        if problem:
            raise RuleViolation(problem)

    @classmethod
    def from_settings(cls, today: dt.date | None = None) -> Policy:
        """Return the configured policy, applied today (the clinic's local date)."""
        return cls(years=settings.NOVAMIND_RETENTION_YEARS, today=today or timezone.localdate())

    @property
    def cutoff(self) -> dt.date:
        """Return the first day whose activity is too recent: a due record has none on or after it."""
        return years_after(self.today, -self.years)


@dataclasses.dataclass(frozen=True)
class RecordFacts:
    """What the retention rule needs to know about one patient's record."""

    status: str
    legal_hold: bool
    last_activity: dt.date
    date_of_birth: dt.date | None = None


@dataclasses.dataclass(frozen=True)
class Decision:
    """Whether a record is due for purging and, if not, why (no PHI: a year at most)."""

    due: bool
    reason: str = ""

    @property
    def held(self) -> bool:
        """Return whether a legal hold is what keeps the record."""
        return self.reason == HELD


def decide(facts: RecordFacts, policy: Policy) -> Decision:
    """Return whether the record described by `facts` is due for purging under `policy`."""
    if facts.status not in FORMER:
        return Decision(False, "the patient is active")
    if facts.legal_hold:
        return Decision(False, HELD)
    start = facts.last_activity
    if facts.date_of_birth is not None:
        start = max(start, years_after(facts.date_of_birth, ADULTHOOD_AGE))
    kept_until = years_after(start, policy.years)
    if policy.today <= kept_until:
        due_in = (kept_until + dt.timedelta(days=1)).year
        return Decision(False, f"younger than the retention period of {policy.years} years (due in {due_in})")
    return Decision(True)


# --- The record's tables ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Part:
    """One table of a patient's record: how its rows are found, and which of its columns are activity.

    `link` is the foreign key that leads to the patient (`parent` None) or to the parent part's
    rows; `name` is how reports and tombstones count the rows.
    """

    label: str
    name: str
    link: str
    parent: str | None = None
    activity: tuple[str, ...] = ("updated_at",)

    @property
    def model(self):
        """Return the Django model of the live table."""
        return apps.get_model(self.label)


NOTES = "clinical_notes.ClinicalNote"
PLANS = "treatment_plans.TreatmentPlan"
OBJECTIVES = "treatment_plans.Objective"
PARTS = (
    Part("appointments.Appointment", "appointments", "patient", None, ("end", "updated_at")),
    Part("appointments.AppointmentSeries", "appointment series", "patient", None, ("end", "until", "updated_at")),
    Part("diagnoses.Diagnosis", "diagnoses", "patient", None, ("onset_date", "status_since", "updated_at")),
    Part(NOTES, "clinical notes", "patient", None, ("date_of_service", "signed_at", "cosigned_at", "updated_at")),
    Part("clinical_notes.Addendum", "addenda", "note", NOTES, ("signed_at", "updated_at")),
    Part("clinical_notes.PsychotherapyNoteAuthorization", "note authorizations", "note", NOTES),
    Part("clinical_notes.AddressedDiagnosis", "addressed diagnoses", "note", NOTES),
    Part(
        "medications.MedicationOrder",
        "medication orders",
        "patient",
        None,
        ("start_date", "end_date", "discontinued_on", "updated_at"),
    ),
    Part("medications.Allergy", "allergies", "patient"),
    Part(
        "assessments.SafetyAlert",
        "risk answer alerts",
        "patient",
        None,
        ("raised_at", "reviewed_at", "cleared_at", "updated_at"),
    ),
    Part("assessments.Response", "questionnaire responses", "patient", None, ("administered_on", "updated_at")),
    # A plan's parts before the plan, progress before its objective: a part with a parent is
    # deleted before the top-level parts, in this order (see DELETION_ORDER).
    Part("treatment_plans.ObjectiveProgress", "objective progress entries", "objective", OBJECTIVES),
    Part(OBJECTIVES, "plan objectives", "plan", PLANS),
    Part("treatment_plans.Goal", "plan goals", "plan", PLANS),
    Part("treatment_plans.Intervention", "plan interventions", "plan", PLANS),
    Part("treatment_plans.PlanDiagnosis", "diagnoses addressed by plans", "plan", PLANS),
    Part(PLANS, "treatment plans", "patient", None, ("signed_at", "agreed_on", "discontinued_on", "updated_at")),
    Part("patients.EmergencyAccessGrant", "emergency access grants", "patient", None, ("granted_at", "updated_at")),
    Part("patients.CareAssignment", "care assignments", "patient", None, ("started_at", "ended_at", "updated_at")),
)
PATIENT = Part("patients.Patient", "patient", "pk")
# Rows derived from the patient's fields, with no history of their own and no part in the counts:
# the blind indexes of the start of the name (patients.models.NamePrefixIndex). Deleted with the patient.
DERIVED = ("patients.NamePrefixIndex",)
_BY_LABEL = {part.label: part for part in PARTS}
# Rows are found through their parents, so children go first and the patient last.
DELETION_ORDER = (*sorted(PARTS, key=lambda part: part.parent is None), PATIENT)


def uncovered_references() -> list[str]:
    """Return the foreign keys into a patient's record from tables the purge does not handle.

    It must be empty: such a row would either stop the purge or keep PHI the purge should have
    removed. A new model that refers to a patient (or a note, an appointment…) belongs in PARTS.
    """
    covered = {PATIENT.label, *_BY_LABEL}
    found = []
    for label in sorted(covered):
        for relation in apps.get_model(label)._meta.related_objects:
            source = relation.related_model._meta.label
            if source not in covered and source not in DERIVED:
                found.append(f"{source}.{relation.field.name} refers to {label}")
    return found


def require_owner_rights() -> None:
    """Raise dbroles.OwnerRightsRequired unless the connected role may delete every table of a record.

    History tables are append-only for the application role; a purge runs as the database owner.
    """
    tables = [
        table
        for part in (PATIENT, *PARTS)
        for table in (part.model._meta.db_table, part.model.history.model._meta.db_table)
    ]
    dbroles.require_owner_rights(connection, command="purge_expired", privilege="DELETE", tables=tables)


def live_rows(part: Part, patient_id):
    """Return the part's rows that belong to the patient (the plain manager: nothing guarded or hidden)."""
    manager = part.model._base_manager
    if part is PATIENT:
        return manager.filter(pk=patient_id)
    if part.parent is None:
        return manager.filter(**{part.link: patient_id})
    parent = _BY_LABEL[part.parent]
    return manager.filter(
        Q(**{f"{part.link}__in": live_rows(parent, patient_id).values("pk")})
        | Q(**{f"{part.link}__in": history_rows(parent, patient_id).values("id")})
    )


def history_rows(part: Part, patient_id):
    """Return the part's history rows that hold the patient's data.

    That is every version that named the patient (or a parent row of theirs), including rows
    that no longer exist (a discarded draft), and every version of the patient's live rows.
    """
    manager = part.model.history.model._base_manager
    if part is PATIENT:
        return manager.filter(id=patient_id)
    if part.parent is None:
        mine = Q(**{part.link: patient_id})
    else:
        parent = _BY_LABEL[part.parent]
        mine = Q(**{f"{part.link}__in": live_rows(parent, patient_id).values("pk")}) | Q(
            **{f"{part.link}__in": history_rows(parent, patient_id).values("id")}
        )
    return manager.filter(mine | Q(id__in=live_rows(part, patient_id).values("pk")))


@dataclasses.dataclass(frozen=True)
class Counts:
    """How many rows of each part of a record, and how many history rows in all."""

    rows: dict[str, int]
    history: int

    def describe(self) -> str:
        """Return the counts as one line ("clinical notes 3, …; 25 history rows"), without PHI."""
        parts = ", ".join(f"{name} {count}" for name, count in self.rows.items())
        return f"{parts}; {self.history} history rows"

    def kinds(self) -> list[str]:
        """Return the counts of each kind of record that holds rows, a part's own rows folded into it
        ("treatment plans 2 (+9 parts)"); a name that is no part of the record is counted as it is."""
        top_of = {}
        for part in (PATIENT, *PARTS):
            top = part
            while top.parent is not None:
                top = _BY_LABEL[top.parent]
            top_of[part.name] = top.name
        kinds: dict[str, list[int]] = {}
        for name, count in self.rows.items():
            top = top_of.get(name, name)
            kinds.setdefault(top, [0, 0])[0 if top == name else 1] += count
        return [
            f"{name} {own}" + (f" (+{parts} parts)" if parts else "")
            for name, (own, parts) in kinds.items()
            if own or parts
        ]

    def summary(self, prefix: str, *, limit: int) -> str:
        """Return `prefix`, the totals, then the kinds of record that hold rows, as many as fit in `limit` characters.

        The tombstone's detail: the access log keeps 255 characters, and a record of every kind
        says more, so the totals come first and a kind that does not fit is left to "…".
        """
        total = sum(self.rows.values())
        head = f"{prefix}{total} row{'' if total == 1 else 's'} and {self.history} history rows: "
        parts = self.kinds()
        text = head + ", ".join(parts)
        while len(text) > limit and parts:
            parts.pop()
            text = f"{head}{', '.join(parts)}, …"
        return text[:limit]


def count_record(patient_id) -> Counts:
    """Return the row counts of the patient's record, as a purge would delete them."""
    rows = {part.name: live_rows(part, patient_id).count() for part in (PATIENT, *PARTS)}
    history = sum(history_rows(part, patient_id).count() for part in (PATIENT, *PARTS))
    return Counts(rows=rows, history=history)


def record_facts(patient: patients_models.Patient) -> RecordFacts:
    """Return the facts the rule needs: status, hold, date of birth and the last activity."""
    dates = [timezone.localdate(patient.updated_at)]
    for part in PARTS:
        latest = live_rows(part, patient.pk).aggregate(**{f"last_{name}": Max(name) for name in part.activity})
        for value in latest.values():
            if isinstance(value, dt.datetime):
                dates.append(timezone.localdate(value))
            elif value is not None:
                dates.append(value)
    return RecordFacts(
        status=patient.status,
        legal_hold=patient.legal_hold,
        last_activity=max(dates),
        date_of_birth=patient.date_of_birth,
    )


# --- Review and purge ---------------------------------------------------------------------------

REVIEWED_COLUMNS = ("id", "mrn", "status", "legal_hold", "updated_at", "date_of_birth")


@dataclasses.dataclass(frozen=True)
class Review:
    """One patient's record, judged by the rule."""

    patient_id: uuid.UUID
    mrn: str
    decision: Decision


def review(patient: patients_models.Patient, policy: Policy) -> Review:
    """Return the rule's decision on this patient's record."""
    return Review(patient_id=patient.pk, mrn=patient.mrn, decision=decide(record_facts(patient), policy))


def find_patient(mrn: str) -> patients_models.Patient | None:
    """Return the patient with this MRN (only what a review reads), or None."""
    return patients_models.Patient._base_manager.only(*REVIEWED_COLUMNS).filter(mrn=mrn.strip().upper()).first()


def candidates(policy: Policy) -> Iterator[patients_models.Patient]:
    """Yield every former patient not changed since the cutoff, in MRN order, for `review()`.

    The query only narrows the search (a record with a recent appointment is found, then kept
    by the rule); it reads CHUNK patients at a time, resuming after the last MRN, so memory
    does not grow with the practice and rows purged in between do not shift the pages.
    """
    cutoff = timezone.make_aware(dt.datetime.combine(policy.cutoff, dt.time.min))
    query = patients_models.Patient._base_manager.only(*REVIEWED_COLUMNS).filter(
        status__in=FORMER,
        updated_at__lt=cutoff,
    )
    after = ""
    while True:
        chunk = list(query.filter(mrn__gt=after).order_by("mrn")[:CHUNK])
        yield from chunk
        if len(chunk) < CHUNK:
            return
        after = chunk[-1].mrn


def may_purge(actor) -> bool:
    """Return whether `actor` may purge records (the patients.purge_patient permission)."""
    return actor.has_perm(PURGE_PERMISSION)


@dataclasses.dataclass(frozen=True)
class Purged:
    """A record that was purged, and its tombstone in the access log."""

    patient_id: uuid.UUID
    mrn: str
    counts: Counts
    tombstone: int


def purge_patient(*, patient_id, policy: Policy, actor) -> Purged:
    """Delete the patient's whole record, live and history rows, if the rule says it is due.

    One transaction: the patient's row is locked, the rule decided again, every part deleted,
    foreign keys checked, and the tombstone appended to the access log in `actor`'s name. Raise
    NotDue (nothing deleted) when the record is not due, PurgeNotAllowed when the actor may not
    purge, dbroles.OwnerRightsRequired when the connected role is not the database owner, and
    IntegrityError (nothing deleted) when a row elsewhere still refers to the record.
    """
    actor = audit.require_actor(actor)
    if not may_purge(actor):
        raise PurgeNotAllowed(f"User '{actor.get_username()}' may not purge records (needs {PURGE_PERMISSION}).")
    uncovered = uncovered_references()
    if uncovered:
        raise RuleViolation("The purge does not know these tables: " + "; ".join(uncovered) + ".")
    require_owner_rights()
    with transaction.atomic():
        patient = patients_models.Patient._base_manager.select_for_update().filter(pk=patient_id).first()
        if patient is None:
            raise NotFound(f"No patient with id {patient_id}.")
        decision = decide(record_facts(patient), policy)
        if not decision.due:
            raise NotDue(patient.mrn, decision)
        counts = _delete_record(patient.pk, detail=f"retention purge of patient {patient.pk}")
        connection.check_constraints(table_names=[part.model._meta.db_table for part in (*PARTS, PATIENT)])
        entry = access.record(
            user=actor,
            action=PURGE_ACTION,
            category=PURGE_CATEGORY,
            patient=patient,
            detail=counts.summary(
                f"retention {policy.years} years; deleted ",
                limit=AccessLogEntry._meta.get_field("detail").max_length,
            ),
        )
    return Purged(patient_id=patient.pk, mrn=patient.mrn, counts=counts, tombstone=entry.sequence)


def _delete_record(patient_id, *, detail: str) -> Counts:
    rows, history = {}, 0
    for part in DELETION_ORDER:
        # History first: which history rows are the record's is found through its live rows.
        # Each leaves an erasure receipt, so its table's chain stays whole without its content.
        history_chain.record_erasure(history_rows(part, patient_id), detail=detail)
        history += _delete(history_rows(part, patient_id))
        if part is PATIENT:
            for label in DERIVED:
                _delete(apps.get_model(label)._base_manager.filter(patient_id=patient_id))
        rows[part.name] = _delete(live_rows(part, patient_id))
    return Counts(rows={part.name: rows[part.name] for part in (PATIENT, *PARTS)}, history=history)


def _delete(queryset) -> int:
    # Deliberately below the models' guards: one DELETE statement, no collector (PROTECT), no
    # model delete(), no signals (no "deleted" history copy). Only purge_patient calls this.
    return queryset._raw_delete(queryset.db)
