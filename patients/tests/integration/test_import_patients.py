"""import_patients on the real database: what is written, in whose name, and what is refused."""

import csv
import datetime as dt
import io
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from novamind import encryption
from novamind.models import AccessLogEntry
from novamind.tests.children import BASE_DIR, child_environment, postgres_url
from novamind.tests.phi_scan import assert_no_plaintext
from patients import domain, importer, models, repository
from patients.management.commands import import_patients as command

pytestmark = pytest.mark.django_db

HEADER = ["legal_first_name", "legal_last_name", "date_of_birth", "phone", "email", "sex_assigned_at_birth"]


def person(number: int, **changes) -> dict[str, str]:
    """Return one valid made-up row, distinct for each number."""
    row = {
        "legal_first_name": f"Testfirst{number}",
        "legal_last_name": f"Testlast{number}",
        "date_of_birth": (dt.date(1950, 1, 1) + dt.timedelta(days=number)).isoformat(),
        "phone": f"617-555-{number % 10000:04d}",
        "email": f"person{number}@example.com",
        "sex_assigned_at_birth": "female" if number % 2 else "male",
    }
    row.update(changes)
    return row


def write_csv(path, rows, *, columns=HEADER, encoding="utf-8"):
    """Write `rows` (dicts) under a header of `columns`; return the path as text."""
    with open(path, "w", newline="", encoding=encoding) as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return str(path)


