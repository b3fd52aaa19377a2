"""backup_database and restore_drill on PostgreSQL: a backup restores, and what differs is found.

pg_dump sees committed data only, so these tests commit (transaction=True) and the harness
empties the tables afterwards. They run the commands as the database owner role when the run
names one (CI: the application role may not create databases; README, "Backups and restore
drills"), as an operator would.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pyrage
import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from clinic.tests.integration import walk_support as walk
from conftest import TEST_DATABASE_OWNER, owner_rights
from novamind import backups, encryption, history_chain
from novamind.models import HistoryChainHead
from novamind.tests.integration.role_users import superuser
from patients.models import Patient

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROLE = ["--role", TEST_DATABASE_OWNER] if TEST_DATABASE_OWNER else []


@pytest.fixture
def backup_key(settings, tmp_path):
    """Configure a fresh backup key pair; return the identity."""
    key = pyrage.x25519.Identity.generate()
    identity_file = tmp_path / "backup-identity.txt"
    identity_file.write_text(f"# public key: {key.to_public()}\n{key}\n", encoding="utf-8")
    settings.NOVAMIND_BACKUP_RECIPIENT = str(key.to_public())
    settings.NOVAMIND_BACKUP_IDENTITY_FILE = str(identity_file)
    return key


@pytest.fixture
def backup_dir(tmp_path):
    directory = tmp_path / "backups"
    directory.mkdir()
    return directory


@pytest.fixture
def root(on_postgres, backup_key):
    """The superuser who runs the commands, on an otherwise empty database."""
    return superuser()


@pytest.fixture
def clinic(on_postgres, backup_key):
    """The walking tests' small clinic (notes, plans, scores, history), committed."""
    return walk.build_clinic()


def backup(directory: Path, *extra) -> Path:
    """Run backup_database as the superuser; return the manifest written."""
    out = io.StringIO()
    call_command("backup_database", "--actor", "root", "--dir", str(directory), *ROLE, *extra, stdout=out)
    return Path(re.search(r"Manifest: (\S+)", out.getvalue()).group(1))


