"""Reading a FHIR file for import, and the mappings that need no database."""

import json

import pytest

from fhir import importer
from medications import domain as medications_domain


def test_a_bundle_of_any_type_yields_its_entries_resources_with_their_full_urls():
    document = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Patient", "id": "a"}}],
    }
    (entry,) = importer.read(json.dumps(document).encode())
    assert (entry.where, entry.full_url, entry.label) == ("entry 1", "urn:uuid:1", "entry 1 (Patient/a)")


def test_ndjson_yields_one_resource_a_line_and_skips_blank_lines():
    text = '{"resourceType": "Patient", "id": "a"}\n\n{"resourceType": "Condition", "id": "b"}\n'
    assert [entry.label for entry in importer.read(text.encode())] == ["line 1 (Patient/a)", "line 3 (Condition/b)"]


def test_a_single_resource_is_read_as_it_is():
    assert [e.kind for e in importer.read(b'\xef\xbb\xbf{"resourceType": "Patient"}')] == ["Patient"]


@pytest.mark.parametrize(
    "content, message",
    [
        (b"{", "not JSON"),
        (b'{"resourceType": "Patient"}\n{broken', "Line 2 is not JSON"),
        (b'{"resourceType": "Patient"}\n[1]', "Line 2 is not a FHIR resource"),
        (b"   ", "empty"),
        (b'"text"', "not a FHIR resource"),
        (b'{"resourceType": 5}', "no resourceType"),
        (b'{"resourceType": "Bundle", "entry": {}}', "Bundle.entry is not a list"),
        (b'{"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "ProcedureRequest"}}]}', "STU3"),
        (b'{"resourceType": "Bundle", "meta": {"fhirVersion": "3.0.2"}}', "FHIR version 3.0.2"),
    ],
)
def test_what_is_not_fhir_r4_is_refused_as_a_file_with_the_reason(content, message):
    with pytest.raises(importer.ImportFileError, match=message):
        importer.read(content)


@pytest.mark.parametrize(
    "value, day",
    [
        ("2015-01-15", "2015-01-15"),
        ("2015-01-15T10:00:00+01:00", "2015-01-15"),
        ("2015-01", None),
        ("2015", None),
        (None, None),
        (20150115, None),
        ("2015-02-30", None),
    ],
)
def test_only_a_full_date_is_a_date(value, day):
    result = importer._date(value)
    assert (result.isoformat() if result else None) == day


@pytest.mark.parametrize(
    "timing, expected",
    [
        ({"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}}, ("once_daily", None)),
        ({"repeat": {"frequency": 3, "period": 1, "periodUnit": "d"}}, ("three_times_daily", None)),
        ({"repeat": {"frequency": 1, "period": 4, "periodUnit": "h"}}, ("every_n_hours", 4)),
        ({"repeat": {"frequency": 1, "period": 2, "periodUnit": "wk"}}, ("every_n_weeks", 2)),
        (
            {
                "code": {
                    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation", "code": "BID"}]
                }
            },
            ("twice_daily", None),
        ),
        ({"repeat": {"frequency": 5, "period": 1, "periodUnit": "d"}}, (None, None)),
        ({"repeat": {"period": 1, "periodUnit": "mo"}}, (None, None)),
    ],
)
def test_a_timing_becomes_a_frequency_novamind_holds_or_none(timing, expected):
    kind, interval = importer._frequency(timing)
    assert ((kind.value if kind else None), interval) == expected


def test_a_stopped_order_needs_the_date_it_stopped():
    with pytest.raises(importer.Refused, match="no full date it stopped"):
        importer._order_status({"status": "stopped"})
    status, stop = importer._order_status(
        {"status": "stopped", "dispenseRequest": {"validityPeriod": {"end": "2020-02-01"}}}
    )
    assert status is medications_domain.OrderStatus.DISCONTINUED
    assert stop["discontinue_reason"] is medications_domain.DiscontinueReason.OTHER


@pytest.mark.parametrize("status", ["cancelled", "draft", "unknown"])
def test_an_order_that_was_never_taken_is_refused_with_why(status):
    with pytest.raises(importer.Refused, match=f"Its status is {status}"):
        importer._order_status({"status": status})


def test_an_order_entered_in_error_is_kept_retired_from_a_known_date_or_refused():
    with pytest.raises(importer.Refused, match="entered in error"):
        importer._order_status({"status": "entered-in-error"})
    status, stop = importer._order_status(
        {"status": "entered-in-error", "dispenseRequest": {"validityPeriod": {"end": "2020-02-01"}}}
    )
    assert status is medications_domain.OrderStatus.DISCONTINUED
    assert stop["discontinue_reason"] is medications_domain.DiscontinueReason.ENTERED_IN_ERROR


def test_novamind_s_own_words_for_a_frequency_are_read_back():
    timing = {"code": {"text": "every 8 hours as needed for panic"}}
    kind, interval = importer._frequency(timing, "panic")
    assert (kind.value, interval) == ("every_n_hours", 8)
    assert importer._frequency({"code": {"text": "at bedtime"}})[0].value == "at_bedtime"


def test_the_shipped_official_examples_are_the_files_their_readme_names():
    import hashlib
    import pathlib
    import re

    folder = pathlib.Path(importer.__file__).resolve().parent / "tests" / "data" / "hl7-r4-examples"
    listed = dict(re.findall(r"^\| `([^`]+\.json)` \| `([0-9a-f]{64})` \|", (folder / "README.md").read_text(), re.M))
    shipped = {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in folder.glob("*.json")}
    assert listed == shipped and len(shipped) == 8
