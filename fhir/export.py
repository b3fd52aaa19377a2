"""The patient's record as one FHIR R4 (4.0.1) Bundle of type `collection`.

The record is the one `clinic.record_export` gathers, under its rules: who may export (roles,
then care), what is left out (psychotherapy notes, unsigned drafts), and the disclosure in the
access log. This module only writes that record in FHIR: `write_bundle` is the "fhir" writer
registered with `clinic.record_export` when the app is ready, so `export_patient_record --format
fhir` runs the same `record_export.export` as the JSON and HTML copies.

Every entry has a `urn:uuid:` fullUrl derived from the NovaMind id of what it maps (uuid5), so
two exports of the same record name their entries alike, and every reference inside the Bundle
names one of them. The field-by-field mapping is in README.md ("FHIR R4 export").
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import uuid
from typing import TextIO

from django.conf import settings
from django.utils import timezone

from assessments.instruments import scale
from clinic import record_export
from fhir import mapping, validation
from medications import domain as medications_domain
from patients import domain as patients_domain

FORMAT = "fhir"
MEDIA_TYPE = "application/fhir+json"
EXTENSION = "fhir.json"
# uuid5 namespace of the entries' fullUrls: fixed, so an entry's URL depends only on what it maps.
NAMESPACE = uuid.UUID("8f1c6a52-4a7e-4d8e-9a51-3c2f1e0b7d64")


def identifier_system() -> str:
    """Return the URI of the clinic's MRN identifier system (setting NOVAMIND_FHIR_IDENTIFIER_SYSTEM)."""
    return settings.NOVAMIND_FHIR_IDENTIFIER_SYSTEM or mapping.DEFAULT_IDENTIFIER_SYSTEM


def patient_bundle(*, patient: patients_domain.Patient, actor) -> dict:
    """Return `patient`'s record as a FHIR Bundle (a dict), read and logged as `actor` like any export.

    The entry point for code that wants the Bundle itself (the import's round trip): it runs
    `record_export.export` (access rules, access log) and reads back what the writer wrote.
    """
    out = io.StringIO()
    record_export.export(patient=patient, actor=actor, format=FORMAT, out=out)
    return json.loads(out.getvalue())


def write_bundle(record: record_export.PatientRecord, out: TextIO) -> record_export.Counts:
    """Write `record` as one FHIR R4 Bundle (JSON) to `out`; the writer `record_export` calls for "fhir"."""
    bundle = bundle_of(record)
    unresolved = validation.unresolved_references(bundle)
    if unresolved:  # a mapping bug: refuse to disclose a Bundle another system cannot read
        raise ValueError(f"The FHIR Bundle has references that resolve to no entry: {unresolved[:3]}")
    out.write(json.dumps(bundle, indent=2, ensure_ascii=False) + "\n")
    return record_export.counts_of(record)


# --- Helpers ---------------------------------------------------------------------------------------


def _url(kind: str, key) -> str:
    return f"urn:uuid:{uuid.uuid5(NAMESPACE, f'{kind}/{key}')}"


def _moment(value: dt.datetime | None) -> str | None:
    return timezone.localtime(value).isoformat() if value is not None else None


