"""The audit report: one patient's or one user's change history and accesses, merged, as CSV.

Two sources, one time line:

- the change history: every django-simple-history table of the project (the patient's records,
  and the records of those records, such as a note's addenda; or every change a user made):
  when, who, which record, created (+), changed (~) or deleted (-), and the NAMES of the fields
  that changed. Values never leave this module: encrypted fields are decrypted in memory only
  to tell whether they changed;
- the access log: when, who, which patient, what action on which category of data, the
  outcome, the address and the emergency flag.

The `audit_report` command and the access log's admin page both call `run()`, which also
records the report itself in the access log, in the auditor's name.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import uuid
from collections.abc import Iterable, Iterator

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from novamind import access, blind_index, db_router
from novamind.models import AccessLogEntry

PERMISSION = "novamind.view_audit_report"
ACTION = "audit report"
CATEGORY = "audit report"
COLUMNS = (
    "when",
    "source",
    "user",
    "patient_mrn",
    "record_type",
    "record_id",
    "change",
    "changed_fields",
    "action",
    "category",
    "outcome",
    "address",
    "emergency",
    "detail",
)
# Written on every save; saying they changed says nothing.
BOOKKEEPING_FIELDS = {"version", "updated_by", "updated_at"}
PATIENT_MODEL = "patients.Patient"
_CHUNK = 500


class ReportError(Exception):
    """The report was asked for with parameters that cannot be honoured."""


@dataclasses.dataclass(frozen=True)
class Scope:
    """Whose report, over which period: a patient (by MRN) or a user, and a half-open time range."""

    patient_id: uuid.UUID | None = None
    patient_mrn: str = ""
    user: object | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None  # exclusive
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    def describe(self) -> str:
        """Return what the report covered, for the access log (an MRN or a username, dates)."""
        subject = f"patient {self.patient_mrn}" if self.patient_id else f"user {self.user.get_username()}"
        period = f"{self.date_from or 'start'} to {self.date_to or 'today'}"
        return f"{subject}, {period}"

    def filename(self) -> str:
        """Return a file name for the CSV download."""
        subject = self.patient_mrn if self.patient_id else f"user-{self.user.get_username()}"
        return f"audit-report-{subject}-{self.date_from or 'start'}-{self.date_to or timezone.localdate()}.csv"


@dataclasses.dataclass(frozen=True)
class Row:
    """One line of the report."""

    when: dt.datetime
    source: str  # "change" or "access"
    user: str
    patient_mrn: str = ""
    record_type: str = ""
    record_id: str = ""
    change: str = ""
    changed_fields: tuple[str, ...] = ()
    action: str = ""
    category: str = ""
    outcome: str = ""
    address: str = ""
    emergency: bool | None = None
    detail: str = ""
    order: int = 0  # history id or access sequence: a stable order within one instant

    def cells(self) -> list[str]:
        """Return the row as CSV cells, in COLUMNS order."""
        values = [
            timezone.localtime(self.when).isoformat(timespec="seconds"),
            self.source,
            self.user,
            self.patient_mrn,
            self.record_type,
            self.record_id,
            self.change,
            ";".join(self.changed_fields),
            self.action,
            self.category,
            self.outcome,
            self.address,
            "" if self.emergency is None else ("yes" if self.emergency else "no"),
            self.detail,
        ]
        return [value if column == "change" else _inert(value) for column, value in zip(COLUMNS, values, strict=True)]


def _inert(value: str) -> str:
    """Return `value` so a spreadsheet shows it as text, never runs it as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


# --- what the report is about -------------------------------------------------------------


