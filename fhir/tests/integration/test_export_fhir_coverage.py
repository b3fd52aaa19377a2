"""Every column the record export shows is in the FHIR Bundle, or listed in `fhir.coverage.NOT_IN_FHIR`.

The record export's own test holds every column of the record to `clinic.record_export.COVERAGE`.
These hold the FHIR copy to `fhir.coverage`: each column the JSON copy shows is either found, with
the chart's own value, at the FHIR element `IN_FHIR` names, or left out for a reason that README.md
lists word for word. A new column fails here until someone decides which.
"""

import base64
import datetime as dt
import io
import json
import re
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.utils import timezone

from assessments import instruments
from clinic import record_export
from clinic.tests.integration.test_export_patient_record import with_plans
from fhir import coverage, export, mapping, validation
from medications import domain as medications_domain
from medications import services as medications_services
from medications.tests.builders import an_order
from treatment_plans import domain as plans_domain
from treatment_plans import services as plans_services

LABELS = sorted(record_export.COVERAGE)


# --- The tables agree with the record export and the models ----------------------------------------


def test_the_fhir_tables_name_only_tables_of_the_record():
    assert set(coverage.IN_FHIR) | set(coverage.NOT_IN_FHIR) <= set(record_export.COVERAGE)


@pytest.mark.parametrize("label", LABELS)
def test_every_column_the_record_shows_is_in_fhir_or_left_out_for_a_stated_reason(label):
    record = record_export.COVERAGE[label]
    columns = {field.name for field in apps.get_model(label)._meta.concrete_fields}
    shown = set(record.exported)
    in_fhir, left_out = set(coverage.IN_FHIR.get(label, {})), set(coverage.NOT_IN_FHIR.get(label, {}))
    # A new column of the model is undecided here as well as in the record export's own table.
    assert columns - shown - set(record.withheld) == set(), f"{label}: add the new column to record_export.COVERAGE"
    assert in_fhir & left_out == set(), f"{label}: both in FHIR and left out"
    assert shown - in_fhir - left_out == set(), (
        f"{label}: say where the FHIR copy writes these columns (fhir.coverage.IN_FHIR) "
        "or why it leaves them out (fhir.coverage.NOT_IN_FHIR)"
    )
    # The FHIR copy writes the record export's record: nothing the JSON copy leaves out.
    assert (in_fhir | left_out) - shown == set(), f"{label}: fhir.coverage names columns the JSON copy does not show"
    assert all(reason.strip() for reason in coverage.NOT_IN_FHIR.get(label, {}).values())
    assert all(element.path.split(".")[0][:1].isupper() for element in coverage.IN_FHIR.get(label, {}).values())


# --- Every column IN_FHIR names is in the Bundle, with the chart's value -------------------------------


@pytest.fixture
def full_chart(chart, operator):
    """The record export's chart, with what it leaves empty: an order recorded elsewhere, a plan discontinued."""
    medications_services.order_record_outside(
        order=an_order(
            patient_id=chart.patient.id,
            prescriber=None,
            drug_name="bupropion",
            strength="150 mg",
            rxnorm_code="993541",
            start_date=timezone.localdate() - dt.timedelta(days=400),
            end_date=timezone.localdate() - dt.timedelta(days=200),
            status=medications_domain.OrderStatus.COMPLETED,
            recorded_from="Recorded-from-MARKER: FHIR MedicationRequest/abc at Elm Clinic",
        ),
        actor=chart.clinician,
    )
    plans_services.plan_discontinue(
        plan_id=chart.current_plan.id,
        reason=plans_domain.DiscontinueReason.TREATMENT_COMPLETED,
        note="Plan-stop-MARKER: goals met",
        actor=with_plans(chart.clinician),
    )
    return chart


@pytest.fixture
def copies(full_chart, operator):
    """The chart's record as the JSON copy and as the FHIR Bundle."""
    out = io.StringIO()
    record_export.export(patient=full_chart.patient, actor=operator, format="json", out=out)
    return json.loads(out.getvalue()), export.patient_bundle(patient=full_chart.patient, actor=operator)


def _url(kind, value):
    return f"urn:uuid:{uuid.uuid5(export.NAMESPACE, f'{kind}/{value}')}"


