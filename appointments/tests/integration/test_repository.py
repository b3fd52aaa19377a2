"""The Django appointment repository and services on the real database (SQLite and PostgreSQL)."""

import dataclasses
import datetime as dt
import uuid

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from appointments import domain, models, repository, services
from appointments.tests.conftest import local
from novamind import audit
from novamind.domain import ConcurrencyError, NotFound, RuleViolation
from novamind.models import UnauditedWriteError
from patients import domain as patient_domain
from patients import repository as patient_repository

pytestmark = pytest.mark.django_db


def book(repo, visit, **changes):
    return services.appointment_book(actor=repo.actor, appointment=visit(**changes))


def test_add_and_get_return_domain_objects_attributed_to_the_actor(repo, visit, staff):
    stored = repo.add(visit(reason_for_visit="worsening sleep"))
    assert isinstance(stored, domain.Appointment)
    again = repo.get_by_id(stored.id)
    assert again == stored and again.reason_for_visit == "worsening sleep"
    assert again.audit.created_by == staff.username and again.audit.version == 1
    row = models.Appointment.objects.get()
    assert row.history.get().history_user == staff and row.history.get().history_change_reason == "Booked"


def test_get_by_id_of_garbage_or_unknown_ids_is_none(repo):
    assert repo.get_by_id("not-a-uuid") is None and repo.get_by_id(uuid.uuid4()) is None


def test_update_is_version_checked_and_keeps_a_history_row_per_change(repo, visit, other_staff):
    stored = repo.add(visit())
    bob = repository.DjangoAppointmentRepository(actor=other_staff)
    changed = bob.update(dataclasses.replace(stored, reason_for_visit="new"), reason="Details changed")
    assert changed.audit.version == 2 and changed.audit.updated_by == other_staff.username
    with pytest.raises(ConcurrencyError):
        repo.update(dataclasses.replace(stored, reason_for_visit="stale"))
    assert repo.get_by_id(stored.id).reason_for_visit == "new"
    assert models.Appointment.history.count() == 2


def test_invalid_appointments_are_refused_by_the_repository_with_field_errors(repo, visit):
    with pytest.raises(RuleViolation) as caught:
        repo.add(visit(modality=domain.Modality.TELEHEALTH, end=local() - dt.timedelta(minutes=1)))
    assert set(caught.value.errors) >= {"room", "end"}
    assert models.Appointment.objects.count() == 0


def test_the_status_cannot_jump_through_the_repository_either(repo, visit):
    stored = repo.add(visit())
    with pytest.raises(RuleViolation) as caught:
        repo.update(dataclasses.replace(stored, status=domain.Status.COMPLETED, checked_in_at=timezone.now()))
    assert "cannot be completed" in caught.value.errors["status"][0]
    assert repo.get_by_id(stored.id).status is domain.Status.SCHEDULED


def test_delete_cancels_on_behalf_of_the_clinic_and_keeps_the_record(repo, visit):
    stored = repo.add(visit())
    cancelled = repo.delete(stored.id, reason="clinic closed")
    assert cancelled.status is domain.Status.CANCELLED and cancelled.cancelled_by is domain.CancelledBy.CLINIC
    assert models.Appointment.objects.filter(pk=stored.id).exists()
    with pytest.raises(NotFound):
        repo.delete(uuid.uuid4(), reason="x")


def test_queryset_update_is_refused_so_no_write_escapes_the_history(repo, visit):
    repo.add(visit())
    with pytest.raises(UnauditedWriteError):
        models.Appointment.objects.update(status="completed")


def test_list_for_clinician_returns_that_day_in_local_time_in_order(
    repo, visit, clinician, other_clinician, other_patient, other_room
):
    late = repo.add(visit(start=local(1, 16)))
    early = repo.add(visit(start=local(1, 8), patient_id=other_patient.id, room_id=other_room.pk))
    repo.add(visit(start=local(2, 8)))
    repo.add(visit(start=local(1, 12), clinician_id=other_clinician.pk))
    day = timezone.localdate() + dt.timedelta(days=1)
    assert [a.id for a in repo.list_for_clinician(clinician.pk, day=day)] == [early.id, late.id]
    in_range = repo.list_for_clinician(clinician.pk, start=local(1, 8, 30), end=local(1, 16, 10))
    assert [a.id for a in in_range] == [early.id, late.id]  # overlapping, not only starting inside
    with pytest.raises(RuleViolation):
        repo.list_for_clinician(clinician.pk)


def test_list_for_patient_lists_past_future_and_cancelled_in_order(repo, visit, patient):
    past = repo.add(visit(start=timezone.now() - dt.timedelta(days=3)))
    future = repo.add(visit(start=local(5)))
    cancelled = repo.add(visit(start=local(6)))
    repo.delete(cancelled.id, reason="moving away")
    assert [a.id for a in repo.list_for_patient(patient.id)] == [past.id, future.id, cancelled.id]


