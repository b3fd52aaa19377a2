"""What staff read off the schedule: a clinician's day at a glance, for the admin and for print.

Read-only. One function builds the day sheet for both the admin page and the `day_sheet`
command, asks the access policy which rows the reader may see (a clinician sees a colleague's
day only where they share the patient), and records in the access log that the patients on it
were shown to the reader.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.db import transaction
from django.utils import timezone

from appointments import domain, models, policy, repository
from novamind import access
from novamind.domain import AccessDenied, RuleViolation
from novamind.models import staff_label
from patients import display
from patients import models as patient_models
from patients import policy as access_policy

ACCESS_CATEGORY = "appointments"


@dataclasses.dataclass(frozen=True)
class DaySheetRow:
    """One appointment on the sheet, with the names staff need beside it."""

    appointment: domain.Appointment
    patient: display.PatientLabel
    room: str

    @property
    def patient_name(self) -> str:
        """Return the patient's name ("" where the reader may see the MRN only)."""
        return self.patient.name

    @property
    def mrn(self) -> str:
        """Return the patient's MRN."""
        return self.patient.mrn

    @property
    def start(self) -> dt.datetime:
        """Return the local start time."""
        return timezone.localtime(self.appointment.start)

    @property
    def end(self) -> dt.datetime:
        """Return the local end time."""
        return timezone.localtime(self.appointment.end)

    @property
    def place(self) -> str:
        """Return the room, or "Telehealth"."""
        return self.room if self.appointment.modality is domain.Modality.IN_PERSON else domain.Modality.TELEHEALTH.label


