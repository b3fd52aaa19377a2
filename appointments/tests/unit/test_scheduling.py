"""The scheduling rules on an in-memory repository: booking, moving, lifecycle, series, no-shows."""

import dataclasses
import datetime as dt
import uuid
import zoneinfo

import pytest

from appointments import domain, scheduling
from appointments.tests.unit.fakes import FakeAppointmentRepository
from novamind.domain import ConcurrencyError, NotFound, RuleViolation

NY = zoneinfo.ZoneInfo("America/New_York")
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=NY)
START = dt.datetime(2026, 3, 3, 10, 0, tzinfo=NY)
PATIENT, OTHER_PATIENT, THIRD_PATIENT = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
ROOM, OTHER_ROOM = uuid.uuid4(), uuid.uuid4()


@pytest.fixture
def repo():
    return FakeAppointmentRepository()


def visit(**changes):
    base = domain.Appointment(
        patient_id=PATIENT, clinician_id=7, start=START, end=START + dt.timedelta(minutes=50), room_id=ROOM
    )
    return dataclasses.replace(base, **changes)


def book(repo, **changes):
    return scheduling.appointment_book(appointments=repo, appointment=visit(**changes), now=NOW)


def test_booking_stores_a_scheduled_appointment_attributed_to_the_actor(repo):
    booked = book(repo, reason_for_visit=" follow-up ")
    assert booked.status is domain.Status.SCHEDULED and booked.reason_for_visit == "follow-up"
    assert booked.audit.created_by == "alice" and repo.reasons == [(booked.id, "Booked")]


def test_cannot_book_a_clinician_twice_in_the_same_hour(repo):
    first = book(repo)
    with pytest.raises(domain.BookingConflict) as caught:
        book(
            repo,
            patient_id=OTHER_PATIENT,
            room_id=OTHER_ROOM,
            start=START + dt.timedelta(minutes=20),
            end=START + dt.timedelta(minutes=70),
        )
    assert str(first.id)[:8] in caught.value.errors["clinician"][0]
    assert len(repo.rows) == 1


def test_a_patient_and_a_room_cannot_be_double_booked_either(repo):
    book(repo)
    with pytest.raises(domain.BookingConflict) as caught:
        book(repo, clinician_id=8)
    assert set(caught.value.errors) == {"patient", "room"}


def test_a_cancelled_slot_can_be_booked_again(repo):
    first = book(repo)
    scheduling.appointment_cancel(
        appointments=repo, appointment_id=first.id, by=domain.CancelledBy.PATIENT, reason="sick", now=NOW
    )
    assert book(repo, patient_id=OTHER_PATIENT).status is domain.Status.SCHEDULED


def test_booking_on_a_day_that_has_passed_is_refused_but_earlier_today_is_fine(repo):
    with pytest.raises(RuleViolation) as caught:
        book(repo, start=NOW - dt.timedelta(days=1), end=NOW - dt.timedelta(days=1) + dt.timedelta(minutes=50))
    assert "passed" in caught.value.errors["start"][0]
    earlier_today = NOW - dt.timedelta(minutes=30)
    assert book(repo, start=earlier_today, end=earlier_today + dt.timedelta(minutes=20))


def test_an_inactive_patient_or_a_non_clinician_cannot_be_booked_and_both_are_reported(repo):
    repo.inactive_patients.add(PATIENT)
    with pytest.raises(RuleViolation) as caught:
        book(repo, clinician_id=99)
    assert set(caught.value.errors) == {"patient", "clinician"}
    assert repo.rows == {}


def test_party_problems_are_reported_alongside_a_clash(repo):
    book(repo)
    repo.rooms_out_of_use.add(ROOM)
    with pytest.raises(domain.BookingConflict) as caught:
        book(repo, patient_id=OTHER_PATIENT)
    assert "out of use" in caught.value.errors["room"][0] and "taken" in caught.value.errors["room"][1]


