"""The diagnosis pages: pick the code from the code set, errors next to fields, status and primary by their buttons."""

import dataclasses
import datetime as dt
import json

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from diagnoses import domain, models, services
from diagnoses.tests.builders import a_diagnosis
from diagnoses.tests.conftest import make_patient
from novamind import roles
from novamind.models import AccessLogEntry
from novamind.tests.integration.role_users import member

pytestmark = pytest.mark.django_db
Status = domain.DiagnosisStatus


def url(name, *args):
    return reverse(f"admin:diagnoses_diagnosis_{name}", args=args)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def add_form(patient, **changes):
    return {
        "patient": str(patient.id),
        "code": "F32.1",
        "specifier": "with anxious distress",
        "onset_date": "",
        "status": "active",
        "status_since": "",
        "version": "1",
        **changes,
    }


def errors_of(response) -> dict:
    return response.context["adminform"].form.errors


def today():
    return timezone.localdate()


# --- the code-set search --------------------------------------------------------------------------


def test_the_code_autocomplete_finds_codes_by_words_and_answers_as_select2_expects(clinician):
    response = signed_in(clinician).get(url("code_autocomplete"), {"term": "major depressive"})
    assert response.status_code == 200
    answer = json.loads(response.content)
    assert {"id": "F32.1", "text": "F32.1 Major depressive disorder, single episode, moderate"} in answer["results"]
    assert all("major depressive" in item["text"].lower() for item in answer["results"])
    assert answer["pagination"] == {"more": False}


def test_the_code_autocomplete_finds_codes_by_code_a_page_at_a_time(clinician):
    client = signed_in(clinician)
    first = json.loads(client.get(url("code_autocomplete"), {"term": "F4"}).content)
    second = json.loads(client.get(url("code_autocomplete"), {"term": "F4", "page": "2"}).content)
    assert len(first["results"]) == 20 and first["pagination"] == {"more": True}
    assert all(item["id"].startswith("F4") for item in first["results"] + second["results"])
    assert not {item["id"] for item in first["results"]} & {item["id"] for item in second["results"]}


def test_the_code_autocomplete_needs_a_signed_in_user_who_may_view_diagnoses(patient, outsider):
    assert Client().get(url("code_autocomplete"), {"term": "F32"}).status_code == 302  # to the sign-in page
    desk = member("frontdesk", roles.FRONT_DESK)
    assert signed_in(desk).get(url("code_autocomplete"), {"term": "F32"}).status_code == 403
    # The code set is not patient data: a clinician with no patient in their care may search it.
    assert signed_in(outsider).get(url("code_autocomplete"), {"term": "F32"}).status_code == 200


def test_the_add_form_picks_the_code_with_djangos_autocomplete_asking_the_code_set(clinician, patient):
    page = signed_in(clinician).get(url("add"), {"patient": str(patient.id)}).content.decode()
    assert f'data-ajax--url="{url("code_autocomplete")}"' in page
    assert "admin/js/autocomplete.js" in page and "select2" in page
    assert 'name="code"' in page and "admin-autocomplete" in page


# --- recording ------------------------------------------------------------------------------------


def test_a_clinician_records_a_diagnosis_from_the_banners_link_and_returns_to_the_patient(clinician, patient):
    patient_page = reverse("admin:patients_patient_change", args=[patient.id])
    response = signed_in(clinician).post(
        url("add") + f"?patient={patient.id}&next={patient_page}", add_form(patient, is_primary="on")
    )
    assert response.status_code == 302 and response["Location"] == patient_page
    row = models.Diagnosis.objects.get()
    assert (row.code, row.description, row.specifier, row.is_primary, row.status_since) == (
        "F32.1",
        "Major depressive disorder, single episode, moderate",
        "with anxious distress",
        True,
        today(),
    )
    assert row.history.get().history_user == clinician
    entry = LogEntry.objects.get()
    assert "F32" not in entry.object_repr and "depressive" not in entry.object_repr.lower()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"code": "F32"}, "code", "is a category, not a billable code"),
        ({"code": "Z99.999"}, "code", "is not in the ICD-10-CM, April 1, 2026 update (FY2026) code set"),
        ({"code": "dep"}, "code", "is not an ICD-10-CM code"),
        ({"code": ""}, "code", "This field is required."),
        ({"status": "resolved"}, "status_since", "Enter the date it resolved."),
        ({"onset_date": "2999-01-01"}, "onset_date", "Enter a date no later than"),
        ({"onset_date": "13/45/1990"}, "onset_date", "Enter a valid date."),
        ({"status": "ruled_out", "is_primary": "on"}, "is_primary", "A ruled-out diagnosis cannot be the primary one."),
    ],
)
def test_bad_input_is_an_error_next_to_its_field_and_nothing_is_saved(clinician, patient, changes, field, message):
    response = signed_in(clinician).post(url("add"), add_form(patient, **changes))
    assert response.status_code == 200
    errors = errors_of(response)
    assert any(message in error for error in errors[field]), errors
    assert models.Diagnosis.objects.count() == 0 and models.Diagnosis.history.count() == 0


