"""Appointment services: the only write door to the schedule (admin, commands and the demo call it).

Every service takes the acting user (`actor`, keyword-only), asks the access policy
(`patients.policy`) for the role permission and for the care of the patient, then applies the
scheduling rules (`appointments.scheduling`) through a repository that attributes every write to
the actor, all in one transaction.

The policy is asked here, in this thin layer, and not inside `scheduling`: the rules stay plain
code over the repository interface, unit-tested on an in-memory fake with no database and no
policy stub, while no caller can reach them without passing this door (defence in depth: the
admin's pages already 404 outside care; the services refuse too, with AccessDenied).

Booking and care (README, "The care relationship"): a booking never opens a record. A user in a
care role books only patients they may already see, and nobody gains care by it. When the actor
may assign care (the front desk, `policy.may_assign_care`), booking a patient with a clinician
puts that clinician on the patient's care team in the same transaction as the booking; so do a
series, a reschedule and a change to another clinician.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.contrib.auth import get_user_model
from django.db import transaction

from appointments import domain, models, repository, scheduling
from novamind import audit
from novamind.domain import NotFound
from patients import policy as access
from patients import services as patient_services

ADD = "appointments.add_appointment"
CHANGE = "appointments.change_appointment"
ADD_SERIES = "appointments.add_appointmentseries"
ADD_ROOM = "appointments.add_room"
CHANGE_ROOM = "appointments.change_room"
NoShowRun = scheduling.NoShowRun


def room_save(*, room: models.Room, actor) -> models.Room:
    """Store a new or changed room as `actor`, who needs the permission to add or to change rooms."""
    access.require(actor, ADD_ROOM if room._state.adding else CHANGE_ROOM)
    return audit.checked_save(room, actor=actor)


def appointment_book(*, appointment: domain.Appointment, actor, now: dt.datetime | None = None) -> domain.Appointment:
    """Book `appointment` (scheduled) as `actor` and return it as stored."""
    appointments = _repository(actor)
    access.require(actor, ADD, patient_id=appointment.patient_id)
    with transaction.atomic():
        booked = scheduling.appointment_book(appointments=appointments, appointment=appointment, now=now)
        _care_follows_booking(booked, actor=actor)
    return booked


def appointment_change(*, appointment: domain.Appointment, actor, now: dt.datetime | None = None) -> domain.Appointment:
    """Store changed details of a scheduled appointment (move it, change room, kind or reason)."""
    appointments = _repository(actor)
    before = _readable(appointments, appointment.id, actor, CHANGE)
    if appointment.patient_id != before.patient_id:
        access.require(actor, CHANGE, patient_id=appointment.patient_id)
    with transaction.atomic():
        changed = scheduling.appointment_change(appointments=appointments, appointment=appointment, now=now)
        if changed.clinician_id != before.clinician_id or changed.patient_id != before.patient_id:
            _care_follows_booking(changed, actor=actor)
    return changed


def appointment_check_in(
    *, appointment_id: uuid.UUID, actor, version: int | None = None, now: dt.datetime | None = None
) -> domain.Appointment:
    """Record that the patient has arrived."""
    appointments = _repository(actor)
    _readable(appointments, appointment_id, actor, CHANGE)
    return scheduling.appointment_check_in(
        appointments=appointments, appointment_id=appointment_id, version=version, now=now
    )


def appointment_complete(
    *, appointment_id: uuid.UUID, actor, version: int | None = None, now: dt.datetime | None = None
) -> domain.Appointment:
    """Record that the visit took place."""
    appointments = _repository(actor)
    _readable(appointments, appointment_id, actor, CHANGE)
    return scheduling.appointment_complete(
        appointments=appointments, appointment_id=appointment_id, version=version, now=now
    )


def appointment_mark_no_show(
    *, appointment_id: uuid.UUID, actor, version: int | None = None, now: dt.datetime | None = None
) -> domain.Appointment:
    """Record that the patient did not come."""
    appointments = _repository(actor)
    _readable(appointments, appointment_id, actor, CHANGE)
    return scheduling.appointment_mark_no_show(
        appointments=appointments, appointment_id=appointment_id, version=version, now=now
    )


def appointment_cancel(
    *,
    appointment_id: uuid.UUID,
    by: domain.CancelledBy,
    reason: str,
    actor,
    version: int | None = None,
    now: dt.datetime | None = None,
) -> domain.Appointment:
    """Cancel the appointment on behalf of `by`, flagged late inside the configured window."""
    appointments = _repository(actor)
    _readable(appointments, appointment_id, actor, CHANGE)
    return scheduling.appointment_cancel(
        appointments=appointments, appointment_id=appointment_id, by=by, reason=reason, version=version, now=now
    )


def appointment_reschedule(
    *,
    appointment_id: uuid.UUID,
    start: dt.datetime,
    end: dt.datetime,
    actor,
    clinician_id=scheduling.KEEP,
    modality=scheduling.KEEP,
    room_id=scheduling.KEEP,
    version: int | None = None,
    now: dt.datetime | None = None,
) -> tuple[domain.Appointment, domain.Appointment]:
    """Book a replacement at the new time and mark this appointment rescheduled, linked to it.

    Both happen or neither, together with the care assignment a new clinician gets when the
    front desk moves the visit to them.
    """
    appointments = _repository(actor)
    current = _readable(appointments, appointment_id, actor, CHANGE)
    access.require(actor, ADD, patient_id=current.patient_id)
    with transaction.atomic():
        old, new = scheduling.appointment_reschedule(
            appointments=appointments,
            appointment_id=appointment_id,
            start=start,
            end=end,
            clinician_id=clinician_id,
            modality=modality,
            room_id=room_id,
            version=version,
            now=now,
        )
        if new.clinician_id != current.clinician_id:
            _care_follows_booking(new, actor=actor)
    return old, new


def series_plan(
    *, series: domain.Series, actor, now: dt.datetime | None = None
) -> tuple[domain.Series, list[domain.PlannedOccurrence]]:
    """Return the checked series and every appointment it would create, with its clashes."""
    access.require(actor, ADD_SERIES, patient_id=series.patient_id)
    return scheduling.series_plan(appointments=_repository(actor), series=series, now=now)


def series_book(
    *, series: domain.Series, actor, now: dt.datetime | None = None
) -> tuple[domain.Series, list[domain.Appointment]]:
    """Create the series and all its appointments (and the care they bring), or nothing."""
    appointments = _repository(actor)
    access.require(actor, ADD_SERIES, patient_id=series.patient_id)
    with transaction.atomic():
        booked, occurrences = scheduling.series_book(appointments=appointments, series=series, now=now)
        if occurrences:
            _care_follows_booking(occurrences[0], actor=actor)
    return booked, occurrences


def series_cancel_from(
    *, appointment_id: uuid.UUID, by: domain.CancelledBy, reason: str, actor, now: dt.datetime | None = None
) -> list[domain.Appointment]:
    """Cancel this appointment and every later scheduled one of its series, all or none."""
    appointments = _repository(actor)
    _readable(appointments, appointment_id, actor, CHANGE)
    return scheduling.series_cancel_from(
        appointments=appointments, appointment_id=appointment_id, by=by, reason=reason, now=now
    )


def appointments_mark_no_shows(
    *, actor, now: dt.datetime | None = None, grace: dt.timedelta | None = None, dry_run: bool = False
) -> NoShowRun:
    """Mark as no-shows the overdue scheduled appointments `actor` may act on (all, unless restricted)."""
    access.require(actor, CHANGE)

    def visible(due: list[domain.Appointment]) -> list[domain.Appointment]:
        seen = set(
            access.visible_patients(actor).filter(pk__in={item.patient_id for item in due}).values_list("pk", flat=True)
        )
        return [item for item in due if item.patient_id in seen]

    return scheduling.appointments_mark_no_shows(
        appointments=_repository(actor), now=now, grace=grace, dry_run=dry_run, select=visible
    )


# --- helpers -------------------------------------------------------------------------------------


def _repository(actor) -> repository.DjangoAppointmentRepository:
    return repository.DjangoAppointmentRepository(actor=audit.require_actor(actor))


def _readable(appointments, appointment_id, actor, permission: str) -> domain.Appointment:
    """Return the stored appointment after the policy allowed `actor` `permission` on its patient."""
    access.require(actor, permission)
    current = appointments.get_by_id(appointment_id) if appointment_id is not None else None
    if current is None:
        raise NotFound(f"No appointment with id {appointment_id}.")
    access.require(actor, permission, patient_id=current.patient_id)
    return current


def _care_follows_booking(appointment: domain.Appointment, *, actor) -> None:
    """Put the booked clinician on the patient's care team when `actor` may assign care.

    A clinician outside the care roles needs no assignment (the policy does not restrict them),
    and an actor who may not assign care (a clinician booking) creates none.
    """
    if not access.may_assign_care(actor):
        return
    clinician = get_user_model().objects.filter(pk=appointment.clinician_id).first()
    if clinician is None or not access.is_care_clinician(clinician):
        return
    patient_services.care_assign(patient_id=appointment.patient_id, clinician=clinician, actor=actor)