def _day(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _coding(system: str, code: str, display: str = "") -> dict:
    return {"system": system, "code": code, **({"display": display} if display else {})}


def _concept(system: str, code: str, display: str = "", text: str = "") -> dict:
    return {"coding": [_coding(system, code, display)], **({"text": text} if text else {})}


def _text(text: str) -> dict:
    return {"text": text}


def _pruned(value):
    """Return `value` without empty strings, None, empty lists and empty objects (FHIR forbids empty elements)."""
    if isinstance(value, dict):
        pruned = {key: _pruned(item) for key, item in value.items()}
        return {key: item for key, item in pruned.items() if item not in (None, "", [], {})}
    if isinstance(value, list):
        pruned = [_pruned(item) for item in value]
        return [item for item in pruned if item not in (None, "", [], {})]
    return value


def _decimal(value) -> float | int | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


class _Builder:
    """Collects the Bundle's entries; one resource per NovaMind record, staff as Practitioners."""

    def __init__(self, record: record_export.PatientRecord):
        self.record = record
        self.entries: list[dict] = []
        self.practitioners: dict = {}
        self.patient_ref = {"reference": _url("Patient", record.patient.id)}

    def add(self, url: str, resource: dict) -> dict:
        resource = _pruned({"resourceType": resource.pop("resourceType"), "id": url.rsplit(":", 1)[1], **resource})
        self.entries.append({"fullUrl": url, "resource": resource})
        return {"reference": url}

    def practitioner(self, user_id, name: str) -> dict | None:
        """Return a reference to the Practitioner entry of staff member `user_id`, adding it the first time."""
        if user_id is None:
            return None
        url = _url("Practitioner", user_id)
        if url not in self.practitioners:
            self.practitioners[url] = {"reference": url, "display": name} if name else {"reference": url}
            self.add(url, {"resourceType": "Practitioner", "name": [{"text": name or f"staff member {user_id}"}]})
        return self.practitioners[url]

    def provenance(self, key: str, *, target: dict, recorded: dt.datetime | None, who: dict | None, signature) -> None:
        """Add a Provenance for one signature (`signature`: an ASTM E1762 type) of `target` by `who`."""
        if recorded is None or who is None:
            return
        code, display = signature
        self.add(
            _url("Provenance", key),
            {
                "resourceType": "Provenance",
                "target": [target],
                "recorded": _moment(recorded),
                "agent": [
                    {
                        "type": _concept(
                            mapping.PROVENANCE_PARTICIPANT,
                            "author" if signature == mapping.AUTHOR_SIGNATURE else "verifier",
                        ),
                        "who": who,
                    }
                ],
                "signature": [
                    {"type": [_coding(mapping.SIGNATURE_TYPE, code, display)], "when": _moment(recorded), "who": who}
                ],
            },
        )


# --- The resources -----------------------------------------------------------------------------


def _patient(b: _Builder, patient: patients_domain.Patient) -> None:
    gender, birth_sex = mapping.SEX_AT_BIRTH[patient.sex_assigned_at_birth.value]
    address, contact = patient.address, patient.emergency_contact
    extensions = [{"url": mapping.US_CORE_BIRTH_SEX, "valueCode": birth_sex}]
    if patient.gender_identity:
        extensions.append(
            {"url": mapping.US_CORE_GENDER_IDENTITY, "valueCodeableConcept": _text(patient.gender_identity)}
        )
    if patient.pronouns:
        extensions.append(
            {
                "url": mapping.INDIVIDUAL_PRONOUNS,
                "extension": [{"url": "value", "valueCodeableConcept": _text(patient.pronouns)}],
            }
        )
    names = [{"use": "official", "family": patient.legal_last_name, "given": [patient.legal_first_name]}]
    if patient.preferred_name:
        names.append({"use": "usual", "family": patient.legal_last_name, "given": [patient.preferred_name]})
    b.add(
        b.patient_ref["reference"],
        {
            "resourceType": "Patient",
            "extension": extensions,
            "identifier": [
                {
                    "use": "usual",
                    "type": _concept(mapping.IDENTIFIER_TYPE_SYSTEM, mapping.MRN_TYPE_CODE, "Medical record number"),
                    "system": identifier_system(),
                    "value": patient.mrn,
                }
            ],
            "active": patient.status == patients_domain.PatientStatus.ACTIVE,
            "name": names,
            "telecom": [
                {"system": "phone", "value": patient.phone, "use": "home"} if patient.phone else None,
                {"system": "email", "value": patient.email} if patient.email else None,
            ],
            "gender": gender,
            "birthDate": _day(patient.date_of_birth),
            "deceasedBoolean": True if patient.status == patients_domain.PatientStatus.DECEASED else None,
            "address": [
                {
                    "line": [address.line1, address.line2],
                    "city": address.city,
                    "state": address.region,
                    "postalCode": address.postal_code,
                    "country": address.country,
                }
            ],
            "contact": [
                {
                    "relationship": [
                        _concept(mapping.CONTACT_ROLE, *mapping.EMERGENCY_CONTACT_CODE),
                        _text(contact.relation) if contact.relation else None,
                    ],
                    "name": _text(contact.name) if contact.name else None,
                    "telecom": [{"system": "phone", "value": contact.phone}] if contact.phone else [],
                }
                if (contact.name or contact.phone)
                else None
            ],
        },
    )


def _condition(b: _Builder, diagnosis) -> None:
    clinical, verification = mapping.CONDITION_STATUS[diagnosis.status.value]
    abatement = diagnosis.status.value in ("resolved", "in_remission") and diagnosis.status_since
    b.add(
        _url("Condition", diagnosis.id),
        {
            "resourceType": "Condition",
            "clinicalStatus": _concept(mapping.CONDITION_CLINICAL, clinical),
            "verificationStatus": _concept(mapping.CONDITION_VERIFICATION, verification),
            "category": [_concept(mapping.CONDITION_CATEGORY, "problem-list-item", "Problem List Item")],
            "code": _concept(mapping.ICD10CM, diagnosis.code, diagnosis.description),
            "subject": b.patient_ref,
            "onsetDateTime": _day(diagnosis.onset_date),
            "abatementDateTime": _day(diagnosis.status_since) if abatement else None,
            "note": [{"text": diagnosis.specifier}] if diagnosis.specifier else [],
        },
    )


def _appointment(b: _Builder, entry: record_export.AppointmentEntry) -> None:
    a = entry.appointment
    url = _url("Appointment", a.id)
    clinician = b.practitioner(a.clinician_id, entry.clinician)
    cancelled = a.status.value in ("cancelled", "rescheduled")
    reason = "Rescheduled" if a.status.value == "rescheduled" else a.cancellation_reason
    b.add(
        url,
        {
            "resourceType": "Appointment",
            "status": mapping.APPOINTMENT_STATUS[a.status.value],
            "cancelationReason": _text(reason) if cancelled and reason else None,
            "appointmentType": _concept(mapping.NOVAMIND_CODES, f"appointment-kind/{a.kind.value}", text=a.kind.value),
            "reasonCode": [_text(a.reason_for_visit)] if a.reason_for_visit else [],
            "start": _moment(a.start),
            "end": _moment(a.end),
            "minutesDuration": int(a.duration.total_seconds() // 60) if a.start and a.end else None,
            "participant": [
                {"actor": b.patient_ref, "required": "required", "status": "accepted"},
                {"actor": clinician, "required": "required", "status": "accepted"} if clinician else None,
                {"actor": {"display": entry.room}, "required": "required", "status": "accepted"}
                if entry.room
                else None,
            ],
        },
    )
    if a.status.value == "completed":
        code, display = mapping.ENCOUNTER_CLASS[a.modality.value]
        b.add(
            _url("Encounter", a.id),
            {
                "resourceType": "Encounter",
                "status": "finished",
                "class": _coding(mapping.ACT_CODE, code, display),
                "type": [_concept(mapping.NOVAMIND_CODES, f"appointment-kind/{a.kind.value}", text=a.kind.value)],
                "subject": b.patient_ref,
                "participant": [{"individual": clinician}] if clinician else [],
                "appointment": [{"reference": url}],
                "period": {"start": _moment(a.checked_in_at or a.start), "end": _moment(a.status_changed_at or a.end)},
                "reasonCode": [_text(a.reason_for_visit)] if a.reason_for_visit else [],
            },
        )


def _attachment(text: str, *, title: str, created: dt.datetime | None) -> dict:
    return {
        "contentType": "text/plain; charset=utf-8",
        "language": "en",
        "data": base64.b64encode(text.encode("utf-8")).decode("ascii"),
        "title": title,
        "creation": _moment(created),
    }


def _note(b: _Builder, entry: record_export.NoteEntry) -> None:
    n = entry.note
    code, display = mapping.NOTE_TYPE[n.kind.value]
    url = _url("DocumentReference", n.id)
    author = b.practitioner(n.author.id, entry.author)
    cosigner = b.practitioner(n.cosigned_by.id, entry.cosigned_by) if n.cosigned_by else None
    signer = b.practitioner(n.signed_by.id, entry.signed_by) if n.signed_by else None
    text = "\n\n".join(f"{label}:\n{body}" for _name, label, body in entry.sections)
    b.add(
        url,
        {
            "resourceType": "DocumentReference",
            "status": "current",
            "docStatus": "amended" if entry.addenda else "final",
            "type": _concept(mapping.LOINC, code, display),
            "category": [_concept(mapping.US_CORE_DOCUMENT_CATEGORY, *mapping.CLINICAL_NOTE_CATEGORY)],
            "subject": b.patient_ref,
            "date": _moment(n.signed_at),
            "author": [author],
            # Who vouches for the note: the supervisor who co-signed it, else the clinician who signed it.
            "authenticator": cosigner or signer,
            "description": f"{display} ({n.format.value})",
            "content": [{"attachment": _attachment(text, title=display, created=n.signed_at)}],
            "context": {
                "period": {"start": _day(n.date_of_service), "end": _day(n.date_of_service)},
                "related": [{"reference": _url("Condition", d.id)} for d, _description in entry.diagnoses],
            },
        },
    )
    b.provenance(
        f"{n.id}/signature",
        target={"reference": url},
        recorded=n.signed_at,
        who=signer,
        signature=mapping.AUTHOR_SIGNATURE,
    )
    b.provenance(
        f"{n.id}/cosignature",
        target={"reference": url},
        recorded=n.cosigned_at,
        who=cosigner,
        signature=mapping.COSIGNATURE,
    )
    for addendum in entry.addenda:
        a = addendum.addendum
        addendum_url = _url("DocumentReference", a.id)
        who = b.practitioner(a.author.id, addendum.author)
        b.add(
            addendum_url,
            {
                "resourceType": "DocumentReference",
                "status": "current",
                "docStatus": "final",
                "type": _concept(mapping.LOINC, code, display),
                "category": [_concept(mapping.US_CORE_DOCUMENT_CATEGORY, *mapping.CLINICAL_NOTE_CATEGORY)],
                "subject": b.patient_ref,
                "date": _moment(a.signed_at),
                "author": [who],
                "description": f"Addendum: {a.reason}" if a.reason else "Addendum",
                "relatesTo": [{"code": "appends", "target": {"reference": url}}],
                "content": [{"attachment": _attachment(a.text, title="Addendum", created=a.signed_at)}],
                "context": {"period": {"start": _day(n.date_of_service), "end": _day(n.date_of_service)}},
            },
        )
        b.provenance(
            f"{a.id}/signature",
            target={"reference": addendum_url},
            recorded=a.signed_at,
            who=who,
            signature=mapping.AUTHOR_SIGNATURE,
        )


def _order(b: _Builder, order: medications_domain.MedicationOrder) -> None:
    error = order.discontinue_reason is not None and order.discontinue_reason.value == mapping.MEDICATION_ERROR_REASON
    frequency = order.frequency
    prescriber = order.prescriber
    b.add(
        _url("MedicationRequest", order.id),
        {
            "resourceType": "MedicationRequest",
            "status": "entered-in-error" if error else mapping.MEDICATION_STATUS[order.status.value],
            "statusReason": _concept(
                mapping.NOVAMIND_CODES,
                f"discontinue-reason/{order.discontinue_reason.value}",
                order.discontinue_reason.label,
                text=order.discontinue_note,
            )
            if order.discontinue_reason
            else None,
            "intent": "order",
            "medicationCodeableConcept": {
                "coding": [_coding(mapping.RXNORM, order.rxnorm_code)] if order.rxnorm_code else [],
                "text": order.medication,
            },
            "subject": b.patient_ref,
            # An order prescribed elsewhere is a reported record; `recorded_from` names its source.
            "reportedReference": {"display": order.recorded_from} if order.recorded_from else None,
            "authoredOn": _day(order.written_on or order.start_date),
            "requester": b.practitioner(prescriber.user_id, prescriber.display_name) if prescriber else None,
            "note": [{"text": order.instructions}] if order.instructions else [],
            "dosageInstruction": [
                {
                    "text": order.sig,
                    "patientInstruction": order.instructions,
                    "timing": {"code": _text(frequency.describe())} if frequency.kind else None,
                    "asNeededCodeableConcept": _text(frequency.indication)
                    if frequency.as_needed and frequency.indication
                    else None,
                    "asNeededBoolean": True if frequency.as_needed and not frequency.indication else None,
                    "route": _text(order.route.label) if order.route else None,
                    "doseAndRate": [
                        {"doseQuantity": {"value": _decimal(order.dose_amount), "unit": order.dose_unit.label}}
                        if order.dose_amount and order.dose_unit
                        else None
                    ],
                }
            ],
            "dispenseRequest": {
                "validityPeriod": {
                    "start": _day(order.start_date),
                    "end": _day(order.end_date or order.discontinued_on),
                },
                "numberOfRepeatsAllowed": order.refills,
                "quantity": {"value": _decimal(order.quantity)} if order.quantity is not None else None,
            },
            "priorPrescription": {"reference": _url("MedicationRequest", order.replaces_id)}
            if order.replaces_id
            else None,
        },
    )


def _allergy(b: _Builder, allergy: medications_domain.Allergy) -> None:
    clinical, verification = mapping.ALLERGY_STATUS[allergy.status.value]
    criticality, severity = mapping.ALLERGY_SEVERITY[allergy.severity.value]
    b.add(
        _url("AllergyIntolerance", allergy.id),
        {
            "resourceType": "AllergyIntolerance",
            "clinicalStatus": _concept(mapping.ALLERGY_CLINICAL, clinical) if clinical else None,
            "verificationStatus": _concept(mapping.ALLERGY_VERIFICATION, verification) if verification else None,
            "criticality": criticality,
            "code": _text(allergy.substance),
            "patient": b.patient_ref,
            "reaction": [{"manifestation": [_text(allergy.reaction)], "severity": severity}]
            if allergy.reaction
            else [],
        },
    )


def _answer(spec: scale.Instrument, item: scale.Item, points: int | None) -> dict | None:
    if points is None:
        return None
    option = next((o for o in spec.options_of(item) if o.points == points), None)
    if option and option.loinc:
        return {"valueCoding": _coding(mapping.LOINC, option.loinc, option.label)}
    return {"valueString": option.label} if option else {"valueInteger": points}


def _response(b: _Builder, entry: record_export.ResponseEntry) -> None:
    r = entry.response
    spec = r.spec
    url = _url("QuestionnaireResponse", r.id)
    b.add(
        url,
        {
            "resourceType": "QuestionnaireResponse",
            "questionnaire": f"http://loinc.org/q/{spec.panel_loinc}" if spec else None,
            "status": mapping.RESPONSE_STATUS[r.status.value],
            "subject": b.patient_ref,
            "authored": _day(r.administered_on),
            "author": {"display": entry.entered_by} if entry.entered_by else None,
            "item": [
                {
                    "linkId": str(item.number),
                    "text": item.text,
                    "answer": [_answer(spec, item, r.answers.get(item.number))],
                }
                for item in (spec.items if spec else ())
            ],
        },
    )
    if spec is None or r.total is None:
        return
    b.add(
        _url("Observation", r.id),
        {
            "resourceType": "Observation",
            "status": mapping.OBSERVATION_STATUS[r.status.value],
            "category": [_concept(mapping.OBSERVATION_CATEGORY, *mapping.SURVEY_CATEGORY)],
            "code": _concept(mapping.LOINC, spec.total_loinc, f"{spec.name} total score"),
            "subject": b.patient_ref,
            "effectiveDateTime": _day(r.administered_on),
            "valueInteger": r.total,
            "interpretation": [_text(r.band_label)] if r.band_label else [],
            "derivedFrom": [{"reference": url}],
        },
    )


def _plan(b: _Builder, entry: record_export.PlanEntry) -> None:
    plan = entry.plan
    status = mapping.CAREPLAN_STATUS[plan.status.value]
    if plan.status.value == "discontinued" and plan.discontinue_reason:
        status = mapping.PLAN_DISCONTINUED_STATUS.get(plan.discontinue_reason.value, status)
    url = _url("CarePlan", plan.id)
    goals = []
    for goal in plan.goals:
        goals.append(
            b.add(
                _url("Goal", f"{plan.id}/{goal.number}"),
                {
                    "resourceType": "Goal",
                    "lifecycleStatus": mapping.GOAL_LIFECYCLE[status],
                    "description": _text(goal.text),
                    "subject": b.patient_ref,
                    "addresses": [{"reference": _url("Condition", d.diagnosis_id)} for d in plan.diagnoses],
                    "target": [
                        {
                            "detailString": f"{goal.number}.{objective.number} {objective.text}",
                            "dueDate": _day(objective.target_date),
                        }
                        for objective in goal.objectives
                    ],
                },
            )
        )
    signer = b.practitioner(plan.signed_by.id, entry.signed_by) if plan.signed_by else None
    b.add(
        url,
        {
            "resourceType": "CarePlan",
            "status": status,
            "intent": "plan",
            "title": f"Treatment plan, version {plan.version_number}",
            "description": plan.problems,
            "subject": b.patient_ref,
            "period": {"end": _day(plan.discontinued_on)},
            "created": _moment(plan.signed_at),
            "author": signer,
            "replaces": [{"reference": _url("CarePlan", plan.replaces_id)}] if plan.replaces_id else [],
            "addresses": [{"reference": _url("Condition", d.diagnosis_id)} for d in plan.diagnoses],
            "goal": goals,
            "activity": [
                {
                    "detail": {
                        "kind": "ServiceRequest",
                        "code": _text(intervention.modality),
                        "status": "in-progress" if status == "active" else "stopped",
                        "scheduledString": intervention.frequency,
                        "performer": [
                            b.practitioner(intervention.clinician.id, intervention.clinician.label)
                            if intervention.clinician
                            else None
                        ],
                    }
                }
                for intervention in plan.interventions
            ],
            "note": [{"text": f"Review due {plan.review_due.isoformat()}"}] if plan.review_due else [],
        },
    )
    b.provenance(
        f"{plan.id}/signature",
        target={"reference": url},
        recorded=plan.signed_at,
        who=signer,
        signature=mapping.AUTHOR_SIGNATURE,
    )


def bundle_of(record: record_export.PatientRecord) -> dict:
    """Return `record` as a FHIR R4 Bundle of type collection (reads the record's notes)."""
    b = _Builder(record)
    _patient(b, record.patient)
    for diagnosis in record.diagnoses:
        _condition(b, diagnosis)
    for entry in record.appointments:
        _appointment(b, entry)
    for allergy in record.allergies:
        _allergy(b, allergy)
    for order in record.medication_orders:
        _order(b, order)
    for entry in record.questionnaire_responses:
        _response(b, entry)
    for entry in record.notes:
        _note(b, entry)
    for entry in record.treatment_plans:
        _plan(b, entry)
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": _moment(record.generated_at)},
        "type": "collection",
        "timestamp": _moment(record.generated_at),
        "entry": b.entries,
    }
