"""The scheduling rules that span appointments, on any AppointmentRepository.

Plain rules over the repository interface, so the unit tests run them on an in-memory fake:
they neither know who is acting nor ask the access policy. Nothing but `appointments.services`
(the write door, which asks the policy first) calls the writing functions here.

Each function writes through the repository it is given, so the repository's actor is the one
attributed, and every multi-row write is one repository call, which is atomic. The double
booking rule is `booking_problems`: booking, moving, rescheduling, series and the admin form all
call it; on PostgreSQL exclusion constraints back it up against concurrent bookings, and the
repository reports their refusal as the same `domain.BookingConflict`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Callable, Collection

from django.utils import timezone

from appointments import domain, policy
from novamind.domain import ConcurrencyError, NotFound, RuleViolation, new_id

KEEP = object()  # "leave as it is", for the optional changes of a reschedule


def conflicts_for(
    candidate: domain.Appointment, *, appointments: domain.AppointmentRepository, ignore: Collection[uuid.UUID] = ()
) -> list[domain.Conflict]:
    """Return the existing appointments `candidate` would double-book, ignoring `ignore`."""
    others = appointments.overlapping(
        start=candidate.start,
        end=candidate.end,
        clinician_id=candidate.clinician_id,
        patient_id=candidate.patient_id,
        room_id=candidate.room_id,
    )
    return domain.find_conflicts(candidate, [other for other in others if other.id not in ignore])


def booking_problems(
    candidate: domain.Appointment,
    *,
    appointments: domain.AppointmentRepository,
    now: dt.datetime | None = None,
    before: domain.Appointment | None = None,
    ignore: Collection[uuid.UUID] = (),
) -> None:
    """Raise RuleViolation (BookingConflict for a clash) unless `candidate` may take its slot.

    The one check for a new or moved booking: the patient, clinician and room can be booked,
    the day has not passed (unless the times are unchanged from `before`), and no clinician,
    patient or room would be booked twice. `candidate` must already be `validated()`.
    """
    now = now or timezone.now()
    zone = policy.zone()
    errors = {field: list(messages) for field, messages in appointments.party_problems(candidate).items()}
    moved = before is None or (before.start, before.end) != (candidate.start, candidate.end)
    if moved and candidate.start.astimezone(zone).date() < now.astimezone(zone).date():
        errors.setdefault("start", []).append("An appointment cannot be booked on a day that has passed.")
    conflicts = conflicts_for(candidate, appointments=appointments, ignore=ignore)
    if conflicts:
        raise domain.BookingConflict(conflicts, zone, extra=errors)
    if errors:
        raise RuleViolation(errors)


def appointment_book(
    *, appointments: domain.AppointmentRepository, appointment: domain.Appointment, now: dt.datetime | None = None
) -> domain.Appointment:
    """Book `appointment` (scheduled) and return it as stored."""
    if appointment.status is not domain.Status.SCHEDULED:
        raise RuleViolation({"status": ["A new appointment starts out scheduled."]})
    now = now or timezone.now()
    candidate = appointment.validated(longest=policy.longest(), today=_today(now))
    booking_problems(candidate, appointments=appointments, now=now)
    return appointments.add(candidate, reason="Booked")


def appointment_change(
    *, appointments: domain.AppointmentRepository, appointment: domain.Appointment, now: dt.datetime | None = None
) -> domain.Appointment:
    """Store changed details of a scheduled appointment (move it, change room, kind or reason)."""
    now = now or timezone.now()
    before = _existing(appointments, appointment.id)
    _check_version(before, appointment.audit.version if appointment.audit else None)
    moved = (before.start, before.end) != (appointment.start, appointment.end)
    candidate = appointment.validated(longest=policy.longest(), today=_today(now) if moved else None)
    domain.check_change(before, candidate)
    if any(getattr(before, name) != getattr(candidate, name) for name in domain.SCHEDULING_FIELDS):
        booking_problems(candidate, appointments=appointments, now=now, before=before)
    return appointments.update(candidate, reason="Moved" if moved else "Details changed")


def appointment_check_in(
    *,
    appointments: domain.AppointmentRepository,
    appointment_id: uuid.UUID,
    version: int | None = None,
    now: dt.datetime | None = None,
) -> domain.Appointment:
    """Record that the patient has arrived."""
    return _transition(
        appointments, appointment_id, version, now, "Checked in", lambda current, at: current.check_in(at=at)
    )


def appointment_complete(
    *,
    appointments: domain.AppointmentRepository,
    appointment_id: uuid.UUID,
    version: int | None = None,
    now: dt.datetime | None = None,
) -> domain.Appointment:
    """Record that the visit took place."""
    return _transition(
        appointments, appointment_id, version, now, "Completed", lambda current, at: current.complete(at=at)
    )


def appointment_mark_no_show(
    *,
    appointments: domain.AppointmentRepository,
    appointment_id: uuid.UUID,
    version: int | None = None,
    now: dt.datetime | None = None,
) -> domain.Appointment:
    """Record that the patient did not come."""
    return _transition(
        appointments, appointment_id, version, now, "Marked no-show", lambda current, at: current.mark_no_show(at=at)
    )


def appointment_cancel(
    *,
    appointments: domain.AppointmentRepository,
    appointment_id: uuid.UUID,
    by: domain.CancelledBy,
    reason: str,
    version: int | None = None,
    now: dt.datetime | None = None,
) -> domain.Appointment:
    """Cancel the appointment on behalf of `by`, flagged late inside the configured window."""
    window = policy.late_cancellation_window()
    by = domain.CancelledBy(by)

    def cancel(current, at):
        return current.cancel(at=at, by=by, reason=reason, late_window=window)

    # The history row's reason is plaintext: it says who cancelled, never why (that is PHI).
    return _transition(appointments, appointment_id, version, now, f"Cancelled by the {by.value}", cancel)


def appointment_reschedule(
    *,
    appointments: domain.AppointmentRepository,
    appointment_id: uuid.UUID,
    start: dt.datetime,
    end: dt.datetime,
    clinician_id=KEEP,
    modality=KEEP,
    room_id=KEEP,
    version: int | None = None,
    now: dt.datetime | None = None,
) -> tuple[domain.Appointment, domain.Appointment]:
    """Book a replacement at the new time and mark this appointment rescheduled, linked to it.

    Both happen or neither. The replacement may overlap the old slot (moved by half an hour):
    the old appointment releases its time in the same transaction.
    """
    now = now or timezone.now()
    current = _existing(appointments, appointment_id)
    _check_version(current, version)
    if domain.Status.RESCHEDULED not in domain.TRANSITIONS[current.status]:
        raise domain.TransitionRefused(current.status, domain.Status.RESCHEDULED)
    changes = {"start": start, "end": end}
    for name, value in (("clinician_id", clinician_id), ("modality", modality), ("room_id", room_id)):
        if value is not KEEP:
            changes[name] = value
    replacement = dataclasses.replace(current, id=new_id(), audit=None, **changes).validated(
        longest=policy.longest(), today=_today(now)
    )
    booking_problems(replacement, appointments=appointments, now=now, ignore={current.id})
    old = current.mark_rescheduled(at=now, replacement_id=replacement.id)
    return appointments.replace(old, replacement)


# --- recurring series --------------------------------------------------------------------------


def series_plan(
    *, appointments: domain.AppointmentRepository, series: domain.Series, now: dt.datetime | None = None
) -> tuple[domain.Series, list[domain.PlannedOccurrence]]:
    """Return the checked series and every appointment it would create, with its clashes.

    Raises RuleViolation for what no date could fix (a telehealth room, a series of one, an
    inactive patient, a first date that has passed); clashes are listed, not raised.
    """
    now = now or timezone.now()
    zone = policy.zone()
    series = series.validated(longest=policy.longest(), zone=zone, today=_today(now))
    first = series.first()
    errors = {field: list(messages) for field, messages in appointments.party_problems(first).items()}
    if first.start.astimezone(zone).date() < now.astimezone(zone).date():
        errors.setdefault("start", []).append("A series cannot start on a day that has passed.")
    if errors:
        raise RuleViolation(errors)
    plan = [
        domain.PlannedOccurrence(occurrence, tuple(conflicts_for(occurrence, appointments=appointments)))
        for occurrence in series.occurrences(zone)
    ]
    return series, plan


def series_book(
    *, appointments: domain.AppointmentRepository, series: domain.Series, now: dt.datetime | None = None
) -> tuple[domain.Series, list[domain.Appointment]]:
    """Create the series and all its appointments, or nothing when any of them would clash."""
    series, plan = series_plan(appointments=appointments, series=series, now=now)
    if any(item.conflicts for item in plan):
        raise domain.SeriesConflict(plan, policy.zone())
    try:
        return appointments.add_series(series, [item.appointment for item in plan])
    except domain.BookingConflict:
        # Someone booked one of the slots between our check and our insert; the database refused
        # the whole series. List the clashes as they are now.
        _, plan = series_plan(appointments=appointments, series=series, now=now)
        if any(item.conflicts for item in plan):
            raise domain.SeriesConflict(plan, policy.zone()) from None
        raise


def series_cancel_from(
    *,
    appointments: domain.AppointmentRepository,
    appointment_id: uuid.UUID,
    by: domain.CancelledBy,
    reason: str,
    now: dt.datetime | None = None,
) -> list[domain.Appointment]:
    """Cancel this appointment and every later scheduled one of its series, all or none."""
    now = now or timezone.now()
    current = _existing(appointments, appointment_id)
    if current.series_id is None:
        raise RuleViolation({"series": [f"{domain.label(current.id).capitalize()} is not part of a series."]})
    targets = [
        item
        for item in appointments.list_for_series(current.series_id)
        if item.start >= current.start and item.status is domain.Status.SCHEDULED
    ]
    if not targets:
        raise RuleViolation({"series": ["No scheduled appointment of this series is left from this one on."]})
    window = policy.late_cancellation_window()
    by = domain.CancelledBy(by)
    cancelled = [item.cancel(at=now, by=by, reason=reason, late_window=window) for item in targets]
    return appointments.update_all(cancelled, reason=f"Cancelled with the rest of its series by the {by.value}")


# --- no-shows ------------------------------------------------------------------------------------


@dataclasses.dataclass
class NoShowRun:
    """What `appointments_mark_no_shows` found and did."""

    due: list[domain.Appointment]
    marked: list[domain.Appointment]
    skipped: list[tuple[domain.Appointment, str]]


def appointments_mark_no_shows(
    *,
    appointments: domain.AppointmentRepository,
    now: dt.datetime | None = None,
    grace: dt.timedelta | None = None,
    dry_run: bool = False,
    select: Callable[[list[domain.Appointment]], list[domain.Appointment]] | None = None,
) -> NoShowRun:
    """Mark as no-shows the scheduled appointments that ended more than `grace` ago.

    Each is marked on its own: one that staff check in or cancel meanwhile is skipped and
    reported, and does not hold back the others. `select`, when given, keeps only the overdue
    appointments the caller may act on.
    """
    now = now or timezone.now()
    grace = policy.no_show_grace() if grace is None else grace
    if grace < dt.timedelta(0):
        raise RuleViolation({"grace": ["The grace period cannot be negative."]})
    due = appointments.overdue(ended_before=now - grace)
    if select is not None:
        due = select(due)
    run = NoShowRun(due=due, marked=[], skipped=[])
    if dry_run:
        return run
    for appointment in due:
        try:
            run.marked.append(
                appointments.update(appointment.mark_no_show(at=now), reason="Marked no-show (not checked in)")
            )
        except (ConcurrencyError, RuleViolation) as error:
            run.skipped.append((appointment, str(error)))
    return run


# --- helpers -------------------------------------------------------------------------------------


def _today(now: dt.datetime) -> dt.date:
    return now.astimezone(policy.zone()).date()


def _existing(appointments: domain.AppointmentRepository, appointment_id) -> domain.Appointment:
    appointment = appointments.get_by_id(appointment_id) if appointment_id is not None else None
    if appointment is None:
        raise NotFound(f"No appointment with id {appointment_id}.")
    return appointment


def _check_version(current: domain.Appointment, version: int | None) -> None:
    if version is not None and current.audit is not None and current.audit.version != version:
        raise ConcurrencyError("Appointment", domain.label(current.id), version, current.audit.version)


def _transition(
    appointments: domain.AppointmentRepository,
    appointment_id,
    version: int | None,
    now: dt.datetime | None,
    reason: str,
    change: Callable[[domain.Appointment, dt.datetime], domain.Appointment],
) -> domain.Appointment:
    current = _existing(appointments, appointment_id)
    _check_version(current, version)
    return appointments.update(change(current, now or timezone.now()), reason=reason)
