"""The Django implementation of AppointmentRepository: domain objects out, attributed writes in."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Sequence

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from appointments import domain, models, policy
from novamind import audit
from novamind.domain import ConcurrencyError, NotFound, RuleViolation, parse_id
from novamind.models import StaffProfile
from patients import domain as patient_domain
from patients import models as patient_models

EXCLUSION_VIOLATION = "23P01"  # PostgreSQL's SQLSTATE for a refused exclusion constraint


class DjangoAppointmentRepository:
    """Appointments in the database, read and written on behalf of one named user (`actor`)."""

    def __init__(self, *, actor):
        self.actor = audit.require_actor(actor)

    # --- the four basic operations ---------------------------------------------------------------

    def add(self, appointment: domain.Appointment, *, reason: str = "Booked") -> domain.Appointment:
        """Store a new appointment and return it as stored."""
        row = models.Appointment(id=appointment.id or uuid.uuid4())
        row.update_from_domain(appointment)
        save(row, actor=self.actor, reason=reason)
        return row.to_domain()

    def get_by_id(self, appointment_id: uuid.UUID) -> domain.Appointment | None:
        """Return the appointment with this id, or None."""
        row = self._row(appointment_id)
        return row.to_domain() if row else None

    def update(self, appointment: domain.Appointment, *, reason: str = "Details changed") -> domain.Appointment:
        """Store `appointment`; refuse when it was read at an older version than the stored one."""
        row = self._existing(appointment.id)
        expected = appointment.audit.version if appointment.audit else None
        if expected is None:
            raise RuleViolation("Update an appointment that was read from the repository (it carries its version).")
        if row.version != expected:
            raise ConcurrencyError("Appointment", domain.label(row.id), expected, row.version)
        row.version = expected  # the UPDATE checks it again, so a concurrent save cannot slip in
        row.update_from_domain(appointment)
        save(row, actor=self.actor, reason=reason)
        return row.to_domain()

    def delete(self, appointment_id: uuid.UUID, *, reason: str) -> domain.Appointment:
        """Cancel the appointment on behalf of the clinic: appointments are kept, never deleted."""
        current = self._existing(appointment_id).to_domain()
        cancelled = current.cancel(
            at=timezone.now(),
            by=domain.CancelledBy.CLINIC,
            reason=reason,
            late_window=policy.late_cancellation_window(),
        )
        return self.update(cancelled, reason="Cancelled by the clinic")

    # --- reads ----------------------------------------------------------------------------------

    def list_for_patient(self, patient_id: uuid.UUID) -> list[domain.Appointment]:
        """Return every appointment of the patient, oldest first."""
        return _domain(self._rows().filter(patient_id=patient_id).order_by("start"))

    def list_for_clinician(
        self,
        clinician_id: int,
        *,
        day: dt.date | None = None,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
    ) -> list[domain.Appointment]:
        """Return the clinician's appointments on a local `day`, or overlapping [start, end), in order."""
        if day is not None and (start is not None or end is not None):
            raise RuleViolation("Give a day or a time range, not both.")
        if day is not None:
            start, end = day_bounds(day)
        if start is None or end is None or end <= start:
            raise RuleViolation("Give a day, or a time range that ends after it starts.")
        return _domain(self._rows().filter(overlap_query(start, end), clinician_id=clinician_id).order_by("start"))

    def overlapping(
        self,
        *,
        start: dt.datetime,
        end: dt.datetime,
        clinician_id: int | None = None,
        patient_id: uuid.UUID | None = None,
        room_id: uuid.UUID | None = None,
    ) -> list[domain.Appointment]:
        """Return the time-holding appointments overlapping [start, end) of any of the parties."""
        query = conflict_candidates(
            start=start, end=end, clinician_id=clinician_id, patient_id=patient_id, room_id=room_id
        )
        return _domain(self._rows().filter(query).order_by("start")) if query is not None else []

    def overdue(self, *, ended_before: dt.datetime) -> list[domain.Appointment]:
        """Return scheduled appointments that ended before `ended_before` (no check-in, no cancellation)."""
        rows = self._rows().filter(status=domain.Status.SCHEDULED.value, end__lt=ended_before)
        return _domain(rows.order_by("start"))

    # --- multi-row writes, each all or nothing ---------------------------------------------------

    def replace(
        self, old: domain.Appointment, replacement: domain.Appointment
    ) -> tuple[domain.Appointment, domain.Appointment]:
        """Store `old` (marked rescheduled) and add its `replacement`, in one transaction."""
        with transaction.atomic():
            # The old appointment first: it releases its time, which the replacement may reuse.
            stored_old = self.update(old, reason="Rescheduled")
            stored_new = self.add(replacement, reason=f"Booked as the replacement of {domain.label(old.id)}")
        return stored_old, stored_new

    def update_all(self, appointments: Sequence[domain.Appointment], *, reason: str) -> list[domain.Appointment]:
        """Store every one of `appointments`, or none of them."""
        with transaction.atomic():
            return [self.update(appointment, reason=reason) for appointment in appointments]

    def add_series(
        self, series: domain.Series, occurrences: Sequence[domain.Appointment]
    ) -> tuple[domain.Series, list[domain.Appointment]]:
        """Store the series and all its appointments, or nothing (a clash refuses the lot)."""
        with transaction.atomic():
            row = models.AppointmentSeries(id=series.id or uuid.uuid4())
            row.update_from_domain(series)
            save(row, actor=self.actor, reason="Series booked")
            stored = [
                self.add(_in_series(occurrence, row.id), reason=f"Booked with {row}") for occurrence in occurrences
            ]
        return row.to_domain(), stored

    def get_series(self, series_id: uuid.UUID) -> domain.Series | None:
        """Return the series with this id, or None."""
        series_id = parse_id(series_id)
        if series_id is None:
            return None
        row = models.AppointmentSeries.objects.select_related("created_by", "updated_by").filter(pk=series_id).first()
        return row.to_domain() if row else None

    def list_for_series(self, series_id: uuid.UUID) -> list[domain.Appointment]:
        """Return the appointments of a series, in order."""
        return _domain(self._rows().filter(series_id=series_id).order_by("start"))

    # --- who and where can be booked -------------------------------------------------------------

    def party_problems(self, appointment: domain.Appointment) -> dict[str, list[str]]:
        """Return why the patient, clinician or room of `appointment` cannot be booked, by field."""
        problems: dict[str, list[str]] = {}
        if appointment.patient_id is not None:
            status = (
                patient_models.Patient.objects.filter(pk=appointment.patient_id)
                .values_list("status", flat=True)
                .first()
            )
            if status is None:
                problems["patient"] = ["There is no such patient."]
            elif status != patient_domain.PatientStatus.ACTIVE.value:
                problems["patient"] = [f"This patient is {status}; only active patients can be booked."]
        if (
            appointment.clinician_id is not None
            and not bookable_clinicians().filter(pk=appointment.clinician_id).exists()
        ):
            problems["clinician"] = ["This user is not an active clinician and cannot be booked."]
        if appointment.room_id is not None:
            active = models.Room.objects.filter(pk=appointment.room_id).values_list("is_active", flat=True).first()
            if active is None:
                problems["room"] = ["There is no such room."]
            elif not active:
                problems["room"] = ["This room is out of use."]
        return problems

    # --- rows -----------------------------------------------------------------------------------

    def _rows(self):
        return models.Appointment.objects.select_related("created_by", "updated_by")

    def _row(self, appointment_id) -> models.Appointment | None:
        appointment_id = parse_id(appointment_id)
        if appointment_id is None:
            return None
        return self._rows().filter(pk=appointment_id).first()

    def _existing(self, appointment_id) -> models.Appointment:
        row = self._row(appointment_id)
        if row is None:
            raise NotFound(f"No appointment with id {appointment_id}.")
        return row


