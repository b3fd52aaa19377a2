"""The patient forms as the front desk meets them: the MRN, a mistyped birth date, a save with no change."""

import re

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from medications.tests.pages import form_data
from novamind import audit
from patients import models
from patients.tests.integration.test_admin import VALID, add_url, change_url, create

pytestmark = pytest.mark.django_db

MRN = re.compile(r"NM\d{8}")


def test_the_add_form_shows_no_provisional_mrn_only_that_one_is_assigned_on_save(staff_client):
    pages = [staff_client.get(add_url()), staff_client.get(add_url())]
    pages.append(staff_client.post(add_url(), {**VALID, "legal_first_name": ""}))  # an invalid re-render
    for page in pages:
        html = page.content.decode()
        assert MRN.findall(html) == []
        assert "Assigned when the patient is saved" in html
    assert models.Patient.objects.count() == 0


def test_the_mrn_shown_after_saving_is_the_one_stored(staff_client):
    response = staff_client.post(add_url(), {**VALID, "legal_first_name": ""})
    response = staff_client.post(add_url(), VALID, follow=True)
    patient = models.Patient.objects.get()
    assert set(MRN.findall(response.content.decode())) == {patient.mrn}
    page = staff_client.get(change_url(patient)).content.decode()
    assert set(MRN.findall(page)) == {patient.mrn}


@pytest.mark.parametrize("written", ["13/45/1990", "1990-13-45", "yesterday"])
def test_a_birth_date_no_calendar_has_is_one_error_not_also_required(staff_client, written):
    response = staff_client.post(add_url(), {**VALID, "date_of_birth": written})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["date_of_birth"] == ["Enter a valid date."]


def test_a_missing_birth_date_is_still_required(staff_client):
    response = staff_client.post(add_url(), {**VALID, "date_of_birth": ""})
    assert response.context["adminform"].form.errors["date_of_birth"] == ["This field is required."]


def test_saving_a_patient_without_changes_writes_nothing_and_says_so(staff_client):
    patient = create(staff_client)
    page = staff_client.get(change_url(patient))
    logged = LogEntry.objects.count()
    response = staff_client.post(change_url(patient), form_data(page), follow=True)
    assert response.status_code == 200
    stored = models.Patient.objects.get()
    assert stored.version == 1 and stored.updated_at == patient.updated_at
    assert stored.history.count() == 1 and LogEntry.objects.count() == logged
    assert "No changes to save" in response.content.decode()


def test_a_change_to_an_allergy_alone_is_saved_without_touching_the_patient(staff_client):
    patient = create(staff_client)
    data = form_data(staff_client.get(change_url(patient)))
    data.update({"allergies-0-substance": "penicillin", "allergies-0-severity": "moderate"})
    response = staff_client.post(change_url(patient), data, follow=True)
    assert "was changed successfully" in response.content.decode()
    stored = models.Patient.objects.get()
    assert stored.version == 1 and stored.history.count() == 1
    assert stored.allergies.get().substance == "penicillin"


def test_a_history_row_without_a_reason_shows_a_dash_not_none(staff_client, staff):
    patient = create(staff_client)
    patient.pronouns = "she/her"
    audit.audited_save(patient, actor=staff)  # a write that gave no reason
    page = staff_client.get(reverse("admin:patients_patient_history", args=[patient.pk])).content.decode()
    assert not re.search(r"<td>\s*None\s*</td>", page)
    assert re.search(r"<td>\s*—\s*</td>", page)
    assert "Registered" in page
