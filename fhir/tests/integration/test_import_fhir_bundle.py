"""import_fhir_bundle: official HL7 R4 examples in, all or nothing, attributed, encrypted, dry run."""

from __future__ import annotations

import copy
import datetime as dt
import io
import json
import pathlib

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from clinic.tests.integration import walk_support as walk
from conftest import assign_care, make_staff
from diagnoses import models as diagnoses_models
from fhir import importer as importer_module
from fhir import mapping
from medications import domain as medications_domain
from medications import models as medications_models
from novamind import roles
from novamind.models import AccessLogEntry
from novamind.tests.integration.role_users import member
from novamind.tests.phi_scan import assert_no_plaintext
from patients import domain as patients_domain
from patients import models as patients_models
from patients import repository as patients_repository

pytestmark = pytest.mark.django_db

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "data" / "hl7-r4-examples"
SYSTEM = "https://clinic.example/fhir/mrn"


def example(name: str) -> dict:
    return json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))


def bundle(*resources, kind="collection") -> dict:
    return {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [
            {"fullUrl": f"http://other.example/fhir/{r['resourceType']}/{r.get('id')}", "resource": r}
            for r in resources
        ],
    }


def pat1() -> dict:
    """The patient the official MedicationRequest examples name (Patient/pat1), with a birth date (ours)."""
    return {
        "resourceType": "Patient",
        "id": "pat1",
        "name": [{"use": "official", "family": "Zyxduck", "given": ["Donald"]}],
        "birthDate": "1961-04-05",
    }


def icd10_condition(code="F32.1", subject="Patient/example", **changes) -> dict:
    """A Condition coded in ICD-10-CM (written here: the official examples hold none)."""
    return {
        "resourceType": "Condition",
        "id": f"icd-{code}",
        "clinicalStatus": {"coding": [{"system": mapping.CONDITION_CLINICAL, "code": "active"}]},
        "verificationStatus": {"coding": [{"system": mapping.CONDITION_VERIFICATION, "code": "confirmed"}]},
        "code": {"coding": [{"system": mapping.ICD10CM, "code": code}]},
        "subject": {"reference": subject},
        "onsetDateTime": "2020-03-01",
        **changes,
    }


@pytest.fixture
def importer(db):
    return make_staff("importer", superuser=True)


