"""The audit report: change history and access log merged, field names only, by command and admin."""

import csv
import dataclasses
import datetime as dt
import io
import os
import stat

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from clinic import audit_report
from clinical_notes import domain as notes_domain
from clinical_notes import models as notes_models
from clinical_notes.tests.factories import a_diagnosis, addressing, notes_as
from conftest import assign_care
from novamind import access, roles
from novamind.models import AccessLogEntry
from novamind.tests.integration.role_users import member, superuser
from patients import domain as patients_domain
from patients import repository as patients_repository

pytestmark = pytest.mark.django_db

SECRETS = ("Okafor", "Okafor-Reyes", "Adeyemi", "BODYMARKER", "ADDENDUMMARKER", "REASONMARKER")
CLINICIAN_PROFILE = {"credentials": "PhD", "is_clinician": True}


@dataclasses.dataclass
class Clinic:
    felix: object
    author: object
    auditor: object
    patient: patients_domain.Patient
    other: patients_domain.Patient
    note_id: object


@pytest.fixture
def clinic(client):
    """Felix registers and renames a patient and opens their page; a clinician writes notes."""
    felix = member("felix", roles.FRONT_DESK)
    author = member("drpatel", roles.CLINICIAN, profile=CLINICIAN_PROFILE)
    auditor = member("audra", roles.AUDITOR)
    patients = patients_repository.DjangoPatientRepository(actor=felix)
    patient = patients.add(
        patients_domain.Patient(
            legal_first_name="Robin",
            legal_last_name="Okafor",
            date_of_birth=dt.date(1990, 5, 17),
        )
    )
    patients.update(dataclasses.replace(patient, legal_last_name="Okafor-Reyes"))
    other = patients_repository.DjangoPatientRepository(actor=superuser()).add(
        patients_domain.Patient(
            legal_first_name="Sam",
            legal_last_name="Adeyemi",
            date_of_birth=dt.date(1985, 1, 2),
        )
    )
    # Care begins by an explicit act (patients.policy): the author writes only for their patients.
    desk = member("desk", roles.FRONT_DESK)
    assign_care(patient, author, by=desk)
    assign_care(other, author, by=desk)
    notes = notes_as(author)

    def draft(patient_id, diagnoses=()):
        return notes.add(
            notes_domain.ClinicalNote(
                patient_id=patient_id,
                author=notes_models.staff_of(author),
                kind=notes_domain.NoteKind.PROGRESS_NOTE,
                format=notes_domain.NoteFormat.FREE_TEXT,
                date_of_service=timezone.localdate(),
                sections=notes_domain.Sections(body="BODYMARKER"),
                diagnoses=addressing(*diagnoses),
            )
        )

    signed = notes.sign(draft(patient.id, [a_diagnosis(author, patient)]).id)
    notes.add_addendum(signed.id, text="ADDENDUMMARKER", reason="REASONMARKER")
    notes.delete(draft(patient.id).id)  # a discarded draft: a "-" row
    draft(other.id)
    client.force_login(felix)
    assert (
        client.get(reverse("admin:patients_patient_change", args=[patient.id]), REMOTE_ADDR="10.1.2.3").status_code
        == 200
    )
    client.logout()
    return Clinic(felix=felix, author=author, auditor=auditor, patient=patient, other=other, note_id=signed.id)


def report(*args, actor="audra"):
    out, err = io.StringIO(), io.StringIO()
    call_command("audit_report", *args, "--actor", actor, stdout=out, stderr=err)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    return out.getvalue(), rows


