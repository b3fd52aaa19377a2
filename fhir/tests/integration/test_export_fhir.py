"""export_patient_record --format fhir: the record as one FHIR R4 Bundle, valid, self-contained and complete.

The chart is the record export's own (clinic's tests, via conftest): one patient with every kind of
record, each carrying a marker, plus psychotherapy notes, drafts and another patient's note that must
never appear.
"""

import base64
import datetime as dt
import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from clinic import record_export
from clinic.tests.integration.test_export_patient_record import ALL_WITHHELD
from conftest import assign_care
from fhir import export, mapping, validation
from novamind import access, roles
from novamind.models import AccessLogEntry
from novamind.tests.integration.role_users import member
from patients import domain as patients_domain
from patients import models as patients_models
from patients import repository as patients_repository

pytestmark = pytest.mark.django_db


def exported_text(chart, tmp_path, actor="alice"):
    path = tmp_path / "record.fhir.json"
    call_command(
        "export_patient_record",
        *("--patient", chart.patient.mrn, "--format", "fhir", "--output", str(path), "--actor", actor),
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    return path.read_text(encoding="utf-8")


@pytest.fixture
def bundle(chart, tmp_path):
    return json.loads(exported_text(chart, tmp_path))


def resources(bundle, kind):
    return [entry["resource"] for entry in bundle["entry"] if entry["resource"]["resourceType"] == kind]


def by_url(bundle):
    return {entry["fullUrl"]: entry["resource"] for entry in bundle["entry"]}


def decoded(document):
    return base64.b64decode(document["content"][0]["attachment"]["data"]).decode("utf-8")


def codes(concept):
    return [(coding["system"], coding["code"]) for coding in concept["coding"]]


# --- Valid and self-contained ----------------------------------------------------------------------


def test_the_bundle_validates_against_the_r4_schema_and_every_reference_resolves(bundle):
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    assert validation.bundle_problems(bundle) == []
    assert all(entry["fullUrl"].startswith("urn:uuid:") for entry in bundle["entry"])
    assert {entry["resource"]["resourceType"] for entry in bundle["entry"]} == {
        "Patient",
        "Practitioner",
        "Condition",
        "Appointment",
        "Encounter",
        "AllergyIntolerance",
        "MedicationRequest",
        "QuestionnaireResponse",
        "Observation",
        "DocumentReference",
        "Provenance",
        "CarePlan",
        "Goal",
    }


def test_two_exports_of_the_same_record_name_their_entries_alike(chart, tmp_path, operator):
    first = export.patient_bundle(patient=chart.patient, actor=operator)
    second = export.patient_bundle(patient=chart.patient, actor=operator)
    assert [e["fullUrl"] for e in first["entry"]] == [e["fullUrl"] for e in second["entry"]]
    assert [e["resource"] for e in first["entry"]] == [e["resource"] for e in second["entry"]]


def test_psychotherapy_notes_drafts_and_other_patients_records_never_appear(chart, tmp_path):
    text = exported_text(chart, tmp_path)
    # The notes travel base64-encoded: search the decoded attachments too.
    attachments = "".join(decoded(d) for d in resources(json.loads(text), "DocumentReference"))
    for canary in ALL_WITHHELD:
        assert canary not in text and canary not in attachments
    assert "Sam" not in text and chart.other_patient.mrn not in text
    assert "Subjective-MARKER" in attachments  # the search would find a canary that were there


# --- Field by field ----------------------------------------------------------------------------------


def test_the_patient_maps_field_by_field(bundle, chart):
    [patient] = resources(bundle, "Patient")
    assert patient["identifier"] == [
        {
            "use": "usual",
            "type": {
                "coding": [{"system": mapping.IDENTIFIER_TYPE_SYSTEM, "code": "MR", "display": "Medical record number"}]
            },
            "system": mapping.DEFAULT_IDENTIFIER_SYSTEM,
            "value": chart.patient.mrn,
        }
    ]
    assert patient["name"] == [
        {"use": "official", "family": "Okafor-Marker", "given": ["Robin"]},
        {"use": "usual", "family": "Okafor-Marker", "given": ["Rob"]},
    ]
    assert patient["birthDate"] == "1990-05-17" and patient["gender"] == "other" and patient["active"] is True
    extensions = {e["url"]: e for e in patient["extension"]}
    assert extensions[mapping.US_CORE_BIRTH_SEX]["valueCode"] == "UNK"
    assert extensions[mapping.US_CORE_GENDER_IDENTITY]["valueCodeableConcept"] == {"text": "Nonbinary-marker"}
    assert extensions[mapping.INDIVIDUAL_PRONOUNS]["extension"] == [
        {"url": "value", "valueCodeableConcept": {"text": "they/them"}}
    ]
    assert patient["telecom"] == [
        {"system": "phone", "value": chart.patient.phone, "use": "home"},
        {"system": "email", "value": "robin.okafor@example.org"},
    ]
    assert patient["address"] == [
        {
            "line": ["12 Elm Street", "Apt 3"],
            "city": "Somerville",
            "state": "MA",
            "postalCode": "02143",
            "country": "USA",
        }
    ]
    [contact] = patient["contact"]
    assert contact["name"] == {"text": "Ada Okafor"} and contact["telecom"][0]["system"] == "phone"
    assert contact["relationship"] == [
        {"coding": [{"system": mapping.CONTACT_ROLE, "code": "C", "display": "Emergency Contact"}]},
        {"text": "mother"},
    ]


def test_the_identifier_system_is_the_clinics_setting(chart, operator):
    with override_settings(NOVAMIND_FHIR_IDENTIFIER_SYSTEM="https://clinic.example/fhir/mrn"):
        bundle = export.patient_bundle(patient=chart.patient, actor=operator)
    [patient] = resources(bundle, "Patient")
    assert patient["identifier"][0]["system"] == "https://clinic.example/fhir/mrn"


def test_diagnoses_are_conditions_coded_in_icd10cm_with_clinical_and_verification_status(bundle):
    conditions = {c["code"]["coding"][0]["code"]: c for c in resources(bundle, "Condition")}
    depression, anxiety = conditions["F33.1"], conditions["F41.1"]
    assert codes(depression["code"]) == [("http://hl7.org/fhir/sid/icd-10-cm", "F33.1")]
    assert codes(depression["clinicalStatus"]) == [(mapping.CONDITION_CLINICAL, "active")]
    assert codes(depression["verificationStatus"]) == [(mapping.CONDITION_VERIFICATION, "confirmed")]
    assert depression["note"] == [{"text": "Specifier-MARKER: with anxious distress"}]
    assert codes(anxiety["clinicalStatus"]) == [(mapping.CONDITION_CLINICAL, "resolved")]
    assert "abatementDateTime" in anxiety


def test_the_diagnosis_status_map_covers_ruled_out_and_remission():
    assert mapping.CONDITION_STATUS["ruled_out"][1] == "refuted"
    assert mapping.CONDITION_STATUS["in_remission"][0] == "remission"
    assert mapping.CONDITION_STATUS["resolved"][0] == "resolved"


def test_appointments_map_their_status_and_a_completed_visit_is_an_encounter(bundle, chart):
    urls = by_url(bundle)
    appointments = {a["id"]: a for a in resources(bundle, "Appointment")}
    statuses = sorted(a["status"] for a in appointments.values())
    assert statuses == ["booked", "cancelled", "fulfilled"]
    cancelled = next(a for a in appointments.values() if a["status"] == "cancelled")
    assert cancelled["cancelationReason"] == {"text": "Cancel-MARKER: travelling"}
    [encounter] = resources(bundle, "Encounter")
    visit = urls[encounter["appointment"][0]["reference"]]
    assert visit["status"] == "fulfilled" and visit["reasonCode"] == [{"text": "Visit-reason-MARKER: low mood"}]
    assert encounter["status"] == "finished" and encounter["class"]["code"] == "AMB"
    assert urls[encounter["participant"][0]["individual"]["reference"]]["resourceType"] == "Practitioner"


def test_signed_notes_are_document_references_with_addenda_appended_and_signatures_as_provenance(bundle, chart):
    urls = by_url(bundle)
    documents = resources(bundle, "DocumentReference")
    notes = [d for d in documents if "relatesTo" not in d]
    assert len(notes) == 3  # SOAP, DAP and free text; no draft, no psychotherapy note
    soap = next(d for d in notes if "Subjective-MARKER" in decoded(d))
    assert codes(soap["type"]) == [(mapping.LOINC, "11506-3")]
    assert codes(soap["category"][0]) == [(mapping.US_CORE_DOCUMENT_CATEGORY, "clinical-note")]
    assert soap["status"] == "current" and soap["docStatus"] == "amended"
    assert soap["content"][0]["attachment"]["contentType"] == "text/plain; charset=utf-8"
    assert "Plan-MARKER" in decoded(soap) and "<b>not bold</b>" in decoded(soap)
    [related] = soap["context"]["related"]
    assert urls[related["reference"]]["code"]["coding"][0]["code"] == "F33.1"
    [addendum] = [d for d in documents if "relatesTo" in d]
    assert addendum["relatesTo"] == [{"code": "appends", "target": {"reference": f"urn:uuid:{soap['id']}"}}]
    assert "Addendum-MARKER" in decoded(addendum) and "Reason-MARKER" in addendum["description"]
    kinds = sorted(d["type"]["coding"][0]["code"] for d in notes)
    assert kinds == sorted(["11506-3", "18776-5", "18842-5"])
    signatures = {}
    for provenance in resources(bundle, "Provenance"):
        target = provenance["target"][0]["reference"]
        signatures.setdefault(target, []).append(provenance["signature"][0]["type"][0]["code"])
    assert sorted(signatures[f"urn:uuid:{soap['id']}"]) == [mapping.AUTHOR_SIGNATURE[0], mapping.COSIGNATURE[0]]
    assert signatures[f"urn:uuid:{addendum['id']}"] == [mapping.AUTHOR_SIGNATURE[0]]
    cosigner = urls[soap["authenticator"]["reference"]]
    assert cosigner["resourceType"] == "Practitioner"


def test_medication_orders_keep_status_reason_revisions_and_dosage(bundle, chart):
    requests = {r["id"]: r for r in resources(bundle, "MedicationRequest")}
    orders = (chart.first_order, chart.revised_order, chart.stopped_order)
    assert set(requests) == {export._url("MedicationRequest", order.id).removeprefix("urn:uuid:") for order in orders}
    first = next(r for r in requests.values() if r["medicationCodeableConcept"]["text"] == "sertraline 50 mg tablet")
    revised = next(r for r in requests.values() if r["medicationCodeableConcept"]["text"] == "sertraline 100 mg tablet")
    stopped = next(r for r in requests.values() if r["medicationCodeableConcept"]["text"].startswith("lorazepam"))
    assert revised["priorPrescription"] == {"reference": f"urn:uuid:{first['id']}"}
    assert revised["status"] == "active" and first["status"] == "stopped"
    assert stopped["status"] == "stopped" and stopped["intent"] == "order"
    assert codes(stopped["statusReason"]) == [(mapping.NOVAMIND_CODES, "discontinue-reason/adverse_effect")]
    assert stopped["statusReason"]["text"] == "Stop-note-MARKER: drowsy"
    [dosage] = revised["dosageInstruction"]
    assert dosage["doseAndRate"] == [{"doseQuantity": {"value": 100, "unit": "mg"}}]
    assert dosage["route"] == {"text": "by mouth"} and dosage["patientInstruction"] == "Instructions-MARKER: with food"
    assert stopped["dosageInstruction"][0]["asNeededCodeableConcept"] == {"text": "Indication-MARKER: panic"}
    assert revised["dispenseRequest"]["numberOfRepeatsAllowed"] == chart.revised_order.refills


def test_allergies_map_status_and_severity(bundle):
    allergies = {a["code"]["text"]: a for a in resources(bundle, "AllergyIntolerance")}
    penicillin, latex = allergies["Penicillin-MARKER"], allergies["Latex-MARKER"]
    assert codes(penicillin["clinicalStatus"]) == [(mapping.ALLERGY_CLINICAL, "active")]
    assert penicillin["reaction"] == [{"manifestation": [{"text": "hives"}], "severity": "moderate"}]
    assert codes(latex["verificationStatus"]) == [(mapping.ALLERGY_VERIFICATION, "entered-in-error")]
    assert "clinicalStatus" not in latex


def test_questionnaires_are_responses_with_a_survey_observation_of_the_loinc_total(bundle):
    urls = by_url(bundle)
    observations = {o["code"]["coding"][0]["code"]: o for o in resources(bundle, "Observation")}
    phq9, gad7 = observations["44261-6"], observations["70274-6"]
    assert codes(phq9["category"][0]) == [(mapping.OBSERVATION_CATEGORY, "survey")]
    assert phq9["valueInteger"] == 16 and phq9["status"] == "final"
    response = urls[phq9["derivedFrom"][0]["reference"]]
    assert response["resourceType"] == "QuestionnaireResponse" and response["status"] == "completed"
    assert response["questionnaire"] == "http://loinc.org/q/44249-1"
    assert [item["linkId"] for item in response["item"]] == [str(n) for n in range(1, 11)]
    assert gad7["status"] == "entered-in-error"
    assert urls[gad7["derivedFrom"][0]["reference"]]["status"] == "entered-in-error"


def test_treatment_plans_are_care_plans_with_goals_chained_by_replaces(bundle, chart):
    urls = by_url(bundle)
    plans = {p["title"]: p for p in resources(bundle, "CarePlan")}
    first, current = plans["Treatment plan, version 1"], plans["Treatment plan, version 2"]
    assert first["status"] == "revoked" and current["status"] == "active" and current["intent"] == "plan"
    assert current["replaces"] == [{"reference": f"urn:uuid:{first['id']}"}]
    assert current["description"] == "Problems-MARKER: no energy"
    goal = urls[current["goal"][0]["reference"]]
    assert goal["resourceType"] == "Goal" and goal["lifecycleStatus"] == "active"
    assert goal["target"] and all("detailString" in target for target in goal["target"])
    assert urls[current["addresses"][0]["reference"]]["code"]["coding"][0]["code"] == "F33.1"
    signed = [p for p in resources(bundle, "Provenance") if p["target"][0]["reference"] == f"urn:uuid:{current['id']}"]
    assert len(signed) == 1


# --- The same rules as the JSON copy ---------------------------------------------------------------


def refusal(patient, actor, format):
    with pytest.raises(CommandError) as caught:
        call_command(
            "export_patient_record",
            *("--patient", patient.mrn, "--format", format, "--actor", actor),
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    return str(caught.value)


@pytest.mark.parametrize("role", [roles.PRACTICE_ADMIN, roles.FRONT_DESK, roles.AUDITOR, "outside care"])
def test_the_fhir_export_refuses_whom_the_json_export_refuses(chart, role):
    if role == "outside care":
        member("someone", roles.CLINICIAN, profile={"credentials": "PhD", "is_clinician": True})
    else:
        member("someone", role)
    assert refusal(chart.patient, "someone", "fhir") == refusal(chart.patient, "someone", "json")
    assert not AccessLogEntry.objects.filter(action=record_export.DISCLOSURE_ACTION).exists()


def test_a_clinician_on_the_care_team_exports_the_bundle(chart, tmp_path):
    clinician = member("drin", roles.CLINICIAN, profile={"credentials": "PhD", "is_clinician": True})
    assign_care(chart.patient, clinician)
    assert validation.bundle_problems(json.loads(exported_text(chart, tmp_path, actor="drin"))) == []


def test_the_fhir_export_is_logged_as_one_disclosure_like_the_json_copy(chart, tmp_path, operator):
    exported_text(chart, tmp_path)
    [entry] = AccessLogEntry.objects.filter(action=record_export.DISCLOSURE_ACTION)
    assert (entry.user, entry.patient_id) == (operator, chart.patient.id)
    assert entry.category == record_export.DISCLOSURE_CATEGORY and "fhir copy" in entry.detail
    assert "3 signed notes with 1 addendum" in entry.detail and "MARKER" not in entry.detail
    assert access.verify().ok


def test_a_seed_demo_patient_exports_a_valid_bundle(db):
    call_command("seed_demo", "--patients", "4", stdout=io.StringIO())
    admin = get_user_model().objects.get(username="admin")
    repository = patients_repository.DjangoPatientRepository(actor=admin)
    richest = None
    for row in patients_models.Patient.objects.all():
        bundle = export.patient_bundle(patient=repository.get_by_id(row.pk), actor=admin)
        assert validation.bundle_problems(bundle) == []
        if richest is None or len(bundle["entry"]) > len(richest["entry"]):
            richest = bundle
    assert len({e["resource"]["resourceType"] for e in richest["entry"]}) >= 5


def test_a_patient_with_nothing_recorded_is_a_bundle_of_one_patient(operator):
    patient = patients_repository.DjangoPatientRepository(actor=operator).add(
        patients_domain.Patient(legal_first_name="Nova", legal_last_name="Empty", date_of_birth=dt.date(2000, 1, 1))
    )
    bundle = export.patient_bundle(patient=patient, actor=operator)
    assert validation.bundle_problems(bundle) == []
    [entry] = bundle["entry"]
    assert entry["resource"]["resourceType"] == "Patient" and entry["resource"]["gender"] == "unknown"
