"""The patient admin: attributed saves, errors next to fields, stale edits refused, revert works."""

import re

import pytest
from django.contrib.admin.templatetags.admin_list import result_headers
from django.urls import reverse

from patients import models

pytestmark = pytest.mark.django_db

VALID = {
    "legal_first_name": "Robin",
    "legal_last_name": "Okafor",
    "preferred_name": "",
    "pronouns": "they/them",
    "date_of_birth": "1990-05-17",
    "sex_assigned_at_birth": "female",
    "gender_identity": "non-binary",
    "phone": "(617) 555-0142",
    "email": "robin@example.com",
    "address_line1": "12 Elm Ave",
    "address_line2": "",
    "address_city": "Boston",
    "address_region": "MA",
    "address_postal_code": "02118",
    "address_country": "US",
    "emergency_contact_name": "Sam Okafor",
    "emergency_contact_relation": "sibling",
    "emergency_contact_phone": "617-555-0199",
    "version": "1",
}


def add_url():
    return reverse("admin:patients_patient_add")


def change_url(patient):
    return reverse("admin:patients_patient_change", args=[patient.pk])


def create(client, **overrides):
    response = client.post(add_url(), {**VALID, **overrides})
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    return models.Patient.objects.get()


def test_adding_a_patient_stores_normalised_details_attributed_to_the_user(staff_client, staff):
    patient = create(staff_client)
    assert patient.phone == "+16175550142"
    assert patient.created_by == staff and patient.updated_by == staff
    assert re.fullmatch(r"NM\d{8}", patient.mrn)
    record = patient.history.get()
    assert record.history_user == staff and record.history_type == "+"