def test_a_code_already_on_the_problem_list_is_an_error_next_to_the_code(clinician, patient):
    services.diagnosis_record(diagnosis=a_diagnosis(patient, "F32.1"), actor=clinician)
    response = signed_in(clinician).post(url("add"), add_form(patient, code="f321"))
    assert response.status_code == 200
    assert errors_of(response)["code"] == ["F32.1 is already on the problem list (active)."]
    assert models.Diagnosis.objects.count() == 1


def test_a_posted_code_that_is_not_billable_is_shown_back_as_typed(clinician, patient):
    response = signed_in(clinician).post(url("add"), add_form(patient, code="F32"))
    assert '<option value="F32" selected>F32</option>' in response.content.decode()


# --- changing ---------------------------------------------------------------------------------------


@pytest.fixture
def recorded(clinician, patient):
    return services.diagnosis_record(diagnosis=a_diagnosis(patient, "F41.1", is_primary=True), actor=clinician)


def change_form(recorded, **changes):
    return {"specifier": recorded.specifier, "onset_date": "", "version": str(recorded.audit.version), **changes}


def test_the_page_shows_the_code_status_and_primary_read_only_and_the_details_change(clinician, recorded):
    client = signed_in(clinician)
    page = client.get(url("change", recorded.id))
    form = page.context["adminform"].form
    assert set(form.fields) == {"specifier", "onset_date", "version"}
    body = page.content.decode()
    assert "F41.1" in body and "Generalized anxiety disorder" in body and 'id="patient-banner"' in body
    response = client.post(url("change", recorded.id), change_form(recorded, specifier="worse in winter"))
    assert response.status_code == 302
    row = models.Diagnosis.objects.get()
    assert (row.specifier, row.version, row.code) == ("worse in winter", 2, "F41.1")
    assert row.history.first().history_change_reason == "Details changed"


def test_a_stale_change_form_is_refused_and_nothing_is_overwritten(clinician, recorded):
    services.diagnosis_update(diagnosis=dataclasses.replace(recorded, specifier="saved first"), actor=clinician)
    response = signed_in(clinician).post(url("change", recorded.id), change_form(recorded, specifier="saved second"))
    assert response.status_code == 200
    assert "Someone else saved this diagnosis" in " ".join(errors_of(response).get("__all__", []))
    assert models.Diagnosis.objects.get().specifier == "saved first"


def test_the_status_page_resolves_with_a_date_and_drops_the_primary_flag(clinician, recorded):
    client = signed_in(clinician)
    page = client.get(url("status", recorded.id))
    assert page.status_code == 200 and "F41.1 Generalized anxiety disorder" in page.content.decode()
    on = today() - dt.timedelta(days=3)
    response = client.post(
        url("status", recorded.id), {"status": "resolved", "status_since": on.isoformat(), "version": "1"}
    )
    assert response.status_code == 302 and response["Location"] == url("change", recorded.id)
    row = models.Diagnosis.objects.get()
    assert (row.status, row.status_since, row.is_primary) == ("resolved", on, False)


