"""The CSV side of import_patients, on plain values: no database."""

import dataclasses
import datetime as dt
import io

import pytest

from novamind.domain import RuleViolation
from patients import domain, importer, models

TODAY = dt.date(2026, 11, 28)


def patient_of(**values):
    return importer.to_patient(values, today=TODAY, phone_region="US")


def errors_of(**values):
    with pytest.raises(RuleViolation) as caught:
        patient_of(**values)
    return caught.value.errors


def lines_of(data: bytes):
    return importer._Lines(io.BytesIO(data), len(data))


def records_of(data: bytes):
    return list(importer.read_records(lines_of(data)))


def test_the_columns_are_the_domain_patients_fields_so_a_new_field_cannot_be_forgotten():
    flattened = []
    for field in dataclasses.fields(domain.Patient):
        if field.name in ("id", "mrn", "audit"):
            continue  # NovaMind's own identity and audit data never come from a file
        if field.name in ("address", "emergency_contact"):
            part_type = {"address": domain.Address, "emergency_contact": domain.EmergencyContact}[field.name]
            flattened += [f"{field.name}_{part.name}" for part in dataclasses.fields(part_type)]
        else:
            flattened.append(field.name)
    assert sorted(importer.COLUMNS) == sorted(flattened)
    assert len(set(importer.COLUMNS)) == len(importer.COLUMNS)
    assert set(importer.REQUIRED_COLUMNS) <= set(importer.COLUMNS)
    model_fields = {field.name for field in models.Patient._meta.concrete_fields}
    assert set(importer.COLUMNS) <= model_fields  # and each is named as the model and the domain errors name it


def test_the_command_publishes_its_header():
    from patients.management.commands import import_patients

    assert import_patients.COLUMNS == importer.COLUMNS


def test_a_full_row_becomes_a_normalised_domain_patient():
    clean = patient_of(
        legal_first_name=" Zoë ",
        legal_last_name="O'Brien",
        date_of_birth="1984-02-29",
        preferred_name="Zo",
        pronouns="she/her",
        sex_assigned_at_birth="Female",
        gender_identity="woman",
        phone="(617) 555-0134",
        email="Zoe.OBrien@Example.COM",
        address_line1="1 Main St",
        address_city="Boston",
        address_country="US",
        emergency_contact_name="Ana O'Brien",
        emergency_contact_relation="mother",
        emergency_contact_phone="617 555 0199",
        status="INACTIVE",
    )
    assert (clean.legal_first_name, clean.date_of_birth) == ("Zoë", dt.date(1984, 2, 29))
    assert clean.phone == "+16175550134" and clean.emergency_contact.phone == "+16175550199"
    assert clean.email == "Zoe.OBrien@example.com"
    assert clean.sex_assigned_at_birth is domain.SexAssignedAtBirth.FEMALE
    assert clean.status is domain.PatientStatus.INACTIVE
    assert clean.address == domain.Address(line1="1 Main St", city="Boston", country="US")


def test_left_out_columns_and_empty_cells_take_the_defaults():
    clean = patient_of(
        legal_first_name="Robin",
        legal_last_name="Okafor",
        date_of_birth="1990-05-17",
        sex_assigned_at_birth="",
        status=" ",
    )
    assert clean.sex_assigned_at_birth is domain.SexAssignedAtBirth.UNKNOWN
    assert clean.status is domain.PatientStatus.ACTIVE
    assert clean.phone == "" and clean.email == "" and clean.mrn == ""


@pytest.mark.parametrize(
    "written, message",
    [
        ("03/27/1984", "Write the date as YYYY-MM-DD (year, month, day)."),
        ("1984-3-27", "Write the date as YYYY-MM-DD (year, month, day)."),
        ("19840327", "Write the date as YYYY-MM-DD (year, month, day)."),
        ("1984-02-30", "This is not a date in the calendar (check the month and the day)."),
    ],
)
def test_an_unreadable_date_is_reported_as_unreadable_not_as_missing(written, message):
    errors = errors_of(legal_first_name="Robin", legal_last_name="Okafor", date_of_birth=written)
    assert errors == {"date_of_birth": [message]}


def test_the_domain_rules_decide_and_every_field_at_fault_is_named():
    errors = errors_of(
        legal_first_name="",
        legal_last_name="Okafor",
        date_of_birth="2030-01-01",
        phone="12",
        email="not-an-address",
        emergency_contact_name="Ana",
    )
    assert set(errors) == {"legal_first_name", "date_of_birth", "phone", "email", "emergency_contact_phone"}
    assert errors["date_of_birth"] == ["Enter a date no later than 28 November 2026."]
    assert errors["legal_first_name"] == ["This field is required."]


def test_a_date_of_birth_before_1900_is_a_line_error_on_its_field():
    errors = errors_of(legal_first_name="Robin", legal_last_name="Okafor", date_of_birth="1899-12-31")
    assert errors == {"date_of_birth": ["Enter a date no earlier than 1 January 1900."]}


