"""An in-memory AppointmentRepository for the unit tests: the same contract, no database."""

import copy
import dataclasses
import datetime as dt
import uuid

from appointments import domain
from novamind.domain import AuditInfo, ConcurrencyError, NotFound

EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


class FakeAppointmentRepository:
    """Appointments in a dict; multi-row writes are all-or-nothing by working on a copy."""

    def __init__(self, *, actor="alice", inactive_patients=(), clinicians=(7, 8), rooms_out_of_use=()):
        self.actor = actor
        self.rows: dict[uuid.UUID, domain.Appointment] = {}
        self.series: dict[uuid.UUID, domain.Series] = {}
        self.reasons: list[tuple[uuid.UUID, str]] = []
        self.inactive_patients = set(inactive_patients)
        self.clinicians = set(clinicians)
        self.rooms_out_of_use = set(rooms_out_of_use)
        self.refuse_next_series = False

    def _stamp(self, item, version):
        return dataclasses.replace(item, audit=AuditInfo(self.actor, self.actor, EPOCH, EPOCH, version))

    def add(self, appointment, *, reason="Booked"):
        stored = self._stamp(dataclasses.replace(appointment, id=appointment.id or uuid.uuid4()), 1)
        others = [other for other in self.rows.values() if other.id != stored.id]
        if domain.find_conflicts(stored, others):
            # What the database's exclusion constraint does on PostgreSQL.
            raise domain.BookingConflict(domain.find_conflicts(stored, others), dt.UTC)
        self.rows[stored.id] = stored
        self.reasons.append((stored.id, reason))
        return stored

    def get_by_id(self, appointment_id):
        return self.rows.get(appointment_id)

    def update(self, appointment, *, reason="Details changed"):
        current = self.rows.get(appointment.id)
        if current is None:
            raise NotFound(appointment.id)
        if appointment.audit is None or appointment.audit.version != current.audit.version:
            raise ConcurrencyError(
                "Appointment",
                appointment.id,
                appointment.audit.version if appointment.audit else None,
                current.audit.version,
            )
        domain.check_change(current, appointment)
        stored = self._stamp(appointment, current.audit.version + 1)
        self.rows[stored.id] = stored
        self.reasons.append((stored.id, reason))
        return stored

    def delete(self, appointment_id, *, reason):
        current = self.rows[appointment_id]
        return self.update(
            current.cancel(at=EPOCH, by=domain.CancelledBy.CLINIC, reason=reason, late_window=dt.timedelta(hours=24))
        )

    def list_for_patient(self, patient_id):
        return sorted((a for a in self.rows.values() if a.patient_id == patient_id), key=lambda a: a.start)

    def list_for_clinician(self, clinician_id, *, day=None, start=None, end=None):
        return sorted(
            (a for a in self.rows.values() if a.clinician_id == clinician_id and a.start < end and start < a.end),
            key=lambda a: a.start,
        )

    def upcoming(self, patient_id, *, now=None):
        return [
            a
            for a in self.list_for_patient(patient_id)
            if a.end > now and a.status in (domain.Status.SCHEDULED, domain.Status.CHECKED_IN)
        ]

    def overlapping(self, *, start, end, clinician_id=None, patient_id=None, room_id=None):
        return sorted(
            (
                a
                for a in self.rows.values()
                if a.holds_time
                and a.start < end
                and start < a.end
                and (
                    a.clinician_id == clinician_id
                    or a.patient_id == patient_id
                    or (room_id is not None and a.room_id == room_id)
                )
            ),
            key=lambda a: a.start,
        )

    def replace(self, old, replacement):
        with self._all_or_nothing():
            return self.update(old, reason="Rescheduled"), self.add(replacement, reason="Replacement")

    def update_all(self, appointments, *, reason):
        with self._all_or_nothing():
            return [self.update(item, reason=reason) for item in appointments]

    def add_series(self, series, occurrences):
        with self._all_or_nothing():
            stored = self._stamp(dataclasses.replace(series, id=series.id or uuid.uuid4()), 1)
            self.series[stored.id] = stored
            if self.refuse_next_series:
                self.refuse_next_series = False
                raise domain.BookingConflict([], dt.UTC)
            return stored, [self.add(dataclasses.replace(o, series_id=stored.id)) for o in occurrences]

    def get_series(self, series_id):
        return self.series.get(series_id)

    def list_for_series(self, series_id):
        return sorted((a for a in self.rows.values() if a.series_id == series_id), key=lambda a: a.start)

    def overdue(self, *, ended_before):
        return sorted(
            (a for a in self.rows.values() if a.status is domain.Status.SCHEDULED and a.end < ended_before),
            key=lambda a: a.start,
        )

    def party_problems(self, appointment):
        problems = {}
        if appointment.patient_id in self.inactive_patients:
            problems["patient"] = ["This patient is inactive; only active patients can be booked."]
        if appointment.clinician_id not in self.clinicians:
            problems["clinician"] = ["This user is not an active clinician and cannot be booked."]
        if appointment.room_id in self.rooms_out_of_use:
            problems["room"] = ["This room is out of use."]
        return problems

    class _Snapshot:
        def __init__(self, repository):
            self.repository = repository

        def __enter__(self):
            self.saved = (
                copy.copy(self.repository.rows),
                copy.copy(self.repository.series),
                list(self.repository.reasons),
            )

        def __exit__(self, kind, error, traceback):
            if error is not None:
                self.repository.rows, self.repository.series, self.repository.reasons = self.saved
            return False

    def _all_or_nothing(self):
        return self._Snapshot(self)