def test_the_status_page_shows_a_date_error_next_to_the_date_and_a_stale_page_above_the_form(clinician, recorded):
    client = signed_in(clinician)
    future = (today() + dt.timedelta(days=2)).isoformat()
    response = client.post(url("status", recorded.id), {"status": "resolved", "status_since": future, "version": "1"})
    assert response.status_code == 200 and "no later than" in response.context["form"].errors["status_since"][0]
    response = client.post(
        url("status", recorded.id), {"status": "resolved", "status_since": today().isoformat(), "version": "7"}
    )
    assert response.status_code == 200 and "changed by someone else" in response.context["form"].errors["__all__"][0]
    assert models.Diagnosis.objects.get().status == "active"


def test_make_primary_demotes_the_previous_primary_and_is_a_post_only(clinician, patient, recorded):
    other = services.diagnosis_record(diagnosis=a_diagnosis(patient, "F90.0"), actor=clinician)
    client = signed_in(clinician)
    assert client.get(url("make_primary", other.id)).status_code == 405
    page = client.get(url("change", other.id)).content.decode()
    assert url("make_primary", other.id) in page
    response = client.post(url("make_primary", other.id), {"version": "1"}, follow=True)
    assert "is now the primary diagnosis" in " ".join(str(m) for m in response.context["messages"])
    assert models.Diagnosis.objects.get(pk=other.id).is_primary
    assert not models.Diagnosis.objects.get(pk=recorded.id).is_primary
    assert url("make_primary", recorded.id) in client.get(url("change", recorded.id)).content.decode()


# --- the care rule ----------------------------------------------------------------------------------


def test_a_clinician_outside_the_care_team_finds_nothing_on_any_page(outsider, recorded, patient):
    client = signed_in(outsider)
    assert str(recorded.id) not in client.get(url("changelist")).content.decode()
    for page in ("change", "history", "status"):
        assert client.get(url(page, recorded.id)).status_code == 404, page
    assert client.post(url("make_primary", recorded.id), {"version": "1"}).status_code == 404
    assert client.post(url("status", recorded.id), {"status": "resolved", "version": "1"}).status_code == 404
    response = client.post(url("add"), add_form(patient, code="F43.10"))
    assert response.status_code == 200 and "patient" in errors_of(response)
    assert models.Diagnosis.objects.count() == 1 and models.Diagnosis.objects.get().status == "active"


def test_the_list_names_patients_and_shows_each_code_with_its_description(clinician, recorded, staff):
    hidden = make_patient(staff, "Hidden")
    services.diagnosis_record(diagnosis=a_diagnosis(hidden, "F43.10"), actor=staff)
    body = signed_in(clinician).get(url("changelist")).content.decode()
    assert "F41.1 Generalized anxiety disorder" in body and "Robin Okafor" in body
    assert "F43.10" not in body and "Hidden" not in body
    assert signed_in(clinician).get(url("changelist"), {"o": "3"}).status_code == 200
    entry = AccessLogEntry.objects.filter(action="list").order_by("-sequence").first()
    assert entry.category == "diagnoses" and "1 patient name(s) shown" in entry.detail


def test_the_add_form_ticks_primary_only_while_the_patient_has_no_primary_diagnosis(clinician, patient):
    client = signed_in(clinician)
    assert client.get(url("add"), {"patient": str(patient.id)}).context["adminform"].form["is_primary"].value()
    services.diagnosis_record(diagnosis=a_diagnosis(patient, is_primary=True), actor=clinician)
    assert not client.get(url("add"), {"patient": str(patient.id)}).context["adminform"].form["is_primary"].value()


def test_reverting_to_an_earlier_version_restores_the_details_and_keeps_the_status(clinician, recorded):
    services.diagnosis_update(diagnosis=dataclasses.replace(recorded, specifier="second thoughts"), actor=clinician)
    services.diagnosis_resolve(diagnosis_id=recorded.id, actor=clinician)
    first = models.Diagnosis.history.filter(id=recorded.id).order_by("history_id").first()
    client = signed_in(clinician)
    page = client.get(url("simple_history", recorded.id, first.history_id))
    assert page.status_code == 200
    response = client.post(url("simple_history", recorded.id, first.history_id), change_form(recorded, version=str(3)))
    assert response.status_code == 302
    row = models.Diagnosis.objects.get()
    assert (row.specifier, row.status, row.is_primary, row.version) == ("", "resolved", False, 4)