def test_a_new_booking_must_start_out_scheduled(repo):
    with pytest.raises(RuleViolation):
        book(repo, status=domain.Status.COMPLETED)


def test_moving_an_appointment_checks_conflicts_but_not_against_itself(repo):
    booked = book(repo)
    later = dataclasses.replace(booked, start=START + dt.timedelta(minutes=30), end=START + dt.timedelta(minutes=80))
    moved = scheduling.appointment_change(appointments=repo, appointment=later, now=NOW)
    assert moved.start == later.start and repo.reasons[-1] == (booked.id, "Moved")
    other = book(
        repo,
        patient_id=OTHER_PATIENT,
        room_id=OTHER_ROOM,
        start=START + dt.timedelta(hours=2),
        end=START + dt.timedelta(hours=3),
    )
    clash = dataclasses.replace(moved, start=other.start, end=other.end)
    with pytest.raises(domain.BookingConflict):
        scheduling.appointment_change(appointments=repo, appointment=clash, now=NOW)
    assert repo.get_by_id(booked.id).start == later.start


def test_changing_only_the_reason_of_a_visit_on_a_passed_day_is_allowed(repo):
    booked = book(repo)
    edited = dataclasses.replace(booked, reason_for_visit="new reason")
    assert (
        scheduling.appointment_change(
            appointments=repo, appointment=edited, now=START + dt.timedelta(days=5)
        ).reason_for_visit
        == "new reason"
    )


def test_a_stale_change_is_refused(repo):
    booked = book(repo)
    scheduling.appointment_check_in(appointments=repo, appointment_id=booked.id, now=START)
    with pytest.raises(ConcurrencyError):
        scheduling.appointment_change(
            appointments=repo, appointment=dataclasses.replace(booked, reason_for_visit="x"), now=NOW
        )


def test_check_in_then_complete_records_each_step_with_its_reason(repo):
    booked = book(repo)
    scheduling.appointment_check_in(appointments=repo, appointment_id=booked.id, now=START)
    done = scheduling.appointment_complete(
        appointments=repo, appointment_id=booked.id, now=START + dt.timedelta(minutes=50)
    )
    assert done.status is domain.Status.COMPLETED and done.audit.version == 3
    assert [reason for _, reason in repo.reasons] == ["Booked", "Checked in", "Completed"]


def test_completing_a_cancelled_visit_is_refused_and_nothing_changes(repo):
    booked = book(repo)
    cancelled = scheduling.appointment_cancel(
        appointments=repo, appointment_id=booked.id, by="clinic", reason="ill", now=NOW
    )
    with pytest.raises(domain.TransitionRefused):
        scheduling.appointment_complete(appointments=repo, appointment_id=booked.id, now=START)
    assert repo.get_by_id(booked.id) == cancelled


def test_a_transition_with_a_stale_version_is_refused(repo):
    booked = book(repo)
    scheduling.appointment_check_in(appointments=repo, appointment_id=booked.id, version=1, now=START)
    with pytest.raises(ConcurrencyError):
        scheduling.appointment_mark_no_show(
            appointments=repo, appointment_id=booked.id, version=1, now=START + dt.timedelta(hours=2)
        )


def test_an_unknown_appointment_is_not_found(repo):
    with pytest.raises(NotFound):
        scheduling.appointment_check_in(appointments=repo, appointment_id=uuid.uuid4(), now=START)


def test_cancelling_inside_the_window_flags_it_late_and_the_history_reason_carries_no_phi(repo, settings):
    settings.NOVAMIND_LATE_CANCELLATION_HOURS = 24
    booked = book(repo)
    late = scheduling.appointment_cancel(
        appointments=repo,
        appointment_id=booked.id,
        by=domain.CancelledBy.PATIENT,
        reason="panic attack",
        now=START - dt.timedelta(hours=23, minutes=59),
    )
    assert late.late_cancellation and repo.reasons[-1] == (booked.id, "Cancelled by the patient")


