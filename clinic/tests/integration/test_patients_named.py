"""The patient is named wherever a user allowed to see them meets a record; MRN alone elsewhere (issue 17).

Every admin list whose rows are a patient's records (`admin.site._registry`, so a new one is
covered the day it is registered) shows each row's patient as "preferred (legal first) last",
date of birth and age, and MRN: to a superuser, and to a clinician for the patients in their
care. A role without the right to names (the auditor, on the emergency grants it reviews) and a
supervisor who may open one note only to co-sign it see the MRN alone. The pickers name the
patients they offer. The list's access-log entry says it showed names, and decrypting them logs
nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest
from django.contrib import admin
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clinic.tests.integration import walk_support as walk
from clinical_notes import services as notes_services
from conftest import assign_care
from novamind import roles
from novamind.models import AccessLogEntry
from patients import models as patients_models
from patients import repository as patients_repository
from patients import services as patients_services

pytestmark = pytest.mark.django_db

BORN = dt.date(1980, 3, 4)  # walk_support's patients


def _patient_path(model) -> str | None:
    """Return the path from a row of `model` to its patient ("" for a patient), or None if it has none."""
    if model is patients_models.Patient:
        return ""
    for field in model._meta.concrete_fields:
        if field.related_model is patients_models.Patient:
            return field.name
    for field in model._meta.concrete_fields:
        target = field.related_model
        if target is not None and target is not model:
            for inner in target._meta.concrete_fields:
                if inner.related_model is patients_models.Patient:
                    return f"{field.name}__{inner.name}"
    return None


ABOUT_PATIENTS = sorted(
    (model._meta.label_lower for model in admin.site._registry if _patient_path(model) is not None),
)


@pytest.fixture(scope="module")
def clinic(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        yield walk.build_clinic()
        transaction.set_rollback(True)


def _list(user, label, **query):
    app, model = label.split(".")
    client = Client()
    client.force_login(user)
    if label == "appointments.appointment":
        query.setdefault("start__any", "1")  # the list opens on today; the walk's visits are on other days
    response = client.get(reverse(f"admin:{app}_{model}_changelist"), query)
    assert response.status_code == 200, f"{label}: {response.status_code}"
    return response.content.decode()


def _age(born: dt.date) -> int:
    today = timezone.localdate()
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _named(body: str, records) -> bool:
    return (
        f"Walkfirst {records.last_name}" in body
        and f"{BORN.isoformat()} ({_age(BORN)} y)" in body
        and records.mrn in body
    )


def test_every_list_of_patients_records_is_enumerated():
    # A new admin about patients joins the walk by itself; these are the ones of today.
    assert set(ABOUT_PATIENTS) >= {
        "patients.patient",
        "patients.emergencyaccessgrant",
        "patients.careassignment",
        "appointments.appointment",
        "appointments.appointmentseries",
        "clinical_notes.clinicalnote",
        "clinical_notes.psychotherapynoteauthorization",
        "medications.medicationorder",
        "medications.allergy",
    }


@pytest.mark.parametrize("label", ABOUT_PATIENTS)
def test_a_superuser_sees_each_rows_patient_named_with_birth_date_age_and_mrn(clinic, label):
    body = _list(clinic.users[walk.SUPERUSER], label)

    for which in (walk.INSIDE, walk.OUTSIDE):
        assert _named(body, clinic.patients[which]), f"{label}: the {which} patient is not named"


@pytest.mark.parametrize("label", ABOUT_PATIENTS)
def test_a_care_clinician_sees_their_patients_named_and_nothing_of_the_others(clinic, label):
    prescriber = clinic.users[roles.PRESCRIBER]
    app, model = label.split(".")
    if not prescriber.has_perm(f"{app}.view_{model}"):
        pytest.skip(f"the prescriber role does not open {label}")

    body = _list(prescriber, label)

    assert _named(body, clinic.patients[walk.INSIDE]), f"{label}: the clinician's patient is not named"
    outside = clinic.patients[walk.OUTSIDE]
    assert outside.mrn not in body and outside.last_name not in body


def test_an_auditor_reviewing_emergency_grants_sees_the_mrn_only(clinic):
    body = _list(clinic.users[roles.AUDITOR], "patients.emergencyaccessgrant")

    for records in clinic.patients.values():
        assert records.mrn in body
        assert records.last_name not in body and "Walkfirst" not in body and BORN.isoformat() not in body


def test_the_front_desk_sees_names_on_the_schedule(clinic):
    body = _list(clinic.users[roles.FRONT_DESK], "appointments.appointment")

    assert _named(body, clinic.patients[walk.INSIDE]) and _named(body, clinic.patients[walk.OUTSIDE])


@pytest.fixture
def cosigning(clinic):
    """Return (supervisor, note): a signed note of the outside patient waiting for a supervisor outside its care."""
    supervisor = clinic.users[roles.SUPERVISOR]
    note_id = clinic.patients[walk.OUTSIDE].ids["note"]
    notes_services.cosignature_request(note_id=note_id, supervisor_id=supervisor.pk, actor=clinic.other)
    return supervisor, note_id


def test_a_supervisor_asked_to_co_sign_sees_that_notes_patient_by_mrn_only(clinic, cosigning):
    supervisor, note_id = cosigning
    outside = clinic.patients[walk.OUTSIDE]

    body = _list(supervisor, "clinical_notes.clinicalnote")
    assert outside.mrn in body and outside.last_name not in body
    assert _named(body, clinic.patients[walk.INSIDE])  # their own patient, on the same page, is named

    client = Client()
    client.force_login(supervisor)
    page = client.get(reverse("admin:clinical_notes_clinicalnote_change", args=[note_id]))
    assert page.status_code == 200
    text = page.content.decode()
    assert outside.mrn in text and outside.last_name not in text and 'id="patient-banner"' not in text


def test_preferred_name_comes_first(clinic):
    root = clinic.users[walk.SUPERUSER]
    patient = patients_repository.DjangoPatientRepository(actor=root).add(
        patients_models.Patient(
            legal_first_name="Samantha", legal_last_name="Rivera", preferred_name="Sam", date_of_birth=BORN
        ).to_domain(with_audit=False)
    )
    assign_care(patient, clinic.users[roles.PRESCRIBER], by=root)

    for label in ("patients.patient", "patients.careassignment"):
        assert "Sam (Samantha) Rivera" in _list(root, label, q=patient.mrn if label == "patients.patient" else "")


def test_a_list_logs_that_it_showed_names_and_no_name_reaches_the_logs(clinic, caplog):
    caplog.set_level(logging.DEBUG)
    root = clinic.users[walk.SUPERUSER]

    _list(root, "medications.allergy")

    entry = AccessLogEntry.objects.order_by("-sequence").first()
    assert (entry.action, entry.category, entry.username) == ("list", "allergies", root.username)
    assert entry.detail == "2 result(s), page 1, 2 patient name(s) shown"
    assert not entry.emergency
    assert "Walkfirst" not in caplog.text and "Insidewalk" not in caplog.text


def test_a_list_naming_a_patient_seen_only_under_an_emergency_grant_is_flagged(clinic):
    visitor = clinic.visitor  # holds a live grant for both patients, treats neither

    _list(visitor, "appointments.appointment")

    entry = AccessLogEntry.objects.filter(username=visitor.username, action="list").order_by("-sequence").first()
    assert entry.emergency and "patient name(s) shown" in entry.detail


def test_a_clinicians_own_patients_list_is_not_flagged(clinic):
    prescriber = clinic.users[roles.PRESCRIBER]
    patients_services.emergency_access_grant(
        patient_id=clinic.patients[walk.INSIDE].patient.id, reason=walk.REASON, actor=prescriber
    )  # a grant for a patient they treat anyway

    _list(prescriber, "appointments.appointment")

    entry = AccessLogEntry.objects.filter(username=prescriber.username, action="list").order_by("-sequence").first()
    assert not entry.emergency


# --- pickers ------------------------------------------------------------------------------------


def _autocomplete(user, term, *, url_name="admin:patients_patient_autocomplete", model="appointment", app=None):
    client = Client()
    client.force_login(user)
    return client.get(
        reverse(url_name),
        {
            "app_label": app or "appointments",
            "model_name": model,
            "field_name": "patient",
            "term": term,
        },
    )


def test_the_patient_picker_names_the_patients_it_finds_and_logs_the_search(clinic):
    desk = clinic.users[roles.FRONT_DESK]
    inside = clinic.patients[walk.INSIDE]

    response = _autocomplete(desk, inside.mrn)

    assert response.status_code == 200
    results = json.loads(response.content)["results"]
    assert results == [
        {
            "id": str(inside.patient.id),
            "text": f"Walkfirst Insidewalk, {BORN.isoformat()} ({_age(BORN)} y), {inside.mrn}",
        }
    ]
    entry = AccessLogEntry.objects.order_by("-sequence").first()
    assert (entry.username, entry.action, entry.detail) == (
        desk.username,
        "search",
        "patient picker: 1 patient name(s) shown",
    )


def test_the_picker_finds_no_patient_outside_a_clinicians_care(clinic):
    response = _autocomplete(clinic.users[roles.PRESCRIBER], clinic.patients[walk.OUTSIDE].mrn)

    assert response.status_code == 200 and json.loads(response.content)["results"] == []


def test_the_picker_is_refused_to_a_role_without_patients(clinic):
    assert _autocomplete(clinic.users[roles.AUDITOR], clinic.patients[walk.INSIDE].mrn).status_code == 403


@pytest.mark.parametrize(
    "url",
    [
        "admin:appointments_appointment_add",
        "admin:clinical_notes_clinicalnote_add",
        "admin:medications_medicationorder_add",
        "admin:medications_allergy_add",
        "admin:patients_careassignment_add",
        "admin:appointments_appointmentseries_plan",
    ],
)
def test_add_forms_name_the_chosen_patient_and_ask_the_naming_picker(clinic, url):
    inside = clinic.patients[walk.INSIDE]
    client = Client()
    client.force_login(clinic.users[walk.SUPERUSER])

    if url.endswith("_plan"):  # the plan page takes no ?patient=: a posted, incomplete plan shows the choice
        response = client.post(reverse(url), {"patient": inside.patient.id})
    else:
        response = client.get(reverse(url), {"patient": inside.patient.id})
    body = response.content.decode()

    assert f"Walkfirst Insidewalk, {BORN.isoformat()}" in body
    assert reverse("admin:patients_patient_autocomplete") in body


def test_the_day_sheet_names_each_patient_with_birth_date_age_and_mrn(clinic):
    from appointments import models as appointments_models

    inside = clinic.patients[walk.INSIDE]
    appointment = appointments_models.Appointment.objects.get(pk=inside.ids["appointment"])
    client = Client()
    client.force_login(clinic.users[roles.FRONT_DESK])

    response = client.get(
        reverse("admin:appointments_appointment_day"),
        {"clinician": appointment.clinician_id, "date": timezone.localtime(appointment.start).date().isoformat()},
    )

    row = response.content.decode().split('id="day-sheet"')[1]
    assert _named(row, inside)
