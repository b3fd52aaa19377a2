"""Appointments: when a patient sees a clinician, and what became of the visit.

Plain Python, standard library only. The status lifecycle is written once, here, in
`TRANSITIONS`; double booking is decided once, here, by `find_conflicts`, which the services,
the admin form and the repository all call.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import re
import uuid
from collections.abc import Iterable, Sequence
from typing import Protocol

from novamind.domain import AuditInfo, Collector, RuleViolation, date_bounds_error, years_from

SHORTEST = dt.timedelta(minutes=5)
# Whatever NOVAMIND_MAX_APPOINTMENT_MINUTES says, no appointment is ever longer than this. The
# overlap queries rely on it: an appointment that overlaps [start, end) must have started after
# start - LONGEST_EVER, so the search is a short range scan of one index whatever the history.
LONGEST_EVER = dt.timedelta(hours=12)
REASON_MAX = 1000
CANCELLATION_REASON_MAX = 500
MAX_OCCURRENCES = 52
# How far from today an appointment may start: far enough back to record a missed visit, far
# enough ahead for any real plan, and never near the calendar's end, where converting a local
# time to UTC overflows (9999-12-31 23:00 in New York is year 10,000 in UTC).
YEARS_BACK = 10
YEARS_AHEAD = 5
LONGEST_SERIES = dt.timedelta(days=366)


class Kind(str, enum.Enum):
    """What the visit is for."""

    INTAKE = "intake"
    THERAPY = "therapy"
    MEDICATION_MANAGEMENT = "medication_management"
    GROUP = "group"
    OTHER = "other"

    @property
    def label(self) -> str:
        """Return the name staff read."""
        return {
            "intake": "Intake",
            "therapy": "Therapy",
            "medication_management": "Medication management",
            "group": "Group",
            "other": "Other",
        }[self.value]

    @property
    def default_length(self) -> dt.timedelta:
        """Return how long a visit of this kind lasts unless staff give its end (USUAL_LENGTHS)."""
        return dt.timedelta(minutes=USUAL_LENGTHS[self.value])


# How long each kind of visit usually lasts, in minutes: the end a booking gets when staff leave it
# empty (an end they give always wins). An intake (diagnostic evaluation) takes an hour; therapy the
# 50-minute "therapeutic hour" (a 53-minute or longer session is booked with its end); medication
# management a 30-minute follow-up (a 20-minute check is booked with its end); a group 90 minutes.
USUAL_LENGTHS = {
    "intake": 60,
    "therapy": 50,
    "medication_management": 30,
    "group": 90,
    "other": 30,
}


class Modality(str, enum.Enum):
    """Where the visit happens."""

    IN_PERSON = "in_person"
    TELEHEALTH = "telehealth"

    @property
    def label(self) -> str:
        """Return the name staff read."""
        return {"in_person": "In person", "telehealth": "Telehealth"}[self.value]


class Status(str, enum.Enum):
    """Where the appointment is in its lifecycle; see TRANSITIONS."""

    SCHEDULED = "scheduled"
    CHECKED_IN = "checked_in"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"
    RESCHEDULED = "rescheduled"

    @property
    def label(self) -> str:
        """Return the name staff read."""
        return {
            "scheduled": "Scheduled",
            "checked_in": "Checked in",
            "completed": "Completed",
            "cancelled": "Cancelled",
            "no_show": "No-show",
            "rescheduled": "Rescheduled",
        }[self.value]

    @property
    def holds_time(self) -> bool:
        """Return whether an appointment in this status occupies its clinician, patient and room."""
        return self in TIME_HOLDING


# The lifecycle, written once. A rescheduled appointment is replaced by a new one (replaced_by);
# a cancelled, no-show or rescheduled one no longer holds its time.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.SCHEDULED: frozenset({Status.CHECKED_IN, Status.CANCELLED, Status.NO_SHOW, Status.RESCHEDULED}),
    Status.CHECKED_IN: frozenset({Status.COMPLETED}),
    Status.COMPLETED: frozenset(),
    Status.CANCELLED: frozenset(),
    Status.NO_SHOW: frozenset(),
    Status.RESCHEDULED: frozenset(),
}
TIME_HOLDING = frozenset({Status.SCHEDULED, Status.CHECKED_IN, Status.COMPLETED})
VERBS = {
    Status.CHECKED_IN: "checked in",
    Status.COMPLETED: "completed",
    Status.CANCELLED: "cancelled",
    Status.NO_SHOW: "marked as a no-show",
    Status.RESCHEDULED: "rescheduled",
    Status.SCHEDULED: "scheduled again",
}


class CancelledBy(str, enum.Enum):
    """Who called the visit off."""

    PATIENT = "patient"
    CLINIC = "clinic"

    @property
    def label(self) -> str:
        """Return the name staff read."""
        return {"patient": "Patient", "clinic": "Clinic"}[self.value]


class Frequency(str, enum.Enum):
    """How often a recurring series meets."""

    WEEKLY = "weekly"
    EVERY_TWO_WEEKS = "every_two_weeks"

    @property
    def label(self) -> str:
        """Return the name staff read."""
        return {"weekly": "Weekly", "every_two_weeks": "Every two weeks"}[self.value]

    @property
    def step(self) -> dt.timedelta:
        """Return the wall-clock distance between two occurrences."""
        return dt.timedelta(weeks=1 if self is Frequency.WEEKLY else 2)


class TransitionRefused(RuleViolation):
    """The appointment's status does not allow the change asked for; nothing was changed."""

    def __init__(self, current: Status, target: Status, detail: str = ""):
        self.current, self.target = current, target
        allowed = sorted(TRANSITIONS[current], key=lambda status: status.label)
        if detail:
            message = detail
        elif allowed:
            message = (
                f"This appointment is {current.label.lower()}; it cannot be {VERBS[target]}. "
                f"From {current.label.lower()} it can only be "
                f"{', '.join(VERBS[status] for status in allowed)}."
            )
        else:
            message = f"This appointment is {current.label.lower()}, which is final; it cannot be {VERBS[target]}."
        super().__init__({"status": [message]})


