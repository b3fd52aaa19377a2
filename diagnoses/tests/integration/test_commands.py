"""diagnosis_list prints the problem list for the chart, as the admin would show it to the actor; nothing else."""

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from diagnoses import domain, services
from diagnoses.tests.builders import a_diagnosis
from novamind import roles
from novamind.models import AccessLogEntry
from novamind.tests.integration.role_users import member
from patients import models as patients_models

pytestmark = pytest.mark.django_db


def run(*args):
    out = io.StringIO()
    call_command("diagnosis_list", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def mrn(patient):
    return patients_models.Patient.objects.get(pk=patient.id).mrn


@pytest.fixture
def chart(clinician, patient):
    services.diagnosis_record(
        diagnosis=a_diagnosis(patient, "F41.1", onset_date=dt.date(2025, 11, 3), specifier="worse  in\nwinter"),
        actor=clinician,
    )
    services.diagnosis_record(diagnosis=a_diagnosis(patient, "F33.1", is_primary=True), actor=clinician)
    past = services.diagnosis_record(diagnosis=a_diagnosis(patient, "F43.10"), actor=clinician)
    services.diagnosis_rule_out(diagnosis_id=past.id, actor=clinician)
    return patient


def test_the_list_prints_the_problem_list_primary_first_then_the_past_and_is_logged(chart, clinician):
    out = run("--patient", mrn(chart).lower(), "--actor", clinician.username)
    lines = out.splitlines()
    assert lines[0] == f"Diagnoses: {mrn(chart)} Okafor, Robin (born 1990-05-17)"
    assert "ICD-10-CM, April 1, 2026 update (FY2026)" in lines[1] and "printed by drcare" in lines[1]
    today = timezone.localdate()
    assert "\n".join(lines[3:]) == (
        "Problem list:\n"
        f"  1. F33.1 Major depressive disorder, recurrent, moderate (PRIMARY)\n     Active since {today:%Y-%m-%d}\n"
        "  2. F41.1 Generalized anxiety disorder\n     Active since 2025-11-03; onset 2025-11-03\n     worse in winter\n"
        "\n"
        "Resolved or ruled out:\n"
        f"  1. F43.10 Post-traumatic stress disorder, unspecified\n     Ruled out since {today:%Y-%m-%d}"
    )
    entry = AccessLogEntry.objects.order_by("-sequence").first()
    assert (entry.action, entry.category, entry.patient_id, entry.detail) == (
        "print",
        "diagnoses",
        chart.id,
        "diagnosis_list: 2 current, 1 resolved or ruled out",
    )


def test_a_patient_with_no_diagnosis_gets_an_empty_list(patient, clinician):
    assert "Problem list:\n  No current diagnoses." in run("--patient", mrn(patient), "--actor", clinician.username)


def test_outside_the_actors_care_the_mrn_answers_as_if_it_did_not_exist(chart, outsider):
    with pytest.raises(CommandError, match="has no patient with the MRN .* in their care") as refused:
        run("--patient", mrn(chart), "--actor", outsider.username)
    assert "F33.1" not in str(refused.value) and "Okafor" not in str(refused.value)
    assert not AccessLogEntry.objects.filter(action="print").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--patient", "12345", "--actor", "drcare"], "is not a NovaMind MRN"),
        (["--patient", "NM00000000", "--actor", "drcare"], "has no patient with the MRN NM00000000"),
        (["--patient", "{mrn}", "--actor", "nobody"], "no user named 'nobody'"),
        (["--patient", "{mrn}", "--actor", "frontdesk"], "lack diagnoses.view_diagnosis"),
    ],
)
def test_bad_input_and_roles_without_diagnoses_are_refused_clearly(chart, clinician, args, message):
    member("frontdesk", roles.FRONT_DESK)
    with pytest.raises(CommandError, match=message):
        run(*[arg.format(mrn=mrn(chart)) for arg in args])


def test_the_domain_status_labels_are_what_the_list_prints():
    assert [status.label for status in domain.DiagnosisStatus] == ["Active", "In remission", "Resolved", "Ruled out"]
