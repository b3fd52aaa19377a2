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

from appointments import domain, models, repository
from novamind import access
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
    name = user.get_full_name() or user.get_username()
    profile = getattr(user, "staff_profile", None)
    return f"{name}, {profile.credentials}" if profile is not None and profile.credentials else name


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