def short_id(value: uuid.UUID | None) -> str:
    """Return the first eight hex digits of an id: enough for staff to tell records apart."""
    return str(value)[:8] if value else "new"


def label(appointment_id: uuid.UUID | None) -> str:
    """Return the PHI-free name of an appointment, as the admin log and messages show it."""
    return f"appointment {short_id(appointment_id)}"


@dataclasses.dataclass(frozen=True)
class Appointment:
    """A booked visit of one patient with one clinician, and what became of it."""

    patient_id: uuid.UUID | None
    clinician_id: int | None
    start: dt.datetime | None
    end: dt.datetime | None
    kind: Kind = Kind.THERAPY
    modality: Modality = Modality.IN_PERSON
    room_id: uuid.UUID | None = None
    reason_for_visit: str = ""
    status: Status = Status.SCHEDULED
    status_changed_at: dt.datetime | None = None
    checked_in_at: dt.datetime | None = None
    cancelled_by: CancelledBy | None = None
    cancellation_reason: str = ""
    late_cancellation: bool = False
    replaced_by_id: uuid.UUID | None = None
    series_id: uuid.UUID | None = None
    id: uuid.UUID | None = None
    audit: AuditInfo | None = None

    @property
    def duration(self) -> dt.timedelta:
        """Return how long the appointment lasts."""
        return self.end - self.start

    @property
    def holds_time(self) -> bool:
        """Return whether the appointment occupies its clinician, patient and room."""
        return self.status.holds_time

    def overlaps(self, other: Appointment) -> bool:
        """Return whether the two time spans share any instant (back-to-back is not overlap)."""
        return self.start < other.end and other.start < self.end

    def validated(self, *, longest: dt.timedelta, today: dt.date | None = None) -> Appointment:
        """Return a tidied copy, or raise RuleViolation naming every field at fault.

        `longest` is the practice's maximum length (a setting); it can never exceed LONGEST_EVER.
        With `today`, the start must also lie within the bookable years around it (`start_error`):
        every new or moved booking passes it; an old visit that only changes status does not.
        An appointment given a start but no end ends after its kind's usual length (`usual_end`).
        """
        errors = Collector()
        end = usual_end(self.start, self.end, self.kind)
        _times(errors, self.start, end, min(longest, LONGEST_EVER))
        if today is not None and isinstance(self.start, dt.datetime):
            problem = start_error(self.start, today=today)
            if problem:
                errors.add("start", problem)
        if self.patient_id is None:
            errors.add("patient", "Choose the patient.")
        if self.clinician_id is None:
            errors.add("clinician", "Choose the clinician.")
        if self.modality is Modality.TELEHEALTH and self.room_id is not None:
            errors.add("room", "A telehealth visit has no room: clear the room, or make the visit in person.")
        if self.modality is Modality.IN_PERSON and self.room_id is None:
            errors.add("room", "Choose a room for an in-person visit.")
        reason = _text(errors, "reason_for_visit", self.reason_for_visit, REASON_MAX)
        cancellation_reason = _text(errors, "cancellation_reason", self.cancellation_reason, CANCELLATION_REASON_MAX)
        if self.status is Status.CANCELLED:
            if self.cancelled_by is None:
                errors.add("cancelled_by", "Say whether the patient or the clinic cancelled.")
            if not cancellation_reason:
                errors.add("cancellation_reason", "Give the reason for the cancellation.")
        elif self.cancelled_by is not None or cancellation_reason or self.late_cancellation:
            errors.add("status", "Only a cancelled appointment has a cancellation.")
        if self.status in (Status.CHECKED_IN, Status.COMPLETED) and self.checked_in_at is None:
            errors.add("checked_in_at", "A checked-in or completed visit has a check-in time.")
        if self.status is Status.RESCHEDULED and self.replaced_by_id is None:
            errors.add("replaced_by", "A rescheduled appointment links to its replacement.")
        if self.status is not Status.RESCHEDULED and self.replaced_by_id is not None:
            errors.add("replaced_by", "Only a rescheduled appointment has a replacement.")
        errors.raise_if_any()
        return dataclasses.replace(self, end=end, reason_for_visit=reason, cancellation_reason=cancellation_reason)

    # --- the lifecycle -------------------------------------------------------------------------

    def check_in(self, *, at: dt.datetime) -> Appointment:
        """Return the appointment with the patient checked in at `at`."""
        self._require(Status.CHECKED_IN)
        return dataclasses.replace(self, status=Status.CHECKED_IN, status_changed_at=at, checked_in_at=at)

    def complete(self, *, at: dt.datetime) -> Appointment:
        """Return the appointment completed at `at`."""
        self._require(Status.COMPLETED)
        if self.checked_in_at is not None and at < self.checked_in_at:
            raise TransitionRefused(
                self.status, Status.COMPLETED, "A visit cannot be completed before the patient checked in."
            )
        return dataclasses.replace(self, status=Status.COMPLETED, status_changed_at=at)

    def cancel(self, *, at: dt.datetime, by: CancelledBy, reason: str, late_window: dt.timedelta) -> Appointment:
        """Return the appointment cancelled at `at` by `by`, flagged late inside `late_window`."""
        self._require(Status.CANCELLED)
        reason = " ".join((reason or "").split())
        if not reason:
            raise RuleViolation({"cancellation_reason": ["Give the reason for the cancellation."]})
        if len(reason) > CANCELLATION_REASON_MAX:
            raise RuleViolation(
                {"cancellation_reason": [f"Use at most {CANCELLATION_REASON_MAX} characters (this has {len(reason)})."]}
            )
        return dataclasses.replace(
            self,
            status=Status.CANCELLED,
            status_changed_at=at,
            cancelled_by=CancelledBy(by),
            cancellation_reason=reason,
            late_cancellation=is_late_cancellation(self.start, at, late_window),
        )

    def mark_no_show(self, *, at: dt.datetime) -> Appointment:
        """Return the appointment recorded at `at` as a no-show."""
        self._require(Status.NO_SHOW)
        if at < self.start:
            raise TransitionRefused(
                self.status, Status.NO_SHOW, "A patient cannot be a no-show before the appointment has started."
            )
        return dataclasses.replace(self, status=Status.NO_SHOW, status_changed_at=at)

    def mark_rescheduled(self, *, at: dt.datetime, replacement_id: uuid.UUID) -> Appointment:
        """Return the appointment replaced at `at` by the appointment `replacement_id`."""
        self._require(Status.RESCHEDULED)
        return dataclasses.replace(self, status=Status.RESCHEDULED, status_changed_at=at, replaced_by_id=replacement_id)

    def _require(self, target: Status) -> None:
        if target not in TRANSITIONS[self.status]:
            raise TransitionRefused(self.status, target)