def run(path, *arguments, actor="alice"):
    """Run the command; return (stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    call_command("import_patients", path, "--actor", actor, *arguments, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def refused(path, *arguments, actor="alice"):
    """Run the command expecting a CommandError; return (its message, stderr)."""
    err = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("import_patients", path, "--actor", actor, *arguments, stdout=io.StringIO(), stderr=err)
    return str(caught.value), err.getvalue()


def stored_counts():
    return models.Patient.objects.count(), models.Patient.history.count()


def test_valid_rows_are_imported_encrypted_indexed_with_new_mrns_and_history_in_the_actors_name(tmp_path, staff):
    rows = [person(1, legal_first_name="Zoë", legal_last_name="O'Brien", phone="(617) 555-0134"), person(2), person(3)]
    out, err = run(write_csv(tmp_path / "p.csv", rows))

    assert "Imported 3 patients, each with a new MRN, created by alice. 3 rows read: 3 valid, 0 invalid." in out
    assert err == ""
    stored = list(models.Patient.objects.all())
    assert len(stored) == 3 and len({p.mrn for p in stored}) == 3
    assert all(domain.is_valid_mrn(p.mrn) for p in stored)
    assert all(p.created_by == staff and p.updated_by == staff and p.version == 1 for p in stored)
    history = list(models.Patient.history.all())
    assert len(history) == 3
    assert {(h.history_user, h.history_type, h.history_change_reason) for h in history} == {
        (staff, "+", "Imported from CSV")
    }
    # Each history row is the stored row, field for field (decrypted), like a save would record it.
    tracked = [field.attname for field in models.Patient.history.model.tracked_fields]
    for row in history:
        live = models.Patient.objects.get(pk=row.id)
        assert [getattr(row, name) for name in tracked] == [getattr(live, name) for name in tracked]
        assert row.history_date == live.updated_at

    found = repository.DjangoPatientRepository(actor=staff).search(name="zoe obrien", date_of_birth=dt.date(1950, 1, 2))
    assert [(p.legal_first_name, p.phone, p.sex_assigned_at_birth) for p in found] == [
        ("Zoë", "+16175550134", domain.SexAssignedAtBirth.FEMALE)
    ]
    assert (
        repository.DjangoPatientRepository(actor=staff).search(phone="617 555 0002")[0].legal_last_name == "Testlast2"
    )


@pytest.mark.django_db(transaction=True)
def test_an_import_leaves_no_plaintext_phi_in_any_table(tmp_path, staff):
    markers = {
        "legal_first_name": "Qxfirstmark",
        "legal_last_name": "Qxlastmark",
        "preferred_name": "Qxprefmark",
        "pronouns": "qxpronmark",
        "gender_identity": "qxgendermark",
        "email": "qxmailmark@example.com",
        "address_line1": "1 Qxstreetmark Rd",
        "address_line2": "Apt Qxaptmark",
        "address_city": "Qxcitymark",
        "address_region": "Qxregionmark",
        "address_postal_code": "QX9MARK",
        "address_country": "Qxcountrymark",
        "emergency_contact_name": "Qxcontactmark",
        "emergency_contact_relation": "qxrelationmark",
    }
    row = {
        **markers,
        "date_of_birth": "1937-04-29",
        "sex_assigned_at_birth": "intersex",
        "phone": "6175550163",
        "emergency_contact_phone": "6175550172",
        "status": "active",
    }
    run(write_csv(tmp_path / "p.csv", [row], columns=list(importer.COLUMNS)))

    assert stored_counts() == (1, 1)
    stored = models.Patient.objects.get()
    assert (stored.legal_last_name, stored.address_postal_code) == ("Qxlastmark", "QX9MARK")
    assert_no_plaintext([*markers.values(), "6175550163", "6175550172", "1937-04-29", "intersex"])


def test_a_dry_run_checks_everything_and_writes_nothing(tmp_path, staff):
    path = write_csv(tmp_path / "p.csv", [person(1), person(2, date_of_birth="1984-02-30"), person(3)])
    message, err = refused(path, "--dry-run")
    assert message.startswith("Dry run: 3 rows read: 2 valid, 1 invalid. The import would be refused")
    assert message.endswith("--skip-invalid to import only the 2 valid rows. Nothing was written.")
    assert "line 3, date_of_birth: This is not a date in the calendar" in err

    out, err = run(path, "--dry-run", "--skip-invalid")
    assert "Dry run: 3 rows read: 2 valid, 1 invalid. 2 patients would be imported." in out
    assert "Nothing was written." in out
    assert stored_counts() == (0, 0)


def test_a_bad_date_in_row_9999_of_10000_is_reported_with_its_line_and_nothing_is_written(tmp_path, staff):
    rows = [person(n) for n in range(10_000)]
    rows[9998]["date_of_birth"] = "12/31/1980"  # row 9,999 is on line 10,000 (line 1 is the header)
    message, err = refused(write_csv(tmp_path / "p.csv", rows), "--batch-size", "2000")

    assert err.strip() == "line 10000, date_of_birth: Write the date as YYYY-MM-DD (year, month, day)."
    assert message.startswith("10,000 rows read: 9,999 valid, 1 invalid. Nothing was imported")
    assert "--skip-invalid to import only the 9,999 valid rows." in message
    assert stored_counts() == (0, 0)


def test_skip_invalid_imports_the_valid_rows_and_lists_the_others_by_line_and_field(tmp_path, staff):
    rows = [
        person(1),
        person(2, email="nope", phone="12"),
        person(3),
        person(4, legal_last_name=""),
        person(5, sex_assigned_at_birth="f"),
    ]
    out, err = run(write_csv(tmp_path / "p.csv", rows), "--skip-invalid", "--batch-size", "2")

    assert "Imported 2 patients" in out and "5 rows read: 2 valid, 3 invalid." in out
    assert "The 3 invalid rows listed above were skipped." in out
    assert [line.split(":")[0].strip() for line in err.splitlines()] == [
        "line 3, phone",
        "line 3, email",
        "line 5, legal_last_name",
        "line 6, sex_assigned_at_birth",
    ]
    assert sorted(p.legal_last_name for p in models.Patient.objects.all()) == ["Testlast1", "Testlast3"]
    assert stored_counts() == (2, 2)


def test_error_reports_name_the_field_and_rule_but_never_the_value(tmp_path, staff):
    rows = [
        person(
            1,
            legal_first_name="Qxsecretfirst" * 10,
            email="qxsecret@@qxdomain",
            phone="Qxphone",
            date_of_birth="Qxdate",
            status="Qxstatus",
            emergency_contact_name="Qxcontact",
        )
    ]
    path = write_csv(tmp_path / "p.csv", rows, columns=[*HEADER, "status", "emergency_contact_name"])
    message, err = refused(path)
    assert {line.split(":")[0].strip() for line in err.splitlines()} == {
        "line 2, legal_first_name",
        "line 2, email",
        "line 2, phone",
        "line 2, date_of_birth",
        "line 2, status",
        "line 2, emergency_contact_phone",
    }
    assert "qx" not in (message + err).lower()


def test_a_wrong_header_is_refused_naming_the_missing_and_unknown_columns(tmp_path, staff):
    path = tmp_path / "p.csv"
    path.write_text("legal_first_name,Last Name,date_of_birth,emial\nRobin,Okafor,1990-05-17,r@example.com\n")
    message, _ = refused(str(path))
    assert "missing required column legal_last_name" in message
    assert "unknown columns 'last name' (column 2), 'emial' (column 4)" in message
    assert message.endswith("Nothing was imported.")

    path.write_text("Qxfirst,Qxlast,1990-05-17\n")
    message, _ = refused(str(path))
    assert "Line 1 is not the header" in message and "Qx" not in message
    assert stored_counts() == (0, 0)


def test_encodings_a_bom_is_accepted_latin1_and_utf16_are_refused_with_the_line(tmp_path, staff):
    rows = [person(1), person(2, legal_first_name="José")]
    run(write_csv(tmp_path / "bom.csv", rows, encoding="utf-8-sig"))
    assert sorted(p.legal_first_name for p in models.Patient.objects.all()) == ["José", "Testfirst1"]

    message, _ = refused(
        write_csv(tmp_path / "latin1.csv", [person(3), person(4, legal_first_name="Zoé")], encoding="latin-1")
    )
    assert message.startswith(f"{tmp_path / 'latin1.csv'}: Line 3 is not valid UTF-8 (byte 0xe9")
    assert message.endswith("Nothing was imported.")
    message, _ = refused(write_csv(tmp_path / "utf16.csv", [person(5)], encoding="utf-16"))
    assert "The file is UTF-16" in message
    assert models.Patient.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_file_that_breaks_after_batches_were_written_leaves_nothing_behind(tmp_path, staff):
    path = tmp_path / "p.csv"
    write_csv(path, [person(n) for n in range(1, 251)])
    with open(path, "ab") as handle:
        handle.write(b"Jos\xe9,Okafor,1990-05-17,,,\n")  # Latin-1 on line 252, after two batches of 100
    message, _ = refused(str(path), "--batch-size", "100", "--skip-invalid")
    assert "Line 252 is not valid UTF-8" in message
    assert stored_counts() == (0, 0)


def test_line_numbers_count_physical_lines(tmp_path, staff):
    path = tmp_path / "p.csv"
    path.write_text(
        "legal_first_name,legal_last_name,date_of_birth,address_line1\n"
        'Robin,Okafor,1990-05-17,"1 Main St\nFlat 2"\n'
        "\n"
        "Ana,Silva,1990-13-01,\n"
        "Ana,Silva,1990-05-18\n",
        encoding="utf-8",
    )
    message, err = refused(str(path))
    assert err.splitlines() == [
        "  line 5, date_of_birth: This is not a date in the calendar (check the month and the day).",
        "  line 6, row: It has 3 values, the header 4 columns (check the quoting and the commas).",
    ]


def test_duplicates_of_registered_patients_and_of_earlier_rows_are_refused_unless_allowed(tmp_path, staff):
    repository.DjangoPatientRepository(actor=staff).add(
        domain.Patient(legal_first_name="Zoë", legal_last_name="O'Brien", date_of_birth=dt.date(1984, 2, 29))
    )
    rows = [
        person(1, legal_first_name="ZOE", legal_last_name="OBrien", date_of_birth="1984-02-29"),
        person(2),
        person(3),
        person(2, email="other@example.com"),
        person(3),
        person(4),
    ]
    path = write_csv(tmp_path / "p.csv", rows)

    _, err = run(path, "--skip-invalid", "--batch-size", "4")
    assert err.splitlines() == [
        "  line 2, row: A patient with this legal name and date of birth is already registered. "
        "Pass --allow-duplicates if they are different people.",
        "  line 5, row: The same legal name and date of birth as line 3. Pass --allow-duplicates if they are different people.",
        "  line 6, row: The same legal name and date of birth as an earlier line of this file. "
        "Pass --allow-duplicates if they are different people.",
    ]
    assert models.Patient.objects.count() == 1 + 3
    entry = AccessLogEntry.objects.get(action=importer.ACCESS_ACTION)
    assert (entry.user, entry.detail) == (
        staff,
        "import_patients: 6 rows compared by legal name and date of birth, 3 matched; no content shown",
    )

    out, err = run(path, "--allow-duplicates")
    assert "Imported 6 patients" in out and err == ""
    assert models.Patient.objects.count() == 1 + 3 + 6
    assert AccessLogEntry.objects.filter(action=importer.ACCESS_ACTION).count() == 1


def test_the_actor_file_and_batch_size_are_checked_before_anything_is_read(tmp_path, staff):
    path = write_csv(tmp_path / "p.csv", [person(1)])
    with pytest.raises(CommandError, match="the following arguments are required: --actor"):
        call_command("import_patients", path, stdout=io.StringIO(), stderr=io.StringIO())
    assert "no user named 'nobody'" in refused(path, actor="nobody")[0]
    assert refused(str(tmp_path / "missing.csv"))[0] == f"{tmp_path / 'missing.csv'}: no such file."
    assert "is a directory" in refused(str(tmp_path))[0]
    assert "--batch-size must be 1 to 5000 (given 0)" in refused(path, "--batch-size", "0")[0]
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert "The file is empty" in refused(str(empty))[0]
    assert stored_counts() == (0, 0)


def test_progress_goes_to_stderr_when_asked_for_and_not_otherwise(tmp_path, staff):
    path = write_csv(tmp_path / "p.csv", [person(n) for n in range(5)])
    _, err = run(path, "--batch-size", "2", "--dry-run")
    assert err == ""
    _, err = run(path, "--batch-size", "2", "--progress")
    with open(path, "rb") as handle:
        lines = handle.readlines()
    share = [sum(map(len, lines[:count])) * 100 // sum(map(len, lines)) for count in (3, 5)]
    assert err.splitlines() == [
        f"line 3 ({share[0]}%): 2 valid, 0 invalid",
        f"line 5 ({share[1]}%): 4 valid, 0 invalid",
        "line 6 (100%): 5 valid, 0 invalid",
    ]


def test_the_file_is_streamed_batch_by_batch(tmp_path, staff):
    path = write_csv(tmp_path / "p.csv", [person(n) for n in range(1000)])
    seen = []

    def progress(step):
        seen.append((step.bytes_read, models.Patient.objects.count()))

    with open(path, "rb") as handle:
        size = handle.seek(0, 2)
        handle.seek(0)
        importer.import_patients(handle, actor=staff, batch_size=100, total_bytes=size, progress=progress)
    # After the first batch, about a tenth of the file has been read and exactly one batch written.
    assert seen[0][1] == 100 and seen[0][0] < size / 5
    assert [written for _, written in seen] == list(range(100, 1001, 100))


def test_help_explains_the_format_and_the_options():
    text = command.Command().create_parser("manage.py", "import_patients").format_help()
    for word in (
        *importer.COLUMNS,
        "--actor",
        "--dry-run",
        "--skip-invalid",
        "--batch-size",
        "--progress",
        "--allow-duplicates",
        "YYYY-MM-DD",
        "UTF-8",
        "all or nothing",
    ):
        assert word in text


def test_imported_values_decrypt_under_the_current_key_only(tmp_path, staff):
    run(write_csv(tmp_path / "p.csv", [person(1)]))
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT legal_last_name FROM patients_patient")
        (token,) = cursor.fetchone()
    assert "Testlast1" not in token and encryption.decrypt(token) == "Testlast1"


def test_a_database_refusal_is_a_clear_error_without_its_details_and_nothing_is_written(tmp_path, staff, monkeypatch):
    existing = repository.DjangoPatientRepository(actor=staff).add(
        domain.Patient(legal_first_name="Robin", legal_last_name="Okafor", date_of_birth=dt.date(1990, 5, 17))
    )
    # Someone registers a patient under the drawn MRN between the check and the insert.
    monkeypatch.setattr(repository, "_unused_mrns", lambda count: [existing.mrn] * count)
    message, _ = refused(write_csv(tmp_path / "p.csv", [person(1)]))
    assert message == (
        "The database refused the import (IntegrityError); nothing was imported. "
        "Run it again; if it fails again, check the database."
    )
    assert stored_counts() == (1, 1)


class LogWriteFailed(Exception):
    """The access-log write broke (a crash after the patients were written)."""


def test_an_import_whose_access_log_entry_fails_leaves_no_patient_behind(tmp_path, staff, monkeypatch):
    def broken(**kwargs):
        raise LogWriteFailed

    monkeypatch.setattr(importer.access, "record", broken)
    with pytest.raises(LogWriteFailed):
        run(write_csv(tmp_path / "p.csv", [person(1), person(2)]))
    assert stored_counts() == (0, 0)
    assert not AccessLogEntry.objects.filter(action=importer.ACCESS_ACTION).exists()


def test_an_import_leaves_its_patients_and_exactly_one_access_log_entry(tmp_path, staff):
    out, _ = run(write_csv(tmp_path / "p.csv", [person(1), person(2)]))
    assert "Imported 2 patients" in out
    assert stored_counts() == (2, 2)
    assert AccessLogEntry.objects.filter(action=importer.ACCESS_ACTION).count() == 1


def test_a_dry_run_writes_no_patient_but_logs_its_duplicate_check_once(tmp_path, staff):
    out, _ = run(write_csv(tmp_path / "p.csv", [person(1), person(2)]), "--dry-run")
    assert "Nothing was written." in out
    assert stored_counts() == (0, 0)
    entry = AccessLogEntry.objects.get(action=importer.ACCESS_ACTION)
    assert entry.detail.startswith("import_patients (dry run): 2 rows compared")


@pytest.mark.django_db(transaction=True)
def test_an_import_that_is_the_first_write_of_its_process_completes(on_postgres, staff, tmp_path):
    # A fresh process checks its key against the canary at its first encrypted write; on
    # PostgreSQL that write happens inside a COPY, where no other statement may be sent (the
    # import used to wait for ever there).
    path = write_csv(tmp_path / "first.csv", [person(n) for n in range(3)])
    completed = subprocess.run(
        [sys.executable, "manage.py", "import_patients", path, "--actor", staff.username],
        cwd=BASE_DIR,
        env=child_environment(postgres_url(), LOG_LEVEL="ERROR"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert models.Patient.objects.count() == 3