def scope_for(
    *,
    patient_mrn: str | None = None,
    username: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> Scope:
    """Return the scope asked for, or raise ReportError saying what is wrong with it."""
    patient_mrn, username = (patient_mrn or "").strip().upper(), (username or "").strip()
    if bool(patient_mrn) == bool(username):
        raise ReportError("Give either a patient (MRN) or a user (username), not both and not neither.")
    if date_from and date_to and date_from > date_to:
        raise ReportError(f"The period starts ({date_from}) after it ends ({date_to}).")
    start = _day_start(date_from) if date_from else None
    end = _day_start(date_to + dt.timedelta(days=1)) if date_to else None
    period = {"start": start, "end": end, "date_from": date_from, "date_to": date_to}
    if patient_mrn:
        Patient = apps.get_model(PATIENT_MODEL)
        found = Patient._base_manager.filter(mrn=patient_mrn).values_list("id", flat=True).first()
        if found is None:
            raise ReportError(f"No patient has the MRN {patient_mrn}.")
        return Scope(patient_id=found, patient_mrn=patient_mrn, **period)
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise ReportError(f"No user is named {username!r}.")
    return Scope(user=user, **period)


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


# --- the rows -----------------------------------------------------------------------------


def rows(scope: Scope) -> list[Row]:
    """Return the report's rows, oldest first: history and accesses merged."""
    merged = [*_history_rows(scope), *_access_rows(scope)]
    return sorted(merged, key=lambda row: (row.when, row.source, row.order))


def tracked_models() -> list[type]:
    """Return every model whose changes django-simple-history records."""
    return [model for model in apps.get_models() if getattr(model._meta, "simple_history_manager_attribute", None)]


def _patient_link(model) -> tuple[str, type | None] | None:
    """Return how a record of `model` names its patient, or None if it has none.

    ("id", None): it is the patient; ("patient_id", None): it has a patient; (column, parent):
    it belongs to a record of `parent` that has a patient (a note's addendum).
    """
    if model._meta.label == PATIENT_MODEL:
        return "id", None
    foreign_keys = [field for field in model._meta.concrete_fields if field.many_to_one]
    for field in foreign_keys:
        if field.related_model._meta.label == PATIENT_MODEL:
            return field.attname, None
    for field in foreign_keys:
        parent = field.related_model
        if any(f.many_to_one and f.related_model._meta.label == PATIENT_MODEL for f in parent._meta.concrete_fields):
            return field.attname, parent
    return None


def _history(model):
    return getattr(model, model._meta.simple_history_manager_attribute)


def _compared_fields(model) -> list[tuple[str, str]]:
    """Return (attribute, name) of the recorded fields whose change the report names.

    Bookkeeping fields change on every save, and a blind index changes with its field.
    """
    recorded = {field.attname for field in _history(model).model._meta.concrete_fields}
    return [
        (field.attname, field.name)
        for field in model._meta.concrete_fields
        if field.attname in recorded
        and not field.primary_key
        and field.name not in BOOKKEEPING_FIELDS
        and not isinstance(field, blind_index.BlindIndexField)
    ]


def _in_period(queryset, scope: Scope, column: str):
    if scope.start:
        queryset = queryset.filter(**{f"{column}__gte": scope.start})
    if scope.end:
        queryset = queryset.filter(**{f"{column}__lt": scope.end})
    return queryset


def _history_rows(scope: Scope) -> Iterator[Row]:
    usernames = _Usernames()
    mrns = _Mrns(scope)
    for model in tracked_models():
        link = _patient_link(model)
        history = _history(model)
        if scope.patient_id:
            if link is None:
                continue
            column, parent = link
            if parent is None:
                ids = history.filter(**{column: scope.patient_id}).values("id")
            else:
                parent_ids = _history(parent).filter(patient_id=scope.patient_id).values("id")
                ids = history.filter(**{f"{column}__in": parent_ids}).values("id")
            in_scope = Q(id__in=ids)
        else:
            in_scope = Q(history_user=scope.user)
        wanted = _in_period(history.filter(in_scope), scope, "history_date")
        object_ids = sorted(set(wanted.values_list("id", flat=True)))
        wanted_ids = set(wanted.values_list("history_id", flat=True))
        fields = _compared_fields(model)
        for chunk in _chunks(object_ids):
            previous = None
            records = history.filter(id__in=chunk).order_by("id", "history_date", "history_id")
            for record in records.iterator(chunk_size=_CHUNK):
                if previous is not None and previous.id != record.id:
                    previous = None
                if record.history_id in wanted_ids:
                    yield Row(
                        when=record.history_date,
                        source="change",
                        user=usernames.of(record.history_user_id),
                        patient_mrn=mrns.of(model, link, record),
                        record_type=model._meta.label_lower,
                        record_id=str(record.id),
                        change=record.history_type,
                        changed_fields=_changed(fields, previous, record),
                        order=record.history_id,
                    )
                previous = record


def _changed(fields: list[tuple[str, str]], previous, record) -> tuple[str, ...]:
    """Return the names of the fields `record` changed since `previous` (only for a change)."""
    if record.history_type != "~" or previous is None:
        return ()
    return tuple(name for attname, name in fields if getattr(previous, attname) != getattr(record, attname))


def _access_rows(scope: Scope) -> Iterator[Row]:
    if scope.patient_id:
        entries = AccessLogEntry.objects.filter(patient_id=scope.patient_id)
    else:
        # What the user did, and the changes of their roles (made by someone else, usually).
        about_them = Q(action="role change", object_type="auth.user", object_id=str(scope.user.pk))
        entries = AccessLogEntry.objects.filter(Q(user=scope.user) | about_them)
    for entry in _in_period(entries, scope, "occurred_at").order_by("sequence").iterator(chunk_size=_CHUNK):
        yield Row(
            when=entry.occurred_at,
            source="access",
            user=entry.username,
            patient_mrn=entry.patient_mrn,
            record_type=entry.object_type,
            record_id=entry.object_id,
            action=entry.action,
            category=entry.category,
            outcome=entry.outcome,
            address=entry.source_address or "",
            emergency=entry.emergency,
            detail=entry.detail,
            order=entry.sequence,
        )


def _chunks(values: list, size: int = _CHUNK) -> Iterator[list]:
    for index in range(0, len(values), size):
        yield values[index : index + size]


class _Usernames:
    """Usernames by user id, looked up once each."""

    def __init__(self):
        self.known: dict[int | None, str] = {None: ""}

    def of(self, user_id) -> str:
        if user_id not in self.known:
            user = get_user_model().objects.filter(pk=user_id).values_list("username", flat=True).first()
            self.known[user_id] = user or f"(deleted user {user_id})"
        return self.known[user_id]


class _Mrns:
    """The MRN each history row belongs to (a user's report spans many patients)."""

    def __init__(self, scope: Scope):
        self.scope = scope
        self.by_patient: dict = {}
        self.parents: dict = {}

    def of(self, model, link, record) -> str:
        if self.scope.patient_id:
            return self.scope.patient_mrn
        if link is None:
            return ""
        column, parent = link
        patient_id = getattr(record, column)
        if parent is not None:  # the column names the parent record; its patient is the one
            key = (parent, patient_id)
            if key not in self.parents:
                self.parents[key] = _history(parent).filter(id=key[1]).values_list("patient_id", flat=True).first()
            patient_id = self.parents[key]
        if patient_id is None:
            return ""
        if patient_id not in self.by_patient:
            Patient = apps.get_model(PATIENT_MODEL)
            self.by_patient[patient_id] = (
                Patient._base_manager.filter(pk=patient_id).values_list("mrn", flat=True).first() or ""
            )
        return self.by_patient[patient_id]


# --- output -------------------------------------------------------------------------------


def write_csv(report: Iterable[Row], out) -> int:
    """Write the header and `report` to the text stream `out`; return how many rows."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    count = 0
    for row in report:
        writer.writerow(row.cells())
        count += 1
    return count


def may_run(user) -> bool:
    """Return whether `user` may produce audit reports (the auditor role)."""
    return bool(user and user.is_active and user.has_perm(PERMISSION))


def run(*, scope: Scope, actor, out, request=None) -> int:
    """Write the report for `scope` as CSV to `out` in `actor`'s name; return how many rows.

    The report is recorded in the access log (who ran it, about whom, which period, how many
    rows), in the transaction that read it.
    """
    if not may_run(actor):
        raise ReportError(f"{actor.get_username()} may not produce audit reports (the auditor role can).")
    with transaction.atomic():
        # Read on the replica when there is one (it may lag the primary by a moment); the entry
        # below is written on the primary, after every read.
        with db_router.reporting_reads():
            report = rows(scope)
        patient = access.PatientRef(scope.patient_id, scope.patient_mrn) if scope.patient_id else None
        access.record(
            user=actor,
            action=ACTION,
            category=CATEGORY,
            patient=patient,
            request=request,
            obj=scope.user if scope.user is not None else None,
            detail=f"{scope.describe()}: {len(report)} row(s)",
        )
    return write_csv(report, out)
