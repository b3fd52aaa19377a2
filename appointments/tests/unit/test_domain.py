"""Appointment rules on plain objects: times, rooms, the lifecycle, double booking, series. No database."""

import dataclasses
import datetime as dt
import itertools
import uuid
import zoneinfo

import pytest

from appointments import domain
from novamind.domain import RuleViolation

NY = zoneinfo.ZoneInfo("America/New_York")
START = dt.datetime(2026, 3, 3, 10, 0, tzinfo=NY)
LONGEST = dt.timedelta(minutes=240)
WINDOW = dt.timedelta(hours=24)
PATIENT, OTHER_PATIENT = uuid.uuid4(), uuid.uuid4()
ROOM, OTHER_ROOM = uuid.uuid4(), uuid.uuid4()


def appointment(**changes):
    base = domain.Appointment(
        id=uuid.uuid4(),
        patient_id=PATIENT,
        clinician_id=7,
        start=START,
        end=START + dt.timedelta(minutes=50),
        room_id=ROOM,
    )
    return dataclasses.replace(base, **changes)


def errors_of(candidate):
    with pytest.raises(RuleViolation) as caught:
        candidate.validated(longest=LONGEST)
    return caught.value.errors


def in_status(status):
    """Return an appointment brought to `status` through the lifecycle methods."""
    booked = appointment()
    at = START + dt.timedelta(minutes=5)
    return {
        domain.Status.SCHEDULED: booked,
        domain.Status.CHECKED_IN: booked.check_in(at=at),
        domain.Status.COMPLETED: booked.check_in(at=at).complete(at=at + dt.timedelta(minutes=50)),
        domain.Status.CANCELLED: booked.cancel(
            at=at - dt.timedelta(days=3), by=domain.CancelledBy.PATIENT, reason="flu", late_window=WINDOW
        ),
        domain.Status.NO_SHOW: booked.mark_no_show(at=at + dt.timedelta(hours=2)),
        domain.Status.RESCHEDULED: booked.mark_rescheduled(at=at, replacement_id=uuid.uuid4()),
    }[status]


def move(item, target):
    at = START + dt.timedelta(hours=2)
    return {
        domain.Status.CHECKED_IN: lambda: item.check_in(at=at),
        domain.Status.COMPLETED: lambda: item.complete(at=at),
        domain.Status.CANCELLED: lambda: item.cancel(
            at=at, by=domain.CancelledBy.CLINIC, reason="clinician ill", late_window=WINDOW
        ),
        domain.Status.NO_SHOW: lambda: item.mark_no_show(at=at),
        domain.Status.RESCHEDULED: lambda: item.mark_rescheduled(at=at, replacement_id=uuid.uuid4()),
    }[target]()


# --- single appointment ----------------------------------------------------------------------


def test_a_fifty_minute_in_person_visit_with_a_room_is_valid_and_the_reason_is_trimmed():
    clean = appointment(reason_for_visit="  low mood  ").validated(longest=LONGEST)
    assert clean.reason_for_visit == "low mood" and clean.duration == dt.timedelta(minutes=50)


def test_an_appointment_that_ends_before_it_starts_is_refused_on_the_end_field():
    assert errors_of(appointment(end=START - dt.timedelta(minutes=10))) == {
        "end": ["The appointment must end after it starts."]
    }


def test_a_zero_length_appointment_is_refused():
    assert "end after it starts" in errors_of(appointment(end=START))["end"][0]


def test_a_two_minute_appointment_is_too_short():
    assert "at least 5 min" in errors_of(appointment(end=START + dt.timedelta(minutes=2)))["end"][0]


def test_a_day_long_appointment_is_refused_with_the_limit_and_its_length():
    message = errors_of(appointment(end=START + dt.timedelta(hours=24)))["end"][0]
    assert "at most 4 h" in message and "24 h" in message


def test_the_longest_allowed_appointment_is_accepted_and_one_minute_more_is_not():
    appointment(end=START + LONGEST).validated(longest=LONGEST)
    assert "end" in errors_of(appointment(end=START + LONGEST + dt.timedelta(minutes=1)))


