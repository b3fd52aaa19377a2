"""Commands with --actor refuse what the same user could not do in the admin: roles, then care."""

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from conftest import assign_care, make_staff
from novamind import roles
from novamind.models import AccessLogEntry
from novamind.tests.integration.role_users import member, superuser
from patients import domain as patients_domain
from patients import models as patients_models
from patients import repository as patients_repository

pytestmark = pytest.mark.django_db

CLINICIAN_PROFILE = {"credentials": "PhD", "is_clinician": True}


@pytest.fixture
def patient(db):
    return patients_repository.DjangoPatientRepository(actor=make_staff("alice")).add(
        patients_domain.Patient(legal_first_name="Robin", legal_last_name="Okafor", date_of_birth=dt.date(1990, 5, 17))
    )


def export(patient, actor):
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "export_patient_record", "--patient", patient.mrn, "--format", "json", "--actor", actor, stdout=out, stderr=err
    )
    return out.getvalue()


def refused_export(patient, actor):
    out = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command(
            "export_patient_record", "--patient", patient.mrn, "--format", "json", "--actor", actor, stdout=out
        )
    assert out.getvalue() == "" and "Okafor" not in str(caught.value)
    assert not AccessLogEntry.objects.filter(action="disclose").exists()
    return str(caught.value)


@pytest.mark.parametrize("role", [roles.PRACTICE_ADMIN, roles.FRONT_DESK, roles.AUDITOR])
def test_a_role_without_the_clinical_record_cannot_export_it(patient, role):
    member("office", role)
    assert "may not do this" in refused_export(patient, "office")


def test_a_clinician_outside_the_patients_care_cannot_export_the_record(patient):
    member("drout", roles.CLINICIAN, profile=CLINICIAN_PROFILE)
    assert "care team" in refused_export(patient, "drout")


def test_a_clinician_on_the_care_team_exports_the_record(patient):
    clinician = member("drin", roles.CLINICIAN, profile=CLINICIAN_PROFILE)
    assign_care(patient, clinician)
    assert "Okafor" in export(patient, "drin")


def test_a_superuser_exports_any_record(patient):
    superuser("root")
    assert "Okafor" in export(patient, "root")


def test_importing_patients_needs_the_permission_to_add_patients(tmp_path):
    path = tmp_path / "patients.csv"
    path.write_text("legal_first_name,legal_last_name,date_of_birth\nRobin,Okafor,1990-05-17\n", encoding="utf-8")
    member("office", roles.PRACTICE_ADMIN)
    with pytest.raises(CommandError, match="patients.add_patient"):
        call_command("import_patients", str(path), "--actor", "office", stdout=io.StringIO(), stderr=io.StringIO())
    assert not patients_models.Patient.objects.exists()


def test_rotating_the_encryption_key_needs_a_superuser(db):
    member("office", roles.PRACTICE_ADMIN)
    with pytest.raises(CommandError, match="only a superuser"):
        call_command("rotate_encryption_keys", "--actor", "office", "--verify-only", stdout=io.StringIO())


def test_the_audit_report_needs_the_auditor_role(patient):
    member("office", roles.PRACTICE_ADMIN)
    with pytest.raises(CommandError, match="may not"):
        call_command("audit_report", "--patient", patient.mrn, "--actor", "office", stdout=io.StringIO())


def test_purging_needs_the_purge_permission(db):
    member("office", roles.PRACTICE_ADMIN)
    with pytest.raises(CommandError, match="patients.purge_patient"):
        call_command("purge_expired", "--actor", "office", "--dry-run", stdout=io.StringIO())