def bookable_clinicians():
    """Return the users who can be booked: active, with a staff profile that says clinician."""
    return get_user_model().objects.filter(
        is_active=True, pk__in=StaffProfile.objects.filter(is_clinician=True).values("user_id")
    )


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """Return the start of `day` and of the next day in the clinic's time zone."""
    zone = policy.zone()
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min), zone)
    end = timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min), zone)
    return start, end


def overlap_query(start: dt.datetime, end: dt.datetime) -> Q:
    """Return the condition "overlaps [start, end)", written so an index on start can serve it.

    An appointment lasts at most domain.LONGEST_EVER, so one that overlaps must have started in
    (start - LONGEST_EVER, end): a short range of the (party, start) index, whatever the history.
    """
    return Q(start__lt=end, end__gt=start, start__gt=start - domain.LONGEST_EVER)


def conflict_candidates(*, start, end, clinician_id=None, patient_id=None, room_id=None) -> Q | None:
    """Return the query for time-holding appointments of any given party overlapping [start, end)."""
    parties = Q()
    for column, value in (("clinician_id", clinician_id), ("patient_id", patient_id), ("room_id", room_id)):
        if value is not None:
            parties |= Q(**{column: value})
    if not parties:
        return None
    return parties & overlap_query(start, end) & Q(status__in=models.HOLDING)


def is_overlap_violation(error: IntegrityError) -> bool:
    """Return whether the database refused a write by one of the no-overlap constraints."""
    cause = error.__cause__
    if getattr(cause, "sqlstate", None) != EXCLUSION_VIOLATION:
        return False
    diagnostics = getattr(cause, "diag", None)
    name = getattr(diagnostics, "constraint_name", None)
    return name is None or name in models.OVERLAP_CONSTRAINTS


def save(row, *, actor, reason: str, validate: bool = True) -> None:
    """Validate and save an appointment or series row as `actor`: the app's one write path.

    A clash the database refuses (a concurrent booking committed first) becomes the same
    domain.BookingConflict the Python check raises, naming the appointment that won.
    """
    try:
        with transaction.atomic():
            audit.checked_save(row, actor=actor, reason=reason, validate=validate)
    except IntegrityError as error:
        if not is_overlap_violation(error) or not isinstance(row, models.Appointment):
            raise
        # Our savepoint was rolled back, so the connection can read the booking that won.
        candidate = row.to_domain(with_audit=False)
        others = models.Appointment.objects.filter(
            conflict_candidates(
                start=candidate.start,
                end=candidate.end,
                clinician_id=candidate.clinician_id,
                patient_id=candidate.patient_id,
                room_id=candidate.room_id,
            )
        )
        conflicts = domain.find_conflicts(candidate, [other.to_domain(with_audit=False) for other in others])
        raise domain.BookingConflict(conflicts, policy.zone()) from None


def _domain(rows) -> list[domain.Appointment]:
    return [row.to_domain() for row in rows]


def _in_series(occurrence: domain.Appointment, series_id: uuid.UUID) -> domain.Appointment:
    return dataclasses.replace(occurrence, series_id=series_id)