def test_the_late_cancellation_window_follows_the_setting(repo, settings):
    settings.NOVAMIND_LATE_CANCELLATION_HOURS = 48
    booked = book(repo)
    cancelled = scheduling.appointment_cancel(
        appointments=repo, appointment_id=booked.id, by="patient", reason="trip", now=START - dt.timedelta(hours=30)
    )
    assert cancelled.late_cancellation


def test_rescheduling_links_the_old_appointment_to_its_replacement_which_may_overlap_the_old_slot(repo):
    booked = book(repo)
    old, new = scheduling.appointment_reschedule(
        appointments=repo,
        appointment_id=booked.id,
        start=START + dt.timedelta(minutes=30),
        end=START + dt.timedelta(minutes=80),
        now=NOW,
    )
    assert old.status is domain.Status.RESCHEDULED and old.replaced_by_id == new.id
    assert new.status is domain.Status.SCHEDULED and new.patient_id == PATIENT and new.room_id == ROOM


def test_rescheduling_into_a_clash_changes_nothing(repo):
    booked = book(repo)
    other = book(
        repo,
        patient_id=OTHER_PATIENT,
        room_id=OTHER_ROOM,
        start=START + dt.timedelta(hours=2),
        end=START + dt.timedelta(hours=3),
    )
    with pytest.raises(domain.BookingConflict):
        scheduling.appointment_reschedule(
            appointments=repo, appointment_id=booked.id, start=other.start, end=other.end, now=NOW
        )
    assert repo.get_by_id(booked.id).status is domain.Status.SCHEDULED and len(repo.rows) == 2


def test_rescheduling_to_telehealth_drops_the_room_when_asked_and_refuses_a_room_kept_by_mistake(repo):
    booked = book(repo)
    with pytest.raises(RuleViolation) as caught:
        scheduling.appointment_reschedule(
            appointments=repo,
            appointment_id=booked.id,
            start=START,
            end=booked.end,
            modality=domain.Modality.TELEHEALTH,
            now=NOW,
        )
    assert "room" in caught.value.errors
    _, new = scheduling.appointment_reschedule(
        appointments=repo,
        appointment_id=booked.id,
        start=START,
        end=booked.end,
        modality=domain.Modality.TELEHEALTH,
        room_id=None,
        now=NOW,
    )
    assert new.room_id is None


def test_a_completed_visit_cannot_be_rescheduled(repo):
    booked = book(repo)
    scheduling.appointment_check_in(appointments=repo, appointment_id=booked.id, now=START)
    with pytest.raises(domain.TransitionRefused):
        scheduling.appointment_reschedule(
            appointments=repo,
            appointment_id=booked.id,
            start=START + dt.timedelta(days=1),
            end=START + dt.timedelta(days=1, minutes=50),
            now=NOW,
        )


# --- series ----------------------------------------------------------------------------------


def weekly(**changes):
    base = domain.Series(
        patient_id=PATIENT, clinician_id=7, start=START, end=START + dt.timedelta(minutes=50), count=6, room_id=ROOM
    )
    return dataclasses.replace(base, **changes)


def test_a_series_plan_lists_every_occurrence_and_its_clashes_without_booking(repo):
    clash = book(
        repo,
        patient_id=OTHER_PATIENT,
        room_id=OTHER_ROOM,
        start=START + dt.timedelta(weeks=3),
        end=START + dt.timedelta(weeks=3, minutes=30),
    )
    _, plan = scheduling.series_plan(appointments=repo, series=weekly(), now=NOW)
    assert len(plan) == 6 and [bool(item.conflicts) for item in plan] == [False, False, False, True, False, False]
    assert plan[3].conflicts[0].existing.id == clash.id
    assert len(repo.rows) == 1