def run(tmp_path, document, *options, actor="importer", ndjson=False, err=None):
    """Run the command on `document`; return (stdout, stderr) or raise its CommandError."""
    path = tmp_path / ("import.ndjson" if ndjson else "import.json")
    if isinstance(document, (bytes, str)):
        path.write_bytes(document if isinstance(document, bytes) else document.encode("utf-8"))
    elif ndjson:
        path.write_text("\n".join(json.dumps(resource) for resource in document) + "\n", encoding="utf-8")
    else:
        path.write_text(json.dumps(document), encoding="utf-8")
    out, err = io.StringIO(), err or io.StringIO()
    call_command("import_fhir_bundle", str(path), "--actor", actor, *options, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def refused(tmp_path, document, *options, actor="importer") -> str:
    """Run the command, expecting its refusal; return the refusal with the report on standard error."""
    err = io.StringIO()
    with pytest.raises(CommandError) as caught:
        run(tmp_path, document, *options, actor=actor, err=err)
    return f"{caught.value}\n{err.getvalue()}"


def counts() -> dict[str, int]:
    """Return the row counts of every record table and its history, and the access log's other entries.

    The duplicate check's entry (patients compared by name and birth date) is logged by every run,
    a dry or refused one too: telling who is registered is a disclosure.
    """
    others = AccessLogEntry.objects.exclude(action=importer_module.ACCESS_ACTION).count()
    tables = walk.fingerprint(walk.record_models())
    tables.pop("novamind.accessloghead")  # the access log's chain head, made by its first entry
    return {**tables, "access log": others}


def good_bundle() -> dict:
    return bundle(
        example("Patient-example"),
        example("AllergyIntolerance-example"),
        icd10_condition(),
        pat1(),
        example("MedicationRequest-medrx0308"),
        example("MedicationRequest-medrx0310"),
        example("MedicationRequest-medrx0325"),
    )


# --- The official examples -----------------------------------------------------------------------


def test_the_official_patient_allergy_and_medication_examples_are_imported(tmp_path, importer):
    out, err = run(tmp_path, good_bundle())
    assert err == ""
    assert "2 new patient(s)" in out and "1 allergy(ies)" in out and "3 medication order(s)" in out

    chalmers = next(
        p for p in (row.to_domain() for row in patients_models.Patient.objects.all()) if p.legal_last_name == "Chalmers"
    )
    assert (chalmers.legal_first_name, chalmers.preferred_name) == ("Peter James", "Jim")
    assert chalmers.date_of_birth == dt.date(1974, 12, 25)
    assert chalmers.address.line1 == "534 Erewhon St" and chalmers.address.city == "PleasantVille"
    assert chalmers.sex_assigned_at_birth is patients_domain.SexAssignedAtBirth.UNKNOWN
    assert "urn:oid:1.2.36.146.595.217.0.1" in out and "not kept" in out  # the foreign identifier

    allergy = medications_models.Allergy.objects.get().to_domain()
    assert allergy.patient_id == chalmers.id
    assert (allergy.substance, allergy.reaction) == ("Cashew nuts", "Anaphylactic reaction; Urticaria")
    assert allergy.severity is medications_domain.AllergySeverity.SEVERE

    diagnosis = diagnoses_models.Diagnosis.objects.get().to_domain()
    assert (diagnosis.code, diagnosis.onset_date, diagnosis.patient_id) == ("F32.1", dt.date(2020, 3, 1), chalmers.id)

    orders = {o.drug_name: o for o in (row.to_domain() for row in medications_models.MedicationOrder.objects.all())}
    vicodin, tylenol, nystatin = (
        orders["Vicodin 5/500 Oral Tablet"],
        orders["Tylenol PM"],
        orders["Nystatin 100UNT/MG Topical Ointment"],
    )
    assert vicodin.status is medications_domain.OrderStatus.COMPLETED and vicodin.rxnorm_code == "856907"
    assert vicodin.prescriber is None and "prescribed by Patrick Pump" in vicodin.recorded_from
    assert vicodin.quantity == 30 and vicodin.route is medications_domain.Route.ORAL
    assert vicodin.frequency.kind is medications_domain.FrequencyKind.EVERY_N_HOURS and vicodin.frequency.interval == 4
    assert vicodin.frequency.as_needed and vicodin.frequency.indication == "Fibromyalgia (disorder)"
    assert vicodin.start_date == dt.date(2015, 1, 15)
    assert tylenol.status is medications_domain.OrderStatus.ACTIVE
    assert tylenol.instructions.startswith("Take 1-2 tablets once daily at bedtime")
    assert nystatin.status is medications_domain.OrderStatus.ON_HOLD


@pytest.mark.parametrize(
    "name, reason",
    [
        ("Condition-example", "coded in SNOMED CT only (http://snomed.info/sct 39065001)"),
        ("Condition-example2", "no ICD-10-CM code"),
        ("AllergyIntolerance-nka", "NovaMind records allergies, not their absence"),
    ],
)
def test_official_examples_novamind_cannot_hold_are_refused_with_the_reason(tmp_path, importer, name, reason):
    resource = example(name)
    if resource["resourceType"] == "AllergyIntolerance":
        resource["patient"] = {"reference": "Patient/example"}  # the example names Patient/mom
    before = counts()
    message = refused(tmp_path, bundle(example("Patient-example"), resource))
    assert reason in message
    assert counts() == before


def test_a_condition_with_a_category_not_billable_icd10_code_is_refused(tmp_path, importer):
    message = refused(tmp_path, bundle(example("Patient-example"), icd10_condition("F32")))
    assert "F32" in message and "ICD-10-CM" in message


def test_a_reference_outside_the_file_is_refused(tmp_path, importer):
    message = refused(tmp_path, bundle(icd10_condition(subject="Patient/nobody")))
    assert "Patient/nobody" in message and "not a Patient in this file" in message


def test_a_patient_without_a_full_birth_date_is_refused_and_so_are_its_records(tmp_path, importer):
    official_pat1 = {"resourceType": "Patient", "id": "pat1", "name": [{"use": "official", "family": "Donald"}]}
    message = refused(tmp_path, bundle(official_pat1, example("MedicationRequest-medrx0308")))
    assert "2 resource(s) were refused" in message
    assert "no full birth date" in message and "was refused" in message


# --- All or nothing, dry run, attribution ----------------------------------------------------------


def test_one_refusal_in_the_middle_imports_nothing(tmp_path, importer):
    before = counts()
    document = good_bundle()
    document["entry"].insert(3, {"resource": example("Condition-example")})
    message = refused(tmp_path, document)
    assert "Nothing was imported" in message and "all or nothing" in message
    assert counts() == before


def test_a_dry_run_reports_and_writes_nothing_but_the_logged_duplicate_check(tmp_path, importer):
    before = counts()
    out, err = run(tmp_path, good_bundle(), "--dry-run")
    assert err == ""
    assert "would be created" in out and "would be recorded" in out and "Nothing was written" in out
    assert counts() == before
    (entry,) = AccessLogEntry.objects.filter(action=importer_module.ACCESS_ACTION)
    assert entry.user_id == importer.pk and entry.detail.startswith("import_fhir_bundle (dry run): 2 patient(s)")


def test_a_dry_run_of_a_refused_import_lists_the_refusals_and_exits_1(tmp_path, importer):
    before = counts()
    document = good_bundle()
    document["entry"].append({"resource": example("AllergyIntolerance-nka")})
    message = refused(tmp_path, document, "--dry-run")
    assert message.startswith("Dry run: the import would be refused")
    assert "refused" in message
    assert counts() == before


def test_every_record_and_history_row_is_attributed_to_the_actor(tmp_path, importer):
    run(tmp_path, good_bundle())
    for model in (patients_models.Patient, diagnoses_models.Diagnosis, medications_models.Allergy):
        assert {row.created_by_id for row in model.objects.all()} == {importer.pk}
        assert {row.history_user_id for row in model.history.all()} == {importer.pk}
    orders = medications_models.MedicationOrder.objects.all()
    assert {order.created_by_id for order in orders} == {importer.pk}
    assert {order.prescriber_id for order in orders} == {None}
    assert {row.history_user_id for row in medications_models.MedicationOrder.history.all()} == {importer.pk}


# --- Matching ------------------------------------------------------------------------------------


@override_settings(NOVAMIND_FHIR_IDENTIFIER_SYSTEM=SYSTEM)
def test_a_patient_with_the_clinics_mrn_is_matched_not_created(tmp_path, importer):
    stored = patients_repository.DjangoPatientRepository(actor=importer).add(
        patients_domain.Patient(legal_first_name="Ada", legal_last_name="Known", date_of_birth=dt.date(1980, 1, 2))
    )
    patient = {**pat1(), "identifier": [{"system": SYSTEM, "value": stored.mrn}]}
    out, _ = run(tmp_path, bundle(patient, icd10_condition(subject="Patient/pat1")))
    assert f"matched {stored.mrn}" in out
    assert patients_models.Patient.objects.count() == 1
    assert diagnoses_models.Diagnosis.objects.get().patient_id == stored.id


@override_settings(NOVAMIND_FHIR_IDENTIFIER_SYSTEM=SYSTEM)
def test_an_unknown_mrn_of_the_clinic_is_refused(tmp_path, importer):
    patient = {**pat1(), "identifier": [{"system": SYSTEM, "value": "NM12345674"}]}
    message = refused(tmp_path, bundle(patient))
    assert "No patient NM12345674" in message


def test_a_patient_already_registered_by_name_and_birth_date_is_refused(tmp_path, importer):
    patients_repository.DjangoPatientRepository(actor=importer).add(
        patients_domain.Patient(legal_first_name="Donald", legal_last_name="Zyxduck", date_of_birth=dt.date(1961, 4, 5))
    )
    message = refused(tmp_path, bundle(pat1()))
    assert "already registered" in message and "MRN" in message


# --- The access policy ---------------------------------------------------------------------------


@override_settings(NOVAMIND_FHIR_IDENTIFIER_SYSTEM=SYSTEM)
def test_a_clinician_adds_to_their_own_patients_only(tmp_path, importer):
    repository = patients_repository.DjangoPatientRepository(actor=importer)
    mine = repository.add(
        patients_domain.Patient(legal_first_name="Mine", legal_last_name="Cared", date_of_birth=dt.date(1980, 1, 2))
    )
    theirs = repository.add(
        patients_domain.Patient(legal_first_name="Not", legal_last_name="Mine", date_of_birth=dt.date(1981, 1, 2))
    )
    clinician = member("drfhir", roles.CLINICIAN)
    assign_care(mine, clinician)

    def allergy_for(mrn):
        resource = copy.deepcopy(example("AllergyIntolerance-example"))
        resource["patient"] = {"identifier": {"system": SYSTEM, "value": mrn}}
        return bundle(resource)

    out, _ = run(tmp_path, allergy_for(mine.mrn), actor="drfhir")
    assert "1 allergy(ies)" in out
    before = counts()
    message = refused(tmp_path, allergy_for(theirs.mrn), actor="drfhir")
    assert f"No patient {theirs.mrn} that drfhir may see" in message
    assert counts() == before


def test_a_new_patient_has_no_care_team_so_a_clinician_cannot_add_to_it(tmp_path, importer):
    member("drnew", roles.CLINICIAN)
    message = refused(
        tmp_path, bundle(example("Patient-example"), example("AllergyIntolerance-example")), actor="drnew"
    )
    assert "patients.add_patient" in message  # a clinician does not register patients


def test_the_front_desk_registers_patients_but_records_no_diagnosis(tmp_path, importer):
    member("desk", roles.FRONT_DESK)
    out, _ = run(tmp_path, bundle(example("Patient-example")), actor="desk")
    assert "1 new patient(s)" in out
    message = refused(tmp_path, bundle(pat1(), icd10_condition(subject="Patient/pat1")), actor="desk")
    assert "diagnoses.add_diagnosis" in message


# --- Bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, message",
    [
        (b"{not json", "not JSON"),
        (b"", "empty"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"[1, 2]", "not a FHIR resource"),
        (b'{"id": "x"}', "no resourceType"),
        (b'{"resourceType": "Bundle", "type": "collection", "entry": []}', "holds no resource"),
        (b'{"resourceType": "Bundle", "type": "collection", "entry": [{"fullUrl": "x"}]}', "entry 1 has no resource"),
        (b'{"resourceType": "MedicationOrder", "id": "x"}', "DSTU2"),
        (b'{"resourceType": "Patient", "meta": {"fhirVersion": "5.0.0"}}', "FHIR version 5.0.0"),
    ],
)
def test_a_file_that_is_not_fhir_r4_is_a_clear_error(tmp_path, importer, content, message):
    before = counts()
    text = refused(tmp_path, content)
    assert message in text and "Nothing was imported" in text
    assert counts() == before