def test_overlapping_finds_only_time_holding_appointments_of_the_parties(
    repo, visit, other_patient, other_room, other_clinician
):
    held = repo.add(visit())
    released = repo.add(
        visit(
            start=local(1, 10, 30), clinician_id=other_clinician.pk, patient_id=other_patient.id, room_id=other_room.pk
        )
    )
    repo.delete(released.id, reason="x")
    found = repo.overlapping(start=local(1, 10, 20), end=local(1, 11), clinician_id=held.clinician_id)
    assert [a.id for a in found] == [held.id]
    assert repo.overlapping(start=local(1, 10, 50), end=local(1, 11, 30), clinician_id=held.clinician_id) == []


def test_the_check_constraints_back_up_the_domain_on_both_engines(repo, visit, staff):
    stored = repo.add(visit())
    row = models.Appointment.objects.get(pk=stored.id)
    row.modality = domain.Modality.TELEHEALTH.value  # a room on a telehealth visit, bypassing clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        audit.audited_save(row, actor=staff, validate=False)
    row = models.Appointment.objects.get(pk=stored.id)
    row.end = row.start
    with pytest.raises(IntegrityError), transaction.atomic():
        audit.audited_save(row, actor=staff, validate=False)


def test_booking_refuses_a_clinician_double_booking_naming_the_clashing_appointment(
    repo, visit, other_patient, other_room
):
    first = book(repo, visit)
    with pytest.raises(domain.BookingConflict) as caught:
        book(repo, visit, patient_id=other_patient.id, room_id=other_room.pk, start=local(1, 10, 30))
    assert f"appointment {str(first.id)[:8]}" in caught.value.errors["clinician"][0]
    assert models.Appointment.objects.count() == 1


def test_booking_refuses_an_inactive_patient_and_a_room_out_of_use(repo, visit, staff, patient, room):
    patient_repository.DjangoPatientRepository(actor=staff).set_status(
        patient.id, patient_domain.PatientStatus.INACTIVE
    )
    room.is_active = False
    audit.audited_save(room, actor=staff)
    with pytest.raises(RuleViolation) as caught:
        book(repo, visit)
    assert set(caught.value.errors) == {"patient", "room"}


def test_a_user_without_a_clinician_profile_cannot_be_booked(repo, visit, other_staff):
    with pytest.raises(RuleViolation) as caught:
        book(repo, visit, clinician_id=other_staff.pk)
    assert "not an active clinician" in caught.value.errors["clinician"][0]


def test_the_whole_lifecycle_is_kept_in_history_with_who_and_when(repo, visit, staff, other_staff):
    booked = repo.add(visit(start=timezone.now() - dt.timedelta(minutes=5)))
    bob = repository.DjangoAppointmentRepository(actor=other_staff)
    services.appointment_check_in(actor=bob.actor, appointment_id=booked.id)
    services.appointment_complete(actor=repo.actor, appointment_id=booked.id)
    history = list(models.Appointment.history.filter(id=booked.id).order_by("history_date"))
    assert [(h.status, h.history_user.username, h.history_change_reason) for h in history] == [
        ("scheduled", staff.username, "Booked"),
        ("checked_in", other_staff.username, "Checked in"),
        ("completed", staff.username, "Completed"),
    ]
    assert history[1].checked_in_at is not None and history[2].status_changed_at >= history[1].checked_in_at


def test_rescheduling_writes_both_rows_and_links_them(repo, visit):
    booked = book(repo, visit)
    old, new = services.appointment_reschedule(
        actor=repo.actor, appointment_id=booked.id, start=local(1, 10, 30), end=local(1, 11, 20)
    )
    assert models.Appointment.objects.get(pk=old.id).replaced_by_id == new.id
    assert models.Appointment.objects.get(pk=new.id).replaces.pk == old.id
    assert old.status is domain.Status.RESCHEDULED


def test_rescheduling_into_a_clash_writes_neither_row(repo, visit, other_patient, other_room):
    booked = book(repo, visit)
    blocker = book(repo, visit, patient_id=other_patient.id, room_id=other_room.pk, start=local(2))
    with pytest.raises(domain.BookingConflict):
        services.appointment_reschedule(
            actor=repo.actor, appointment_id=booked.id, start=blocker.start, end=blocker.end
        )
    assert models.Appointment.objects.count() == 2
    assert repo.get_by_id(booked.id).status is domain.Status.SCHEDULED