def _reference(kind):
    return lambda value, row: _url(kind, value)


def _number(value, row):
    number = Decimal(value)
    return int(number) if number == number.to_integral_value() else float(number)


def _frequency(value, row):
    frequency = row["frequency"]
    kind = medications_domain.FrequencyKind(frequency["kind"])
    return medications_domain.Frequency(
        kind=kind,
        interval=frequency["interval"],
        as_needed=frequency["as_needed"],
        indication=frequency["indication"],
    ).describe()


def _answers(value, row):
    return [answer["question"] for answer in value] + [answer["answer"] for answer in value if answer["answer"]]


# How a value of the JSON copy reads in FHIR, where it is not the same words (value, its JSON row).
# An `id` is the resource's own id (see `_expected`); every other column reads as in the JSON copy.
IN_FHIR_AS = {
    ("patients.Patient", "sex_assigned_at_birth"): lambda value, row: mapping.SEX_AT_BIRTH[value][1],
    ("patients.Patient", "status"): lambda value, row: value == "active",
    ("diagnoses.Diagnosis", "status"): lambda value, row: mapping.CONDITION_STATUS[value][0],
    ("appointments.Appointment", "kind"): lambda value, row: f"appointment-kind/{value}",
    ("appointments.Appointment", "status"): lambda value, row: mapping.APPOINTMENT_STATUS[value],
    ("appointments.Appointment", "modality"): lambda value, row: mapping.ENCOUNTER_CLASS[value][0],
    ("clinical_notes.ClinicalNote", "kind"): lambda value, row: mapping.NOTE_TYPE[value][0],
    ("clinical_notes.ClinicalNote", "format"): lambda value, row: f"({value})",
    ("clinical_notes.ClinicalNote", "status"): lambda value, row: {"signed": "final"}[value],
    ("clinical_notes.AddressedDiagnosis", "diagnosis"): _reference("Condition"),
    ("medications.MedicationOrder", "dose_form"): lambda value, row: medications_domain.DoseForm(value).label,
    ("medications.MedicationOrder", "dose_amount"): _number,
    ("medications.MedicationOrder", "dose_unit"): lambda value, row: medications_domain.DoseUnit(value).label,
    ("medications.MedicationOrder", "route"): lambda value, row: medications_domain.Route(value).label,
    ("medications.MedicationOrder", "frequency_kind"): _frequency,
    ("medications.MedicationOrder", "frequency_interval"): _frequency,
    ("medications.MedicationOrder", "as_needed"): lambda value, row: row["frequency"]["indication"] or True,
    ("medications.MedicationOrder", "quantity"): _number,
    ("medications.MedicationOrder", "status"): lambda value, row: mapping.MEDICATION_STATUS[value],
    ("medications.MedicationOrder", "discontinue_reason"): lambda value, row: f"discontinue-reason/{value}",
    ("medications.MedicationOrder", "replaces"): _reference("MedicationRequest"),
    ("medications.Allergy", "severity"): lambda value, row: mapping.ALLERGY_SEVERITY[value][0],
    ("medications.Allergy", "status"): lambda value, row: next(code for code in mapping.ALLERGY_STATUS[value] if code),
    ("treatment_plans.TreatmentPlan", "status"): lambda value, row: mapping.PLAN_DISCONTINUED_STATUS.get(
        row["discontinue_reason"], mapping.CAREPLAN_STATUS[value]
    ),
    ("treatment_plans.TreatmentPlan", "version_number"): lambda value, row: f"version {value}",
    ("treatment_plans.TreatmentPlan", "replaces"): _reference("CarePlan"),
    ("treatment_plans.PlanDiagnosis", "diagnosis"): _reference("Condition"),
    ("treatment_plans.Goal", "number"): lambda value, row: f"{value}.{row['objectives'][0]['number']} ",
    ("treatment_plans.Objective", "number"): lambda value, row: f".{value} {row['text']}",
    ("assessments.Response", "instrument"): lambda value, row: (
        f"http://loinc.org/q/{instruments.get(value).panel_loinc}"
    ),
    ("assessments.Response", "answers"): _answers,
    ("assessments.Response", "status"): lambda value, row: mapping.RESPONSE_STATUS[value],
}


