"""`python -m bench.growth`: the bytes one row costs in the access log and the history tables.

Writes rows through the project's own write paths (the services and `novamind.access.record`,
so each row has its real ciphertext, blind indexes, digests and history row) into a throwaway
database on DATABASE_URL's server, in two equal rounds, and divides the growth of each table's
`pg_total_relation_size` (heap, TOAST and every index) in the second round by the rows it added:
the marginal cost of a row, without the fixed first pages of a small table's many indexes. The
database is dropped at the end. README, "Scaling", turns the figures into a year's growth at a
stated clinic size.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import sys
import time

from bench import database
from bench.run import _close_connections, _setup

TABLES = (
    "novamind_accesslogentry",
    "patients_historicalpatient",
    "appointments_historicalappointment",
    "clinical_notes_historicalclinicalnote",
    "patients_patient",
    "appointments_appointment",
    "clinical_notes_clinicalnote",
)
DETAIL = "patient page: demographics, problem list, 3 appointment(s), plan line"


def parse_arguments(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.growth", description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=400, help="patients registered, then renamed (default 400)")
    parser.add_argument("--accesses", type=int, default=5000, help="access-log entries (default 5000)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    arguments = parse_arguments(argv)
    try:
        server = database.server_url(os.environ)
    except database.RefusedDatabase as refusal:
        print(f"growth: {refusal}", file=sys.stderr)
        return 2
    name = f"nm_growth_{os.getpid()}"
    original = dict(os.environ)
    database.create(server, name, original)
    try:
        _setup(server, name)
        clinician = _clinician()
        _fill(clinician, arguments, first=0)
        before = _sizes()
        _fill(clinician, arguments, first=arguments.patients)
        _report(before, _sizes())
        return 0
    finally:
        _close_connections()
        database.drop(server, name, original)
        print(f"growth: database {name} dropped", flush=True)


def _clinician():
    """Return the one clinician (a superuser with a clinician's profile) who writes everything."""
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from novamind import audit
    from novamind.models import StaffProfile

    settings.NOVAMIND_SIGN_REQUIRES_DIAGNOSIS = False  # no problem list needed to sign a note here
    clinician = get_user_model().objects.create_user(
        username="growth", first_name="Dana", last_name="Lee", is_staff=True, is_superuser=True
    )
    audit.audited_save(StaffProfile(user=clinician, is_clinician=True, credentials="PhD"), actor=clinician)
    return clinician


def _fill(clinician, arguments, *, first: int) -> None:
    """Register `arguments.patients` patients (from number `first`), each with a visit and a signed note; log accesses."""
    from django.utils import timezone

    from appointments import domain as appointments_domain
    from appointments import services as appointments_services
    from clinical_notes import domain as notes_domain
    from clinical_notes import services as notes_services
    from novamind import access, audit
    from patients import domain as patients_domain
    from patients import models as patients_models
    from patients import repository as patients_repository

    patients = patients_repository.DjangoPatientRepository(actor=clinician)
    started = time.perf_counter()
    monday = timezone.localdate() + dt.timedelta(days=7 - timezone.localdate().weekday())
    zone = timezone.get_current_timezone()
    registered = []
    for n in range(first, first + arguments.patients):
        patient = patients.add(
            patients_domain.Patient(
                legal_first_name=f"Robin{n}",
                legal_last_name="Okafor-Reyes",
                date_of_birth=dt.date(1960 + n % 40, 1 + n % 12, 1 + n % 28),
                email=f"robin{n}@example.org",
                phone="+1 212 555 0142",
            )
        )
        patients.update(dataclasses.replace(patient, preferred_name=f"Rob{n}"))
        audit.audited_save(
            patients_models.CareAssignment(patient_id=patient.id, clinician=clinician),
            actor=clinician,
            reason="Care assigned",
            validate=False,
        )
        registered.append(patient)
    print(f"growth: {len(registered)} patients registered and renamed", flush=True)
    for n, patient in enumerate(registered, start=first):
        # One visit an hour, eight a day, on the weekdays from next Monday.
        day = monday + dt.timedelta(days=(n // 8) // 5 * 7 + (n // 8) % 5)
        start = dt.datetime.combine(day, dt.time(9 + n % 8), tzinfo=zone)
        booked = appointments_services.appointment_book(
            appointment=appointments_domain.Appointment(
                patient_id=patient.id,
                clinician_id=clinician.pk,
                start=start,
                end=start + dt.timedelta(minutes=50),
                modality=appointments_domain.Modality.TELEHEALTH,
                reason_for_visit="Follow-up: sleep and mood",
            ),
            actor=clinician,
        )
        appointments_services.appointment_check_in(appointment_id=booked.id, actor=clinician, now=start)
        note = notes_services.note_create(
            note=notes_domain.ClinicalNote(
                patient_id=patient.id,
                author=None,
                kind=notes_domain.NoteKind.PROGRESS_NOTE,
                format=notes_domain.NoteFormat.SOAP,
                date_of_service=timezone.localdate(),
                sections=notes_domain.Sections(
                    subjective="Sleeping better; mood 6/10, up from 4/10. " * 4,
                    objective="Calm, good eye contact, speech normal in rate and volume. " * 2,
                    assessment="Improving on current plan; no risk indicators today. " * 2,
                    plan="Continue weekly CBT; review PHQ-9 in two weeks; sleep diary. " * 2,
                ),
            ),
            actor=clinician,
        )
        notes_services.note_sign(note_id=note.id, actor=clinician)
    print(f"growth: {len(registered)} visits booked and checked in, notes written and signed", flush=True)
    for n in range(arguments.accesses):
        patient = registered[n % len(registered)]
        access.record(user=clinician, action="view", category="demographics", patient=patient, detail=DETAIL)
    print(f"growth: {arguments.accesses} access-log entries in {time.perf_counter() - started:,.0f} s", flush=True)


def _sizes() -> dict[str, tuple[int, int, int]]:
    """Return {table: (rows, total bytes, index bytes)}."""
    from django.db import connection

    sizes = {}
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(
                # A partitioned table (the access log) has no storage of its own: its partitions do.
                # pg_partition_tree lists nothing for a plain table.
                f"SELECT count(*), coalesce((SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree('{table}')), "  # noqa: S608 - names from TABLES
                f"pg_total_relation_size('{table}')), coalesce((SELECT sum(pg_indexes_size(relid)) "
                f"FROM pg_partition_tree('{table}')), pg_indexes_size('{table}')) FROM {table}"
            )
            sizes[table] = cursor.fetchone()
    return sizes


def _report(before, after) -> None:
    print(f"\n{'table':<40} {'rows':>7} {'added':>6} {'bytes/row':>9} {'of which indexes':>16} {'average':>8}")
    for table in TABLES:
        (rows0, total0, indexes0), (rows, total, indexes) = before[table], after[table]
        added = rows - rows0
        marginal = (total - total0) / added if added else 0
        marginal_indexes = (indexes - indexes0) / added if added else 0
        average = total / rows if rows else 0
        print(f"{table:<40} {rows:>7,} {added:>6,} {marginal:>9,.0f} {marginal_indexes:>16,.0f} {average:>8,.0f}")


if __name__ == "__main__":
    sys.exit(main())