def test_invalid_details_are_reported_next_to_each_field_and_nothing_is_saved(staff_client):
    response = staff_client.post(
        add_url(),
        {
            **VALID,
            "legal_first_name": "",
            "date_of_birth": "2999-01-01",
            "email": "not-an-email",
            "phone": "12",
            "legal_last_name": "x" * 101,
        },
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert set(errors) >= {"legal_first_name", "date_of_birth", "email", "phone", "legal_last_name"}
    assert "no later than" in errors["date_of_birth"][0]
    assert models.Patient.objects.count() == 0
    assert models.Patient.history.count() == 0


def test_an_impossible_date_of_birth_is_a_field_error_not_a_crash(staff_client):
    response = staff_client.post(add_url(), {**VALID, "date_of_birth": "1990-02-31"})
    assert response.status_code == 200
    assert "date_of_birth" in response.context["adminform"].form.errors


@pytest.mark.parametrize("written", ["1899-12-31", "0001-01-01", "9999-12-31"])
def test_a_date_of_birth_outside_1900_to_today_is_an_error_next_to_the_field(staff_client, written):
    response = staff_client.post(add_url(), {**VALID, "date_of_birth": written})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["date_of_birth"] and errors["date_of_birth"][0].startswith("Enter a date no ")
    assert models.Patient.objects.count() == 0


def test_a_garbage_or_unknown_id_in_the_url_is_a_404(staff_client):
    assert staff_client.get("/admin/patients/patient/not-a-uuid/change/").status_code == 404
    assert staff_client.get("/admin/patients/patient/00000000-0000-0000-0000-000000000000/change/").status_code == 404
    assert staff_client.get("/admin/patients/patient/not-a-uuid/history/").status_code == 404
    assert staff_client.get("/admin/patients/patient/not-a-uuid/history/abc/").status_code == 404


def test_a_stale_edit_is_refused_with_who_changed_what_and_the_first_edit_survives(client, staff, other_staff):
    client.force_login(staff)
    patient = create(client)
    # Bob and Alice both open version 1; Bob saves first.
    client.force_login(other_staff)
    assert client.post(change_url(patient), {**VALID, "phone": "617-555-0111", "version": "1"}).status_code == 302
    client.force_login(staff)
    response = client.post(change_url(patient), {**VALID, "email": "alice-was-here@example.com", "version": "1"})
    assert response.status_code == 200
    message = " ".join(response.context["adminform"].form.non_field_errors())
    assert "bob" in message and "phone" in message and "not saved" in message
    patient.refresh_from_db()
    assert patient.phone == "+16175550111" and patient.email == "robin@example.com"
    assert patient.version == 2 and patient.updated_by == other_staff


def test_reverting_from_the_history_page_restores_the_old_details_as_a_new_version(staff_client, staff):
    patient = create(staff_client)
    staff_client.post(change_url(patient), {**VALID, "email": "new@example.com", "version": "1"})
    first = patient.history.get(version=1)
    url = reverse("admin:patients_patient_simple_history", args=[patient.pk, first.history_id])
    page = staff_client.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    assert form.initial["version"] == 2  # checked against the record as it is now
    response = staff_client.post(url, {**VALID, "version": "2"})
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.email == "robin@example.com" and patient.version == 3
    assert patient.history.first().history_user == staff


def test_search_finds_a_patient_by_blind_index_whatever_the_case_and_accents(staff_client):
    create(staff_client, legal_first_name="Zoë", legal_last_name="O'Brien")
    url = reverse("admin:patients_patient_changelist")
    for term in ("zoe obrien", "O'BRIEN", "1990-05-17", "05/17/1990", "617.555.0142", "ROBIN@example.com"):
        response = staff_client.get(url, {"q": term})
        assert response.status_code == 200
        assert response.context["cl"].result_count == 1, term
    assert staff_client.get(url, {"q": "zoe"}).context["cl"].result_count == 0


def test_encrypted_columns_are_not_sortable_even_by_a_hand_written_url(staff_client):
    create(staff_client)
    url = reverse("admin:patients_patient_changelist")
    page = staff_client.get(url)
    headers = {str(h["text"]).lower(): h["sortable"] for h in result_headers(page.context["cl"])}
    assert headers["medical record number"] and not headers["date of birth"], headers
    # Column 3 is the encrypted date of birth: asking to sort by it is ignored, not a 500.
    for order in ("3", "-3", "1.3", "3.x", "99"):
        response = staff_client.get(url, {"o": order})
        assert response.status_code == 200, order
        assert "date_of_birth" not in str(response.context["cl"].queryset.query).split("ORDER BY")[1], order


def test_patients_cannot_be_deleted_from_the_admin(staff_client):
    patient = create(staff_client)
    assert staff_client.get(reverse("admin:patients_patient_delete", args=[patient.pk])).status_code == 403
    changelist = staff_client.get(reverse("admin:patients_patient_changelist"))
    assert "delete_selected" not in changelist.context["action_form"].fields["action"].choices.__repr__()


def test_deactivate_action_changes_status_with_a_history_row(staff_client, staff):
    patient = create(staff_client)
    staff_client.post(
        reverse("admin:patients_patient_changelist"), {"action": "deactivate", "_selected_action": [patient.pk]}
    )
    patient.refresh_from_db()
    assert patient.status == "inactive"
    assert patient.history.first().history_change_reason == "Status set to inactive"


def test_each_view_of_phi_writes_exactly_one_complete_access_log_row(staff_client, staff):
    from novamind import access
    from novamind.models import AccessLogEntry

    patient = create(staff_client)
    pages = [
        ("view", change_url(patient), {}),
        ("search", reverse("admin:patients_patient_changelist"), {"q": "robin okafor"}),
        ("history", reverse("admin:patients_patient_history", args=[patient.pk]), {}),
    ]
    for action, url, query in pages:
        before = AccessLogEntry.objects.count()
        assert staff_client.get(url, query, REMOTE_ADDR="10.1.2.3").status_code == 200
        assert AccessLogEntry.objects.count() == before + 1, action
        entry = AccessLogEntry.objects.order_by("-sequence").first()
        assert entry.action == action and entry.user == staff and entry.username == staff.username
        assert entry.category == "demographics" and entry.source_address == "10.1.2.3"
        assert entry.occurred_at is not None and entry.outcome == access.GRANTED and entry.digest
        if action != "search":
            assert entry.patient_id == patient.pk and entry.patient_mrn == patient.mrn
        # A search is logged by what it searched on, never by the term itself.
        assert "robin" not in entry.detail.lower() and "okafor" not in entry.detail.lower()
    assert access.verify().ok