def start_bounds(today: dt.date) -> tuple[dt.date, dt.date]:
    """Return the first and last day an appointment may start on, seen from `today`."""
    return years_from(today, -YEARS_BACK), years_from(today, YEARS_AHEAD)


def start_error(start: dt.datetime | dt.date, *, today: dt.date) -> str | None:
    """Return why an appointment may not start on `start`'s (local) day, or None.

    From YEARS_BACK years before `today` to YEARS_AHEAD years after it; the day sheet's date
    obeys the same bounds.
    """
    day = start.date() if isinstance(start, dt.datetime) else start
    earliest, latest = start_bounds(today)
    return date_bounds_error(day, earliest=earliest, latest=latest)


def usual_end(start: dt.datetime | None, end: dt.datetime | None, kind: Kind) -> dt.datetime | None:
    """Return `end` if given, else `start` plus the usual length of `kind` (None without a start).

    The one rule for an end left empty, on every path: the admin's form, the services, the
    repository and the commands all reach it through `Appointment.validated`.
    """
    if end is not None or not isinstance(start, dt.datetime):
        return end
    return start + Kind(kind).default_length


def is_late_cancellation(start: dt.datetime, cancelled_at: dt.datetime, window: dt.timedelta) -> bool:
    """Return whether a cancellation at `cancelled_at` came less than `window` before `start`.

    Exactly `window` ahead is in time; a second later is late; after the start is late.
    """
    return start - cancelled_at < window


