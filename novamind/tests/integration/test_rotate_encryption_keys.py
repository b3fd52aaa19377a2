"""rotate_encryption_keys: every value of every table moves to the new key; nothing else changes."""

import contextlib
import dataclasses
import datetime as dt
import io

import pytest
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from appointments import domain as appointments_domain
from appointments import repository as appointments_repository
from appointments import services as appointments_services
from appointments.tests.conftest import local, make_patient, make_room
from assessments import models as assessments_models
from assessments import services as assessments_services
from assessments.tests import builders as assessment_builders
from clinical_notes import domain as notes_domain
from clinical_notes import services as notes_services
from clinical_notes.tests.factories import make_clinician, notes_as, signed
from conftest import assign_care, owner_rights
from diagnoses import domain as diagnoses_domain
from diagnoses import services as diagnoses_services
from medications import domain as medications_domain
from medications import repository as medications_repository
from medications.tests.builders import an_order
from medications.tests.conftest import make_prescriber
from novamind import access, chains, checks, encryption, rotation
from novamind.models import AccessLogEntry, EncryptionCanary
from patients import repository as patients_repository

pytestmark = pytest.mark.django_db

NEW_KEY = Fernet.generate_key().decode()
LOST_KEY = Fernet.generate_key().decode()

# Every table that holds ciphertext today; discovery may find more, never fewer.
KNOWN_TABLES = {
    "novamind_encryptioncanary",
    "patients_patient",
    "patients_historicalpatient",
    "diagnoses_diagnosis",
    "diagnoses_historicaldiagnosis",
    "appointments_appointment",
    "appointments_historicalappointment",
    "appointments_appointmentseries",
    "appointments_historicalappointmentseries",
    "clinical_notes_clinicalnote",
    "clinical_notes_historicalclinicalnote",
    "clinical_notes_addendum",
    "clinical_notes_historicaladdendum",
    "clinical_notes_psychotherapynoteauthorization",
    "clinical_notes_historicalpsychotherapynoteauthorization",
    "medications_medicationorder",
    "medications_historicalmedicationorder",
    "medications_allergy",
    "medications_historicalallergy",
    "assessments_response",
    "assessments_historicalresponse",
    "assessments_safetyalert",
    "assessments_historicalsafetyalert",
}


@dataclasses.dataclass
class Clinic:
    author: object
    patient: object
    note_id: object


@pytest.fixture
def clinic(staff):
    """Data in every app, each record changed at least once so history tables hold several rows."""
    author = make_clinician("drpatel")
    prescriber = make_prescriber("drlee")
    patients = patients_repository.DjangoPatientRepository(actor=staff)
    patient = make_patient(staff, legal_last_name="Quarrelwood", pronouns="they/them", phone="617-555-0123")
    patients.update(dataclasses.replace(patients.get_by_id(patient.id), preferred_name="Rowan"))

    appointments = appointments_repository.DjangoAppointmentRepository(actor=staff)
    room = make_room(staff, "Room 7")
    booked = appointments_services.appointment_book(
        actor=appointments.actor,
        appointment=appointments_domain.Appointment(
            patient_id=patient.id,
            clinician_id=author.pk,
            start=local(2),
            end=local(2, 10, 50),
            room_id=room.pk,
            reason_for_visit="Follow-up on insomnia",
        ),
    )
    appointments_services.appointment_cancel(
        actor=appointments.actor, appointment_id=booked.id, by="patient", reason="Flu"
    )
    appointments_services.series_book(
        actor=appointments.actor,
        series=appointments_domain.Series(
            patient_id=patient.id,
            clinician_id=author.pk,
            start=local(3, 14),
            end=local(3, 14, 50),
            count=3,
            room_id=room.pk,
            reason_for_visit="Weekly CBT",
        ),
    )

    anxiety = diagnoses_services.diagnosis_record(
        diagnosis=diagnoses_domain.Diagnosis(patient_id=patient.id, code="F41.1", specifier="worse in winter"),
        actor=author,
    )
    diagnoses_services.diagnosis_make_primary(diagnosis_id=anxiety.id, actor=author)
    note = signed(author, patient, diagnoses=[anxiety])
    notes_as(author).add_addendum(note.id, text="Patient called back.", reason="Late information")
    private = signed(author, patient, kind=notes_domain.NoteKind.PSYCHOTHERAPY_NOTE)
    notes_services.authorization_grant(
        note_id=private.id,
        grantee=staff,
        reason="Court order",
        actor=author,
        expires_at=timezone.now() + dt.timedelta(days=2),
    )

    orders = medications_repository.DjangoMedicationOrderRepository(actor=prescriber)
    orders.add(
        an_order(
            patient_id=patient.id,
            prescriber=None,
            instructions="Take in the morning.",
            start_date=timezone.localdate() - dt.timedelta(days=5),
        )
    )
    medications_repository.DjangoAllergyRepository(actor=staff).add(
        medications_domain.Allergy(
            patient_id=patient.id,
            substance="penicillin",
            reaction="hives",
            severity=medications_domain.AllergySeverity.MODERATE,
        )
    )
    # A questionnaire with a risk answer, reviewed by the care team: encrypted answers, score and review.
    assign_care(patient, author, by=staff)
    response = assessment_builders.record(author, patient.id, total=14, item9=1)
    alert = assessments_models.SafetyAlert.objects.get(response_id=response.id)
    assessments_services.alert_review(alert_id=alert.pk, action_taken="Called: safe, plan agreed.", actor=author)
    access.record(user=staff, action="view", category="demographics", patient=patient, detail="test read")
    return Clinic(author=author, patient=patient, note_id=note.id)