@dataclasses.dataclass(frozen=True)
class DaySheet:
    """A clinician's appointments on one local day, in order."""

    clinician: str
    day: dt.date
    rows: list[DaySheetRow]
    hidden: int = 0  # appointments of patients outside the reader's care, left out

    @property
    def booked(self) -> list[DaySheetRow]:
        """Return the rows that hold time (scheduled, checked in, completed)."""
        return [row for row in self.rows if row.appointment.holds_time]

    @property
    def released(self) -> list[DaySheetRow]:
        """Return the cancelled, no-show and rescheduled rows."""
        return [row for row in self.rows if not row.appointment.holds_time]

    @property
    def booked_minutes(self) -> int:
        """Return the minutes of the day that are booked."""
        return sum(int(row.appointment.duration.total_seconds() // 60) for row in self.booked)


def clinician_label(user) -> str:
    """Return "Dana Lee, MD" (or the username when no name is on file)."""
    return staff_label(user)


def day_sheet(*, clinician, day: dt.date, reader, request=None, action: str = "day sheet") -> DaySheet:
    """Return `clinician`'s day sheet for `day`, logging its patients as shown to `reader`.

    Raises AccessDenied unless `reader` may view appointments; lists only the appointments of
    patients `reader` may see.
    """
    access_policy.require(reader, "appointments.view_appointment")
    # The reads and the entries are one transaction: the sheet is on record for every patient on it or for none.
    with transaction.atomic():
        return _day_sheet(clinician=clinician, day=day, reader=reader, request=request, action=action)


def _day_sheet(*, clinician, day: dt.date, reader, request, action: str) -> DaySheet:
    every = repository.DjangoAppointmentRepository(actor=reader).list_for_clinician(clinician.pk, day=day)
    # The sheet names its patients (patients.display): of each, only the label's columns are read.
    patient_rows = {
        row.pk: row
        for row in access_policy.visible_patients(
            reader, patient_models.Patient.objects.filter(pk__in={a.patient_id for a in every})
        ).only(*display.LABEL_FIELDS)
    }
    named = display.may_read_names(reader)
    appointments = [a for a in every if a.patient_id in patient_rows]
    rooms = dict(
        models.Room.objects.filter(pk__in={a.room_id for a in appointments if a.room_id}).values_list("pk", "name")
    )
    rows = []
    for appointment in appointments:
        patient = patient_rows[appointment.patient_id]
        rows.append(
            DaySheetRow(
                appointment=appointment,
                patient=display.PatientLabel.of(patient) if named else display.PatientLabel(patient.pk, patient.mrn),
                room=rooms.get(appointment.room_id, ""),
            )
        )
    for patient in patient_rows.values():
        access.record(
            user=reader,
            action=action,
            category=ACCESS_CATEGORY,
            patient=patient,
            request=request,
            detail=f"day sheet of {clinician.get_username()} for {day.isoformat()}",
        )
    return DaySheet(clinician=clinician_label(clinician), day=day, rows=rows, hidden=len(every) - len(appointments))


def format_text(sheet: DaySheet) -> str:
    """Return the sheet as plain text for printing."""
    lines = [
        f"Day sheet — {sheet.clinician} — {sheet.day:%A} {sheet.day.day} {sheet.day:%B %Y}",
        f"{len(sheet.booked)} appointment(s), {sheet.booked_minutes // 60} h {sheet.booked_minutes % 60:02d} min booked",
        "",
    ]
    if not sheet.rows:
        lines.append("No appointments.")
    if sheet.hidden:
        lines.extend([f"{sheet.hidden} appointment(s) of patients outside your care are not shown.", ""])
    for title, rows in (("Booked", sheet.booked), ("Cancelled, no-show or rescheduled", sheet.released)):
        if not rows:
            continue
        lines.append(f"{title}:")
        for row in rows:
            appointment = row.appointment
            flag = " (late)" if appointment.late_cancellation else ""
            lines.append(
                f"  {row.start:%H:%M}–{row.end:%H:%M}  {appointment.kind.label:<22} {row.place:<14} "
                f"{row.mrn}  {row.patient_name:<32} {row.patient.born():<18} {appointment.status.label}{flag}"
            )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


# --- the patient's label -------------------------------------------------------------------------

# The patient fields a label reads (patients.display): only these are loaded, so nothing else is decrypted.
PATIENT_LABEL_FIELDS = display.LABEL_FIELDS


def patient_label(patient, reader) -> str:
    """Return how the week calendar and the free-slot finder name a patient `reader` may see.

    The name, date of birth and MRN (`patients.display`); the MRN alone for a role without the
    right to names.
    """
    return display.patient_label(patient) if display.may_read_names(reader) else patient.mrn


# --- free slots ----------------------------------------------------------------------------------

MAX_WEEKS = 8
FREE_SLOTS_ACTION = "free slots"
ADD_PERMISSION = "appointments.add_appointment"


def slot_clinicians(reader):
    """Return the clinicians whose free time `reader` may look for: every bookable one, or only themself.

    A user in a care role (patients.policy.is_restricted) books only their own patients, and their
    booking puts nobody on a care team: booked with a colleague, the visit would be one the
    colleague cannot open. So the finder offers them their own time; the front desk, everyone's.
    """
    clinicians = repository.bookable_clinicians()
    return clinicians.filter(pk=reader.pk) if access_policy.is_restricted(reader) else clinicians


@dataclasses.dataclass(frozen=True)
class FreeSlots:
    """The free slots of one length over some weeks, by working day (a full day has none)."""

    clinician: str
    kind: domain.Kind
    first_day: dt.date
    last_day: dt.date
    hours: str
    days: list[tuple[dt.date, list[domain.Slot]]]

    @property
    def length_minutes(self) -> int:
        """Return the length of each slot, in minutes."""
        return int(self.kind.default_length.total_seconds() // 60)

    @property
    def count(self) -> int:
        """Return how many slots are free."""
        return sum(len(slots) for _, slots in self.days)


def free_slots(
    *,
    clinician,
    kind: domain.Kind,
    reader,
    first_day: dt.date,
    weeks: int = 2,
    room_id=None,
    patient=None,
    request=None,
    now: dt.datetime | None = None,
) -> FreeSlots:
    """Return the free slots of `kind`'s length for `clinician` over `weeks` weeks from `first_day`.

    A slot is inside working hours (NOVAMIND_WORKING_HOURS) and overlaps no time-holding
    appointment of the clinician, of the room `room_id` or of the `patient`, when given. Raises
    AccessDenied unless `reader` may book (and may see the patient, and look for this clinician's
    time: `slot_clinicians`). One range scan of the schedule's indexes, however full it is; asked
    for a patient, the page is in the access log (it shows when that patient is free).
    """
    access_policy.require(reader, ADD_PERMISSION, patient_id=patient.pk if patient is not None else None)
    if not slot_clinicians(reader).filter(pk=clinician.pk).exists():
        raise AccessDenied(f"{reader.get_username()} may look for their own free time only.")
    if not 1 <= weeks <= MAX_WEEKS:
        raise RuleViolation({"weeks": [f"Look 1 to {MAX_WEEKS} weeks ahead."]})
    days = 7 * weeks
    hours, zone = policy.working_hours(), policy.zone()
    with transaction.atomic():
        busy = list(
            busy_spans(
                first_day=first_day,
                days=days,
                clinician_id=clinician.pk,
                room_id=room_id,
                patient_id=patient.pk if patient is not None else None,
            )
        )
        if patient is not None:
            access.record(
                user=reader,
                action=FREE_SLOTS_ACTION,
                category=ACCESS_CATEGORY,
                patient=patient,
                request=request,
                detail=f"free slots of {clinician.get_username()} from {first_day.isoformat()}, {weeks} week(s)",
            )
    found = domain.free_slots(
        busy,
        first_day=first_day,
        days=days,
        hours=hours,
        length=kind.default_length,
        zone=zone,
        now=now or timezone.now(),
    )
    by_day: dict[dt.date, list[domain.Slot]] = {}
    for slot in found:
        by_day.setdefault(slot.start.date(), []).append(slot)
    working_days = [
        first_day + dt.timedelta(days=offset)
        for offset in range(days)
        if hours.window(first_day + dt.timedelta(days=offset), zone) is not None
    ]
    return FreeSlots(
        clinician=clinician_label(clinician),
        kind=kind,
        first_day=first_day,
        last_day=first_day + dt.timedelta(days=days - 1),
        hours=hours.describe(),
        days=[(day, by_day.get(day, [])) for day in working_days],
    )


def busy_spans(*, first_day: dt.date, days: int, clinician_id, room_id=None, patient_id=None):
    """Return (start, end) of every time-holding appointment of these parties in the local days asked.

    One query: a range scan of each party's (party, start) index, bounded on both sides
    (`repository.conflict_candidates`), whatever the schedule holds before or after.
    """
    start, _ = repository.day_bounds(first_day)
    end, _ = repository.day_bounds(first_day + dt.timedelta(days=days))
    holding = repository.conflict_candidates(
        start=start, end=end, clinician_id=clinician_id, room_id=room_id, patient_id=patient_id
    )
    return models.Appointment.objects.filter(holding).values_list("start", "end")


# --- the week calendar ---------------------------------------------------------------------------

WEEK_ACTION = "week calendar"
PX_PER_MINUTE = 1.5  # 20 minutes show the time and the patient; 30 minutes the kind and status too
SMALLEST_BLOCK = 8  # pixels: a five-minute visit stays visible (its title says the rest)


@dataclasses.dataclass(frozen=True)
class WeekBlock:
    """One appointment on the calendar; `label` is empty when the reader may not see its patient."""

    appointment_id: object
    start: dt.datetime
    end: dt.datetime
    kind: domain.Kind
    status: domain.Status
    late_cancellation: bool
    label: str
    top: int = 0
    height: int = 0

    @property
    def visible(self) -> bool:
        """Return whether the reader may see the patient (and so open the appointment)."""
        return bool(self.label)

    @property
    def status_text(self) -> str:
        """Return the status as staff read it, a late cancellation marked."""
        return self.status.label + (" (late)" if self.late_cancellation else "")


@dataclasses.dataclass(frozen=True)
class WeekDay:
    """One day's column: the appointments that hold time, and the visible ones that no longer do."""

    day: dt.date
    blocks: list[WeekBlock]
    released: list[WeekBlock]


@dataclasses.dataclass(frozen=True)
class WeekCalendar:
    """A clinician's week, Monday first, laid out for drawing: pixel offsets from the first hour."""

    clinician: str
    monday: dt.date
    days: list[WeekDay]
    hours: list[tuple[str, int]]  # ("08:00", pixels from the top) for each hour line
    height: int
    busy: int  # appointments drawn as "busy": their patient is outside the reader's care
    shown: int

    @property
    def sunday(self) -> dt.date:
        """Return the last day of the week."""
        return self.monday + dt.timedelta(days=6)

    @property
    def hour_height(self) -> int:
        """Return how many pixels high an hour is drawn."""
        return round(60 * PX_PER_MINUTE)

    @property
    def released(self) -> bool:
        """Return whether any day lists appointments that no longer hold their time."""
        return any(day.released for day in self.days)


def week_of(day: dt.date) -> dt.date:
    """Return the Monday of `day`'s week."""
    return day - dt.timedelta(days=day.weekday())


def week_calendar(*, clinician, day: dt.date, reader, request=None) -> WeekCalendar:
    """Return `clinician`'s week (the one holding `day`), as `reader` may see it, and log the page.

    Raises AccessDenied unless `reader` may view appointments. Every appointment starting in the
    week is on it; one whose patient `reader` may not see is "busy", with neither patient nor
    link. Three reads (appointments, visible patients, nothing decrypted but the label's fields)
    and one access-log entry, as a list writes, however full the week is.
    """
    access_policy.require(reader, "appointments.view_appointment")
    monday = week_of(day)
    with transaction.atomic():
        rows = list(week_rows(clinician_id=clinician.pk, monday=monday))
        patients = {
            patient.pk: patient
            for patient in access_policy.visible_patients(
                reader, patient_models.Patient.objects.filter(pk__in={row["patient_id"] for row in rows})
            ).only(*PATIENT_LABEL_FIELDS)
        }
        shown = sum(1 for row in rows if row["patient_id"] in patients)
        access.record(
            user=reader,
            action=WEEK_ACTION,
            category=ACCESS_CATEGORY,
            request=request,
            detail=f"week of {clinician.get_username()} from {monday.isoformat()}: "
            f"{shown} appointment(s) shown, {len(rows) - shown} as busy",
        )
    return _laid_out(clinician, monday, rows, patients, policy.working_hours(), reader)


def week_rows(*, clinician_id, monday: dt.date):
    """Return the clinician's appointments starting in the week from `monday`, as plain values.

    A range scan of the (clinician, start) index; no encrypted column is read.
    """
    start, _ = repository.day_bounds(monday)
    end, _ = repository.day_bounds(monday + dt.timedelta(days=7))
    return (
        models.Appointment.objects.filter(clinician_id=clinician_id, start__gte=start, start__lt=end)
        .order_by("start")
        .values("id", "patient_id", "start", "end", "kind", "status", "late_cancellation")
    )


def _laid_out(
    clinician, monday: dt.date, rows: list[dict], patients: dict, hours: domain.WorkingHours, reader
) -> WeekCalendar:
    zone = policy.zone()
    blocks: dict[dt.date, list[WeekBlock]] = {}
    for row in rows:
        start, end = row["start"].astimezone(zone), row["end"].astimezone(zone)
        patient = patients.get(row["patient_id"])
        block = WeekBlock(
            appointment_id=row["id"],
            start=start,
            end=end,
            kind=domain.Kind(row["kind"]),
            status=domain.Status(row["status"]),
            late_cancellation=row["late_cancellation"],
            label=patient_label(patient, reader) if patient is not None else "",
        )
        blocks.setdefault(start.date(), []).append(block)
    week = [monday + dt.timedelta(days=offset) for offset in range(7)]
    # Monday to Friday always; the weekend too when the clinic works then or something is booked.
    weekend = any(day.weekday() in hours.days or day in blocks for day in week[5:])
    shown_days = week if weekend else week[:5]
    holding = [block for day in shown_days for block in blocks.get(day, []) if block.status.holds_time]
    opening = [hours.days[day.weekday()] for day in shown_days if day.weekday() in hours.days]
    first = min([_minute(opens) for opens, _ in opening] + [_minute(block.start) for block in holding] or [8 * 60])
    last = max([_minute(closes) for _, closes in opening] + [_end_minute(block) for block in holding] or [18 * 60])
    first, last = first // 60 * 60, min(-(-last // 60) * 60, 24 * 60)
    days = []
    for day in shown_days:
        placed, released = [], []
        for block in blocks.get(day, []):
            if not block.status.holds_time:
                if block.visible:  # a cancelled visit of someone else's patient says nothing useful
                    released.append(block)
                continue
            top = round((_minute(block.start) - first) * PX_PER_MINUTE)
            height = max(round((_end_minute(block) - _minute(block.start)) * PX_PER_MINUTE), SMALLEST_BLOCK)
            placed.append(dataclasses.replace(block, top=top, height=height))
        days.append(WeekDay(day=day, blocks=placed, released=released))
    return WeekCalendar(
        clinician=clinician_label(clinician),
        monday=monday,
        days=days,
        hours=[
            (f"{minute // 60:02d}:00", round((minute - first) * PX_PER_MINUTE)) for minute in range(first, last + 1, 60)
        ],
        height=round((last - first) * PX_PER_MINUTE),
        busy=sum(1 for day in days for block in day.blocks if not block.visible),
        shown=sum(1 for day in days for block in [*day.blocks, *day.released] if block.visible),
    )


def _minute(moment) -> int:
    return moment.hour * 60 + moment.minute


def _end_minute(block: WeekBlock) -> int:
    # A visit running past midnight is drawn to the end of its first day.
    return _minute(block.end) if block.end.date() == block.start.date() else 24 * 60
