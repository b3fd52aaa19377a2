"""The statuses the full chart does not hold map as the README says, and each resource stays valid R4.

Built from domain objects, no database: the export's resource builders take what the record holds.
"""

import dataclasses
import datetime as dt
import types
import uuid

import pytest
from django.utils import timezone

from appointments import domain as appointments_domain
from clinic import record_export
from diagnoses import domain as diagnoses_domain
from fhir import export, validation
from medications import domain as medications_domain
from medications.tests.builders import an_allergy, an_order


@pytest.fixture
def builder():
    return export._Builder(types.SimpleNamespace(patient=types.SimpleNamespace(id=uuid.uuid4())))


def built(builder, kind):
    resources = [e["resource"] for e in builder.entries if e["resource"]["resourceType"] == kind]
    for resource in resources:
        assert validation.schema_errors(resource) == []
    return resources


@pytest.mark.parametrize(
    "status, clinical, verification",
    [
        (diagnoses_domain.DiagnosisStatus.RULED_OUT, "inactive", "refuted"),
        (diagnoses_domain.DiagnosisStatus.IN_REMISSION, "remission", "confirmed"),
        (diagnoses_domain.DiagnosisStatus.RESOLVED, "resolved", "confirmed"),
    ],
)
def test_a_diagnosis_status_is_a_clinical_and_verification_status(builder, status, clinical, verification):
    diagnosis = diagnoses_domain.Diagnosis(
        patient_id=None, code="F32.1", status=status, status_since=dt.date(2026, 1, 5), id=uuid.uuid4()
    )
    export._condition(builder, diagnosis)
    [condition] = built(builder, "Condition")
    assert condition["clinicalStatus"]["coding"][0]["code"] == clinical
    assert condition["verificationStatus"]["coding"][0]["code"] == verification


def an_appointment(status, **changes):
    start = timezone.make_aware(dt.datetime(2026, 12, 1, 10))
    return appointments_domain.Appointment(
        patient_id=None,
        clinician_id=7,
        start=start,
        end=start + dt.timedelta(minutes=50),
        status=status,
        id=uuid.uuid4(),
        **changes,
    )


@pytest.mark.parametrize(
    "status, fhir_status",
    [
        (appointments_domain.Status.NO_SHOW, "noshow"),
        (appointments_domain.Status.CHECKED_IN, "checked-in"),
        (appointments_domain.Status.SCHEDULED, "booked"),
        (appointments_domain.Status.RESCHEDULED, "cancelled"),
    ],
)
def test_an_appointment_status_maps_and_only_a_completed_one_is_an_encounter(builder, status, fhir_status):
    entry = record_export.AppointmentEntry(appointment=an_appointment(status), clinician="Dr Lee", room="")
    export._appointment(builder, entry)
    [appointment] = built(builder, "Appointment")
    assert appointment["status"] == fhir_status and built(builder, "Encounter") == []
    if status == appointments_domain.Status.RESCHEDULED:
        assert appointment["cancelationReason"] == {"text": "Rescheduled"}


def test_a_completed_telehealth_visit_is_a_virtual_encounter(builder):
    visit = an_appointment(appointments_domain.Status.COMPLETED, modality=appointments_domain.Modality.TELEHEALTH)
    export._appointment(builder, record_export.AppointmentEntry(appointment=visit, clinician="Dr Lee", room=""))
    [encounter] = built(builder, "Encounter")
    assert encounter["class"]["code"] == "VR" and encounter["status"] == "finished"


def test_an_order_discontinued_as_entered_in_error_is_entered_in_error(builder):
    order = dataclasses.replace(
        an_order(),
        id=uuid.uuid4(),
        status=medications_domain.OrderStatus.DISCONTINUED,
        discontinue_reason=medications_domain.DiscontinueReason.ENTERED_IN_ERROR,
    )
    export._order(builder, order)
    [request] = built(builder, "MedicationRequest")
    assert request["status"] == "entered-in-error"
    assert request["statusReason"]["coding"][0]["code"] == "discontinue-reason/entered_in_error"


def test_an_on_hold_order_is_on_hold_with_its_prescriber_as_requester(builder):
    export._order(
        builder, dataclasses.replace(an_order(), id=uuid.uuid4(), status=medications_domain.OrderStatus.ON_HOLD)
    )
    [request] = built(builder, "MedicationRequest")
    assert request["status"] == "on-hold"
    [practitioner] = built(builder, "Practitioner")
    assert request["requester"]["reference"] == f"urn:uuid:{practitioner['id']}"


@pytest.mark.parametrize(
    "severity, criticality",
    [
        (medications_domain.AllergySeverity.LIFE_THREATENING, "high"),
        (medications_domain.AllergySeverity.MILD, "low"),
        (medications_domain.AllergySeverity.UNKNOWN, "unable-to-assess"),
    ],
)
def test_an_allergy_severity_is_a_criticality(builder, severity, criticality):
    allergy = dataclasses.replace(an_allergy("peanut"), id=uuid.uuid4(), severity=severity, reaction="swelling")
    export._allergy(builder, allergy)
    [intolerance] = built(builder, "AllergyIntolerance")
    assert intolerance["criticality"] == criticality
