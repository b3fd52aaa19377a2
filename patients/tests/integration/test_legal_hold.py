"""Legal holds: placed and released with a reason, attributed, encrypted, and kept by every other save."""

import datetime as dt

import pytest
from django.db import connection
from django.urls import reverse

from novamind import audit
from novamind.domain import NotFound, RuleViolation
from patients import domain, models, repository, services

pytestmark = pytest.mark.django_db

REASON = "Litigation hold: Doe v. Clinic, counsel's letter of 3 May"


@pytest.fixture
def patient(staff):
    return repository.DjangoPatientRepository(actor=staff).add(
        domain.Patient(
            legal_first_name="Robin",
            legal_last_name="Okafor",
            date_of_birth=dt.date(1990, 5, 17),
        )
    )


def changelist():
    return reverse("admin:patients_patient_changelist")


def act(client, action, patient, **data):
    return client.post(changelist(), {"action": action, "_selected_action": [patient.id], **data})


def test_the_action_asks_for_a_reason_then_places_an_attributed_hold(staff_client, staff, patient):
    page = act(staff_client, "place_legal_hold", patient)
    assert page.status_code == 200 and patient.mrn in page.content.decode()
    assert "never removes a record under a legal hold" in page.content.decode()
    assert not models.Patient.objects.get(pk=patient.id).legal_hold

    response = act(staff_client, "place_legal_hold", patient, apply="1", reason=REASON)
    assert response.status_code == 302
    row = models.Patient.objects.get(pk=patient.id)
    assert row.legal_hold and row.legal_hold_reason == REASON
    assert row.legal_hold_changed_by == staff and row.legal_hold_changed_at is not None
    latest = row.history.first()
    assert latest.history_user == staff and latest.history_change_reason == "Legal hold placed" and latest.legal_hold


def test_a_hold_without_a_reason_is_refused_next_to_the_field(staff_client, staff, patient):
    response = act(staff_client, "place_legal_hold", patient, apply="1", reason="  ")
    assert response.status_code == 200
    assert "reason" in response.context["form"].errors
    assert not models.Patient.objects.get(pk=patient.id).legal_hold
    with pytest.raises(RuleViolation) as refused:
        services.patient_legal_hold_place(patient_id=patient.id, reason="", actor=staff)
    assert refused.value.errors["reason"] == ["Give the reason for placing the legal hold."]


def test_placing_a_hold_twice_or_releasing_none_is_refused(staff_client, staff, patient):
    with pytest.raises(RuleViolation, match="not under a legal hold"):
        services.patient_legal_hold_release(patient_id=patient.id, reason="Matter closed", actor=staff)
    services.patient_legal_hold_place(patient_id=patient.id, reason=REASON, actor=staff)
    response = act(staff_client, "place_legal_hold", patient, apply="1", reason="Again")
    assert response.status_code == 302
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == [f"Not changed. {patient.mrn}: The record is already under a legal hold."]
    assert models.Patient.objects.get(pk=patient.id).legal_hold_reason == REASON
    with pytest.raises(NotFound):
        services.patient_legal_hold_place(patient_id="00000000-0000-4000-8000-000000000000", reason=REASON, actor=staff)


def test_releasing_the_hold_keeps_who_when_and_why(staff_client, staff, other_staff, patient):
    services.patient_legal_hold_place(patient_id=patient.id, reason=REASON, actor=other_staff)
    response = act(staff_client, "release_legal_hold", patient, apply="1", reason="Matter settled")
    assert response.status_code == 302
    row = models.Patient.objects.get(pk=patient.id)
    assert not row.legal_hold and row.legal_hold_reason == "Matter settled" and row.legal_hold_changed_by == staff
    timeline = [(h.history_change_reason, h.legal_hold, h.history_user) for h in row.history.order_by("history_id")][1:]
    assert timeline == [("Legal hold placed", True, other_staff), ("Legal hold released", False, staff)]


def test_the_reason_is_stored_encrypted_in_the_table_and_its_history(staff, patient):
    services.patient_legal_hold_place(patient_id=patient.id, reason=REASON, actor=staff)
    with connection.cursor() as cursor:
        cursor.execute("SELECT legal_hold_reason FROM patients_patient")
        live = [value for (value,) in cursor.fetchall()]
        cursor.execute("SELECT legal_hold_reason FROM patients_historicalpatient")
        history = [value for (value,) in cursor.fetchall()]
    assert live and all("Doe" not in value for value in live + history)


def test_the_patient_page_shows_the_hold_read_only(staff_client, staff, patient):
    services.patient_legal_hold_place(patient_id=patient.id, reason=REASON, actor=staff)
    page = staff_client.get(reverse("admin:patients_patient_change", args=[patient.id]))
    assert page.status_code == 200
    form = page.context["adminform"].form
    assert not {"legal_hold", "legal_hold_reason"} & set(form.fields)
    assert "Litigation hold: Doe v. Clinic" in page.content.decode()  # (the apostrophe is escaped)


def test_editing_or_reverting_the_details_keeps_the_hold(staff_client, staff, patient):
    patients = repository.DjangoPatientRepository(actor=staff)
    first = models.Patient.objects.get(pk=patient.id).history.get(version=1)
    services.patient_legal_hold_place(patient_id=patient.id, reason=REASON, actor=staff)
    # Code that hands a stale copy of the hold to a save cannot lift it either.
    row = models.Patient.objects.get(pk=patient.id)
    row.legal_hold, row.legal_hold_reason = False, ""
    audit.audited_save(row, actor=staff)
    patients.update(patients.get_by_id(patient.id))
    url = reverse("admin:patients_patient_simple_history", args=[patient.id, first.history_id])
    version = models.Patient.objects.get(pk=patient.id).version
    response = staff_client.post(
        url,
        {
            "legal_first_name": "Robin",
            "legal_last_name": "Okafor",
            "date_of_birth": "1990-05-17",
            "sex_assigned_at_birth": "unknown",
            "version": str(version),
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    row = models.Patient.objects.get(pk=patient.id)
    assert row.version == version + 1  # the revert was saved…
    assert row.legal_hold and row.legal_hold_reason == REASON  # …and the hold is still there