def test_a_patients_report_merges_their_history_and_accesses_in_time_order(clinic):
    text, rows = report("--patient", clinic.patient.mrn)
    assert text.splitlines()[0] == ",".join(audit_report.COLUMNS)
    assert [row["when"] for row in rows] == sorted(row["when"] for row in rows)
    assert {row["patient_mrn"] for row in rows} == {clinic.patient.mrn}
    changes = [(row["user"], row["record_type"], row["change"]) for row in rows if row["source"] == "change"]
    assert changes == [
        ("felix", "patients.patient", "+"),
        ("felix", "patients.patient", "~"),
        ("desk", "patients.careassignment", "+"),
        ("drpatel", "diagnoses.diagnosis", "+"),
        ("drpatel", "clinical_notes.clinicalnote", "+"),
        ("drpatel", "clinical_notes.addresseddiagnosis", "+"),  # the note's link, named by its note's patient
        ("drpatel", "clinical_notes.clinicalnote", "~"),
        ("drpatel", "clinical_notes.addendum", "+"),
        ("drpatel", "clinical_notes.clinicalnote", "+"),
        ("drpatel", "clinical_notes.clinicalnote", "-"),
    ]
    renamed = next(row for row in rows if row["change"] == "~" and row["record_type"] == "patients.patient")
    assert renamed["changed_fields"] == "legal_last_name" and renamed["record_id"] == str(clinic.patient.id)
    signing = next(row for row in rows if row["change"] == "~" and row["record_type"] == "clinical_notes.clinicalnote")
    assert set(signing["changed_fields"].split(";")) == {"status", "signed_at", "signed_by", "content_hash"}
    viewed = next(
        row for row in rows if row["source"] == "access" and row["user"] == "felix" and row["action"] == "view"
    )
    assert (viewed["category"], viewed["outcome"], viewed["address"], viewed["emergency"]) == (
        "demographics",
        "granted",
        "10.1.2.3",
        "no",
    )
    for secret in SECRETS:
        assert secret not in text
    assert clinic.other.mrn not in text


def test_running_the_report_is_itself_recorded(clinic):
    _, rows = report("--patient", clinic.patient.mrn, "--from", str(timezone.localdate()))
    entry = AccessLogEntry.objects.get(action=audit_report.ACTION)
    assert (entry.username, entry.patient_mrn, entry.patient_id) == ("audra", clinic.patient.mrn, clinic.patient.id)
    assert entry.detail == f"patient {clinic.patient.mrn}, {timezone.localdate()} to today: {len(rows)} row(s)"
    assert access.verify().ok


def test_a_users_report_lists_what_they_changed_and_read_and_their_role_changes(clinic):
    text, rows = report("--user", "felix")
    assert {row["user"] for row in rows if row["source"] == "change"} == {"felix"}
    assert [row["change"] for row in rows if row["source"] == "change"] == ["+", "~"]
    assert {row["patient_mrn"] for row in rows if row["source"] == "change"} == {clinic.patient.mrn}
    role_change = next(row for row in rows if row["action"] == "role change")
    assert (role_change["user"], role_change["detail"]) == ("root", "felix: added Front desk")
    assert "drpatel" not in text
    for secret in SECRETS:
        assert secret not in text


def test_a_users_report_names_the_patient_of_a_record_of_a_record(clinic):
    _, rows = report("--user", "drpatel")
    addendum = next(row for row in rows if row["record_type"] == "clinical_notes.addendum")
    assert addendum["patient_mrn"] == clinic.patient.mrn
    assert {row["patient_mrn"] for row in rows if row["source"] == "change"} == {clinic.patient.mrn, clinic.other.mrn}