def test_a_series_with_a_clash_books_nothing_at_all(repo):
    book(
        repo,
        patient_id=OTHER_PATIENT,
        room_id=OTHER_ROOM,
        start=START + dt.timedelta(weeks=5),
        end=START + dt.timedelta(weeks=5, minutes=30),
    )
    with pytest.raises(domain.SeriesConflict) as caught:
        scheduling.series_book(appointments=repo, series=weekly(), now=NOW)
    assert "1 of the 6" in caught.value.errors["__all__"][0]
    assert len(repo.rows) == 1 and repo.series == {}


def test_a_clear_series_books_every_occurrence_linked_to_it(repo):
    stored, occurrences = scheduling.series_book(appointments=repo, series=weekly(reason_for_visit="CBT"), now=NOW)
    assert len(occurrences) == 6 and {o.series_id for o in occurrences} == {stored.id}
    assert {o.reason_for_visit for o in occurrences} == {"CBT"}


def test_a_series_refused_by_the_store_after_a_race_books_nothing_and_reports_the_clash(repo):
    repo.refuse_next_series = True
    # What a concurrent booking looks like to this process: it appears between plan and insert.
    original = repo.add_series

    def racing_add_series(series, occurrences):
        repo.rows.clear()
        book(repo, patient_id=OTHER_PATIENT, room_id=OTHER_ROOM)
        return original(series, occurrences)

    repo.add_series = racing_add_series
    with pytest.raises(domain.SeriesConflict) as caught:
        scheduling.series_book(appointments=repo, series=weekly(), now=NOW)
    assert "1 of the 6" in caught.value.errors["__all__"][0]
    assert repo.series == {}


def test_a_series_cannot_start_on_a_passed_day_or_for_an_inactive_patient(repo):
    repo.inactive_patients.add(PATIENT)
    with pytest.raises(RuleViolation) as caught:
        scheduling.series_plan(appointments=repo, series=weekly(), now=START + dt.timedelta(days=2))
    assert set(caught.value.errors) == {"patient", "start"}


def test_cancel_this_and_all_future_cancels_only_the_scheduled_ones_from_this_one_on(repo):
    _, occurrences = scheduling.series_book(appointments=repo, series=weekly(), now=NOW)
    scheduling.appointment_check_in(appointments=repo, appointment_id=occurrences[0].id, now=START)
    scheduling.appointment_cancel(
        appointments=repo, appointment_id=occurrences[3].id, by="patient", reason="away", now=NOW
    )
    cancelled = scheduling.series_cancel_from(
        appointments=repo, appointment_id=occurrences[2].id, by="clinic", reason="clinician leaving", now=NOW
    )
    assert [c.id for c in cancelled] == [occurrences[i].id for i in (2, 4, 5)]
    statuses = [repo.get_by_id(o.id).status for o in occurrences]
    assert statuses == [domain.Status.CHECKED_IN, domain.Status.SCHEDULED, *[domain.Status.CANCELLED] * 4]
    assert repo.get_by_id(occurrences[3].id).cancelled_by is domain.CancelledBy.PATIENT


def test_cancel_this_and_all_future_is_all_or_nothing(repo):
    _, occurrences = scheduling.series_book(appointments=repo, series=weekly(), now=NOW)
    stale = dataclasses.replace(repo.rows[occurrences[4].id], reason_for_visit="edited elsewhere")
    original = repo.update_all

    def racing_update_all(items, *, reason):
        repo.rows[stale.id] = dataclasses.replace(stale, audit=dataclasses.replace(stale.audit, version=9))
        return original(items, reason=reason)

    repo.update_all = racing_update_all
    with pytest.raises(ConcurrencyError):
        scheduling.series_cancel_from(
            appointments=repo, appointment_id=occurrences[1].id, by="clinic", reason="x", now=NOW
        )
    assert all(repo.get_by_id(o.id).status is domain.Status.SCHEDULED for o in occurrences)


def test_cancel_all_future_needs_a_series(repo):
    booked = book(repo)
    with pytest.raises(RuleViolation, match="not part of a series"):
        scheduling.series_cancel_from(appointments=repo, appointment_id=booked.id, by="clinic", reason="x", now=NOW)