SCHEDULING_FIELDS = {
    "patient_id": "patient",
    "clinician_id": "clinician",
    "start": "start",
    "end": "end",
    "kind": "kind",
    "modality": "modality",
    "room_id": "room",
    "series_id": "series",
}
LIFECYCLE_FIELDS = (
    "status",
    "status_changed_at",
    "checked_in_at",
    "cancelled_by",
    "cancellation_reason",
    "late_cancellation",
    "replaced_by_id",
)


def check_change(before: Appointment, after: Appointment) -> None:
    """Raise RuleViolation unless `after` is a change `before` allows.

    The status may only follow TRANSITIONS, and only through the lifecycle methods above (the
    other lifecycle fields move with it); once an appointment has left "scheduled" the time,
    people, place and kind of the visit are history and no longer change.
    """
    if after.status != before.status:
        if after.status not in TRANSITIONS[before.status]:
            raise TransitionRefused(before.status, after.status)
    elif any(getattr(before, name) != getattr(after, name) for name in LIFECYCLE_FIELDS):
        raise RuleViolation(
            {"status": ["The check-in, cancellation and replacement details change only with the status."]}
        )
    if before.status is not Status.SCHEDULED:
        changed = [field for name, field in SCHEDULING_FIELDS.items() if getattr(before, name) != getattr(after, name)]
        if changed:
            raise RuleViolation(
                {
                    field: [f"This appointment is {before.status.label.lower()}; its {field} can no longer change."]
                    for field in changed
                }
            )


# --- double booking ------------------------------------------------------------------------------


class Party(str, enum.Enum):
    """What two overlapping appointments share."""

    CLINICIAN = "clinician"
    PATIENT = "patient"
    ROOM = "room"


@dataclasses.dataclass(frozen=True)
class Conflict:
    """`existing` holds `party` during part of the time the candidate asks for."""

    party: Party
    existing: Appointment

    def message(self, zone: dt.tzinfo) -> str:
        """Return the sentence staff read, naming the clashing appointment and its time."""
        subject = {
            Party.CLINICIAN: "The clinician is already booked then",
            Party.PATIENT: "The patient already has an appointment then",
            Party.ROOM: "The room is taken then",
        }[self.party]
        return f"{subject}: {label(self.existing.id)}, {span(self.existing, zone)}."