def test_a_generous_setting_never_allows_more_than_twelve_hours():
    with pytest.raises(RuleViolation):
        appointment(end=START + dt.timedelta(hours=13)).validated(longest=dt.timedelta(hours=20))


def test_naive_times_are_refused():
    naive = START.replace(tzinfo=None)
    assert "time zone" in errors_of(appointment(start=naive, end=naive + dt.timedelta(minutes=50)))["start"][0]


def test_a_telehealth_visit_with_a_room_is_refused_on_the_room_field():
    assert "telehealth" in errors_of(appointment(modality=domain.Modality.TELEHEALTH))["room"][0]


def test_an_in_person_visit_needs_a_room_and_a_telehealth_one_does_not():
    assert "Choose a room" in errors_of(appointment(room_id=None))["room"][0]
    appointment(modality=domain.Modality.TELEHEALTH, room_id=None).validated(longest=LONGEST)


def test_missing_people_and_times_are_all_reported_together():
    errors = errors_of(appointment(patient_id=None, clinician_id=None, start=None, end=None))
    assert set(errors) == {"patient", "clinician", "start", "end"}


def test_an_over_long_reason_for_visit_is_refused_with_the_limit():
    assert "1000" in errors_of(appointment(reason_for_visit="x" * 1001))["reason_for_visit"][0]


def test_a_cancellation_outside_the_cancelled_status_is_inconsistent():
    assert "status" in errors_of(appointment(cancelled_by=domain.CancelledBy.PATIENT, cancellation_reason="x"))


# --- lifecycle -------------------------------------------------------------------------------

ALLOWED = {
    (domain.Status.SCHEDULED, domain.Status.CHECKED_IN),
    (domain.Status.SCHEDULED, domain.Status.CANCELLED),
    (domain.Status.SCHEDULED, domain.Status.NO_SHOW),
    (domain.Status.SCHEDULED, domain.Status.RESCHEDULED),
    (domain.Status.CHECKED_IN, domain.Status.COMPLETED),
}
TARGETS = [s for s in domain.Status if s is not domain.Status.SCHEDULED]


def test_the_transition_table_is_exactly_the_issue_lifecycle():
    table = {(source, target) for source, targets in domain.TRANSITIONS.items() for target in targets}
    assert table == ALLOWED


@pytest.mark.parametrize("source, target", sorted(ALLOWED, key=str))
def test_every_allowed_transition_succeeds_and_the_result_is_valid(source, target):
    moved = move(in_status(source), target)
    assert moved.status is target and moved.status_changed_at is not None
    moved.validated(longest=LONGEST)
    domain.check_change(in_status(source), moved)


@pytest.mark.parametrize(
    "source, target", [pair for pair in itertools.product(domain.Status, TARGETS) if pair not in ALLOWED], ids=str
)
def test_every_refused_transition_raises_a_clear_error_on_status_and_changes_nothing(source, target):
    item = in_status(source)
    with pytest.raises(domain.TransitionRefused) as caught:
        move(item, target)
    message = caught.value.errors["status"][0]
    assert source.label.lower() in message and domain.VERBS[target] in message
    assert item.status is source


def test_completing_a_cancelled_visit_says_it_is_cancelled_and_final():
    with pytest.raises(domain.TransitionRefused) as caught:
        in_status(domain.Status.CANCELLED).complete(at=START)
    assert caught.value.errors == {"status": ["This appointment is cancelled, which is final; it cannot be completed."]}


def test_a_scheduled_visit_cannot_be_completed_without_check_in_and_the_message_lists_what_can_follow():
    with pytest.raises(domain.TransitionRefused) as caught:
        appointment().complete(at=START)
    message = caught.value.errors["status"][0]
    assert "checked in" in message and "cancelled" in message and "no-show" in message


def test_a_no_show_cannot_be_recorded_before_the_appointment_started():
    with pytest.raises(domain.TransitionRefused, match="before the appointment has started"):
        appointment().mark_no_show(at=START - dt.timedelta(minutes=1))
    assert appointment().mark_no_show(at=START).status is domain.Status.NO_SHOW


def test_a_cancellation_needs_a_reason():
    with pytest.raises(RuleViolation) as caught:
        appointment().cancel(
            at=START - dt.timedelta(days=2), by=domain.CancelledBy.PATIENT, reason="  ", late_window=WINDOW
        )
    assert "cancellation_reason" in caught.value.errors


