"""Code systems, identifier systems and status maps that the FHIR export and import share.

Plain data, standard library only. The maps are keyed by NovaMind's stored values (the `.value` of
each domain enum), so both directions read the same table: the export looks a value up, the
import inverts the map (`inverse`) where the inversion is unambiguous and says so where it is not.
"""

from __future__ import annotations

FHIR_VERSION = "4.0.1"

# --- Identifier systems --------------------------------------------------------------------------

# The MRN's system when the clinic has not named its own (setting NOVAMIND_FHIR_IDENTIFIER_SYSTEM).
DEFAULT_IDENTIFIER_SYSTEM = "urn:novamind:mrn"
IDENTIFIER_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0203"
MRN_TYPE_CODE = "MR"

# --- Code systems ------------------------------------------------------------------------------

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
ALLERGY_VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
US_CORE_DOCUMENT_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CONTACT_ROLE = "http://terminology.hl7.org/CodeSystem/v2-0131"
PROVENANCE_PARTICIPANT = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
SIGNATURE_TYPE = "urn:iso-astm:E1762-95:2013"
DATA_ABSENT_REASON = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
# NovaMind's own codes where no standard code system fits (discontinue reasons, appointment kinds).
NOVAMIND_CODES = "urn:novamind:code"

# --- Extensions ----------------------------------------------------------------------------------

US_CORE_BIRTH_SEX = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex"
US_CORE_GENDER_IDENTITY = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-genderIdentity"
# US Core has no pronouns element; the HL7 cross-version extension (R5 core, usable in R4) has one.
INDIVIDUAL_PRONOUNS = "http://hl7.org/fhir/StructureDefinition/individual-pronouns"

# --- Patient -------------------------------------------------------------------------------------

# Sex assigned at birth -> (Patient.gender, the US Core birth-sex code). FHIR's administrative
# gender has no "intersex"; US Core's birth sex is F, M, or UNK/ASKU (asked but declined).
SEX_AT_BIRTH = {
    "female": ("female", "F"),
    "male": ("male", "M"),
    "intersex": ("other", "UNK"),
    "unknown": ("unknown", "UNK"),
    "declined": ("unknown", "ASKU"),
}
EMERGENCY_CONTACT_CODE = ("C", "Emergency Contact")

# --- Appointments and encounters ---------------------------------------------------------------

# Appointment.status. A rescheduled appointment was replaced by another: FHIR calls it cancelled
# (the export says why in cancelationReason).
APPOINTMENT_STATUS = {
    "scheduled": "booked",
    "checked_in": "checked-in",
    "completed": "fulfilled",
    "cancelled": "cancelled",
    "no_show": "noshow",
    "rescheduled": "cancelled",
}
# Encounter.class (v3 ActCode) by modality: ambulatory, or virtual.
ENCOUNTER_CLASS = {"in_person": ("AMB", "ambulatory"), "telehealth": ("VR", "virtual")}

# --- Diagnoses -----------------------------------------------------------------------------------

# Diagnosis status -> (Condition.clinicalStatus, Condition.verificationStatus).
CONDITION_STATUS = {
    "active": ("active", "confirmed"),
    "in_remission": ("remission", "confirmed"),
    "resolved": ("resolved", "confirmed"),
    "ruled_out": ("inactive", "refuted"),
}

# --- Medications ---------------------------------------------------------------------------------

# Order status -> MedicationRequest.status. An order discontinued as entered in error is
# `entered-in-error` whatever its stored status (see MEDICATION_ERROR_REASON).
MEDICATION_STATUS = {
    "active": "active",
    "on_hold": "on-hold",
    "discontinued": "stopped",
    "completed": "completed",
}
MEDICATION_ERROR_REASON = "entered_in_error"

# Allergy status -> (AllergyIntolerance.clinicalStatus, verificationStatus). FHIR forbids a
# clinical status on an entry entered in error (ait-2).
ALLERGY_STATUS = {
    "active": ("active", None),
    "resolved": ("resolved", None),
    "entered_in_error": (None, "entered-in-error"),
}
# Allergy severity -> (AllergyIntolerance.criticality, reaction.severity).
ALLERGY_SEVERITY = {
    "mild": ("low", "mild"),
    "moderate": ("low", "moderate"),
    "severe": ("high", "severe"),
    "life_threatening": ("high", "severe"),
    "unknown": ("unable-to-assess", None),
}

# --- Clinical notes ----------------------------------------------------------------------------

# Note kind -> the LOINC document type (US Core clinical-note types where one fits).
# Psychotherapy notes have no entry: they are never exported.
NOTE_TYPE = {
    "progress_note": ("11506-3", "Progress note"),
    "intake_assessment": ("34117-2", "History and physical note"),
    "discharge_summary": ("18842-5", "Discharge summary"),
    "treatment_plan": ("18776-5", "Plan of care note"),
}
CLINICAL_NOTE_CATEGORY = ("clinical-note", "Clinical Note")

# Signature types (ASTM E1762-95): the author's signature, and a supervisor's co-signature.
AUTHOR_SIGNATURE = ("1.2.840.10065.1.12.1.1", "Author's Signature")
COSIGNATURE = ("1.2.840.10065.1.12.1.5", "Verification Signature")

# --- Questionnaires ------------------------------------------------------------------------------

RESPONSE_STATUS = {"recorded": "completed", "voided": "entered-in-error"}
OBSERVATION_STATUS = {"recorded": "final", "voided": "entered-in-error"}
SURVEY_CATEGORY = ("survey", "Survey")

# --- Treatment plans -----------------------------------------------------------------------------

# Plan status -> CarePlan.status. A superseded version was ended and replaced (`revoked`, with
# `replaces` on its successor); a discontinued plan is completed, revoked, or entered in error
# by its reason (PLAN_DISCONTINUED_STATUS).
CAREPLAN_STATUS = {"signed": "active", "superseded": "revoked", "discontinued": "revoked"}
PLAN_DISCONTINUED_STATUS = {"treatment_completed": "completed", "entered_in_error": "entered-in-error"}
# CarePlan.status -> Goal.lifecycleStatus of the plan's goals.
GOAL_LIFECYCLE = {
    "active": "active",
    "revoked": "cancelled",
    "completed": "completed",
    "entered-in-error": "entered-in-error",
}


def inverse(mapping: dict) -> dict:
    """Return `mapping` read backwards; raise ValueError if two keys share a value (no unique way back)."""
    back: dict = {}
    for key, value in mapping.items():
        if value in back:
            raise ValueError(f"{value!r} maps back to both {back[value]!r} and {key!r}")
        back[value] = key
    return back
