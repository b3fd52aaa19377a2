"""Demo schedule for `seed_demo`: five weeks of a small practice, two behind and three ahead.

Weekly therapy with the psychologist and the therapist, fortnightly medication management and a
few intakes with the psychiatrist, some of it by telehealth. The past has happened: most visits
were completed, a few were no-shows and a few cancelled (some late). Everything goes through the
services, so the demo obeys the same rules as staff; the plan is drawn before anything is
written, so a second run draws the same numbers and, finding the schedule there, writes nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.utils import timezone

from appointments import domain, models, repository, services
from patients import domain as patient_domain

ROOMS = ("Room 1", "Room 2", "Room 3", "Group room")
HOURS = (9, 10, 11, 13, 14, 15, 16)
WEEKS_BEHIND, WEEKS_AHEAD = 2, 3
# username: (room, kind, minutes, frequency, how many patients)
CLINICIANS = {
    "drpatel": ("Room 2", domain.Kind.THERAPY, 50, domain.Frequency.WEEKLY, 24),
    "msmith": ("Room 3", domain.Kind.THERAPY, 50, domain.Frequency.WEEKLY, 24),
    "drlee": ("Room 1", domain.Kind.MEDICATION_MANAGEMENT, 30, domain.Frequency.EVERY_TWO_WEEKS, 20),
}
REASONS = {
    domain.Kind.THERAPY: [
        "CBT for generalised anxiety",
        "Grief counselling",
        "Depression follow-up",
        "Trauma-focused therapy",
        "Couples stress",
        "Panic disorder, exposure work",
    ],
    domain.Kind.MEDICATION_MANAGEMENT: [
        "SSRI follow-up",
        "Mood stabiliser review",
        "ADHD medication check",
        "Sleep medication review",
    ],
    domain.Kind.INTAKE: ["New referral from primary care", "Self-referral, low mood", "Post-discharge intake"],
}


@dataclasses.dataclass(frozen=True)
class PlannedSeries:
    clinician: str
    series: domain.Series
    outcomes: tuple[tuple[float, int, bool], ...]  # per occurrence: outcome draw, minutes late/early, by patient


def _monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def plan(*, staff, rng, patients, rooms, today) -> tuple[list[PlannedSeries], list[domain.Appointment]]:
    """Return the series and single intakes to book; draws the same numbers whatever is stored."""
    first_monday = _monday(today) - dt.timedelta(weeks=WEEKS_BEHIND)
    taken_by_patient: dict = {}
    series_plan, queue = [], list(patients)
    rng.shuffle(queue)
    for username, (room, kind, minutes, frequency, wanted) in CLINICIANS.items():
        slots = [(weekday, hour) for weekday in range(5) for hour in HOURS]
        rng.shuffle(slots)
        for weekday, hour in slots[:wanted]:
            telehealth = rng.random() < 0.3
            reason = rng.choice(REASONS[kind])
            weeks = WEEKS_BEHIND + WEEKS_AHEAD
            count = weeks if frequency is domain.Frequency.WEEKLY else (weeks + 1) // 2
            outcomes = tuple((rng.random(), rng.randint(-10, 10), rng.random() < 0.7) for _ in range(count))
            patient = next((p for p in queue if (weekday, hour) not in taken_by_patient.get(p.id, set())), None)
            if patient is None:
                continue
            queue.remove(patient)
            queue.append(patient)  # a patient may see a second clinician, at another time
            taken_by_patient.setdefault(patient.id, set()).add((weekday, hour))
            start = _at(first_monday + dt.timedelta(days=weekday), hour)
            series_plan.append(
                PlannedSeries(
                    username,
                    domain.Series(
                        patient_id=patient.id,
                        clinician_id=staff[username].pk,
                        start=start,
                        end=start + dt.timedelta(minutes=minutes),
                        frequency=frequency,
                        count=count,
                        kind=kind,
                        modality=domain.Modality.TELEHEALTH if telehealth else domain.Modality.IN_PERSON,
                        room_id=None if telehealth else rooms[room].pk,
                        reason_for_visit=reason,
                    ),
                    outcomes,
                )
            )
    # Intakes with the psychiatrist next week, at 8:00 before the regular clinic.
    intakes = []
    for weekday in range(3):
        patient = queue[weekday % len(queue)] if queue else None
        reason = rng.choice(REASONS[domain.Kind.INTAKE])
        if patient is None:
            continue
        start = _at(_monday(today) + dt.timedelta(weeks=1, days=weekday), 8)
        intakes.append(
            domain.Appointment(
                patient_id=patient.id,
                clinician_id=staff["drlee"].pk,
                start=start,
                end=start + dt.timedelta(minutes=60),
                kind=domain.Kind.INTAKE,
                room_id=rooms["Room 1"].pk,
                reason_for_visit=reason,
            )
        )
    return series_plan, intakes


def _rooms(actor) -> dict[str, models.Room]:
    rooms = {}
    for name in ROOMS:
        room = models.Room.objects.filter(name=name).first()
        rooms[name] = room or services.room_save(room=models.Room(name=name), actor=actor)
    return rooms


def _play_out(actor, booked: list[domain.Appointment], outcomes, now) -> dict[str, int]:
    """Give the appointments that are over what happened to them."""
    counts = {"completed": 0, "no_show": 0, "cancelled": 0}
    for appointment, (draw, minutes, by_patient) in zip(booked, outcomes, strict=False):
        if appointment.end >= now:
            continue
        if draw < 0.07:
            services.appointment_mark_no_show(
                appointment_id=appointment.id, now=appointment.end + dt.timedelta(hours=1), actor=actor
            )
            counts["no_show"] += 1
        elif draw < 0.15:
            # Half of these came inside the 24-hour window: late cancellations.
            ahead = dt.timedelta(hours=6 if draw < 0.11 else 72)
            services.appointment_cancel(
                actor=actor,
                appointment_id=appointment.id,
                by=domain.CancelledBy.PATIENT if by_patient else domain.CancelledBy.CLINIC,
                reason="Unwell" if by_patient else "Clinician unavailable",
                now=appointment.start - ahead,
            )
            counts["cancelled"] += 1
        else:
            arrived = appointment.start + dt.timedelta(minutes=minutes)
            services.appointment_check_in(actor=actor, appointment_id=appointment.id, now=arrived)
            services.appointment_complete(actor=actor, appointment_id=appointment.id, now=appointment.end)
            counts["completed"] += 1
    return counts


def seed(*, actor, staff, rng, stdout, patients, **context):
    """Book the demo schedule unless it is already there; return every demo appointment."""
    today = timezone.localdate()
    active = [p for p in patients if p.status is patient_domain.PatientStatus.ACTIVE]
    rooms = _rooms(actor)
    clinicians = [staff[username] for username in CLINICIANS]
    series_plan, intakes = plan(staff=staff, rng=rng, patients=active, rooms=rooms, today=today)
    desk = staff["frontdesk"]
    appointments = repository.DjangoAppointmentRepository(actor=desk)
    window = (
        _at(_monday(today) - dt.timedelta(weeks=WEEKS_BEHIND), 0),
        _at(_monday(today) + dt.timedelta(weeks=WEEKS_AHEAD + 1), 0),
    )
    if models.Appointment.objects.filter(clinician__in=clinicians).exists():
        existing = [
            a for c in clinicians for a in appointments.list_for_clinician(c.pk, start=window[0], end=window[1])
        ]
        stdout.write(f"Appointments: 0 created, {len(existing)} already there.")
        return {"appointments": existing}
    now = timezone.now()
    created, counts = [], {"completed": 0, "no_show": 0, "cancelled": 0}
    for item in series_plan:
        # Booked as the front desk would have, the week before the first visit.
        _, booked = services.series_book(series=item.series, actor=desk, now=item.series.start - dt.timedelta(days=7))
        for key, value in _play_out(desk, booked, item.outcomes, now).items():
            counts[key] += value
        created.extend(booked)
    for intake in intakes:
        try:
            created.append(services.appointment_book(appointment=intake, actor=desk, now=now))
        except domain.BookingConflict:
            continue  # the patient's regular visit is at that hour; an intake is not needed
    stdout.write(
        f"Appointments: {len(created)} created ({len(series_plan)} series, {counts['completed']} completed, "
        f"{counts['no_show']} no-shows, {counts['cancelled']} cancelled)."
    )
    stored = [a for c in clinicians for a in appointments.list_for_clinician(c.pk, start=window[0], end=window[1])]
    return {"appointments": stored}
