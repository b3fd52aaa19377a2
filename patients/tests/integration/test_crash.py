"""A writer killed with SIGKILL in the middle of its work loses nothing it acknowledged, and the audit verifies.

Another process registers patients and assigns their care through the services, printing each
write after its transaction committed; the test kills it without warning part-way, then finds
every acknowledged row with its history row (and the care assignment's access-log entry), and
runs `verify_audit` in a fresh process. On PostgreSQL, the production engine: committed data
must be visible to the writer and back, hence a transactional test on the test database.
"""

import signal
import subprocess
import sys

import pytest
from django.contrib.auth.models import Group

from conftest import make_staff
from novamind import audit, roles, signals
from novamind.models import AccessLogEntry, StaffProfile
from novamind.tests.children import BASE_DIR, child_environment, postgres_url
from patients import models

ACKNOWLEDGED_BEFORE_THE_KILL = 25

# Registers a patient, then puts the clinician on their care team, for ever; prints each write
# once its transaction has committed (the services commit before they return).
WRITER = """
import datetime as dt, itertools, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "novamind.settings")
import django
django.setup()
from django.contrib.auth import get_user_model
from patients import domain, services
users = get_user_model().objects
actor, clinician = users.get(username=sys.argv[1]), users.get(username=sys.argv[2])
for number in itertools.count():
    patient = services.patient_register(
        patient=domain.Patient(legal_first_name="Crash", legal_last_name=f"Writer{number}", date_of_birth=dt.date(1980, 1, 1)),
        actor=actor,
    )
    print("patient", patient.id, flush=True)
    assignment = services.care_assign(patient_id=patient.id, clinician=clinician, actor=actor)
    print("care", assignment.pk, flush=True)
"""


@pytest.mark.django_db(transaction=True)
def test_every_write_acknowledged_before_a_kill_minus_9_is_stored_with_its_history_and_the_audit_verifies(
    on_postgres,
):
    actor = make_staff("registrar", superuser=True)
    clinician = make_staff("doctor")
    audit.audited_save(StaffProfile(user=clinician, is_clinician=True), actor=actor)
    with signals.changed_by(actor):
        clinician.groups.add(Group.objects.get(name=roles.CLINICIAN))
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, actor.username, clinician.username],
        cwd=BASE_DIR,
        env=child_environment(postgres_url(), LOG_LEVEL="ERROR"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    acknowledged = []
    try:
        while len(acknowledged) < ACKNOWLEDGED_BEFORE_THE_KILL:
            line = writer.stdout.readline()
            assert line, writer.stderr.read()
            acknowledged.append(line.split())
    finally:
        writer.send_signal(signal.SIGKILL)  # no clean-up in the writer: like a power cut to the process
        writer.wait(timeout=60)
    acknowledged.extend(line.split() for line in writer.stdout.read().splitlines() if line.strip())
    assert writer.returncode == -signal.SIGKILL

    patients = [pk for kind, pk in acknowledged if kind == "patient"]
    assignments = [pk for kind, pk in acknowledged if kind == "care"]
    assert len(patients) >= ACKNOWLEDGED_BEFORE_THE_KILL // 2
    for pk in patients:
        assert models.Patient.objects.filter(pk=pk).exists(), f"acknowledged patient {pk} is missing"
        assert models.Patient.history.filter(id=pk, history_type="+").count() == 1
    for pk in assignments:
        assignment = models.CareAssignment.objects.get(pk=pk)
        assert models.CareAssignment.history.filter(id=pk, history_type="+").count() == 1
        assert AccessLogEntry.objects.filter(action="care assigned", object_id=str(pk)).count() == 1
        assert str(assignment.patient_id) in patients
    # A write under way at the kill is either whole (with its history) or absent.
    assert models.Patient.history.filter(history_type="+").count() == models.Patient.objects.count()

    verification = subprocess.run(
        [sys.executable, "manage.py", "verify_audit"],
        cwd=BASE_DIR,
        env=child_environment(postgres_url(), LOG_LEVEL="ERROR"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert verification.returncode == 0, verification.stdout + verification.stderr
    assert "Audit trail intact" in verification.stdout
    assert "change history of patients (patients_historicalpatient): " in verification.stdout