def rows(table):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {table.pk}, {', '.join(table.columns)} FROM {table.table} ORDER BY {table.pk}")
        return cursor.fetchall()


def tokens():
    """Return every stored ciphertext, by (table, column, primary key)."""
    return {
        (table.table, column, str(pk)): token
        for table in rotation.encrypted_tables()
        for pk, *values in rows(table)
        for column, token in zip(table.columns, values, strict=True)
        if token is not None
    }


def plaintexts(*keys):
    """Return every stored value decrypted under `keys` only (raises InvalidToken otherwise)."""
    crypter = MultiFernet([Fernet(key) for key in keys])
    return {where: crypter.decrypt(token.encode()).decode() for where, token in tokens().items()}


@pytest.fixture(autouse=True)
def operator(staff):
    """alice runs the rotations: a superuser, as the command requires."""
    staff.is_superuser = True
    staff.save(update_fields=["is_superuser"])
    return staff


def rotate(*arguments, keys):
    """Run the command: a rotation as the database owner, as in production; --verify-only as the application."""
    out, err = io.StringIO(), io.StringIO()
    with encryption.keys(keys), contextlib.nullcontext() if "--verify-only" in arguments else owner_rights():
        call_command("rotate_encryption_keys", "--actor", "alice", *arguments, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def audit_state():
    """Return what a rotation must not change: every live row's version and 'last changed', history sizes."""
    state = {}
    for model in apps.get_models():
        if model._meta.db_table in KNOWN_TABLES and hasattr(model, "history"):
            state[model._meta.label] = (
                sorted(map(tuple, model._base_manager.values_list("pk", "version", "updated_at", "updated_by"))),
                model.history.count(),
            )
    return state


def test_discovery_finds_every_live_and_history_table_with_ciphertext_and_the_canary_last():
    tables = rotation.encrypted_tables()
    names = [table.table for table in tables]
    assert KNOWN_TABLES <= set(names) and len(names) == len(set(names))
    assert names[-1] == "novamind_encryptioncanary"
    by_name = {table.table: table for table in tables}
    assert by_name["patients_historicalpatient"].pk == "history_id"
    assert {"legal_last_name", "date_of_birth", "email"} <= set(by_name["patients_historicalpatient"].columns)
    assert "mrn" not in by_name["patients_patient"].columns and "status" not in by_name["patients_patient"].columns


def test_rotation_moves_every_value_to_the_new_key_and_changes_no_record(clinic, staff):
    old_keys = list(settings.FIELD_ENCRYPTION_KEY)
    before_tokens, before_plain, before_audit = tokens(), plaintexts(*old_keys), audit_state()
    assert {table for table, _, _ in before_tokens} >= KNOWN_TABLES  # the fixture fills every table
    with pytest.raises(InvalidToken):
        plaintexts(NEW_KEY)

    out, err = rotate("--batch-size", "3", keys=[NEW_KEY, *old_keys])

    after_tokens = tokens()
    assert after_tokens.keys() == before_tokens.keys()
    assert all(after_tokens[where] != before_tokens[where] for where in before_tokens)
    assert plaintexts(NEW_KEY) == before_plain  # the new key alone, same contents
    assert audit_state() == before_audit  # no version, history row or 'last changed' moved
    total = len(before_tokens)
    assert f"Re-encrypted {total} values under the new key" in out
    assert "  patients_historicalpatient: 2 rows" in out
    assert (
        f"All {total} values decrypt under the new key alone: the old key may now be removed from FIELD_ENCRYPTION_KEY"
    ) in out
    assert err == "" and "Quarrelwood" not in out

    with encryption.keys([NEW_KEY]):
        assert checks.check_encryption_canary() == []
        assert EncryptionCanary.objects.get().value == EncryptionCanary.PLAINTEXT
        # Blind indexes were not touched, and search through them still finds the patient.
        found = patients_repository.DjangoPatientRepository(actor=staff).search(name="quarrelwood")
        assert [patient.id for patient in found] == [clinic.patient.id]
        # The content hashes of signed notes and the access log's chain still verify, and so does
        # every history table's chain: its seals cover values, not ciphertext.
        call_command("verify_notes", "--actor", "alice", stdout=io.StringIO())
        call_command("verify_audit", stdout=io.StringIO())
        assert [chain.name for chain in chains.all_chains() if not chain.verify().ok] == []
    rotation_entries = AccessLogEntry.objects.filter(action=rotation.ROTATE_ACTION).order_by("sequence")
    assert [entry.detail.split(":")[0] for entry in rotation_entries] == ["started", "finished"]
    assert all(entry.username == "alice" and entry.patient_id is None for entry in rotation_entries)
    assert AccessLogEntry.objects.filter(action=rotation.VERIFY_ACTION).count() == 1


def test_an_interrupted_rotation_is_finished_by_running_it_again(clinic, staff):
    old_keys = list(settings.FIELD_ENCRYPTION_KEY)
    before_plain = plaintexts(*old_keys)

    class Interrupted(Exception):
        pass

    def interrupt_after_the_first_batch(step):
        raise Interrupted

    with encryption.keys([NEW_KEY, *old_keys]), pytest.raises(Interrupted), owner_rights():
        rotation.rotate(actor=staff, batch_size=2, progress=interrupt_after_the_first_batch)

    first = rotation.encrypted_tables()[0]
    under_new = {where for where, token in tokens().items() if rotation._plaintext(Fernet(NEW_KEY), token) is not None}
    first_two_rows = {str(pk) for pk, *_ in rows(first)[:2]}
    assert under_new and {(table, pk) for table, _, pk in under_new} <= {(first.table, pk) for pk in first_two_rows}
    assert plaintexts(NEW_KEY, *old_keys) == before_plain  # half-done, but every value readable

    out, _ = rotate("--batch-size", "2", keys=[NEW_KEY, *old_keys])
    assert f"{len(under_new)} were already under it" in out
    assert f"Re-encrypted {len(before_plain) - len(under_new)} values" in out
    assert plaintexts(NEW_KEY) == before_plain
    assert "the old key may now be removed" in out
    with encryption.keys([NEW_KEY]):
        call_command("verify_notes", "--actor", "alice", stdout=io.StringIO())
        call_command("verify_audit", stdout=io.StringIO())


def test_a_run_with_the_old_key_removed_too_early_stops_and_changes_nothing(clinic):
    before = tokens()
    with pytest.raises(CommandError) as refused:
        rotate(keys=[NEW_KEY, LOST_KEY])
    message = str(refused.value)
    first = rotation.encrypted_tables()[0]
    first_pk, *first_values = rows(first)[0]
    column = next(name for name, token in zip(first.columns, first_values, strict=True) if token is not None)
    assert f"{first.table}.{column} of the row with id {first.pk_value(first_pk)} does not decrypt" in message
    assert "removed too early" in message and "Nothing is corrupted" in message
    assert "insomnia" not in message.lower() and first_values[0] not in message
    assert tokens() == before


def test_a_value_under_a_missing_key_is_named_and_the_run_resumes_once_the_key_is_back(clinic, staff):
    old_keys = list(settings.FIELD_ENCRYPTION_KEY)
    stray = Fernet(LOST_KEY).encrypt(b"she/her").decode()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE patients_patient SET pronouns = %s", [stray])
    before = tokens()

    with pytest.raises(CommandError, match=rf"patients_patient\.pronouns of the row with id {clinic.patient.id} "):
        rotate(keys=[NEW_KEY, *old_keys])
    after = tokens()
    patient_values = {where for where in before if where[0] == "patients_patient"}
    assert all(after[where] == before[where] for where in patient_values)  # its batch rolled back
    assert stray in after.values()
    plaintexts(NEW_KEY, *old_keys, LOST_KEY)  # everything still decrypts under the configured keys

    order = [table.table for table in rotation.encrypted_tables()]
    done_before = sum(1 for table, _, _ in before if order.index(table) < order.index("patients_patient"))
    out, _ = rotate(keys=[NEW_KEY, *old_keys, LOST_KEY])
    assert done_before > 0 and f"; {done_before} were already under it." in out
    (patient_pk,) = [pk for pk, *_ in rows(_table("patients_patient"))]
    assert plaintexts(NEW_KEY)[("patients_patient", "pronouns", str(patient_pk))] == "she/her"


def test_with_a_single_key_there_is_nothing_to_rotate_but_verify_only_still_checks(clinic):
    before = tokens()
    with pytest.raises(CommandError, match="nothing to rotate.*put the new key first.*--verify-only"):
        rotate(keys=list(settings.FIELD_ENCRYPTION_KEY))
    assert not AccessLogEntry.objects.filter(action=rotation.ROTATE_ACTION).exists()

    out, _ = rotate("--verify-only", keys=list(settings.FIELD_ENCRYPTION_KEY))
    assert f"All {len(before)} values decrypt under the new key alone." in out
    assert "may now be removed" not in out
    assert tokens() == before


def test_verify_only_before_the_rotation_names_what_still_needs_the_old_key_and_changes_nothing(clinic):
    before = tokens()
    err = io.StringIO()
    with pytest.raises(CommandError, match=rf"{len(before)} of {len(before)} values do not decrypt .* do NOT remove"):
        with encryption.keys([NEW_KEY, *settings.FIELD_ENCRYPTION_KEY]):
            call_command(
                "rotate_encryption_keys", "--actor", "alice", "--verify-only", stdout=io.StringIO(), stderr=err
            )
    listed = err.getvalue().splitlines()
    assert len(listed) == 21 and listed[-1] == f"  … and {len(before) - 20} more"
    assert "does not decrypt under the new key alone: appointments_appointment." in listed[0]
    assert tokens() == before
    assert not AccessLogEntry.objects.filter(action=rotation.ROTATE_ACTION).exists()
    assert AccessLogEntry.objects.filter(action=rotation.VERIFY_ACTION).count() == 1


def test_a_row_saved_during_the_rotation_keeps_the_new_save(clinic, staff, monkeypatch):
    old_keys = list(settings.FIELD_ENCRYPTION_KEY)
    fetch = rotation._fetch
    patients = patients_repository.DjangoPatientRepository(actor=staff)

    def fetch_then_someone_saves(cursor, table, after, limit):
        fetched = fetch(cursor, table, after, limit)
        if table.table == "patients_patient" and after is None:
            patients.update(dataclasses.replace(patients.get_by_id(clinic.patient.id), pronouns="xe/xem"))
        return fetched

    monkeypatch.setattr(rotation, "_fetch", fetch_then_someone_saves)
    out, _ = rotate(keys=[NEW_KEY, *old_keys])
    assert "changed by someone else meanwhile" in out
    with encryption.keys([NEW_KEY]):
        assert patients.get_by_id(clinic.patient.id).pronouns == "xe/xem"
    assert "All" in out and "the old key may now be removed" in out


def test_progress_is_shown_on_a_terminal(clinic):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    out = Terminal()
    with encryption.keys([NEW_KEY, *settings.FIELD_ENCRYPTION_KEY]), owner_rights():
        call_command("rotate_encryption_keys", "--actor", "alice", "--batch-size", "2", stdout=out)
    shown = out.getvalue()
    assert "\r\x1b[KRe-encrypting table 1/" in shown and "\r\x1b[KVerifying table " in shown
    assert shown.count("rows") > len(rotation.encrypted_tables())


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--actor", "nobody"], "no user named 'nobody'"),
        (["--actor", "alice", "--batch-size", "0"], "--batch-size must be at least 1"),
    ],
)
def test_bad_arguments_are_refused(staff, arguments, message):
    with pytest.raises(CommandError, match=message):
        call_command("rotate_encryption_keys", *arguments)


def test_help_explains_the_procedure_and_that_blind_indexes_are_untouched(capsys):
    with pytest.raises(SystemExit):
        call_command("rotate_encryption_keys", "--help")
    shown = " ".join(capsys.readouterr().out.split())
    assert "NEW,OLD" in shown and "BLIND_INDEX_KEY" in shown and "not touched" in shown
    assert "--verify-only" in shown and "--batch-size" in shown


def _table(name):
    return next(table for table in rotation.encrypted_tables() if table.table == name)


def test_a_rotation_is_on_record_before_it_changes_any_value(clinic, staff, monkeypatch):
    # Its batches commit one by one (a run resumes), so the access log is written ahead of them:
    # no value is re-encrypted unless the "started" entry is already committed.
    class LogWriteFailed(Exception):
        pass

    def broken(**kwargs):
        raise LogWriteFailed

    before = tokens()
    monkeypatch.setattr(rotation.access, "record", broken)
    with encryption.keys([NEW_KEY, *settings.FIELD_ENCRYPTION_KEY]), pytest.raises(LogWriteFailed), owner_rights():
        rotation.rotate(actor=staff, batch_size=2)
    assert tokens() == before
