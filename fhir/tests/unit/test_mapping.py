"""The status maps cover every NovaMind value, and map to codes FHIR R4 defines."""

import pytest

from appointments import domain as appointments_domain
from assessments import domain as assessments_domain
from clinical_notes import domain as notes_domain
from diagnoses import domain as diagnoses_domain
from fhir import mapping, validation
from medications import domain as medications_domain
from patients import domain as patients_domain
from treatment_plans import domain as plans_domain


def enum_of(definition, element):
    return set(validation._definitions()[definition]["properties"][element]["enum"])


@pytest.mark.parametrize(
    "table, values",
    [
        (mapping.APPOINTMENT_STATUS, appointments_domain.Status),
        (mapping.ENCOUNTER_CLASS, appointments_domain.Modality),
        (mapping.CONDITION_STATUS, diagnoses_domain.DiagnosisStatus),
        (mapping.MEDICATION_STATUS, medications_domain.OrderStatus),
        (mapping.ALLERGY_STATUS, medications_domain.AllergyStatus),
        (mapping.ALLERGY_SEVERITY, medications_domain.AllergySeverity),
        (mapping.SEX_AT_BIRTH, patients_domain.SexAssignedAtBirth),
        (mapping.RESPONSE_STATUS, assessments_domain.ResponseStatus),
        (mapping.OBSERVATION_STATUS, assessments_domain.ResponseStatus),
    ],
)
def test_every_novamind_value_has_an_entry(table, values):
    assert set(table) == {member.value for member in values}


def test_every_signed_plan_status_has_a_care_plan_status():
    assert set(mapping.CAREPLAN_STATUS) == {s.value for s in plans_domain.PlanStatus} - {"draft"}


def test_every_note_kind_but_psychotherapy_notes_has_a_document_type():
    assert set(mapping.NOTE_TYPE) == {k.value for k in notes_domain.NoteKind} - {"psychotherapy_note"}
    assert mapping.NOTE_TYPE["progress_note"][0] == "11506-3"


def test_the_maps_name_codes_the_r4_schema_allows():
    assert set(mapping.APPOINTMENT_STATUS.values()) <= enum_of("Appointment", "status")
    assert (
        mapping.APPOINTMENT_STATUS["no_show"] == "noshow" and mapping.APPOINTMENT_STATUS["checked_in"] == "checked-in"
    )
    # The schema leaves MedicationRequest.status a plain code; R4's value set medicationrequest-status:
    r4_order_statuses = {
        "active",
        "on-hold",
        "cancelled",
        "completed",
        "entered-in-error",
        "stopped",
        "draft",
        "unknown",
    }
    assert set(mapping.MEDICATION_STATUS.values()) | {"entered-in-error"} <= r4_order_statuses
    assert {g for g, _ in mapping.SEX_AT_BIRTH.values()} <= enum_of("Patient", "gender")
    criticality = {c for c, _ in mapping.ALLERGY_SEVERITY.values()}
    assert criticality <= enum_of("AllergyIntolerance", "criticality")
    # A plain code in the schema too; R4's value set request-status:
    r4_plan_statuses = {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"}
    assert set(mapping.CAREPLAN_STATUS.values()) | set(mapping.PLAN_DISCONTINUED_STATUS.values()) <= r4_plan_statuses
    assert set(mapping.GOAL_LIFECYCLE.values()) <= enum_of("Goal", "lifecycleStatus")
    assert set(mapping.OBSERVATION_STATUS.values()) <= enum_of("Observation", "status")
    assert set(mapping.RESPONSE_STATUS.values()) <= enum_of("QuestionnaireResponse", "status")


def test_inverse_refuses_a_map_with_no_unique_way_back():
    assert mapping.inverse(mapping.MEDICATION_STATUS)["stopped"] == "discontinued"
    with pytest.raises(ValueError, match="cancelled"):
        mapping.inverse(mapping.APPOINTMENT_STATUS)