def drill(directory: Path, *extra) -> tuple[str, str, CommandError | None]:
    """Run restore_drill; return its output, its errors and the CommandError it ended with, if any."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("restore_drill", "--actor", "root", "--dir", str(directory), *ROLE, *extra, stdout=out, stderr=err)
    except CommandError as error:
        return out.getvalue(), err.getvalue(), error
    return out.getvalue(), err.getvalue(), None


def scratch_databases() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", [backups.SCRATCH_PREFIX + "%"])
        return {row[0] for row in cursor.fetchall()}


@pytest.fixture
def scratch_names(monkeypatch):
    """Record the name of every scratch database a drill creates."""
    names = []
    original = backups.scratch_name

    def spy(now=None):
        names.append(original(now))
        return names[-1]

    monkeypatch.setattr(backups, "scratch_name", spy)
    return names


def test_a_backup_restores_and_every_verification_passes_on_it(clinic, backup_dir, scratch_names):
    call_command("verify_audit", stdout=io.StringIO())  # a checkpoint the restored trail must satisfy
    manifest_path = backup(backup_dir)
    manifest = json.loads(manifest_path.read_text())
    assert manifest["tables"]["clinical_notes_clinicalnote"] > 0
    assert manifest["tables"]["novamind_accesslogentry"] > 0
    assert any(chain["sequence"] > 0 for chain in manifest["audit"]["chains"])
    assert manifest["encryption"]["canary_decrypts"] is True

    out, err, error = drill(backup_dir)

    assert error is None, out + err
    assert "Restore drill passed" in out
    assert "audit checkpoints: 1 written before the backup: ok" in out
    assert manifest["audit"]["newest_checkpoint"]["file"].endswith(".json")
    assert re.search(r"signed notes \(verify_notes\): [1-9]\d* notes", out), out
    assert re.search(r"signed plans \(verify_plans\): [1-9]\d* plans", out), out
    assert re.search(r"questionnaire scores \(verify_assessments\): [1-9]\d* responses", out), out
    assert re.search(r"taken \d+\.\d hours ago", out) and re.search(r"in \d+\.\d s", out)
    assert scratch_names and not scratch_databases() & set(scratch_names)
    assert f"{scratch_names[0]} dropped" in out


def test_a_backup_taken_before_a_tampering_shows_the_difference(clinic, backup_dir, scratch_names):
    backup(backup_dir)
    # After the backup, an insider with the owner's rights takes the newest change-history row of
    # patients off the end of its chain and rewinds the chain's head: the chain left behind still
    # walks clean, and without a checkpoint since, nothing in the live database shows it.
    model = Patient.history.model
    table = model._meta.db_table
    with owner_rights(), transaction.atomic():
        last = model._base_manager.order_by("-history_sequence").first()
        before = model._base_manager.filter(history_sequence=last.history_sequence - 1).get()
        model._base_manager.filter(pk=last.pk).delete()
        HistoryChainHead.objects.filter(table=table).update(
            sequence=before.history_sequence, digest=before.history_digest
        )
    assert history_chain.HistoryChain(model).verify().ok  # the live chain alone passes

    out, err, error = drill(backup_dir)

    assert error is not None and "Restore drill failed" in str(error)
    # The restored copy is intact; the live database contradicts it.
    assert "audit trail (verify_audit): " in out and "rows per table: " in out
    problems = err.splitlines()
    assert problems and all(line.startswith("live database against the backup:") for line in problems), err
    assert any(table in line and "entries were removed from the end" in line for line in problems), err
    assert not scratch_databases() & set(scratch_names)


def test_a_backup_file_with_one_byte_changed_is_refused_before_anything_is_restored(root, backup_dir, scratch_names):
    manifest = json.loads(backup(backup_dir).read_text())
    path = backup_dir / manifest["backup_file"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))

    out, err, error = drill(backup_dir)

    assert error is not None and "does not match its manifest" in str(error)
    assert scratch_names == []  # no scratch database was even created


def test_a_wrong_identity_is_refused_with_a_clear_error(root, backup_dir, settings, tmp_path, scratch_names):
    backup(backup_dir)
    other = pyrage.x25519.Identity.generate()
    (tmp_path / "other-identity.txt").write_text(f"{other}\n", encoding="utf-8")
    settings.NOVAMIND_BACKUP_IDENTITY_FILE = str(tmp_path / "other-identity.txt")

    out, err, error = drill(backup_dir)

    assert error is not None
    assert f"holds the key of {other.to_public()}" in str(error)
    assert f"was encrypted to {django_settings.NOVAMIND_BACKUP_RECIPIENT}" in str(error)
    assert scratch_names == []


def test_an_identity_that_cannot_decrypt_stops_the_restore_and_drops_the_scratch_database(
    root, backup_dir, scratch_names, monkeypatch
):
    manifest_path = backup(backup_dir)
    other = pyrage.x25519.Identity.generate()
    monkeypatch.setattr(backups, "identity", lambda: other)
    # As if the manifest named that recipient: only age itself can tell now.
    monkeypatch.setattr(
        backups,
        "read_manifest",
        lambda path: {
            **json.loads(path.read_text()),
            "backup_encryption": {"recipient": str(other.to_public())},
        },
    )

    out, err, error = drill(backup_dir, "--backup", str(manifest_path))

    assert error is not None and "does not decrypt with NOVAMIND_BACKUP_IDENTITY_FILE" in str(error)
    assert len(scratch_names) == 1 and not scratch_databases() & set(scratch_names)


def test_the_manifest_holds_no_key_and_no_phi_and_the_backup_no_plaintext(clinic, backup_dir, backup_key):
    manifest_path = backup(backup_dir)
    manifest_text = manifest_path.read_text()
    manifest = json.loads(manifest_text)
    backup_bytes = (backup_dir / manifest["backup_file"]).read_bytes()
    inside = clinic.patients[walk.INSIDE]
    phi = ["Insidewalk", "Outsidewalk", "Walkfirst", "1980-03-04", "penicillin", "Private process notes", inside.mrn]
    secrets = [
        *django_settings.FIELD_ENCRYPTION_KEY,
        django_settings.BLIND_INDEX_KEY,
        django_settings.AUDIT_LOG_KEY,
        django_settings.SECRET_KEY,
        str(backup_key),
    ]
    assert not [text for text in phi + secrets if text.lower() in manifest_text.lower()]
    # The MRN is a plaintext identifier in the database: the file holds it only encrypted.
    assert not [text for text in phi if text.encode() in backup_bytes]
    assert manifest["encryption"]["key_fingerprints"] == [
        encryption.fingerprint(key) for key in django_settings.FIELD_ENCRYPTION_KEY
    ]
    assert manifest["backup_encryption"]["recipient"] == str(backup_key.to_public())
    assert manifest_path.stat().st_mode & 0o077 == 0
    assert (backup_dir / manifest["backup_file"]).stat().st_mode & 0o077 == 0

    newer = backup(backup_dir, "--keep", "1")
    assert sorted(path.name for path in backup_dir.iterdir()) == sorted(
        [newer.name, json.loads(newer.read_text())["backup_file"]]
    )


def test_the_scratch_database_is_dropped_when_the_checks_fail_or_crash(root, backup_dir, scratch_names, monkeypatch):
    backup(backup_dir)
    # The encryption key was lost: the restored canary does not decrypt, and the drill says so.
    from cryptography.fernet import Fernet

    with encryption.keys([Fernet.generate_key().decode()]):
        out, err, error = drill(backup_dir)
    assert error is not None
    assert "encryption key canary: the configured FIELD_ENCRYPTION_KEY does not decrypt it" in err
    assert "verify_audit" not in err  # nothing encrypted is read without the key
    assert "was taken under the key with fingerprint" in err

    def crash(manifest):
        raise RuntimeError("a check crashed")

    monkeypatch.setattr(backups, "compare_rows", crash)
    with pytest.raises(RuntimeError, match="a check crashed"):
        drill(backup_dir)

    assert len(scratch_names) == 2 and not scratch_databases() & set(scratch_names)
    assert connection.settings_dict["NAME"] != scratch_names[-1]  # the default alias is the live one again
    assert superuser().is_superuser


def test_the_drill_of_a_manifest_altered_after_the_backup_is_refused(root, backup_dir, scratch_names):
    manifest_path = backup(backup_dir)
    document = json.loads(manifest_path.read_text())
    document["tables"]["patients_patient"] += 1
    manifest_path.write_text(json.dumps(document))

    out, err, error = drill(backup_dir)

    assert error is not None and "is not signed with this deployment's AUDIT_LOG_KEY" in str(error)
    assert scratch_names == []