def test_a_resource_type_it_does_not_import_is_skipped_and_named(tmp_path, importer):
    observation = {"resourceType": "Observation", "id": "o", "status": "final", "code": {"text": "x"}}
    out, _ = run(tmp_path, bundle(pat1(), observation, {**observation, "id": "p"}))
    assert (
        "Skipped, not imported (only Patient, AllergyIntolerance, Condition, MedicationRequest are): 2 Observation"
        in out
    )
    assert "1 new patient(s)" in out and "2 skipped" in out


def test_a_resource_that_breaks_the_r4_schema_is_refused_with_the_schemas_message(tmp_path, importer):
    broken = {**pat1(), "birthDate": 19610405, "gender": "robot"}
    message = refused(tmp_path, bundle(broken))
    assert "official JSON schema" in message


def test_an_stu3_condition_the_schema_lets_through_is_refused_not_a_traceback(tmp_path, importer):
    # The official R4 JSON schema's complex types do not say "type": "object": it accepts STU3's
    # code where R4 has a CodeableConcept. The importer refuses it with the reason.
    stu3 = {**icd10_condition(subject="Patient/pat1"), "clinicalStatus": "active"}
    message = refused(tmp_path, bundle(pat1(), stu3))
    assert "does not have the shape FHIR R4 gives it" in message


