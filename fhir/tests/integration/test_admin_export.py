"""The record export from the admin: the patient list's action, every format the command writes, the same rules."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from clinic import record_export
from clinic.tests.integration.test_export_patient_record import ALL_WITHHELD
from conftest import assign_care
from fhir import validation
from novamind import roles
from novamind.models import AccessLogEntry
from novamind.tests.integration.role_users import member

pytestmark = pytest.mark.django_db

CLINICIAN = {"credentials": "PhD", "is_clinician": True}


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def act(client, patients, follow=False, **data):
    return client.post(
        reverse("admin:patients_patient_changelist"),
        {"action": "export_record", "_selected_action": [p.id for p in patients], **data},
        follow=follow,
    )


def disclosures():
    return list(AccessLogEntry.objects.filter(action=record_export.DISCLOSURE_ACTION))


@pytest.fixture
def clinician(chart):
    user = member("drin", roles.CLINICIAN, profile=CLINICIAN)
    assign_care(chart.patient, user)
    return user


def test_the_action_asks_for_the_format_fhir_included(chart, clinician):
    page = act(signed_in(clinician), [chart.patient])
    assert page.status_code == 200
    assert [value for value, _ in page.context["form"].fields["format"].choices] == ["json", "html", "fhir"]
    assert disclosures() == []


def test_the_fhir_download_is_a_valid_bundle_logged_as_a_disclosure(chart, clinician):
    response = act(signed_in(clinician), [chart.patient], apply="1", format="fhir")
    assert response.status_code == 200 and response["Content-Type"] == "application/fhir+json"
    assert response["Content-Disposition"] == f'attachment; filename="{chart.patient.mrn}-record.fhir.json"'
    text = response.content.decode("utf-8")
    assert validation.bundle_problems(json.loads(text)) == []
    assert not any(canary in text for canary in ALL_WITHHELD)
    [entry] = disclosures()
    assert entry.user == clinician and entry.patient_id == chart.patient.id and "fhir copy" in entry.detail


def test_the_json_copy_downloads_from_the_same_action(chart, clinician):
    response = act(signed_in(clinician), [chart.patient], apply="1", format="json")
    assert json.loads(response.content)["schema"] == record_export.SCHEMA and len(disclosures()) == 1


def test_a_clinician_outside_the_patients_care_cannot_export_from_the_admin(chart):
    outsider = member("drout", roles.CLINICIAN, profile=CLINICIAN)
    response = act(signed_in(outsider), [chart.patient], apply="1", format="fhir")
    # The patient is not in their list: Django finds no selected item, nothing is read.
    assert "Content-Disposition" not in response and disclosures() == []


@pytest.mark.parametrize("role", [roles.FRONT_DESK, roles.PRACTICE_ADMIN])
def test_a_role_without_the_clinical_record_is_refused(chart, role):
    office = member("office", role)
    client = signed_in(office)
    client.raise_request_exception = False
    response = act(client, [chart.patient], apply="1", format="fhir")
    # Front desk sees the list, and the export refuses it; a practice admin does not see the list.
    assert response.status_code in (302, 403) and "Content-Disposition" not in response
    assert b"Okafor" not in response.content and disclosures() == []


def test_several_patients_at_once_are_refused(chart, operator):
    response = act(signed_in(operator), [chart.patient, chart.other_patient], apply="1", format="fhir")
    assert response.status_code == 302 and disclosures() == []


def test_an_unknown_format_is_a_form_error_and_nothing_is_exported(chart, clinician):
    page = act(signed_in(clinician), [chart.patient], apply="1", format="pdf")
    assert page.status_code == 200 and "format" in page.context["form"].errors and disclosures() == []


def test_front_desk_is_told_why_it_was_refused(chart):
    office = member("office", roles.FRONT_DESK)
    response = act(signed_in(office), [chart.patient], apply="1", format="fhir", follow=True)
    text = response.content.decode("utf-8")
    assert "Not exported." in text and disclosures() == []