def test_an_unknown_choice_lists_the_allowed_values_and_parse_and_rule_errors_come_together():
    errors = errors_of(
        legal_first_name="Robin",
        legal_last_name="",
        date_of_birth="1990-05-17",
        sex_assigned_at_birth="f",
        status="gone",
    )
    assert errors["sex_assigned_at_birth"] == [
        "Use one of female, male, intersex, unknown, declined (or leave it empty for unknown)."
    ]
    assert errors["status"] == ["Use one of active, inactive, deceased (or leave it empty for active)."]
    assert errors["legal_last_name"] == ["This field is required."]


def test_scrub_blanks_every_part_of_the_value_at_fault_and_keeps_the_rule():
    message = "Enter a valid e-mail address (Codepoint U+002A at position 1 of 'qx*mark' not allowed)."
    assert importer.scrub(message, "robin@qx*mark.example") == (
        "Enter a valid e-mail address (Codepoint U+002A at position 1 of '…' not allowed)."
    )
    assert importer.scrub("Use at most 100 characters (this has 101).", "Qxname " * 17) == (
        "Use at most 100 characters (this has 101)."
    )
    assert importer.scrub("It was Qxsecret and QXSECRET.", "qxsecret") == "It was … and ….", "case-insensitively"


def test_a_row_error_names_the_line_and_the_field():
    assert str(importer.RowError(9999, "date_of_birth", "Write the date as YYYY-MM-DD (year, month, day).")) == (
        "line 9999, date_of_birth: Write the date as YYYY-MM-DD (year, month, day)."
    )


def test_errors_are_counted_all_but_only_the_first_ones_are_kept():
    outcome = importer.Outcome(dry_run=True, skip_invalid=False)
    for line in range(importer.ERRORS_KEPT + 5):
        outcome.add_errors(line, {"phone": ["bad"], "__all__": ["worse"]}, {})
    assert outcome.invalid == importer.ERRORS_KEPT + 5 and outcome.error_count == 2 * (importer.ERRORS_KEPT + 5)
    assert len(outcome.errors) == importer.ERRORS_KEPT
    assert outcome.errors[1] == importer.RowError(0, importer.ROW, "worse")


def test_the_header_may_be_in_any_order_and_case_with_optional_columns_left_out():
    assert importer.read_header([" Date_Of_Birth", "LEGAL_LAST_NAME ", "legal_first_name", "email"]) == [
        "date_of_birth",
        "legal_last_name",
        "legal_first_name",
        "email",
    ]


def test_a_wrong_header_says_which_columns_are_missing_unknown_or_repeated():
    with pytest.raises(importer.ImportFileError) as caught:
        importer.read_header(["legal_first_name", "emial", "email", "email", ""])
    message = str(caught.value)
    assert "missing required columns legal_last_name, date_of_birth" in message
    assert "unknown columns 'emial' (column 2), an unnamed column (column 5)" in message
    assert "repeated column email" in message


def test_a_file_without_a_header_is_refused_without_quoting_its_first_line():
    with pytest.raises(importer.ImportFileError) as caught:
        importer.read_header(["Qxfirst", "Qxlast", "1980-01-01"])
    assert "Line 1 is not the header" in str(caught.value)
    assert "Qx" not in str(caught.value) and "1980" not in str(caught.value)
    with pytest.raises(importer.ImportFileError, match="The file is empty"):
        importer.read_header(None)


def test_records_carry_the_line_they_start_on_across_quoted_line_breaks_and_blank_lines():
    data = (
        b"legal_first_name,legal_last_name,date_of_birth,address_line1\r\n"
        b'A,B,1990-01-01,"1 Main St\r\nFlat 2"\r\n'
        b"\r\n"
        b",,,\r\n"
        b"C,D,1990-01-02,\r\n"
    )
    assert records_of(data) == [
        (1, ["legal_first_name", "legal_last_name", "date_of_birth", "address_line1"]),
        (2, ["A", "B", "1990-01-01", "1 Main St\r\nFlat 2"]),
        (6, ["C", "D", "1990-01-02", ""]),
    ]


def test_a_utf8_byte_order_mark_is_accepted():
    assert records_of("\ufeffdate_of_birth\nÉ\n".encode("utf-8"))[0] == (1, ["date_of_birth"])


def test_a_byte_that_is_not_utf8_is_reported_with_its_line():
    data = "legal_first_name\nRobin\nJos\u00e9\n".encode("latin-1")
    with pytest.raises(importer.ImportFileError) as caught:
        records_of(data)
    assert str(caught.value).startswith("Line 3 is not valid UTF-8 (byte 0xe9 at byte 4 of the line)")
    assert "Jos" not in str(caught.value)


def test_a_utf16_file_is_named_as_such():
    with pytest.raises(importer.ImportFileError, match="The file is UTF-16"):
        records_of("legal_first_name\nRobin\n".encode("utf-16"))


def test_broken_quoting_is_reported_with_its_line():
    with pytest.raises(importer.ImportFileError, match=r"^Line 3 is not valid CSV"):
        records_of(b'legal_first_name\nA\n"B"x\n')


def test_the_file_is_read_a_line_at_a_time():
    data = b"legal_first_name\n" + b"Robin\n" * 1000
    lines = lines_of(data)
    records = importer.read_records(lines)
    next(records), next(records)
    assert lines.number == 2 and lines.bytes_read == len(b"legal_first_name\nRobin\n")