# --- no-shows --------------------------------------------------------------------------------


def test_mark_no_shows_marks_only_scheduled_appointments_past_the_grace_period(repo):
    ended_long_ago = book(repo)
    attended = book(repo, clinician_id=8, patient_id=OTHER_PATIENT, room_id=OTHER_ROOM)
    scheduling.appointment_check_in(appointments=repo, appointment_id=attended.id, now=START)
    just_ended = book(
        repo,
        patient_id=THIRD_PATIENT,
        start=START + dt.timedelta(hours=1),
        end=START + dt.timedelta(hours=1, minutes=50),
    )
    now = just_ended.end + dt.timedelta(minutes=59)
    run = scheduling.appointments_mark_no_shows(appointments=repo, now=now, grace=dt.timedelta(minutes=60))
    assert [a.id for a in run.marked] == [ended_long_ago.id] and run.skipped == []
    assert repo.get_by_id(just_ended.id).status is domain.Status.SCHEDULED
    assert repo.get_by_id(attended.id).status is domain.Status.CHECKED_IN


def test_a_dry_run_lists_the_due_no_shows_and_changes_nothing(repo):
    booked = book(repo)
    run = scheduling.appointments_mark_no_shows(appointments=repo, now=START + dt.timedelta(days=1), dry_run=True)
    assert [a.id for a in run.due] == [booked.id] and run.marked == []
    assert repo.get_by_id(booked.id).status is domain.Status.SCHEDULED


def test_the_grace_period_comes_from_the_setting(repo, settings):
    settings.NOVAMIND_NO_SHOW_GRACE_MINUTES = 180
    booked = book(repo)
    assert scheduling.appointments_mark_no_shows(appointments=repo, now=booked.end + dt.timedelta(hours=2)).due == []
    assert scheduling.appointments_mark_no_shows(
        appointments=repo, now=booked.end + dt.timedelta(hours=3, minutes=1)
    ).marked


def test_an_appointment_changed_meanwhile_is_skipped_and_reported_not_fatal(repo):
    first = book(repo)
    second = book(repo, clinician_id=8, patient_id=OTHER_PATIENT, room_id=OTHER_ROOM)
    original = repo.overdue

    def stale_overdue(*, ended_before):
        due = original(ended_before=ended_before)
        scheduling.appointment_check_in(appointments=repo, appointment_id=first.id, now=START)
        return due

    repo.overdue = stale_overdue
    run = scheduling.appointments_mark_no_shows(appointments=repo, now=START + dt.timedelta(days=1))
    assert [a.id for a in run.marked] == [second.id] and [a.id for a, _ in run.skipped] == [first.id]


def test_a_negative_grace_period_is_refused(repo):
    with pytest.raises(RuleViolation):
        scheduling.appointments_mark_no_shows(appointments=repo, now=NOW, grace=dt.timedelta(minutes=-1))


def test_a_booking_without_an_end_lasts_its_kinds_usual_length_and_is_checked_for_clashes(repo):
    intake = book(repo, end=None, kind=domain.Kind.INTAKE)
    assert intake.end - intake.start == dt.timedelta(minutes=60)
    with pytest.raises(domain.BookingConflict):
        # 50 minutes later the intake is still on: the derived end is the one checked.
        book(repo, end=None, patient_id=OTHER_PATIENT, room_id=OTHER_ROOM, start=START + dt.timedelta(minutes=50))


def test_a_series_without_a_first_end_books_each_visit_at_the_usual_length(repo):
    series = domain.Series(
        patient_id=PATIENT,
        clinician_id=7,
        start=START,
        end=None,
        count=2,
        kind=domain.Kind.MEDICATION_MANAGEMENT,
        room_id=ROOM,
    )
    _, occurrences = scheduling.series_book(appointments=repo, series=series, now=NOW)
    assert [item.end - item.start for item in occurrences] == [dt.timedelta(minutes=30)] * 2
