"""Which columns of the patient's record the FHIR Bundle carries, and why the others are left out.

`clinic.record_export.COVERAGE` says, for every column of every table the record is read from,
where the JSON copy shows it or why the record leaves it out. The FHIR copy writes the same record,
so each column the JSON copy shows is here exactly once: in `IN_FHIR`, with the element that holds
it, or in `NOT_IN_FHIR`, with the reason it is not in the Bundle. A test compares both with the
record export's table and the models, finds each `IN_FHIR` value of a fully populated chart at its
element, and checks that README.md's list of what the FHIR copy leaves out is this table; a new
column therefore fails that test until someone decides where it goes.

Plain data, standard library only. An element is a path through the resource (`Patient.name.given`,
through lists as FHIRPath reads them); `Element.only` says when the column reaches FHIR for some
rows alone, and why not for the others.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Element:
    """The FHIR element that holds one column; `only`: for which rows, when not for all, and why."""

    path: str
    only: str = ""


def _on(*paths_and_columns: tuple[str, str]) -> dict[str, Element]:
    return {column: Element(path) for column, path in paths_and_columns}


IN_FHIR: dict[str, dict[str, Element]] = {
    "patients.Patient": _on(
        ("mrn", "Patient.identifier.value"),
        ("legal_first_name", "Patient.name.given"),
        ("legal_last_name", "Patient.name.family"),
        ("preferred_name", "Patient.name.given"),
        ("pronouns", "Patient.extension.extension.valueCodeableConcept.text"),
        ("date_of_birth", "Patient.birthDate"),
        ("sex_assigned_at_birth", "Patient.extension.valueCode"),
        ("gender_identity", "Patient.extension.valueCodeableConcept.text"),
        ("phone", "Patient.telecom.value"),
        ("email", "Patient.telecom.value"),
        ("status", "Patient.active"),
        ("address_line1", "Patient.address.line"),
        ("address_line2", "Patient.address.line"),
        ("address_city", "Patient.address.city"),
        ("address_region", "Patient.address.state"),
        ("address_postal_code", "Patient.address.postalCode"),
        ("address_country", "Patient.address.country"),
        ("emergency_contact_name", "Patient.contact.name.text"),
        ("emergency_contact_relation", "Patient.contact.relationship.text"),
        ("emergency_contact_phone", "Patient.contact.telecom.value"),
    ),
    "diagnoses.Diagnosis": {
        **_on(
            ("id", "Condition.id"),
            ("code", "Condition.code.coding.code"),
            ("description", "Condition.code.coding.display"),
            ("specifier", "Condition.note.text"),
            ("onset_date", "Condition.onsetDateTime"),
            ("status", "Condition.clinicalStatus.coding.code"),
        ),
        "status_since": Element(
            "Condition.abatementDateTime",
            only="a diagnosis resolved or in remission: R4's Condition dates the end of a condition "
            "(abatement), not the day an active one became active",
        ),
    },
    "appointments.Appointment": {
        **_on(
            ("id", "Appointment.id"),
            ("clinician", "Appointment.participant.actor.display"),
            ("start", "Appointment.start"),
            ("end", "Appointment.end"),
            ("kind", "Appointment.appointmentType.coding.code"),
            ("room", "Appointment.participant.actor.display"),
            ("reason_for_visit", "Appointment.reasonCode.text"),
            ("status", "Appointment.status"),
            ("cancellation_reason", "Appointment.cancelationReason.text"),
        ),
        "modality": Element(
            "Encounter.class.code",
            only="a completed visit, as its Encounter's class: R4's Appointment has no element for "
            "in person or video (R5 adds virtualService)",
        ),
        "checked_in_at": Element("Encounter.period.start", only="a completed visit (its Encounter)"),
        "status_changed_at": Element("Encounter.period.end", only="a completed visit (its Encounter)"),
    },
    "clinical_notes.ClinicalNote": {
        **_on(
            ("id", "DocumentReference.id"),
            ("author", "DocumentReference.author.display"),
            ("kind", "DocumentReference.type.coding.code"),
            ("format", "DocumentReference.description"),
            ("date_of_service", "DocumentReference.context.period.start"),
            ("status", "DocumentReference.docStatus"),
            ("signed_at", "DocumentReference.date"),
            ("signed_by", "Provenance.agent.who.display"),
            ("cosigned_by", "DocumentReference.authenticator.display"),
            ("cosigned_at", "Provenance.recorded"),
        ),
        # The sections, labelled, are one text/plain attachment (base64).
        **{
            name: Element("DocumentReference.content.attachment.data")
            for name in ("subjective", "objective", "data", "assessment", "plan", "body")
        },
    },
    "clinical_notes.Addendum": _on(
        ("id", "DocumentReference.id"),
        ("author", "DocumentReference.author.display"),
        ("text", "DocumentReference.content.attachment.data"),
        ("reason", "DocumentReference.description"),
        ("signed_at", "DocumentReference.date"),
    ),
    "clinical_notes.AddressedDiagnosis": _on(("diagnosis", "DocumentReference.context.related.reference")),
    "medications.MedicationOrder": _on(
        ("id", "MedicationRequest.id"),
        ("prescriber", "MedicationRequest.requester.display"),
        ("drug_name", "MedicationRequest.medicationCodeableConcept.text"),
        ("rxnorm_code", "MedicationRequest.medicationCodeableConcept.coding.code"),
        ("strength", "MedicationRequest.medicationCodeableConcept.text"),
        ("dose_form", "MedicationRequest.medicationCodeableConcept.text"),
        ("dose_amount", "MedicationRequest.dosageInstruction.doseAndRate.doseQuantity.value"),
        ("dose_unit", "MedicationRequest.dosageInstruction.doseAndRate.doseQuantity.unit"),
        ("route", "MedicationRequest.dosageInstruction.route.text"),
        ("frequency_kind", "MedicationRequest.dosageInstruction.timing.code.text"),
        ("frequency_interval", "MedicationRequest.dosageInstruction.timing.code.text"),
        ("as_needed", "MedicationRequest.dosageInstruction"),
        ("prn_indication", "MedicationRequest.dosageInstruction.asNeededCodeableConcept.text"),
        ("start_date", "MedicationRequest.dispenseRequest.validityPeriod.start"),
        ("end_date", "MedicationRequest.dispenseRequest.validityPeriod.end"),
        ("quantity", "MedicationRequest.dispenseRequest.quantity.value"),
        ("refills", "MedicationRequest.dispenseRequest.numberOfRepeatsAllowed"),
        ("instructions", "MedicationRequest.dosageInstruction.patientInstruction"),
        ("status", "MedicationRequest.status"),
        ("discontinued_on", "MedicationRequest.dispenseRequest.validityPeriod.end"),
        ("discontinue_reason", "MedicationRequest.statusReason.coding.code"),
        ("discontinue_note", "MedicationRequest.statusReason.text"),
        ("replaces", "MedicationRequest.priorPrescription.reference"),
    ),
    "medications.Allergy": _on(
        ("id", "AllergyIntolerance.id"),
        ("substance", "AllergyIntolerance.code.text"),
        ("reaction", "AllergyIntolerance.reaction.manifestation.text"),
        ("severity", "AllergyIntolerance.criticality"),
        ("status", "AllergyIntolerance"),
    ),
    "treatment_plans.TreatmentPlan": _on(
        ("id", "CarePlan.id"),
        ("status", "CarePlan.status"),
        ("problems", "CarePlan.description"),
        ("signed_by", "CarePlan.author.display"),
        ("signed_at", "CarePlan.created"),
        ("review_due", "CarePlan.note.text"),
        ("discontinued_on", "CarePlan.period.end"),
        ("version_number", "CarePlan.title"),
        ("replaces", "CarePlan.replaces.reference"),
    ),
    "treatment_plans.PlanDiagnosis": _on(
        ("diagnosis", "CarePlan.addresses.reference"),
        ("code", "Condition.code.coding.code"),
    ),
    "treatment_plans.Goal": _on(("number", "Goal.target.detailString"), ("text", "Goal.description.text")),
    "treatment_plans.Objective": _on(
        ("number", "Goal.target.detailString"),
        ("text", "Goal.target.detailString"),
        ("target_date", "Goal.target.dueDate"),
    ),
    "treatment_plans.Intervention": _on(
        ("modality", "CarePlan.activity.detail.code.text"),
        ("frequency", "CarePlan.activity.detail.scheduledString"),
        ("clinician", "CarePlan.activity.detail.performer.display"),
    ),
    "assessments.Response": _on(
        ("id", "QuestionnaireResponse.id"),
        ("instrument", "QuestionnaireResponse.questionnaire"),
        ("administered_on", "QuestionnaireResponse.authored"),
        ("answers", "QuestionnaireResponse.item"),
        ("total", "Observation.valueInteger"),
        ("band", "Observation.interpretation.text"),
        ("status", "QuestionnaireResponse.status"),
        ("administered_by", "QuestionnaireResponse.author.display"),
    ),
}

NOT_IN_FHIR: dict[str, dict[str, str]] = {}