def span(appointment: Appointment, zone: dt.tzinfo) -> str:
    """Return "Tue 3 Mar 2026, 10:00–10:50" in `zone`."""
    start, end = appointment.start.astimezone(zone), appointment.end.astimezone(zone)
    day = f"{start:%a} {start.day} {start:%b %Y}"
    end_text = f"{end:%H:%M}" if end.date() == start.date() else f"{end:%a} {end.day} {end:%b} {end:%H:%M}"
    return f"{day}, {start:%H:%M}–{end_text}"


def find_conflicts(candidate: Appointment, others: Iterable[Appointment]) -> list[Conflict]:
    """Return every way `candidate` would double-book a clinician, a patient or a room.

    The one rule: among appointments that hold time, no clinician, patient or room has two that
    overlap. `others` may hold anything (the candidate itself, released slots): they are sifted
    here. A candidate that does not hold time conflicts with nothing.
    """
    if not candidate.holds_time:
        return []
    conflicts = []
    for other in others:
        if (candidate.id is not None and other.id == candidate.id) or not other.holds_time:
            continue
        if not candidate.overlaps(other):
            continue
        if other.clinician_id == candidate.clinician_id:
            conflicts.append(Conflict(Party.CLINICIAN, other))
        if other.patient_id == candidate.patient_id:
            conflicts.append(Conflict(Party.PATIENT, other))
        if candidate.room_id is not None and other.room_id == candidate.room_id:
            conflicts.append(Conflict(Party.ROOM, other))
    return sorted(conflicts, key=lambda conflict: (conflict.existing.start, conflict.party.value))


class BookingConflict(RuleViolation):
    """The slot would double-book a clinician, patient or room; nothing was written."""

    GENERIC = "Someone else booked this time a moment ago; choose another time."

    def __init__(self, conflicts: Sequence[Conflict], zone: dt.tzinfo, extra: dict[str, list[str]] | None = None):
        self.conflicts = list(conflicts)
        errors: dict[str, list[str]] = {field: list(messages) for field, messages in (extra or {}).items()}
        for conflict in self.conflicts:
            errors.setdefault(conflict.party.value, []).append(conflict.message(zone))
        if not errors:
            errors = {"start": [self.GENERIC]}
        super().__init__(errors)