def test_check_in_time_is_kept_when_the_visit_is_completed():
    at = START + dt.timedelta(minutes=3)
    done = appointment().check_in(at=at).complete(at=START + dt.timedelta(minutes=55))
    assert done.checked_in_at == at and done.status_changed_at == START + dt.timedelta(minutes=55)


def test_a_status_cannot_be_set_by_editing_the_object_only_through_the_lifecycle():
    before = appointment()
    with pytest.raises(domain.TransitionRefused):
        domain.check_change(before, dataclasses.replace(before, status=domain.Status.COMPLETED))
    with pytest.raises(RuleViolation):
        domain.check_change(before, dataclasses.replace(before, late_cancellation=True))


def test_a_completed_visit_can_no_longer_be_moved_but_a_scheduled_one_can():
    later = START + dt.timedelta(hours=1)
    scheduled = appointment()
    domain.check_change(scheduled, dataclasses.replace(scheduled, start=later, end=later + dt.timedelta(minutes=50)))
    done = in_status(domain.Status.COMPLETED)
    with pytest.raises(RuleViolation) as caught:
        domain.check_change(done, dataclasses.replace(done, start=later, end=later + dt.timedelta(minutes=50)))
    assert set(caught.value.errors) == {"start", "end"}


# --- late cancellation -----------------------------------------------------------------------


def test_a_cancellation_exactly_at_the_window_is_in_time():
    cancelled = appointment().cancel(
        at=START - WINDOW, by=domain.CancelledBy.PATIENT, reason="work", late_window=WINDOW
    )
    assert cancelled.late_cancellation is False


def test_a_cancellation_one_second_inside_the_window_is_late():
    cancelled = appointment().cancel(
        at=START - WINDOW + dt.timedelta(seconds=1), by=domain.CancelledBy.PATIENT, reason="work", late_window=WINDOW
    )
    assert cancelled.late_cancellation is True
    assert cancelled.cancelled_by is domain.CancelledBy.PATIENT and cancelled.cancellation_reason == "work"


def test_a_cancellation_after_the_start_is_late_and_the_window_is_configurable():
    assert domain.is_late_cancellation(START, START + dt.timedelta(minutes=5), WINDOW)
    assert not domain.is_late_cancellation(START, START - dt.timedelta(hours=3), dt.timedelta(hours=2))
    assert domain.is_late_cancellation(START, START - dt.timedelta(hours=3), dt.timedelta(hours=48))


# --- double booking --------------------------------------------------------------------------


def test_a_clinician_cannot_have_two_overlapping_appointments():
    existing = appointment()
    candidate = appointment(
        patient_id=OTHER_PATIENT,
        room_id=OTHER_ROOM,
        start=START + dt.timedelta(minutes=30),
        end=START + dt.timedelta(minutes=80),
    )
    conflicts = domain.find_conflicts(candidate, [existing])
    assert [(c.party, c.existing.id) for c in conflicts] == [(domain.Party.CLINICIAN, existing.id)]


def test_a_patient_and_a_room_are_protected_like_a_clinician():
    existing = appointment()
    candidate = appointment(clinician_id=8)
    assert {c.party for c in domain.find_conflicts(candidate, [existing])} == {domain.Party.PATIENT, domain.Party.ROOM}


def test_back_to_back_appointments_do_not_overlap():
    existing = appointment()
    candidate = appointment(start=existing.end, end=existing.end + dt.timedelta(minutes=50))
    assert domain.find_conflicts(candidate, [existing]) == []


@pytest.mark.parametrize("status", [domain.Status.CANCELLED, domain.Status.NO_SHOW, domain.Status.RESCHEDULED])
def test_cancelled_no_show_and_rescheduled_appointments_release_their_time(status):
    assert domain.find_conflicts(appointment(), [in_status(status)]) == []


@pytest.mark.parametrize("status", [domain.Status.CHECKED_IN, domain.Status.COMPLETED])
def test_checked_in_and_completed_appointments_hold_their_time(status):
    assert domain.find_conflicts(appointment(), [in_status(status)])


