"""Generated bad input, as a superuser, to every add, change and workflow form and to list parameters.

A valid form is the base and one field is replaced by a generated value (NUL bytes, year 1 and
9999-12-31, garbage and huge ids, 100,000 characters, unicode). Whatever comes in: no server
error, and nothing written unless the answer is the success redirect.
"""

from __future__ import annotations

import logging

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from clinic.tests.integration import walk_support as walk
from clinic.tests.integration.test_every_admin_url import add_body

pytestmark = pytest.mark.django_db

NASTY = [
    "",
    "\x00",
    "a\x00b",
    "0001-01-01",
    "9999-12-31",
    "9999-12-31 23:59:59",
    "23:59:59",
    "abc",
    "0",
    "-1",
    str(2**63),
    "9" * 40,
    "1e309",
    "NaN",
    "x" * 100_000,
    "ﬀ\u202e\U0001f600",
    "00000000-0000-0000-0000-000000000000",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
]
values = st.one_of(st.sampled_from(NASTY), st.text(max_size=30))
FUZZ = settings(
    max_examples=150,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # no shrinking: the budget is a minute a test
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def quiet():
    logging.disable(logging.WARNING)
    yield
    logging.disable(logging.NOTSET)


@pytest.fixture
def clinic(quiet):
    return walk.build_clinic()


@pytest.fixture
def admin_client(clinic):
    client = Client()
    client.force_login(clinic.users[walk.SUPERUSER])
    return client


def forms(clinic) -> list[tuple[str, str, dict]]:
    """Return (name, url, valid body) of every add, change and workflow form, on the inside patient's records."""
    root = clinic.users[walk.SUPERUSER]
    records = clinic.patients[walk.INSIDE]
    ids = records.ids
    start = walk.local(30, 9)
    targets = [
        (name, reverse(f"admin:{name}"), add_body(name, root, clinic, records))
        for name in (
            "patients_careassignment_add",
            "appointments_appointment_add",
            "appointments_appointmentseries_plan",
            "clinical_notes_clinicalnote_add",
            "medications_medicationorder_add",
            "medications_allergy_add",
            "treatment_plans_treatmentplan_add",
        )
    ]
    patient = {
        "legal_first_name": "Robin",
        "legal_last_name": "Fuzz",
        "date_of_birth": "1990-05-17",
        "sex_assigned_at_birth": "female",
        "phone": "(617) 555-0142",
        "email": "robin@example.com",
        "version": "1",
    }
    targets += [
        ("patients_patient_add", reverse("admin:patients_patient_add"), patient),
        ("patients_patient_change", reverse("admin:patients_patient_change", args=[ids["patient"]]), patient),
        ("appointments_room_add", reverse("admin:appointments_room_add"), {"name": "Fuzz room", "version": "1"}),
        (
            "appointments_appointment_cancel",
            reverse("admin:appointments_appointment_cancel", args=[ids["appointment"]]),
            {"by": "patient", "reason": "unwell", "version": "1"},
        ),
        (
            "appointments_appointment_reschedule",
            reverse("admin:appointments_appointment_reschedule", args=[ids["appointment"]]),
            {
                "start_0": start.date().isoformat(),
                "start_1": "09:00:00",
                "end_0": start.date().isoformat(),
                "end_1": "09:50:00",
                "clinician": str(clinic.users["Prescriber"].pk),
                "modality": "telehealth",
                "room": "",
                "version": "1",
            },
        ),
        (
            "appointments_appointment_transition",
            reverse("admin:appointments_appointment_transition", args=[ids["appointment"]]),
            {"action": "check_in", "version": "1"},
        ),
        (
            "clinical_notes_clinicalnote_addendum",
            reverse("admin:clinical_notes_clinicalnote_addendum", args=[ids["note"]]),
            {"text": "Called back.", "reason": "Late entry."},
        ),
        (
            "medications_medicationorder_discontinue",
            reverse("admin:medications_medicationorder_discontinue", args=[ids["order"]]),
            {
                "discontinue_reason": "ineffective",
                "discontinued_on": walk.local(0, 9).date().isoformat(),
                "version": "1",
            },
        ),
        (
            "medications_medicationorder_revise",
            reverse("admin:medications_medicationorder_revise", args=[ids["order"]]),
            {
                "strength": "100 mg",
                "dose_form": "tablet",
                "dose_unit": "mg",
                "dose_amount": "100",
                "route": "oral",
                "frequency_kind": "once_daily",
                "start_date": walk.local(0, 9).date().isoformat(),
                "quantity": "30",
                "refills": "1",
                "version": "1",
            },
        ),
        (
            "clinical_notes_clinicalnote_request_cosignature",
            reverse("admin:clinical_notes_clinicalnote_request_cosignature", args=[ids["draft"]]),
            {"cosign_requested_from": str(clinic.users["Supervisor"].pk)},
        ),
        (
            "clinical_notes_clinicalnote_discard",
            reverse("admin:clinical_notes_clinicalnote_discard", args=[ids["draft"]]),
            {"confirm": "on"},
        ),
        (
            "clinical_notes_clinicalnote_authorize",
            reverse("admin:clinical_notes_clinicalnote_authorize", args=[ids["therapy_note"]]),
            {"grantee": str(clinic.users["Supervisor"].pk), "reason": "Consultation on the plan.", "days": "7"},
        ),
        (
            "clinical_notes_clinicalnote_change",
            reverse("admin:clinical_notes_clinicalnote_change", args=[ids["draft"]]),
            {**add_body("clinical_notes_clinicalnote_add", root, clinic, records), "version": "1"},
        ),
        (
            "appointments_appointment_change",
            reverse("admin:appointments_appointment_change", args=[ids["appointment"]]),
            add_body("appointments_appointment_add", root, clinic, records),
        ),
        (
            "medications_allergy_change",
            reverse("admin:medications_allergy_change", args=[ids["allergy"]]),
            add_body("medications_allergy_add", root, clinic, records),
        ),
        (
            "medications_medicationorder_transition",
            reverse("admin:medications_medicationorder_transition", args=[ids["order"]]),
            {"action": "hold", "version": "1"},
        ),
        (
            "treatment_plans_treatmentplan_revise",
            reverse("admin:treatment_plans_treatmentplan_revise", args=[ids["plan"]]),
            {"version": "2"},
        ),
        (
            "treatment_plans_treatmentplan_discontinue",
            reverse("admin:treatment_plans_treatmentplan_discontinue", args=[ids["plan"]]),
            {"discontinue_reason": "left_care", "discontinued_on": walk.local(0, 9).date().isoformat(), "version": "2"},
        ),
        (
            "treatment_plans_treatmentplan_agreement",
            reverse("admin:treatment_plans_treatmentplan_agreement", args=[ids["plan"]]),
            {"agreed_on": walk.local(0, 9).date().isoformat(), "agreement_method": "signed_in_person", "version": "2"},
        ),
        (
            "treatment_plans_treatmentplan_progress",
            reverse("admin:treatment_plans_treatmentplan_progress", args=[ids["plan"]]),
            {"note": str(ids["note"]), "status_0": "met", "rating_0": "some", "comment_0": "Walked."},
        ),
    ]
    return targets


def send(client, method, url, data):
    """Send one request in a transaction rolled back after it; return (status or the exception, tables written)."""
    with transaction.atomic():
        before = walk.fingerprint()
        try:
            with transaction.atomic():  # a failed request leaves the outer transaction usable (PostgreSQL)
                response = client.post(url, data) if method == "POST" else client.get(url, data)
            status = response.status_code
        except Exception as error:  # noqa: BLE001 - what the test reports
            status = f"{type(error).__name__}: {str(error)[:150]}"
        wrote = walk.written(before, walk.fingerprint())
        transaction.set_rollback(True)
    return status, wrote


def check(status, wrote, what):
    assert status != 500 and isinstance(status, int), f"server error on {what}: {status}"
    if status != 302:
        assert not wrote, f"{what} answered {status} but wrote {wrote}"


@FUZZ
@given(data=st.data())
def test_a_generated_value_in_any_form_field_never_causes_a_server_error_or_a_partial_write(admin_client, clinic, data):
    name, url, body = data.draw(st.sampled_from(forms(clinic)), label="form")
    field = data.draw(st.sampled_from(sorted({*body, "patient", "version"})), label="field")
    value = data.draw(values, label="value")
    check(*send(admin_client, "POST", url, {**body, field: value}), f"POST {name} {field}={value[:40]!r}")


LISTS = [
    "patients_patient_changelist",
    "patients_careassignment_changelist",
    "patients_emergencyaccessgrant_changelist",
    "appointments_appointment_changelist",
    "appointments_appointmentseries_changelist",
    "clinical_notes_clinicalnote_changelist",
    "clinical_notes_psychotherapynoteauthorization_changelist",
    "medications_medicationorder_changelist",
    "medications_allergy_changelist",
    "novamind_accesslogentry_changelist",
    "appointments_appointment_day",
    "appointments_appointment_free_slots",
    "appointments_appointment_week",
    "appointments_appointment_add",
    "clinical_notes_clinicalnote_add",
    "medications_allergy_add",
    "medications_medicationorder_add",
    "patients_careassignment_add",
    "treatment_plans_treatmentplan_changelist",
    "treatment_plans_treatmentplan_add",
]
PARAMETERS = [
    *("status", "o", "q", "p", "patient", "date", "clinician", "start", "kind", "all", "_changelist_filters"),
    *("start__gte", "start__lt", "start__any", "from", "weeks", "room", "modality", "end"),
]
ACTIONS = {
    "appointments_appointment_changelist": "check_in_selected",
    "clinical_notes_clinicalnote_changelist": "sign_selected",
    "medications_medicationorder_changelist": "hold_orders",
    "patients_careassignment_changelist": "end_care",
    "clinical_notes_psychotherapynoteauthorization_changelist": "revoke_selected",
}


@FUZZ
@given(data=st.data())
def test_a_generated_list_parameter_or_selected_action_never_causes_a_server_error(admin_client, clinic, data):
    if data.draw(st.booleans(), label="action"):
        name = data.draw(st.sampled_from(sorted(ACTIONS)), label="list")
        value = data.draw(values, label="_selected_action")
        body = {"action": ACTIONS[name], "_selected_action": [value], "index": "0"}
        check(
            *send(admin_client, "POST", reverse(f"admin:{name}"), body), f"POST {name} _selected_action={value[:40]!r}"
        )
    else:
        name = data.draw(st.sampled_from(LISTS), label="list")
        parameter = data.draw(st.sampled_from(PARAMETERS), label="parameter")
        value = data.draw(values, label="value")
        status, wrote = send(admin_client, "GET", reverse(f"admin:{name}"), {parameter: value})
        check(status, wrote, f"GET {name}?{parameter}={value[:40]!r}")