# --- recurring series --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Series:
    """A weekly or fortnightly run of identical appointments, for a count or until a date.

    `start` and `end` are those of the first occurrence; later ones keep its wall-clock time in
    the clinic's time zone, across daylight-saving changes.
    """

    patient_id: uuid.UUID | None
    clinician_id: int | None
    start: dt.datetime | None
    end: dt.datetime | None
    frequency: Frequency = Frequency.WEEKLY
    count: int | None = None
    until: dt.date | None = None
    kind: Kind = Kind.THERAPY
    modality: Modality = Modality.IN_PERSON
    room_id: uuid.UUID | None = None
    reason_for_visit: str = ""
    id: uuid.UUID | None = None
    audit: AuditInfo | None = None

    def first(self) -> Appointment:
        """Return the first occurrence (with no id yet)."""
        return Appointment(
            patient_id=self.patient_id,
            clinician_id=self.clinician_id,
            start=self.start,
            end=self.end,
            kind=self.kind,
            modality=self.modality,
            room_id=self.room_id,
            reason_for_visit=self.reason_for_visit,
            series_id=self.id,
        )

    def validated(self, *, longest: dt.timedelta, zone: dt.tzinfo, today: dt.date | None = None) -> Series:
        """Return a tidied copy, or raise RuleViolation naming every field at fault.

        With `today`, the first start must lie within the bookable years (`start_error`). A first
        appointment given no end ends after the kind's usual length, and so do the others.
        """
        errors = Collector()
        try:
            first = self.first().validated(longest=longest, today=today)
        except RuleViolation as violation:
            for field, messages in violation.errors.items():
                for message in messages:
                    errors.add(field, message)
            first = self.first()
            if "start" in violation.errors:
                # A start out of bounds may not survive a conversion to the clinic's zone.
                errors.raise_if_any()
        if self.count is None and self.until is None:
            errors.add("count", "Give the number of occurrences or the date of the last one.")
        elif self.count is not None and self.until is not None:
            errors.add("count", "Give the number of occurrences or the date of the last one, not both.")
        elif self.count is not None and not 2 <= self.count <= MAX_OCCURRENCES:
            errors.add("count", f"A series has 2 to {MAX_OCCURRENCES} occurrences.")
        elif self.until is not None and self.start is not None:
            first_day = self.start.astimezone(zone).date()
            if self.until <= first_day:
                errors.add("until", "The last date must come after the first appointment.")
            elif self.until - first_day > LONGEST_SERIES:
                errors.add("until", "A series spans at most a year; book another series after it.")
            elif _count_until(first_day, self.until, self.frequency) > MAX_OCCURRENCES:
                errors.add("until", f"A series has at most {MAX_OCCURRENCES} occurrences; choose an earlier last date.")
            elif _count_until(first_day, self.until, self.frequency) < 2:
                errors.add("until", "A series has at least 2 occurrences; choose a later last date.")
        errors.raise_if_any()
        return dataclasses.replace(self, end=first.end, reason_for_visit=first.reason_for_visit)

    def occurrences(self, zone: dt.tzinfo) -> list[Appointment]:
        """Return the appointments of the series, in order, at the same local time each time."""
        first = self.first()
        local_start = self.start.astimezone(zone)
        length = self.end - self.start
        result = []
        for number in range(MAX_OCCURRENCES):
            # Aware arithmetic in the clinic's zone keeps the wall-clock time (10:00 stays 10:00
            # across a daylight-saving change); the UTC offset is then that of the new date.
            start = (local_start + number * self.frequency.step).astimezone(zone)
            if self.count is not None and number >= self.count:
                break
            if self.until is not None and start.date() > self.until:
                break
            result.append(dataclasses.replace(first, start=start, end=start + length))
        return result


def _count_until(first_day: dt.date, until: dt.date, frequency: Frequency) -> int:
    return (until - first_day).days // frequency.step.days + 1


@dataclasses.dataclass(frozen=True)
class PlannedOccurrence:
    """One appointment a series would create, and what it would clash with."""

    appointment: Appointment
    conflicts: tuple[Conflict, ...] = ()


class SeriesConflict(RuleViolation):
    """Some occurrences of a series would double-book; the series was not created at all."""

    def __init__(self, plan: Sequence[PlannedOccurrence], zone: dt.tzinfo):
        self.plan = list(plan)
        clashing = [item for item in self.plan if item.conflicts]
        lines = [
            f"{span(item.appointment, zone)} — " + " ".join(conflict.message(zone) for conflict in item.conflicts)
            for item in clashing
        ]
        super().__init__(
            {
                "__all__": [
                    f"{len(clashing)} of the {len(self.plan)} appointments clash with existing bookings; "
                    f"nothing was booked. Change the time, room or dates and try again.",
                    *lines,
                ]
            }
        )


# --- working hours and free slots ---------------------------------------------------------------

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# Free slots start on this grid from the opening time (08:00, 08:30, …): times staff read at a
# glance. Any other start can still be typed on the booking form.
SLOT_STEP = dt.timedelta(minutes=30)
_GROUP = re.compile(r"^\s*([A-Za-z]{3})(?:\s*-\s*([A-Za-z]{3}))?\s+(\d{2}:\d{2})\s*-\s*(\d{2}:\d{2})\s*$")