def test_an_appointment_does_not_conflict_with_itself_and_telehealth_visits_share_no_room():
    existing = appointment(modality=domain.Modality.TELEHEALTH, room_id=None)
    assert domain.find_conflicts(existing, [existing]) == []
    other = appointment(clinician_id=8, patient_id=OTHER_PATIENT, modality=domain.Modality.TELEHEALTH, room_id=None)
    assert domain.find_conflicts(other, [existing]) == []


def test_the_conflict_error_names_the_clashing_appointment_and_its_local_time_on_each_field():
    existing = appointment()
    error = domain.BookingConflict(domain.find_conflicts(appointment(clinician_id=8), [existing]), NY)
    short = str(existing.id)[:8]
    assert error.errors["patient"] == [
        f"The patient already has an appointment then: appointment {short}, Tue 3 Mar 2026, 10:00–10:50."
    ]
    assert error.errors["room"] == [f"The room is taken then: appointment {short}, Tue 3 Mar 2026, 10:00–10:50."]


# --- series ----------------------------------------------------------------------------------


def series(**changes):
    base = domain.Series(
        patient_id=PATIENT,
        clinician_id=7,
        start=START,
        end=START + dt.timedelta(minutes=50),
        count=6,
        room_id=ROOM,
    )
    return dataclasses.replace(base, **changes)


def test_a_weekly_series_keeps_its_local_time_across_the_daylight_saving_change():
    # 8 March 2026 is the spring-forward Sunday in New York.
    occurrences = series().validated(longest=LONGEST, zone=NY).occurrences(NY)
    assert len(occurrences) == 6
    assert all(o.start.astimezone(NY).hour == 10 and o.duration == dt.timedelta(minutes=50) for o in occurrences)
    assert occurrences[0].start.utcoffset() != occurrences[1].start.utcoffset()
    assert [o.start.date() for o in occurrences][:3] == [
        dt.date(2026, 3, 3),
        dt.date(2026, 3, 10),
        dt.date(2026, 3, 17),
    ]


def test_a_fortnightly_series_until_a_date_includes_that_date():
    occurrences = series(
        count=None, until=dt.date(2026, 4, 14), frequency=domain.Frequency.EVERY_TWO_WEEKS
    ).occurrences(NY)
    assert [o.start.date() for o in occurrences] == [
        dt.date(2026, 3, 3),
        dt.date(2026, 3, 17),
        dt.date(2026, 3, 31),
        dt.date(2026, 4, 14),
    ]


@pytest.mark.parametrize(
    "changes, field, words",
    [
        ({"count": None}, "count", "number of occurrences or the date"),
        ({"until": dt.date(2026, 5, 1)}, "count", "not both"),
        ({"count": 1}, "count", "2 to 52"),
        ({"count": 53}, "count", "2 to 52"),
        ({"count": None, "until": dt.date(2026, 3, 3)}, "until", "after the first"),
        ({"count": None, "until": dt.date(2027, 6, 1)}, "until", "at most a year"),
        ({"modality": domain.Modality.TELEHEALTH}, "room", "telehealth"),
        ({"end": START}, "end", "end after it starts"),
    ],
)
def test_bad_series_input_is_reported_on_the_field_at_fault(changes, field, words):
    with pytest.raises(RuleViolation) as caught:
        series(**changes).validated(longest=LONGEST, zone=NY)
    assert words in " ".join(caught.value.errors[field])


def test_the_series_conflict_lists_each_clashing_date_and_says_nothing_was_booked():
    existing = appointment(
        start=START + dt.timedelta(weeks=2),
        end=START + dt.timedelta(weeks=2, minutes=50),
        patient_id=OTHER_PATIENT,
        room_id=OTHER_ROOM,
    )
    plan = [domain.PlannedOccurrence(o, tuple(domain.find_conflicts(o, [existing]))) for o in series().occurrences(NY)]
    error = domain.SeriesConflict(plan, NY)
    lines = error.errors["__all__"]
    assert lines[0].startswith("1 of the 6 appointments clash") and "nothing was booked" in lines[0]
    assert lines[1].startswith("Tue 17 Mar 2026, 10:00–10:50 — The clinician is already booked then")


# --- the bookable years --------------------------------------------------------------------------


