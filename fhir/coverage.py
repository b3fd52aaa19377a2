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
        ("recorded_from", "MedicationRequest.reportedReference.display"),
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

# Why a column the JSON copy shows is not in the Bundle. README.md ("FHIR R4 export") lists this
# table word for word (a test compares them); what the JSON copy leaves out (blind indexes, audit
# columns, the legal hold) the FHIR copy leaves out too, and is not repeated here.
NO_ELEMENT = "R4 has no element for it short of a custom extension"
SIGNATURE_WORKFLOW = "system data of the signature workflow; the Provenance entries carry who signed and when"
SCHEDULING = "scheduling administration, which R4's Appointment has no element for"
PRESCRIBING_SAFETY = "prescribing-safety workflow, not part of the order another system acts on"
SCORING = "NovaMind's scoring workflow (how the total was reached)"
VOIDING = (
    "R4's QuestionnaireResponse has no element for when or why it was voided or corrected: its status says "
    "entered-in-error"
)
RISK_ALERT = (
    "a risk-answer alert is the care team's workflow about a response, not a clinical statement FHIR has a resource for"
)
PROGRESS = "R4's Goal has no element for progress on one target short of a custom extension"

NOT_IN_FHIR: dict[str, dict[str, str]] = {
    "diagnoses.Diagnosis": {
        "is_primary": "FHIR ranks diagnoses on an Encounter, not on the problem list",
    },
    "appointments.Appointment": {
        name: SCHEDULING for name in ("cancelled_by", "late_cancellation", "replaced_by", "series")
    },
    "clinical_notes.ClinicalNote": {
        name: SIGNATURE_WORKFLOW
        for name in ("content_hash", "late_entry", "cosign_requested_from", "cosign_requested_at")
    },
    "clinical_notes.Addendum": {"content_hash": SIGNATURE_WORKFLOW},
    "medications.MedicationOrder": {
        name: PRESCRIBING_SAFETY for name in ("schedule", "allergy_override_reason", "duplicate_override_reason")
    },
    "treatment_plans.TreatmentPlan": {
        "content_hash": SIGNATURE_WORKFLOW,
        **{name: NO_ELEMENT for name in ("agreed_on", "agreement_method", "agreement_note", "discontinue_note")},
        "discontinue_reason": "R4's CarePlan has no status reason: the status shows its consequence (completed when "
        "treatment was completed, entered-in-error, else revoked)",
    },
    "treatment_plans.Objective": {
        "id": "internal key; a target is named by its goal's and its own number",
        "status": PROGRESS,
    },
    "treatment_plans.Intervention": {
        "number": "R4's activity has no number: the CarePlan lists the activities in this order",
    },
    "treatment_plans.ObjectiveProgress": {
        name: PROGRESS for name in ("id", "note", "status", "rating", "comment", "created_by", "created_at")
    },
    "assessments.Response": {
        "appointment": "the visit it was given at: R4's QuestionnaireResponse can name only an Encounter, which "
        "the Bundle has for a completed visit alone",
        "scoring_basis": SCORING,
        **{name: VOIDING for name in ("voided_at", "void_reason", "correction_reason")},
    },
    "assessments.SafetyAlert": {
        name: RISK_ALERT
        for name in (
            "id",
            "response",
            "raised_at",
            "reason",
            "status",
            "reviewed_by",
            "reviewed_at",
            "action_taken",
            "cleared_by",
            "cleared_at",
            "clear_reason",
        )
    },
}