def _rows(document, section):
    """Return the JSON objects that hold the rows of `section` ("clinical_notes.addenda")."""
    rows = [document]
    for part in section.split("."):
        rows = [item for row in rows for item in (row[part] if isinstance(row[part], list) else [row[part]])]
    return rows


def _at(row, path):
    """Return the value at `path` ("address.line1") of a JSON row; None where the row has none (a note's sections)."""
    for part in path.split("."):
        row = row.get(part)
        if row is None:
            return None
    return row


def _leaves(value):
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


def _values_at(bundle, path):
    """Return every value at or under `path` ("Patient.name.given") in the Bundle; attachments decoded."""
    kind, *parts = path.split(".")
    nodes = [entry["resource"] for entry in bundle["entry"] if entry["resource"]["resourceType"] == kind]
    for part in parts:
        found = [node[part] for node in nodes if isinstance(node, dict) and part in node]
        nodes = [item for value in found for item in (value if isinstance(value, list) else [value])]
    leaves = _leaves(nodes)
    if parts[-1:] == ["data"]:
        leaves = [base64.b64decode(leaf).decode("utf-8") for leaf in leaves]
    return leaves


def _expected(label, column, element, value, row):
    """Return what FHIR must hold of `value` (a list: every item of it)."""
    if element.path.endswith(".id"):
        return [_url(element.path.split(".")[0], value).rsplit(":", 1)[1]]
    expected = IN_FHIR_AS.get((label, column), lambda value, row: value)(value, row)
    return expected if isinstance(expected, list) else [expected]


def _found(expected, values):
    if isinstance(expected, str):
        return any(isinstance(value, str) and expected in value for value in values)
    return any(type(value) is type(expected) and value == expected for value in values)


def _empty(value):
    return value in (None, "", [], {}) or value is False


@pytest.mark.django_db
def test_every_column_in_fhir_is_found_with_the_charts_value_at_its_element(copies):
    document, bundle = copies
    assert validation.bundle_problems(bundle) == []  # the full chart's Bundle is valid R4 too
    problems, unproven = [], []
    for label, columns in sorted(coverage.IN_FHIR.items()):
        record = record_export.COVERAGE[label]
        rows = _rows(document, record.section)
        for column, element in sorted(columns.items()):
            values = _values_at(bundle, element.path)
            filled = [(row, _at(row, record.exported[column])) for row in rows]
            filled = [(row, value) for row, value in filled if not _empty(value)]
            if not filled:
                unproven.append(f"{label}.{column}")
                continue
            found = [
                (value, all(_found(item, values) for item in _expected(label, column, element, value, row)))
                for row, value in filled
            ]
            if not (any(ok for _, ok in found) if element.only else all(ok for _, ok in found)):
                missing = [value for value, ok in found if not ok]
                problems.append(f"{label}.{column}: {missing!r} not at {element.path}")
    assert unproven == [], "the chart has no value to look for: populate these columns in full_chart"
    assert problems == []


# --- README.md lists what FHIR leaves out: this table, word for word ------------------------------------


README = Path(settings.BASE_DIR) / "README.md"


def _readme_left_out():
    """Return {(label, column): reason} from README.md's table of what the FHIR copy leaves out."""
    text = README.read_text(encoding="utf-8")
    start = text.index("Not in the FHIR copy")
    listed = {}
    for line in text[start : text.index("\n#", start)].splitlines()[1:]:
        if not line.startswith("|"):
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) != 3 or set(cells[0]) <= {"-"} or cells[0] == "Table":
            continue
        label = cells[0].strip("`")
        for column in re.findall(r"`([a-z0-9_]+)`", cells[1]):
            listed[label, column] = cells[2]
    return listed


def test_the_readme_lists_exactly_what_the_fhir_copy_leaves_out_and_why():
    table = {
        (label, column): reason for label, columns in coverage.NOT_IN_FHIR.items() for column, reason in columns.items()
    }
    listed = _readme_left_out()
    assert set(table) - set(listed) == set(), "README.md does not list these as left out of the FHIR copy"
    assert set(listed) - set(table) == set(), "README.md lists these, fhir.coverage.NOT_IN_FHIR does not"
    assert {key: listed[key] for key in table} == table