def test_ndjson_is_read_one_resource_a_line(tmp_path, importer):
    out, _ = run(tmp_path, [pat1(), icd10_condition(subject="Patient/pat1")], ndjson=True)
    assert "line 1 (Patient/pat1): created" in out and "1 diagnosis(es)" in out


def test_a_missing_file_and_an_unknown_actor_are_clear_errors(tmp_path, importer):
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_fhir_bundle", str(tmp_path / "nope.json"), "--actor", "importer")
    with pytest.raises(CommandError, match="no user named"):
        run(tmp_path, good_bundle(), actor="ghost")


# --- Encryption ----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_no_plaintext_phi_is_stored_after_an_import(tmp_path):
    make_staff("importer", superuser=True)
    run(tmp_path, good_bundle())
    assert patients_models.Patient.objects.count() == 2
    assert_no_plaintext(
        [
            "Chalmers",
            "Erewhon",
            "PleasantVille",
            "Zyxduck",
            "Cashew",
            "Anaphylactic",
            "Vicodin",
            "Tylenol",
            "Nystatin",
            "Restless Legs",
            "Patrick Pump",
            "F32.1",
            "856907",
        ]
    )


def test_the_admin_shows_an_order_prescribed_elsewhere_and_the_patient_page_lists_it(tmp_path, importer, client):
    from django.urls import reverse

    run(tmp_path, good_bundle())
    order = medications_models.MedicationOrder.objects.filter(status="active").first()
    client.force_login(importer)
    page = client.get(reverse("admin:medications_medicationorder_change", args=[order.pk]))
    assert page.status_code == 200
    assert "Prescribed elsewhere; recorded from FHIR MedicationRequest/medrx0310" in page.content.decode()
    patient_page = client.get(reverse("admin:patients_patient_change", args=[order.patient_id]))
    assert patient_page.status_code == 200 and "Tylenol PM" in patient_page.content.decode()
    listing = client.get(reverse("admin:medications_medicationorder_changelist"))
    assert listing.status_code == 200


@pytest.mark.parametrize(
    "broken",
    [
        {"identifier": ["NM12345674"]},
        {"name": "Donald Zyxduck"},
        {"meta": "R4"},
        {"extension": [{"url": mapping.US_CORE_BIRTH_SEX, "valueCode": 5}]},
    ],
)
def test_odd_shapes_the_schema_lets_through_are_refused_never_a_traceback(tmp_path, importer, broken):
    order = {**example("MedicationRequest-medrx0308"), "priorPrescription": "MedicationRequest/x"}
    condition = {**icd10_condition(subject="Patient/pat1"), "note": "text", "code": {"coding": "F32.1"}}
    message = refused(tmp_path, bundle({**pat1(), **broken}, order, condition))
    assert "refused" in message
