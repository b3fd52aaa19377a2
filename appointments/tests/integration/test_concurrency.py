"""No double booking under concurrency, and index-backed schedule queries (PostgreSQL)."""

import dataclasses
import datetime as dt
import re
import threading
import time

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from appointments import domain, models, repository, services
from appointments.tests.conftest import local, make_clinician, make_patient, make_room
from conftest import owner_rights
from novamind import encryption
from novamind.domain import RuleViolation

THREADS = 8


def run_concurrently(jobs, *, barrier=True):
    """Run every job in its own thread and connection, released together; return their outcomes."""
    barrier = threading.Barrier(len(jobs)) if barrier else None
    outcomes = [None] * len(jobs)

    def worker(index, job):
        try:
            if barrier is not None:
                barrier.wait(timeout=30)
            outcomes[index] = ("ok", job())
        except RuleViolation as error:
            outcomes[index] = ("refused", error)
        except Exception as error:  # noqa: BLE001 - reported by the assertion, with its type
            outcomes[index] = ("crashed", error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_many_concurrent_bookings_of_one_clinician_slot_let_exactly_one_succeed(on_postgres, staff):
    clinician = make_clinician("drconcurrent", actor=staff)
    patients = [make_patient(staff) for _ in range(THREADS)]
    rooms = [make_room(staff, f"Room C{i}") for i in range(THREADS)]
    start = local(3, 14)

    def booking(patient, room):
        def job():
            appointments = repository.DjangoAppointmentRepository(actor=staff)
            return services.appointment_book(
                actor=appointments.actor,
                appointment=domain.Appointment(
                    patient_id=patient.id,
                    clinician_id=clinician.pk,
                    start=start,
                    end=start + dt.timedelta(minutes=50),
                    room_id=room.pk,
                ),
            )

        return job

    outcomes = run_concurrently([booking(p, r) for p, r in zip(patients, rooms, strict=True)])
    assert not [o for o in outcomes if o[0] == "crashed"], outcomes
    winners = [value for kind, value in outcomes if kind == "ok"]
    losers = [value for kind, value in outcomes if kind == "refused"]
    assert len(winners) == 1 and len(losers) == THREADS - 1
    assert all(isinstance(error, domain.BookingConflict) for error in losers)
    # Those refused by the database (not the Python check) still name the booking that won.
    assert all("clinician" in error.errors for error in losers)
    assert all(str(winners[0].id)[:8] in error.errors["clinician"][0] for error in losers)
    assert models.Appointment.objects.filter(clinician=clinician).count() == 1
    assert models.Appointment.history.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_booking_that_passes_the_python_check_during_a_race_is_refused_by_the_database(
    on_postgres, staff, monkeypatch
):
    """Thread A books inside an open transaction; B checks (sees nothing yet) and inserts; A commits."""
    clinician = make_clinician("drrace", actor=staff)
    first, second = make_patient(staff), make_patient(staff)
    room_a, room_b = make_room(staff, "Room R1"), make_room(staff, "Room R2")
    a_booked, b_checked = threading.Event(), threading.Event()
    checks = []

    def appointment(patient, room):
        return domain.Appointment(
            patient_id=patient.id, clinician_id=clinician.pk, start=local(5, 11), end=local(5, 11, 50), room_id=room.pk
        )

    def job_a():
        with transaction.atomic():
            booked = services.appointment_book(actor=staff, appointment=appointment(first, room_a))
            a_booked.set()
            assert b_checked.wait(timeout=30)
            time.sleep(0.5)  # B is now blocked on the exclusion index, waiting for this commit
        return booked

    original = repository.DjangoAppointmentRepository.overlapping
    b_thread = []

    def overlapping(self, **kwargs):
        found = original(self, **kwargs)
        if threading.get_ident() in b_thread:  # the service builds its own repository: watch B's
            checks.append(found)
            b_checked.set()
        return found

    def job_b():
        assert a_booked.wait(timeout=30)
        b_thread.append(threading.get_ident())
        return services.appointment_book(actor=staff, appointment=appointment(second, room_b))

    monkeypatch.setattr(repository.DjangoAppointmentRepository, "overlapping", overlapping)
    outcomes = run_concurrently([job_a, job_b], barrier=False)
    assert outcomes[0][0] == "ok", outcomes
    assert checks and checks[0] == []  # B's Python check saw no clash: only the database could stop it
    kind, error = outcomes[1]
    assert kind == "refused" and isinstance(error, domain.BookingConflict), outcomes
    assert str(outcomes[0][1].id)[:8] in error.errors["clinician"][0]
    assert models.Appointment.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_overlapping_series_booked_at_once_let_exactly_one_succeed_whole(on_postgres, staff):
    clinician = make_clinician("drseries", actor=staff)
    first_patient, second_patient = make_patient(staff), make_patient(staff)
    first_room, second_room = make_room(staff, "Room S1"), make_room(staff, "Room S2")
    # The second series starts a week later, so they share three of their dates.
    weekly = domain.Series(
        patient_id=first_patient.id,
        clinician_id=clinician.pk,
        start=local(2, 9),
        end=local(2, 9, 50),
        count=4,
        room_id=first_room.pk,
    )
    later = dataclasses.replace(
        weekly,
        patient_id=second_patient.id,
        room_id=second_room.pk,
        start=weekly.start + dt.timedelta(weeks=1),
        end=weekly.end + dt.timedelta(weeks=1),
    )

    def booking(series):
        def job():
            appointments = repository.DjangoAppointmentRepository(actor=staff)
            return services.series_book(actor=appointments.actor, series=series)

        return job

    outcomes = run_concurrently([booking(weekly), booking(later)])
    assert not [o for o in outcomes if o[0] == "crashed"], outcomes
    assert sorted(kind for kind, _ in outcomes) == ["ok", "refused"]
    refusal = next(value for kind, value in outcomes if kind == "refused")
    assert isinstance(refusal, domain.BookingConflict | domain.SeriesConflict)
    assert models.AppointmentSeries.objects.count() == 1
    assert models.Appointment.objects.count() == 4  # the winner's four, none of the loser's


@pytest.mark.django_db(transaction=True)
def test_the_database_refuses_an_overlap_that_skips_the_python_check(on_postgres, staff):
    clinician = make_clinician("drbypass", actor=staff)
    appointments = repository.DjangoAppointmentRepository(actor=staff)
    first, second = make_patient(staff), make_patient(staff)
    room_a, room_b = make_room(staff, "Room B1"), make_room(staff, "Room B2")
    kept = appointments.add(
        domain.Appointment(
            patient_id=first.id, clinician_id=clinician.pk, start=local(4, 9), end=local(4, 10), room_id=room_a.pk
        )
    )
    # repository.add runs the single-object rules only; the exclusion constraint is the backstop.
    with pytest.raises(domain.BookingConflict) as caught:
        appointments.add(
            domain.Appointment(
                patient_id=second.id,
                clinician_id=clinician.pk,
                start=local(4, 9, 30),
                end=local(4, 10, 30),
                room_id=room_b.pk,
            )
        )
    assert str(kept.id)[:8] in caught.value.errors["clinician"][0]
    with pytest.raises(domain.BookingConflict) as caught:
        appointments.add(
            domain.Appointment(
                patient_id=first.id,
                clinician_id=make_clinician("drtwo", actor=staff).pk,
                start=local(4, 9, 30),
                end=local(4, 10, 30),
                modality=domain.Modality.TELEHEALTH,
            )
        )
    assert "patient" in caught.value.errors
    # A cancelled appointment releases the slot in the database too.
    appointments.delete(kept.id, reason="x")
    assert appointments.add(
        domain.Appointment(
            patient_id=second.id,
            clinician_id=clinician.pk,
            start=local(4, 9, 30),
            end=local(4, 10, 30),
            room_id=room_a.pk,
        )
    )


FILLER = 20_000


def fill_history(*, actor, clinicians, patient):
    """Insert FILLER past telehealth visits, an hour apart, spread over `clinicians`.

    Plain SQL on purpose: this is test scaffolding for the query planner (two years of a busy
    practice in a second), not a write path of the application.
    """
    token = encryption.encrypt("")
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO appointments_appointment (
                id, version, created_by_id, updated_by_id, created_at, updated_at, patient_id,
                clinician_id, start, "end", kind, modality, room_id, reason_for_visit, status,
                status_changed_at, checked_in_at, cancelled_by, cancellation_reason,
                late_cancellation, replaced_by_id, series_id)
            SELECT gen_random_uuid(), 1, %(actor)s, %(actor)s, now(), now(), %(patient)s,
                   (%(clinicians)s::int[])[1 + i %% cardinality(%(clinicians)s::int[])],
                   %(base)s + i * interval '1 hour', %(base)s + i * interval '1 hour' + interval '50 minutes',
                   'therapy', 'telehealth', NULL, %(token)s, 'completed',
                   %(base)s + i * interval '1 hour', %(base)s + i * interval '1 hour', '', %(token)s,
                   false, NULL, NULL
            FROM generate_series(1, %(count)s) AS i
            """,
            {
                "actor": actor.pk,
                "patient": patient.id,
                "clinicians": [c.pk for c in clinicians],
                "base": timezone.now() - dt.timedelta(hours=FILLER + 48),
                "token": token,
                "count": FILLER,
            },
        )
    # Only the table's owner may ANALYZE (PostgreSQL skips it with a warning for anyone else, as
    # for the application role); in production autovacuum does it.
    with owner_rights(), connection.cursor() as cursor:
        cursor.execute("ANALYZE appointments_appointment")


# A day no other test books: the rows other tests wrote and rolled back stay in the indexes as
# dead entries until a vacuum, and a scan of their days (tomorrow, mostly) steps over them.
DAY = 1234


@pytest.mark.django_db
def test_a_clinicians_day_and_the_conflict_check_use_indexes_among_twenty_thousand_visits(
    on_postgres,
    staff,
    clinician,
    other_clinician,
    patient,
    other_patient,
    room,
):
    fill_history(actor=staff, clinicians=[clinician, other_clinician], patient=other_patient)
    appointments = repository.DjangoAppointmentRepository(actor=staff)
    booked = appointments.add(
        domain.Appointment(
            patient_id=patient.id, clinician_id=clinician.pk, start=local(DAY), end=local(DAY, 10, 50), room_id=room.pk
        )
    )

    start, end = repository.day_bounds(local(DAY).date())
    day = models.Appointment.objects.filter(repository.overlap_query(start, end), clinician_id=clinician.pk).order_by(
        "start"
    )
    day_plan = day.explain(analyze=True, buffers=True)
    assert "Index" in day_plan and "Seq Scan" not in day_plan, day_plan
    # The start range is bounded on both sides, so the scan reads one day, not the history.
    condition = " ".join(line for line in day_plan.splitlines() if "Index Cond" in line)
    assert "start >" in condition and "start <" in condition, day_plan
    assert pages_read(day_plan) < 30, day_plan  # a sequential scan would read about a thousand
    assert [a.id for a in day] == [booked.id]

    check = models.Appointment.objects.filter(
        repository.conflict_candidates(
            start=local(DAY, 10, 20),
            end=local(DAY, 11),
            clinician_id=clinician.pk,
            patient_id=patient.id,
            room_id=room.pk,
        )
    )
    check_plan = check.explain(analyze=True, buffers=True)
    assert "Index" in check_plan and "Seq Scan" not in check_plan, check_plan
    assert pages_read(check_plan) < 30, check_plan
    assert [a.id for a in check] == [booked.id]


def pages_read(plan: str) -> int:
    """Return the shared buffers the plan's top node touched (hit + read)."""
    line = next(line for line in plan.splitlines() if "Buffers:" in line)
    return sum(int(n) for n in re.findall(r"(?:hit|read)=(\d+)", line))


@pytest.mark.django_db
def test_the_exclusion_constraints_exist_with_their_gist_indexes(on_postgres):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'appointments_appointment'::regclass AND contype = 'x' ORDER BY conname"
        )
        constraints = dict(cursor.fetchall())
    assert set(constraints) == set(models.OVERLAP_CONSTRAINTS)
    for definition in constraints.values():
        assert "gist" in definition and "tstzrange" in definition and "&&" in definition
        assert "scheduled" in definition and "cancelled" not in definition
