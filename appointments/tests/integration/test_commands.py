"""The appointment commands and the demo schedule, through call_command on the real database."""

import datetime as dt
import io
import random

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from appointments import demo, domain, models, services
from appointments.tests.conftest import local
from clinic.management.commands.seed_demo import Command as SeedDemo
from novamind import access
from novamind.models import AccessLogEntry
from patients import demo as patient_demo

pytestmark = pytest.mark.django_db


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


# --- mark_no_shows -------------------------------------------------------------------------------


def test_mark_no_shows_marks_overdue_visits_attributed_to_the_actor(
    repo, visit, staff, other_staff, other_patient, other_room
):
    overdue = repo.add(visit(start=timezone.now() - dt.timedelta(hours=3)))
    recent = repo.add(
        visit(start=timezone.now() - dt.timedelta(minutes=80), patient_id=other_patient.id, room_id=other_room.pk)
    )
    out, _ = run("mark_no_shows", "--actor", other_staff.username)
    assert "Marked 1 appointment(s) as no-show (grace 60 min)." in out and str(overdue.id)[:8] in out
    row = models.Appointment.objects.get(pk=overdue.id)
    assert row.status == "no_show" and row.updated_by == other_staff
    assert row.history.first().history_user == other_staff
    assert models.Appointment.objects.get(pk=recent.id).status == "scheduled"


def test_mark_no_shows_output_names_no_patient(repo, visit, patient):
    repo.add(visit(start=timezone.now() - dt.timedelta(hours=3)))
    out, _ = run("mark_no_shows", "--actor", "alice", "--dry-run")
    assert patient.mrn in out and patient.legal_last_name not in out


def test_mark_no_shows_dry_run_changes_nothing(repo, visit):
    overdue = repo.add(visit(start=timezone.now() - dt.timedelta(hours=3)))
    out, _ = run("mark_no_shows", "--actor", "alice", "--dry-run")
    assert "Would mark 1" in out and str(overdue.id)[:8] in out
    assert models.Appointment.objects.get(pk=overdue.id).status == "scheduled"
    assert models.Appointment.history.count() == 1


def test_mark_no_shows_grace_can_be_overridden(repo, visit):
    recent = repo.add(visit(start=timezone.now() - dt.timedelta(minutes=80)))
    out, _ = run("mark_no_shows", "--actor", "alice", "--grace-minutes", "20")
    assert "Marked 1" in out and models.Appointment.objects.get(pk=recent.id).status == "no_show"


@pytest.mark.parametrize(
    "args, words",
    [
        (["--actor", "nobody"], "no user named"),
        (["--actor", "alice", "--grace-minutes", "-5"], "cannot be negative"),
    ],
)
def test_mark_no_shows_refuses_bad_input_with_a_clear_error(staff, args, words):
    with pytest.raises(CommandError, match=words):
        run("mark_no_shows", *args)


def test_mark_no_shows_requires_an_actor_and_refuses_an_inactive_one(staff):
    with pytest.raises(CommandError, match="--actor"):
        run("mark_no_shows")
    staff.is_active = False
    staff.save()
    with pytest.raises(CommandError, match="not an active staff user"):
        run("mark_no_shows", "--actor", staff.username)


# --- day_sheet -----------------------------------------------------------------------------------


def test_day_sheet_prints_the_day_in_order_and_logs_the_access(
    repo, visit, staff, clinician, patient, other_patient, other_room
):
    services.appointment_book(actor=repo.actor, appointment=visit(start=local(1, 14)))
    early = services.appointment_book(
        actor=repo.actor,
        appointment=visit(
            start=local(1, 9), patient_id=other_patient.id, room_id=other_room.pk, modality=domain.Modality.IN_PERSON
        ),
    )
    services.appointment_cancel(actor=repo.actor, appointment_id=early.id, by="patient", reason="ill")
    day = timezone.localtime(local(1)).date().isoformat()
    out, _ = run("day_sheet", "--clinician", clinician.username, "--date", day, "--actor", staff.username)
    lines = out.splitlines()
    assert lines[0].startswith(f"Day sheet — {clinician.get_full_name()}, PhD")
    assert "1 appointment(s), 0 h 50 min booked" in lines[1]
    booked = next(line for line in lines if "14:00–14:50" in line)
    assert patient.mrn in booked and "Room 1" in booked and "Scheduled" in booked
    cancelled = next(line for line in lines if "09:00–09:50" in line)
    assert lines.index(cancelled) > lines.index(booked) and "Cancelled" in cancelled
    assert AccessLogEntry.objects.filter(action="print day sheet", user=staff).count() == 2


