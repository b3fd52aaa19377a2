"""The patient banner on every page about one patient (issue 17; clinic.banner).

Name, pronouns, age, MRN, the problem list, allergies (or "No known allergies"), alerts and care
team on the patient's page and on the change and add pages of an appointment, a diagnosis, a
note, an order and an allergy of that patient; actions that open those add forms pre-filled for the patient and come
back to the patient's page once saved. Only for a user who may see the patient, each part only
where the role may see it, for the same number of queries whatever the record holds.
"""

from __future__ import annotations

import datetime as dt
import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from appointments import domain as appointments_domain
from appointments import services as appointments_services
from clinic.tests.integration import walk_support as walk
from conftest import assign_care
from diagnoses import domain as diagnoses_domain
from diagnoses import services as diagnoses_services
from medications import domain as medications_domain
from medications import services as medications_services
from medications.tests.pages import order_form
from novamind import roles
from novamind.models import AccessLogEntry
from patients import domain as patients_domain
from patients import repository as patients_repository
from patients import services as patients_services

pytestmark = pytest.mark.django_db

BANNER = 'id="patient-banner"'


@pytest.fixture(scope="module")
def clinic(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        yield walk.build_clinic()
        transaction.set_rollback(True)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _banner(body: str) -> str:
    """Return the banner's text (tags dropped, spaces folded), or "" when the page has none."""
    match = re.search(r'<section id="patient-banner".*?</section>', body, re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", match.group(0))).split()) if match else ""


def _action_urls(body: str) -> dict[str, str]:
    return {
        name: unescape(url)
        for url, name in re.findall(r'<a href="([^"]+)" id="banner-([a-z-]+)" class="button">', body)
    }


def _pages(records) -> dict[str, str]:
    ids = records.ids
    return {
        "patient": reverse("admin:patients_patient_change", args=[ids["patient"]]),
        "appointment": reverse("admin:appointments_appointment_change", args=[ids["appointment"]]),
        "appointment add": reverse("admin:appointments_appointment_add") + f"?patient={ids['patient']}",
        "diagnosis": reverse("admin:diagnoses_diagnosis_change", args=[ids["diagnosis"]]),
        "diagnosis add": reverse("admin:diagnoses_diagnosis_add") + f"?patient={ids['patient']}",
        "note": reverse("admin:clinical_notes_clinicalnote_change", args=[ids["note"]]),
        "note add": reverse("admin:clinical_notes_clinicalnote_add") + f"?patient={ids['patient']}",
        "order": reverse("admin:medications_medicationorder_change", args=[ids["order"]]),
        "order add": reverse("admin:medications_medicationorder_add") + f"?patient={ids['patient']}",
        "allergy": reverse("admin:medications_allergy_change", args=[ids["allergy"]]),
        "allergy add": reverse("admin:medications_allergy_add") + f"?patient={ids['patient']}",
    }


PAGES = [
    "patient",
    "appointment",
    "appointment add",
    "diagnosis",
    "diagnosis add",
    "note",
    "note add",
    "order",
    "order add",
    "allergy",
    "allergy add",
]


def _age(born: dt.date) -> int:
    today = timezone.localdate()
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


# --- what it shows, where ----------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_every_page_about_one_patient_carries_the_banner(clinic, page):
    inside = clinic.patients[walk.INSIDE]
    prescriber = clinic.users[roles.PRESCRIBER]

    response = _client(prescriber).get(_pages(inside)[page])

    assert response.status_code == 200
    text = _banner(response.content.decode())
    assert text.startswith(f"Walkfirst {inside.last_name}"), text
    assert f"Age {_age(dt.date(1980, 3, 4))}" in text and "Born 1980-03-04" in text and f"MRN {inside.mrn}" in text
    assert "Diagnoses F32.1 Major depressive disorder, single episode, moderate (primary)" in text
    assert "Allergies penicillin (rash)" in text
    assert "Care team" in text and "walk-prescriber, MD" in text and "walk-clinician, LCSW" in text
    assert set(_action_urls(response.content.decode())) == {
        "book-appointment",
        "new-note",
        "prescribe",
        "record-diagnosis",
        "record-allergy",
        "record-measure",
    }


def test_the_banner_names_pronouns_care_team_and_no_known_allergies(clinic):
    root = clinic.users[walk.SUPERUSER]
    patient = patients_repository.DjangoPatientRepository(actor=root).add(
        patients_domain.Patient(
            legal_first_name="Samantha",
            legal_last_name="Rivera",
            preferred_name="Sam",
            pronouns="she/her",
            date_of_birth=dt.date(1990, 3, 14),
        )
    )
    assign_care(patient, clinic.users[roles.PRESCRIBER], by=root)

    body = _client(root).get(reverse("admin:patients_patient_change", args=[patient.id])).content.decode()

    text = _banner(body)
    assert text.startswith("Sam (Samantha) Rivera (she/her)")
    assert "Diagnoses None on the problem list" in text
    assert "Allergies No known allergies" in text
    assert "Care team walk-prescriber, MD" in text
    # A superuser has no staff profile: no note, no prescription offered, but booking, diagnoses, allergies and
    # measures are.
    assert set(_action_urls(body)) == {"book-appointment", "record-diagnosis", "record-allergy", "record-measure"}


def test_the_front_desk_banner_has_no_allergies_or_risk_answers_and_offers_booking_and_paper_measures(clinic):
    inside = clinic.patients[walk.INSIDE]

    body = _client(clinic.users[roles.FRONT_DESK]).get(_pages(inside)["patient"]).content.decode()

    text = _banner(body)
    assert f"MRN {inside.mrn}" in text and "Care team" in text
    assert "Allergies" not in text and "penicillin" not in text  # minimum necessary (novamind.roles)
    assert "Diagnoses" not in text and "F32.1" not in text
    assert "risk answer" not in text.lower()  # the walk's risk answers wait: the front desk is not told
    # A questionnaire filled in on paper is entered at the desk (novamind.roles): add only.
    assert set(_action_urls(body)) == {"book-appointment", "record-measure"}


def test_a_legal_hold_and_the_viewers_emergency_access_are_alerts(clinic):
    outside = clinic.patients[walk.OUTSIDE]
    patients_services.patient_legal_hold_place(
        patient_id=outside.patient.id, reason="Subpoena 2026-114", actor=clinic.users[walk.SUPERUSER]
    )

    body = _client(clinic.visitor).get(_pages(outside)["patient"]).content.decode()  # holds a live grant

    text = _banner(body)
    assert "Legal hold" in text
    assert "Emergency access until" in text and "flagged for review" in text


def test_no_banner_for_a_patient_outside_the_users_care(clinic):
    outside = clinic.patients[walk.OUTSIDE]
    client = _client(clinic.users[roles.PRESCRIBER])

    for page in ("appointment add", "note add", "allergy add"):
        response = client.get(_pages(outside)[page])
        assert response.status_code == 200 and BANNER not in response.content.decode(), page
        assert outside.mrn not in response.content.decode()


def test_an_add_form_without_a_patient_has_no_banner(clinic):
    body = _client(clinic.users[roles.PRESCRIBER]).get(reverse("admin:appointments_appointment_add")).content.decode()

    assert BANNER not in body


def test_an_add_form_showing_the_banner_writes_the_access(clinic):
    inside = clinic.patients[walk.INSIDE]
    prescriber = clinic.users[roles.PRESCRIBER]

    _client(prescriber).get(_pages(inside)["allergy add"])

    entry = AccessLogEntry.objects.order_by("-sequence").first()
    assert (entry.username, entry.action, entry.patient_mrn, entry.detail) == (
        prescriber.username,
        "view",
        inside.mrn,
        "patient banner on the add allergy form",
    )


# --- the actions ---------------------------------------------------------------------------------


def _valid(action: str, patient_id, clinic) -> dict:
    """Return a valid POST of the form `action` opens, for the patient."""
    prescriber = clinic.users[roles.PRESCRIBER]
    if action == "book-appointment":
        start = timezone.localtime(walk.local(12, 9))
        end = start + dt.timedelta(minutes=50)
        return {
            "patient": str(patient_id),
            "clinician": str(prescriber.pk),
            "start_0": start.strftime("%Y-%m-%d"),
            "start_1": start.strftime("%H:%M:%S"),
            "end_0": end.strftime("%Y-%m-%d"),
            "end_1": end.strftime("%H:%M:%S"),
            "kind": "therapy",
            "modality": "telehealth",
            "room": "",
            "reason_for_visit": "first visit",
            "version": "1",
        }
    if action == "new-note":
        return {
            "patient": str(patient_id),
            "diagnoses": [str(clinic.patients[walk.INSIDE].ids["diagnosis"])],
            "kind": "progress_note",
            "format": "soap",
            "date_of_service": timezone.localdate().isoformat(),
            "subjective": "Reports better sleep.",
            "objective": "Calm.",
            "assessment": "Improving.",
            "plan": "Weekly sessions.",
            "version": "1",
        }
    if action == "prescribe":
        return order_form(patient_id, drug_name="bupropion", strength="150 mg", dose_amount="150")
    if action == "record-diagnosis":
        return {
            "patient": str(patient_id),
            "code": "F41.1",
            "specifier": "",
            "onset_date": "",
            "status": "active",
            "status_since": "",
            "version": "1",
        }
    if action == "record-allergy":
        return {
            "patient": str(patient_id),
            "substance": "latex",
            "reaction": "hives",
            "severity": "moderate",
            "status": "active",
            "version": "1",
        }
    if action == "record-measure":
        return {
            "patient": str(patient_id),
            "instrument": "gad7",
            "administered_on": timezone.localdate().isoformat(),
            "appointment": "",
            "version": "1",
            **{f"item_{number}": "2" for number in range(1, 8)},
        }
    raise AssertionError(action)


@pytest.mark.parametrize(
    "action", ["book-appointment", "new-note", "prescribe", "record-diagnosis", "record-allergy", "record-measure"]
)
def test_each_action_opens_its_form_for_the_patient_and_comes_back_to_the_patient(clinic, action):
    inside = clinic.patients[walk.INSIDE]
    patient_page = _pages(inside)["patient"]
    client = _client(clinic.users[roles.PRESCRIBER])

    url = _action_urls(client.get(patient_page).content.decode())[action]
    query = parse_qs(urlsplit(url).query)
    assert query == {"patient": [str(inside.patient.id)], "next": [patient_page]}

    form_page = client.get(url)
    assert form_page.status_code == 200
    assert str(form_page.context["adminform"].form["patient"].value()) == str(inside.patient.id)
    assert _banner(form_page.content.decode()).startswith(f"Walkfirst {inside.last_name}")

    saved = client.post(url, _valid(action, inside.patient.id, clinic))
    assert saved.status_code == 302, saved.context["adminform"].form.errors if saved.context else saved
    assert saved["Location"] == patient_page


def test_save_and_sign_from_the_banner_comes_back_to_the_patient(clinic):
    inside = clinic.patients[walk.INSIDE]
    patient_page = _pages(inside)["patient"]
    client = _client(clinic.users[roles.PRESCRIBER])
    url = _action_urls(client.get(patient_page).content.decode())["new-note"]

    saved = client.post(url, {**_valid("new-note", inside.patient.id, clinic), "_sign": "Save and sign"})

    assert saved.status_code == 302 and saved["Location"] == patient_page


@pytest.mark.parametrize(
    "target", ["https://elsewhere.example/admin/", "//elsewhere.example/", "javascript:alert(1)", "http:///x"]
)
def test_a_next_address_off_this_site_is_ignored(clinic, target):
    inside = clinic.patients[walk.INSIDE]
    client = _client(clinic.users[roles.PRESCRIBER])
    url = reverse("admin:medications_allergy_add") + "?" + f"patient={inside.patient.id}&next={target}"

    saved = client.post(url, _valid("record-allergy", inside.patient.id, clinic))

    assert saved.status_code == 302 and saved["Location"] == reverse("admin:medications_allergy_changelist")


def test_save_and_continue_keeps_its_meaning_with_a_next(clinic):
    inside = clinic.patients[walk.INSIDE]
    client = _client(clinic.users[roles.PRESCRIBER])
    url = _action_urls(client.get(_pages(inside)["patient"]).content.decode())["record-allergy"]

    saved = client.post(url, {**_valid("record-allergy", inside.patient.id, clinic), "_continue": "1"})

    assert saved.status_code == 302 and "/change/" in saved["Location"] and "allergy" in saved["Location"]


# --- the cost ----------------------------------------------------------------------------------------


def _counted(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200 and BANNER in response.content.decode()
    return len(queries.captured_queries)


def test_the_banner_costs_the_same_queries_whatever_the_record_holds(clinic):
    root = clinic.users[walk.SUPERUSER]
    prescriber = clinic.users[roles.PRESCRIBER]
    patient = patients_repository.DjangoPatientRepository(actor=root).add(
        patients_domain.Patient(legal_first_name="Flat", legal_last_name="Banner", date_of_birth=dt.date(1975, 1, 2))
    )
    assign_care(patient, prescriber, by=root)
    start = walk.local(14, 11)
    appointment = appointments_services.appointment_book(
        appointment=appointments_domain.Appointment(
            patient_id=patient.id,
            clinician_id=prescriber.pk,
            start=start,
            end=start + dt.timedelta(minutes=50),
            modality=appointments_domain.Modality.TELEHEALTH,
        ),
        actor=root,
    )

    def allergy(number):
        medications_services.allergy_add(
            allergy=medications_domain.Allergy(
                patient_id=patient.id,
                substance=f"substance {number}",
                reaction="rash",
                severity=medications_domain.AllergySeverity.SEVERE,
            ),
            actor=prescriber,
        )

    def diagnosis(code, **fields):
        diagnoses_services.diagnosis_record(
            diagnosis=diagnoses_domain.Diagnosis(patient_id=patient.id, code=code, **fields), actor=prescriber
        )

    allergy(0)
    diagnosis("F41.1")
    client = _client(prescriber)
    url = reverse("admin:appointments_appointment_change", args=[appointment.id])
    client.get(url)
    few = _counted(client, url)

    for number in range(1, 8):
        allergy(number)
    for code in ("F32.1", "F43.10", "F90.0", "F42.2", "F40.10"):
        diagnosis(code, is_primary=code == "F90.0")
    for role in (roles.CLINICIAN, roles.SUPERVISOR, walk.DESK_AND_CLINICIAN):
        assign_care(patient, clinic.users[role], by=root)
    many = _counted(client, url)

    shown = _banner(client.get(url).content.decode())
    assert "substance 7" in shown and "F90.0 Attention-deficit hyperactivity disorder" in shown
    assert many == few, (
        f"1 allergy, 1 diagnosis, 1 clinician: {few} queries; 8 allergies, 6 diagnoses, 4 clinicians: {many}"
    )
