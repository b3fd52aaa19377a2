"""Round trip: export a patient as FHIR, import the Bundle into an empty database, export again."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings

from conftest import make_staff
from fhir import export
from medications import models as medications_models
from patients import models as patients_models
from patients import repository as patients_repository

pytestmark = pytest.mark.django_db

KINDS = ("Patient", "Condition", "AllergyIntolerance", "MedicationRequest")
# What is not clinical content: identity and audit metadata. The MRN is the new record's; an order
# imported from another record has no NovaMind prescriber, and is a reported record: its
# recorded_from (the source, and who prescribed it there) is written as `reportedReference`.
NOT_CONTENT = {"id", "meta", "identifier", "requester", "reportedReference"}


def clinical_content(bundle: dict) -> dict[str, list[str]]:
    """Return the resources of the imported kinds, without identifiers, with references by content."""
    by_url = {entry["fullUrl"]: entry["resource"] for entry in bundle["entry"]}

    def strip(value):
        if isinstance(value, dict):
            if set(value) == {"reference"} and value["reference"] in by_url:
                target = by_url[value["reference"]]
                # A reference names what it points to by type and content, not by its id.
                return {"reference": target["resourceType"], "to": strip_top(target, refs=False)}
            return {key: strip(item) for key, item in value.items() if key not in NOT_CONTENT}
        if isinstance(value, list):
            return [strip(item) for item in value]
        return value

    def strip_top(resource, *, refs=True):
        kept = {key: item for key, item in resource.items() if key not in NOT_CONTENT}
        if not refs:
            kept = {key: item for key, item in kept.items() if key not in ("subject", "patient", "priorPrescription")}
            return json.dumps({key: strip(item) for key, item in kept.items()}, sort_keys=True)
        return json.dumps(strip(kept), sort_keys=True)

    found: dict[str, list[str]] = {kind: [] for kind in KINDS}
    for resource in by_url.values():
        if resource["resourceType"] in KINDS:
            found[resource["resourceType"]].append(strip_top(resource))
    return {kind: sorted(items) for kind, items in found.items()}


def reported(bundle: dict) -> list[str]:
    """Return the sources of the Bundle's orders recorded from elsewhere (`reportedReference`)."""
    return [
        entry["resource"]["reportedReference"]["display"]
        for entry in bundle["entry"]
        if "reportedReference" in entry["resource"]
    ]


def test_export_import_into_an_empty_database_and_export_again_keeps_the_clinical_content(request, tmp_path):
    importer = make_staff("fhirimporter", superuser=True)
    # The chart (a patient with every kind of record) is built and exported in a savepoint that is
    # then rolled back: the import runs against a database without that patient.
    savepoint = transaction.savepoint()
    chart, operator = request.getfixturevalue("chart"), request.getfixturevalue("operator")
    first = export.patient_bundle(patient=chart.patient, actor=operator)
    transaction.savepoint_rollback(savepoint)
    assert not patients_models.Patient.objects.exists()

    path = tmp_path / "record.json"
    path.write_text(json.dumps(first), encoding="utf-8")
    out = io.StringIO()
    # The receiving database is another clinic's, with its own MRN system: the exporting clinic's
    # MRN is a foreign identifier there, so the patient is registered (an MRN of the receiving
    # clinic's own system that it does not know is refused instead).
    with override_settings(NOVAMIND_FHIR_IDENTIFIER_SYSTEM="https://second-clinic.example/fhir/mrn"):
        call_command("import_fhir_bundle", str(path), "--actor", "fhirimporter", stdout=out)
        assert "1 new patient(s)" in out.getvalue() and "0 refused" in out.getvalue()
        row = patients_models.Patient.objects.get()
        second = export.patient_bundle(
            patient=patients_repository.DjangoPatientRepository(actor=importer).get_by_id(row.pk), actor=importer
        )
    before, after = clinical_content(first), clinical_content(second)
    assert {kind: len(items) for kind, items in before.items()} == {
        "Patient": 1,
        "Condition": 2,
        "AllergyIntolerance": 2,
        "MedicationRequest": 3,
    }
    for kind in KINDS:
        assert after[kind] == before[kind], kind

    # Prescribed here the first time; recorded from the first Bundle the second time, and said so.
    assert reported(first) == []
    assert len(reported(second)) == 3
    assert all(source.startswith("FHIR MedicationRequest/") for source in reported(second))
    # The revision chain survived: the revised order names the one it replaced.
    orders = list(medications_models.MedicationOrder.objects.all())
    assert sum(1 for order in orders if order.replaces_id) == 1