class LogWriteFailed(Exception):
    """The access-log write broke half-way through a command."""


def test_a_day_sheet_whose_second_access_log_entry_fails_is_logged_for_no_patient(
    repo, visit, staff, clinician, other_patient, other_room, monkeypatch
):
    services.appointment_book(actor=repo.actor, appointment=visit(start=local(1, 14)))
    services.appointment_book(
        actor=repo.actor,
        appointment=visit(
            start=local(1, 9), patient_id=other_patient.id, room_id=other_room.pk, modality=domain.Modality.IN_PERSON
        ),
    )
    real, calls = access.record, []

    def second_fails(**kwargs):
        calls.append(kwargs["patient"])
        if len(calls) == 2:
            raise LogWriteFailed
        return real(**kwargs)

    monkeypatch.setattr(access, "record", second_fails)
    day = timezone.localtime(local(1)).date().isoformat()
    with pytest.raises(LogWriteFailed):
        run("day_sheet", "--clinician", clinician.username, "--date", day, "--actor", staff.username)
    assert len(calls) == 2
    assert not AccessLogEntry.objects.filter(action="print day sheet").exists()


@pytest.mark.parametrize(
    "args, words",
    [
        (["--clinician", "nobody", "--actor", "alice"], "not an active clinician"),
        (["--clinician", "alice", "--actor", "alice"], "not an active clinician"),
        (["--clinician", "drwho", "--actor", "alice", "--date", "31/12/2026"], "YYYY-MM-DD"),
        (["--clinician", "drwho", "--actor", "ghost"], "no user"),
    ],
)
def test_day_sheet_refuses_bad_input_with_a_clear_error(staff, clinician, args, words):
    with pytest.raises(CommandError, match=words):
        run("day_sheet", *args)


def test_day_sheet_of_an_empty_day_says_so(staff, clinician):
    out, _ = run("day_sheet", "--clinician", clinician.username, "--actor", staff.username)
    assert "No appointments." in out


# --- demo ----------------------------------------------------------------------------------------


def test_the_demo_schedule_is_realistic_and_a_second_run_creates_nothing(db):
    command = SeedDemo(stdout=io.StringIO())
    staff = command._staff(False)
    out = io.StringIO()
    patients = patient_demo.seed(actor=staff["admin"], rng=random.Random(1), stdout=out, patient_count=40)["patients"]
    first = demo.seed(actor=staff["admin"], staff=staff, rng=random.Random(2), stdout=out, patients=patients)
    count, history = models.Appointment.objects.count(), models.Appointment.history.count()
    assert count > 100 and len(first["appointments"]) == count
    statuses = set(models.Appointment.objects.values_list("status", flat=True))
    assert {"completed", "scheduled"} <= statuses
    assert models.Appointment.objects.filter(start__gte=timezone.now()).exists()
    assert models.Appointment.objects.filter(modality="telehealth", room__isnull=True).exists()
    second = demo.seed(actor=staff["admin"], staff=staff, rng=random.Random(2), stdout=out, patients=patients)
    assert models.Appointment.objects.count() == count and models.Appointment.history.count() == history
    assert {a.id for a in second["appointments"]} == {a.id for a in first["appointments"]}
    assert "0 created" in out.getvalue().splitlines()[-1]


def test_the_demo_copes_with_no_patients(db):
    staff = SeedDemo(stdout=io.StringIO())._staff(False)
    result = demo.seed(actor=staff["admin"], staff=staff, rng=random.Random(2), stdout=io.StringIO(), patients=[])
    assert result == {"appointments": []} and models.Appointment.objects.count() == 0