def test_a_start_may_lie_from_ten_years_back_to_five_years_ahead_of_today():
    today = dt.date(2026, 3, 2)
    assert domain.start_bounds(today) == (dt.date(2016, 3, 2), dt.date(2031, 3, 2))
    for day in (dt.date(2016, 3, 2), today, dt.date(2031, 3, 2)):
        assert domain.start_error(day, today=today) is None
    assert "no later than 2 March 2031" in domain.start_error(dt.date(2031, 3, 3), today=today)
    assert "no earlier than 2 March 2016" in domain.start_error(dt.date(2016, 3, 1), today=today)


def test_a_booking_in_year_9999_is_refused_next_to_the_start():
    late = dt.datetime(9999, 12, 31, 23, 0, tzinfo=NY)
    with pytest.raises(RuleViolation) as caught:
        appointment(start=late, end=late + dt.timedelta(minutes=50)).validated(
            longest=LONGEST, today=dt.date(2026, 3, 2)
        )
    assert list(caught.value.errors) == ["start"]


def test_an_old_visit_is_not_held_to_the_bookable_years_without_a_today():
    old = dt.datetime(2001, 5, 1, 10, 0, tzinfo=NY)
    assert appointment(start=old, end=old + dt.timedelta(minutes=50)).validated(longest=LONGEST)


def test_a_series_starting_in_year_9999_is_refused_without_converting_its_start():
    late = dt.datetime(9999, 12, 20, 23, 0, tzinfo=NY)
    series = domain.Series(
        patient_id=PATIENT,
        clinician_id=7,
        start=late,
        end=late + dt.timedelta(minutes=50),
        until=dt.date(9999, 12, 31),
        room_id=ROOM,
    )
    with pytest.raises(RuleViolation) as caught:
        series.validated(longest=LONGEST, zone=NY, today=dt.date(2026, 3, 2))
    assert "start" in caught.value.errors


# --- how long a visit lasts ----------------------------------------------------------------------