def test_a_series_is_created_all_or_nothing(repo, visit, patient, clinician, room, other_patient, other_room):
    blocker = book(repo, visit, patient_id=other_patient.id, room_id=other_room.pk, start=local(15))
    weekly = domain.Series(
        patient_id=patient.id, clinician_id=clinician.pk, start=local(1), end=local(1, 10, 50), count=4, room_id=room.pk
    )
    _, plan = services.series_plan(actor=repo.actor, series=weekly)
    assert [bool(item.conflicts) for item in plan] == [False, False, True, False]
    assert plan[2].conflicts[0].existing.id == blocker.id
    with pytest.raises(domain.SeriesConflict):
        services.series_book(actor=repo.actor, series=weekly)
    assert models.Appointment.objects.count() == 1 and models.AppointmentSeries.objects.count() == 0
    stored, occurrences = services.series_book(
        actor=repo.actor, series=dataclasses.replace(weekly, start=local(1, 12), end=local(1, 12, 50))
    )
    assert len(occurrences) == 4 and models.Appointment.objects.filter(series_id=stored.id).count() == 4
    assert repo.get_series(stored.id) == stored


def test_a_series_that_fails_halfway_leaves_nothing_behind(repo, patient, clinician, room):
    weekly = domain.Series(
        patient_id=patient.id, clinician_id=clinician.pk, start=local(1), end=local(1, 10, 50), count=5, room_id=room.pk
    )
    series, plan = services.series_plan(actor=repo.actor, series=weekly)
    occurrences = [item.appointment for item in plan]
    broken = dataclasses.replace(occurrences[3], end=occurrences[3].start)  # the fourth is refused
    with pytest.raises(RuleViolation):
        repo.add_series(series, [*occurrences[:3], broken, occurrences[4]])
    assert models.Appointment.objects.count() == 0 and models.AppointmentSeries.objects.count() == 0
    assert models.Appointment.history.count() == 0


def test_cancel_this_and_all_future_in_the_database(repo, patient, clinician, room):
    weekly = domain.Series(
        patient_id=patient.id, clinician_id=clinician.pk, start=local(1), end=local(1, 10, 50), count=4, room_id=room.pk
    )
    _, occurrences = services.series_book(actor=repo.actor, series=weekly)
    cancelled = services.series_cancel_from(
        actor=repo.actor, appointment_id=occurrences[1].id, by="patient", reason="moving"
    )
    assert len(cancelled) == 3
    statuses = list(models.Appointment.objects.order_by("start").values_list("status", flat=True))
    assert statuses == ["scheduled", "cancelled", "cancelled", "cancelled"]


def test_mark_no_shows_through_the_database(repo, visit, other_patient, other_room):
    overdue = repo.add(visit(start=timezone.now() - dt.timedelta(hours=3)))
    recent = repo.add(
        visit(start=timezone.now() - dt.timedelta(minutes=70), patient_id=other_patient.id, room_id=other_room.pk)
    )
    run = services.appointments_mark_no_shows(actor=repo.actor)
    assert [a.id for a in run.marked] == [overdue.id]
    assert repo.get_by_id(recent.id).status is domain.Status.SCHEDULED
    assert (
        models.Appointment.history.filter(id=overdue.id).first().history_change_reason
        == "Marked no-show (not checked in)"
    )


def test_str_names_an_appointment_without_phi(repo, visit):
    stored = repo.add(visit(reason_for_visit="secret"))
    row = models.Appointment.objects.get(pk=stored.id)
    assert str(row) == f"appointment {str(stored.id)[:8]}"


def test_encrypted_fields_cannot_be_filtered_or_ordered(repo, visit):
    from novamind.encryption import EncryptedFieldQueryError

    repo.add(visit(reason_for_visit="x"))
    with pytest.raises(EncryptedFieldQueryError):
        models.Appointment.objects.filter(reason_for_visit="x").count()
    with pytest.raises(EncryptedFieldQueryError):
        models.Appointment.objects.order_by("cancellation_reason")


def test_a_patient_may_be_booked_with_two_clinicians_on_the_same_day_without_overlap(
    repo, visit, other_clinician, other_room
):
    book(repo, visit)
    assert book(repo, visit, clinician_id=other_clinician.pk, room_id=other_room.pk, start=local(1, 11))


def test_an_appointment_stored_without_an_end_lasts_its_kinds_usual_length_on_every_path(repo, visit, room):
    through_the_service = book(repo, visit, end=None, kind=domain.Kind.INTAKE)
    assert through_the_service.end - through_the_service.start == dt.timedelta(minutes=60)
    straight_in = repo.add(visit(end=None, kind=domain.Kind.MEDICATION_MANAGEMENT, start=local(2, 9)))
    assert straight_in.end - straight_in.start == dt.timedelta(minutes=30)
    row = models.Appointment.objects.get(pk=straight_in.id)
    assert row.end - row.start == dt.timedelta(minutes=30) and row.history.get().end == row.end