@dataclasses.dataclass(frozen=True)
class WorkingHours:
    """When the clinic books visits: for each open weekday (0 is Monday), its opening and closing time.

    Written in the setting as groups separated by ";", each a day or a range of days and the
    hours, in the clinic's time zone: "Mon-Fri 08:00-18:00" or "Mon-Thu 08:00-18:00; Fri 08:00-13:00".
    """

    days: dict[int, tuple[dt.time, dt.time]]

    @classmethod
    def parse(cls, text: str) -> WorkingHours:
        """Return the working hours `text` describes, or raise ValueError saying what is wrong in it."""
        days: dict[int, tuple[dt.time, dt.time]] = {}
        groups = [group for group in (text or "").split(";") if group.strip()]
        if not groups:
            raise ValueError('Give at least one group of days and hours, e.g. "Mon-Fri 08:00-18:00".')
        for group in groups:
            match = _GROUP.match(group)
            if match is None:
                raise ValueError(
                    f'Write each group as days and hours, e.g. "Mon-Fri 08:00-18:00", not "{group.strip()}".'
                )
            first, last, opening, closing = match.groups()
            first_day, last_day = _weekday(first), _weekday(last or first)
            opens, closes = _clock(opening), _clock(closing)
            if closes <= opens:
                raise ValueError(f'Give a closing time after the opening time in "{group.strip()}".')
            if last_day < first_day:
                raise ValueError(f'Write a range of days from Monday towards Sunday, not "{group.strip()}".')
            for number in range(first_day, last_day + 1):
                if number in days:
                    raise ValueError(f"The working hours name {WEEKDAYS[number]} twice.")
                days[number] = (opens, closes)
        return cls(days=dict(sorted(days.items())))

    def describe(self) -> str:
        """Return the hours as staff read them: "Mon–Fri 08:00–18:00"."""
        runs: list[list] = []
        for number, hours in self.days.items():
            if runs and runs[-1][1] == number - 1 and runs[-1][2] == hours:
                runs[-1][1] = number
            else:
                runs.append([number, number, hours])
        return "; ".join(
            (WEEKDAYS[first] if first == last else f"{WEEKDAYS[first]}–{WEEKDAYS[last]}")
            + f" {opens:%H:%M}–{closes:%H:%M}"
            for first, last, (opens, closes) in runs
        )

    def window(self, day: dt.date, zone: dt.tzinfo) -> tuple[dt.datetime, dt.datetime] | None:
        """Return when the clinic opens and closes on `day` (aware, in `zone`), or None on a closed day."""
        hours = self.days.get(day.weekday())
        if hours is None:
            return None
        return dt.datetime.combine(day, hours[0], tzinfo=zone), dt.datetime.combine(day, hours[1], tzinfo=zone)


def _weekday(name: str) -> int:
    for number, known in enumerate(WEEKDAYS):
        if name.lower() == known.lower():
            return number
    raise ValueError(f'"{name}" is not a day: use {", ".join(WEEKDAYS)}.')


def _clock(text: str) -> dt.time:
    try:
        return dt.time.fromisoformat(text)
    except ValueError:
        raise ValueError(f'"{text}" is not a time of day: use 00:00 to 23:59.') from None


@dataclasses.dataclass(frozen=True)
class Slot:
    """A span of time, in the clinic's zone, that nobody asked about holds."""

    start: dt.datetime
    end: dt.datetime


def free_slots(
    busy: Iterable[tuple[dt.datetime, dt.datetime]],
    *,
    first_day: dt.date,
    days: int,
    hours: WorkingHours,
    length: dt.timedelta,
    zone: dt.tzinfo,
    now: dt.datetime,
    step: dt.timedelta = SLOT_STEP,
) -> list[Slot]:
    """Return the slots of `length` inside working hours, from `first_day` for `days` days, that are free.

    A slot starts on the `step` grid from the day's opening time, ends by its closing time, starts
    no earlier than `now`, and overlaps none of the `busy` spans (back to back is free). The spans
    are those of every party asked about (clinician, room, patient) together; they may overlap.
    One pass over the days and the sorted spans: the work grows with the days asked for and the
    appointments in them, never with the rest of the schedule.
    """
    merged = _merged(busy)
    found: list[Slot] = []
    index = 0
    for offset in range(days):
        window = hours.window(first_day + dt.timedelta(days=offset), zone)
        if window is None:
            continue
        start, closing = window
        while start + length <= closing:
            end = start + length
            # Compared as instants (UTC): an aware comparison in one zone compares wall clocks.
            begins, ends = start.astimezone(dt.UTC), end.astimezone(dt.UTC)
            while index < len(merged) and merged[index][1] <= begins:
                index += 1
            if begins >= now and not (index < len(merged) and merged[index][0] < ends):
                found.append(Slot(start, end))
            start += step
    return found