@pytest.mark.parametrize(
    ("days_from", "days_to", "expect_rows"),
    [
        (0, 0, True),
        (-1, 0, True),
        (1, 2, False),
        (-3, -1, False),
        (None, -1, False),
        (0, None, True),
    ],
)
def test_the_period_covers_whole_days_in_the_clinic_time_zone(clinic, days_from, days_to, expect_rows):
    today = timezone.localdate()
    args = ["--patient", clinic.patient.mrn]
    if days_from is not None:
        args += ["--from", str(today + dt.timedelta(days=days_from))]
    if days_to is not None:
        args += ["--to", str(today + dt.timedelta(days=days_to))]
    _, rows = report(*args)
    assert bool(rows) == expect_rows


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--patient", "NM00000000"], "No patient has the MRN NM00000000"),
        (["--user", "nobody"], "No user is named 'nobody'"),
        (["--user", "felix", "--from", "2026-13-01"], "'2026-13-01' is not a date: use YYYY-MM-DD"),
        (["--user", "felix", "--from", "2026-03-02", "--to", "2026-03-01"], r"starts \(2026-03-02\) after it ends"),
        (["--user", "felix", "--patient", "NM00000000"], "not allowed with argument"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_recorded(clinic, args, message):
    with pytest.raises(CommandError, match=message):
        report(*args)
    assert not AccessLogEntry.objects.filter(action=audit_report.ACTION).exists()


@pytest.mark.parametrize("actor", ["drpatel", "felix"])
def test_only_an_auditor_runs_the_report(clinic, actor):
    with pytest.raises(CommandError, match="lack novamind.view_audit_report"):
        report("--patient", clinic.patient.mrn, actor=actor)
    assert not AccessLogEntry.objects.filter(action=audit_report.ACTION).exists()


def test_the_report_goes_to_a_new_private_file(clinic, tmp_path):
    target = tmp_path / "report.csv"
    text, _ = report("--patient", clinic.patient.mrn, "--output", str(target))
    assert text == ""
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    written = list(csv.DictReader(target.open(encoding="utf-8")))
    assert written and written[0]["patient_mrn"] == clinic.patient.mrn
    with pytest.raises(CommandError, match="already exists"):
        report("--patient", clinic.patient.mrn, "--output", str(target))


def test_a_cell_a_spreadsheet_would_run_is_written_as_text(clinic):
    access.record(user=member("+cmd"), action="view", category="demographics", patient=clinic.patient)
    _, rows = report("--patient", clinic.patient.mrn)
    assert "'+cmd" in {row["user"] for row in rows}
    assert {row["change"] for row in rows if row["source"] == "change"} <= {"+", "~", "-"}


# --- in the admin -------------------------------------------------------------------------------


def test_an_auditor_downloads_the_report_from_the_access_log(client, clinic):
    client.force_login(clinic.auditor)
    listing = client.get(reverse("admin:novamind_accesslogentry_changelist"))
    report_url = reverse("admin:novamind_accesslogentry_report")
    assert listing.status_code == 200 and report_url in listing.content.decode()
    assert client.get(report_url).status_code == 200
    today = str(timezone.localdate())
    response = client.post(
        report_url,
        {"patient": clinic.patient.mrn.lower(), "date_from": today, "date_to": today},
        REMOTE_ADDR="10.9.9.9",
    )
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        response["Content-Disposition"]
        == f'attachment; filename="audit-report-{clinic.patient.mrn}-{today}-{today}.csv"'
    )
    assert "no-store" in response["Cache-Control"]
    text = response.content.decode()
    _, from_command = report("--patient", clinic.patient.mrn, "--from", today, "--to", today)
    assert list(csv.DictReader(io.StringIO(text))) == from_command[:-1]  # the command's run sees the admin's
    for secret in SECRETS:
        assert secret not in text
    entry = AccessLogEntry.objects.filter(action=audit_report.ACTION).earliest("sequence")
    assert (entry.username, entry.patient_mrn, entry.source_address) == ("audra", clinic.patient.mrn, "10.9.9.9")


def test_the_report_form_says_what_is_missing(client, clinic):
    client.force_login(clinic.auditor)
    response = client.post(reverse("admin:novamind_accesslogentry_report"), {"patient": "", "username": ""})
    assert response.status_code == 200
    assert "Give either a patient (MRN) or a user (username)" in response.content.decode()
    assert not AccessLogEntry.objects.filter(action=audit_report.ACTION).exists()


@pytest.mark.parametrize("role", [roles.CLINICIAN, roles.PRACTICE_ADMIN, roles.FRONT_DESK])
def test_other_roles_cannot_reach_the_report(client, clinic, role):
    client.force_login(member("someone", role))
    url = reverse("admin:novamind_accesslogentry_report")
    assert client.get(url).status_code == 403
    assert client.post(url, {"patient": clinic.patient.mrn}).status_code == 403
    assert reverse("admin:novamind_accesslogentry_report") not in client.get(reverse("admin:index")).content.decode()
    attempts = AccessLogEntry.objects.filter(action=audit_report.ACTION)
    assert list(attempts.values_list("username", "outcome")) == [("someone", access.REFUSED)] * 2


def test_a_report_whose_access_log_entry_fails_writes_no_file_and_shows_nothing(clinic, tmp_path, monkeypatch):
    class LogWriteFailed(Exception):
        pass

    def broken(**kwargs):
        raise LogWriteFailed

    monkeypatch.setattr(audit_report.access, "record", broken)
    target = tmp_path / "report.csv"
    with pytest.raises(LogWriteFailed):
        report("--patient", clinic.patient.mrn, "--output", str(target))
    assert not target.exists()
    out = io.StringIO()
    with pytest.raises(LogWriteFailed):
        call_command("audit_report", "--patient", clinic.patient.mrn, "--actor", "audra", stdout=out)
    assert out.getvalue() == ""


def test_a_report_is_recorded_exactly_once(clinic):
    _, rows = report("--patient", clinic.patient.mrn)
    assert rows
    assert AccessLogEntry.objects.filter(action=audit_report.ACTION).count() == 1
