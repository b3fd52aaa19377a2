"""The patient forms as the front desk meets them: the MRN, a mistyped birth date."""

import re

import pytest

from patients import models
from patients.tests.integration.test_admin import VALID, add_url, change_url

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