def _merged(spans: Iterable[tuple[dt.datetime, dt.datetime]]) -> list[tuple[dt.datetime, dt.datetime]]:
    """Return the spans as disjoint, sorted UTC spans (overlapping or touching ones joined)."""
    result: list[tuple[dt.datetime, dt.datetime]] = []
    for start, end in sorted((start.astimezone(dt.UTC), end.astimezone(dt.UTC)) for start, end in spans):
        if result and start <= result[-1][1]:
            result[-1] = (result[-1][0], max(result[-1][1], end))
        else:
            result.append((start, end))
    return result


# --- helpers -------------------------------------------------------------------------------------


def _times(errors: Collector, start, end, longest: dt.timedelta) -> None:
    if start is None:
        errors.add("start", "Give the start time.")
    if end is None:
        errors.add("end", "Give the end time.")
    if start is None or end is None:
        return
    if start.tzinfo is None or start.utcoffset() is None:
        errors.add("start", "The start time has no time zone.")
        return
    if end.tzinfo is None or end.utcoffset() is None:
        errors.add("end", "The end time has no time zone.")
        return
    length = end - start
    if length <= dt.timedelta(0):
        errors.add("end", "The appointment must end after it starts.")
    elif length < SHORTEST:
        errors.add("end", f"An appointment lasts at least {_minutes(SHORTEST)}.")
    elif length > longest:
        errors.add("end", f"An appointment lasts at most {_minutes(longest)}; this one lasts {_minutes(length)}.")


def _minutes(length: dt.timedelta) -> str:
    minutes = int(length.total_seconds() // 60)
    hours, rest = divmod(minutes, 60)
    if hours and rest:
        return f"{hours} h {rest} min"
    return f"{hours} h" if hours else f"{minutes} min"


def _text(errors: Collector, field: str, value: str, limit: int) -> str:
    value = (value or "").strip()
    if len(value) > limit:
        errors.add(field, f"Use at most {limit} characters (this has {len(value)}).")
    return value


# --- the repository interface --------------------------------------------------------------------


class AppointmentRepository(Protocol):
    """Where appointments are kept. Every write is made by the repository's actor and is atomic."""

    def add(self, appointment: Appointment, *, reason: str = "Booked") -> Appointment: ...

    def get_by_id(self, appointment_id: uuid.UUID) -> Appointment | None: ...

    def update(self, appointment: Appointment, *, reason: str = "Details changed") -> Appointment: ...

    def delete(self, appointment_id: uuid.UUID, *, reason: str) -> Appointment: ...

    def list_for_patient(self, patient_id: uuid.UUID) -> list[Appointment]: ...

    def list_for_clinician(
        self,
        clinician_id: int,
        *,
        day: dt.date | None = None,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
    ) -> list[Appointment]: ...

    def overlapping(
        self,
        *,
        start: dt.datetime,
        end: dt.datetime,
        clinician_id: int | None = None,
        patient_id: uuid.UUID | None = None,
        room_id: uuid.UUID | None = None,
    ) -> list[Appointment]: ...

    def replace(self, old: Appointment, replacement: Appointment) -> tuple[Appointment, Appointment]: ...

    def update_all(self, appointments: Sequence[Appointment], *, reason: str) -> list[Appointment]: ...

    def add_series(self, series: Series, occurrences: Sequence[Appointment]) -> tuple[Series, list[Appointment]]: ...

    def get_series(self, series_id: uuid.UUID) -> Series | None: ...

    def list_for_series(self, series_id: uuid.UUID) -> list[Appointment]: ...

    def overdue(self, *, ended_before: dt.datetime) -> list[Appointment]: ...

    def party_problems(self, appointment: Appointment) -> dict[str, list[str]]: ...