def test_each_kind_has_a_usual_length():
    lengths = {kind: int(kind.default_length.total_seconds() // 60) for kind in domain.Kind}
    assert lengths == {
        domain.Kind.INTAKE: 60,
        domain.Kind.THERAPY: 50,
        domain.Kind.MEDICATION_MANAGEMENT: 30,
        domain.Kind.GROUP: 90,
        domain.Kind.OTHER: 30,
    }


@pytest.mark.parametrize("kind", list(domain.Kind))
def test_an_appointment_left_without_an_end_lasts_its_kinds_usual_length(kind):
    tidy = appointment(kind=kind, end=None).validated(longest=LONGEST)
    assert tidy.end == START + kind.default_length


def test_an_explicit_end_wins_over_the_kinds_length_and_is_still_checked():
    assert appointment(kind=domain.Kind.INTAKE).validated(longest=LONGEST).end == START + dt.timedelta(minutes=50)
    assert "end after it starts" in errors_of(appointment(end=START - dt.timedelta(minutes=5)))["end"][0]


def test_a_usual_length_longer_than_the_practice_allows_is_refused_on_the_end():
    errors = appointment(kind=domain.Kind.GROUP, end=None)
    with pytest.raises(RuleViolation) as caught:
        errors.validated(longest=dt.timedelta(minutes=60))
    assert "at most 1 h" in caught.value.errors["end"][0]


def test_a_series_left_without_a_first_end_lasts_its_kinds_usual_length():
    series = domain.Series(
        patient_id=PATIENT, clinician_id=7, start=START, end=None, count=3, kind=domain.Kind.INTAKE, room_id=ROOM
    )
    tidy = series.validated(longest=LONGEST, zone=NY)
    assert tidy.end == START + dt.timedelta(minutes=60)
    assert [item.end - item.start for item in tidy.occurrences(NY)] == [dt.timedelta(minutes=60)] * 3


# --- working hours and free slots ----------------------------------------------------------------

MONDAY = dt.date(2026, 3, 2)


def test_working_hours_are_read_from_the_setting_text():
    hours = domain.WorkingHours.parse("Mon-Thu 08:00-18:00; Fri 09:00-13:00")
    assert hours.days[0] == (dt.time(8), dt.time(18)) and hours.days[3] == (dt.time(8), dt.time(18))
    assert hours.days[4] == (dt.time(9), dt.time(13)) and 5 not in hours.days and 6 not in hours.days
    assert hours.describe() == "Mon–Thu 08:00–18:00; Fri 09:00–13:00"
    assert domain.WorkingHours.parse("sat 10:00-14:00").days == {5: (dt.time(10), dt.time(14))}


@pytest.mark.parametrize(
    "text, words",
    [
        ("", "at least one"),
        ("Mon-Fri", "Write each group"),
        ("Mon-Fri 18:00-08:00", "closing time after the opening time"),
        ("Mon-Fri 8-18", "Write each group"),
        ("Xyz 08:00-18:00", "Xyz"),
        ("Mon-Fri 08:00-18:00; Fri 09:00-10:00", "Fri twice"),
        ("Mon-Fri 25:00-26:00", "25:00"),
    ],
)
def test_unreadable_working_hours_say_what_is_wrong(text, words):
    with pytest.raises(ValueError) as caught:
        domain.WorkingHours.parse(text)
    assert words in str(caught.value)


def busy(day_offset, start, end):
    day = MONDAY + dt.timedelta(days=day_offset)
    return (
        dt.datetime.combine(day, dt.time(*start), tzinfo=NY),
        dt.datetime.combine(day, dt.time(*end), tzinfo=NY),
    )


def slots(busy_spans=(), *, days=7, length=50, now=None, hours="Mon-Fri 08:00-12:00"):
    return domain.free_slots(
        busy_spans,
        first_day=MONDAY,
        days=days,
        hours=domain.WorkingHours.parse(hours),
        length=dt.timedelta(minutes=length),
        zone=NY,
        now=now or dt.datetime(2026, 3, 1, tzinfo=NY),
    )


def starts(found, day_offset=0):
    day = MONDAY + dt.timedelta(days=day_offset)
    return [f"{slot.start:%H:%M}" for slot in found if slot.start.date() == day]


def test_free_slots_fill_the_working_day_on_the_half_hour_and_fit_before_closing():
    found = slots(days=1)
    assert starts(found) == ["08:00", "08:30", "09:00", "09:30", "10:00", "10:30", "11:00"]
    assert all(slot.end - slot.start == dt.timedelta(minutes=50) for slot in found)


def test_free_slots_skip_the_weekend_and_busy_times_but_not_back_to_back_ones():
    found = slots([busy(0, (9, 0), (9, 50)), busy(0, (8, 0), (8, 30)), busy(1, (9, 50), (12, 0))])
    assert starts(found, 0) == ["10:00", "10:30", "11:00"]
    assert starts(found, 1) == ["08:00", "08:30", "09:00"]
    assert starts(found, 5) == [] and starts(found, 6) == []
    assert len({slot.start.date() for slot in found}) == 5


def test_overlapping_busy_times_of_several_parties_merge():
    found = slots([busy(0, (8, 0), (10, 0)), busy(0, (9, 0), (9, 30)), busy(0, (9, 45), (11, 0))], days=1)
    assert starts(found) == ["11:00"] and found[0].end.hour == 11 and found[0].end.minute == 50


def test_no_free_slot_starts_before_now():
    found = slots(days=1, now=dt.datetime.combine(MONDAY, dt.time(9, 40), tzinfo=NY))
    assert starts(found) == ["10:00", "10:30", "11:00"]


def test_free_slots_keep_the_local_time_across_a_daylight_saving_change():
    # 8 March 2026: New York moves to summer time; the Monday after still opens at 08:00 local.
    found = slots(days=9, length=60, hours="Mon 08:00-09:00")
    assert [slot.start.astimezone(NY).strftime("%d %H:%M %Z") for slot in found] == ["02 08:00 EST", "09 08:00 EDT"]


def test_a_busy_time_given_in_utc_blocks_the_same_instant():
    start, end = busy(0, (10, 0), (11, 0))
    found = slots([(start.astimezone(dt.UTC), end.astimezone(dt.UTC))], days=1, length=30)
    assert "10:00" not in starts(found) and "10:30" not in starts(found) and "11:00" in starts(found)
