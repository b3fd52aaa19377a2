"""The backup manifest's signature, the key fingerprint and backup file names, without a database."""

import json

import pytest
from cryptography.fernet import Fernet

from novamind import backups, encryption


def test_a_key_fingerprint_names_the_key_without_revealing_it():
    key = Fernet.generate_key().decode()
    fingerprint = encryption.fingerprint(key)
    assert len(fingerprint) == 16 and fingerprint == encryption.fingerprint(key)
    assert fingerprint not in key and key not in fingerprint
    assert fingerprint != encryption.fingerprint(Fernet.generate_key().decode())


def write_manifest(path, body):
    path.write_text(json.dumps({**body, "mac": backups._mac(body)}), encoding="utf-8")


def test_a_signed_manifest_reads_back_and_an_altered_one_is_refused(tmp_path):
    body = {"format": backups.FORMAT, "backup_file": "x.dump.age", "tables": {"patients_patient": 3}}
    path = tmp_path / "novamind-x.manifest.json"
    write_manifest(path, body)
    assert backups.read_manifest(path) == body

    altered = json.loads(path.read_text())
    altered["tables"]["patients_patient"] = 4
    path.write_text(json.dumps(altered), encoding="utf-8")
    with pytest.raises(backups.BackupError, match="not signed with this deployment's AUDIT_LOG_KEY"):
        backups.read_manifest(path)

    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(backups.BackupError, match="cannot be read"):
        backups.read_manifest(path)


def test_the_manifest_of_a_backup_is_found_beside_it_and_other_files_are_refused(tmp_path):
    dump = tmp_path / "novamind-db-20260101T000000000000Z.dump.age"
    assert backups.manifest_of(dump).name == "novamind-db-20260101T000000000000Z.manifest.json"
    assert backups.manifest_of(backups.manifest_of(dump)) == backups.manifest_of(dump)
    with pytest.raises(backups.BackupError, match="is not a NovaMind backup"):
        backups.manifest_of(tmp_path / "dump.sql")


def test_the_newest_backup_is_the_last_by_name_and_an_empty_directory_says_so(tmp_path):
    with pytest.raises(backups.BackupError, match="no backup in"):
        backups.newest(tmp_path)
    for stamp in ("20260101T000000000000Z", "20260301T000000000000Z", "20260201T000000000000Z"):
        (tmp_path / f"novamind-db-{stamp}.manifest.json").write_text("{}")
    assert backups.newest(tmp_path).name == "novamind-db-20260301T000000000000Z.manifest.json"
    with pytest.raises(backups.BackupError, match="does not exist"):
        backups.newest(tmp_path / "missing")


def test_scratch_database_names_are_unique_and_prefixed():
    names = {backups.scratch_name() for _ in range(20)}
    assert len(names) == 20 and all(name.startswith(backups.SCRATCH_PREFIX) and len(name) < 63 for name in names)


def test_pruning_keeps_the_newest_backups_of_this_database_and_touches_nothing_else(tmp_path):
    def pair(database, stamp):
        for suffix in (backups.MANIFEST_SUFFIX, backups.DUMP_SUFFIX):
            (tmp_path / f"novamind-{database}-{stamp}{suffix}").write_text("x")

    stamps = ["20260101T000000000000Z", "20260102T000000000000Z", "20260103T000000000000Z"]
    for stamp in stamps:
        pair("clinic", stamp)
    pair("clinic_two", stamps[0])
    (tmp_path / "identity.txt").write_text("kept")

    removed = backups.prune(tmp_path, database="clinic", keep=2)

    assert removed == [f"novamind-clinic-{stamps[0]}{backups.DUMP_SUFFIX}"]
    left = sorted(path.name for path in tmp_path.iterdir())
    assert f"novamind-clinic-{stamps[0]}{backups.MANIFEST_SUFFIX}" not in left
    assert f"novamind-clinic_two-{stamps[0]}{backups.MANIFEST_SUFFIX}" in left
    assert "identity.txt" in left and len(left) == 7
    with pytest.raises(backups.BackupError, match="at least 1"):
        backups.prune(tmp_path, database="clinic", keep=0)
