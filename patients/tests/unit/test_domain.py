"""Patient rules, on plain objects: no database."""

import dataclasses
import datetime as dt

import pytest

from novamind.domain import RuleViolation
from patients import domain

TODAY = dt.date(2026, 11, 28)


def patient(**changes):
    base = domain.Patient(legal_first_name="Robin", legal_last_name="Okafor", date_of_birth=dt.date(1990, 5, 17))
    return dataclasses.replace(base, **changes)


def errors_of(candidate):
    with pytest.raises(RuleViolation) as caught:
        candidate.validated(today=TODAY, phone_region="US")
    return caught.value.errors


def test_a_minimal_patient_is_valid_and_names_are_tidied():
    clean = patient(legal_first_name="  Robin  ", legal_last_name="Okafor  Smith").validated(
        today=TODAY, phone_region="US"
    )
    assert (clean.legal_first_name, clean.legal_last_name) == ("Robin", "Okafor Smith")


def test_required_names_and_date_of_birth():
    assert set(errors_of(patient(legal_first_name=" ", legal_last_name="", date_of_birth=None))) == {
        "legal_first_name",
        "legal_last_name",
        "date_of_birth",
    }


def test_date_of_birth_lies_between_1900_and_today_inclusive():
    patient(date_of_birth=TODAY).validated(today=TODAY, phone_region="US")
    patient(date_of_birth=dt.date(1900, 1, 1)).validated(today=TODAY, phone_region="US")
    assert errors_of(patient(date_of_birth=TODAY + dt.timedelta(days=1)))["date_of_birth"] == [
        "Enter a date no later than 28 November 2026."
    ]
    assert errors_of(patient(date_of_birth=dt.date(1899, 12, 31)))["date_of_birth"] == [
        "Enter a date no earlier than 1 January 1900."
    ]
    assert "date_of_birth" in errors_of(patient(date_of_birth=dt.date(1, 1, 1)))
    assert "date_of_birth" in errors_of(patient(date_of_birth=dt.date(9999, 12, 31)))


def test_over_long_names_are_refused_with_the_limit():
    message = errors_of(patient(legal_last_name="x" * 101))["legal_last_name"][0]
    assert "100" in message and "101" in message


@pytest.mark.parametrize(
    "typed, e164",
    [
        ("(617) 555-0134", "+16175550134"),
        ("617.555.0134", "+16175550134"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_phones_are_stored_in_e164(typed, e164):
    assert patient(phone=typed).validated(today=TODAY, phone_region="US").phone == e164


@pytest.mark.parametrize("bad", ["12", "call me", "+1 617 555 01345678"])
def test_impossible_phones_are_refused(bad):
    assert "phone" in errors_of(patient(phone=bad))


@pytest.mark.parametrize("bad", ["robin", "robin@", "@example.com", "robin@exa mple.com", "rö@example.com"])
def test_malformed_emails_are_refused(bad):
    assert "email" in errors_of(patient(email=bad))


def test_an_emergency_contact_needs_both_a_name_and_a_phone():
    no_phone = errors_of(patient(emergency_contact=domain.EmergencyContact(name="Sam", relation="sibling")))
    assert "emergency_contact_phone" in no_phone
    no_name = errors_of(patient(emergency_contact=domain.EmergencyContact(phone="6175550199")))
    assert "emergency_contact_name" in no_name


def test_every_violation_is_reported_at_once():
    errors = errors_of(patient(legal_first_name="", email="x", phone="1", date_of_birth=TODAY + dt.timedelta(days=9)))
    assert set(errors) == {"legal_first_name", "email", "phone", "date_of_birth"}


def test_generated_mrns_are_well_formed_and_a_typo_breaks_the_check_digit():
    mrn = domain.generate_mrn()
    assert domain.is_valid_mrn(mrn)
    digits = mrn[2:]
    typo = "NM" + digits[:3] + str((int(digits[3]) + 1) % 10) + digits[4:]
    assert not domain.is_valid_mrn(typo)
    assert domain.generate_mrn(lambda n: 1234567) == "NM12345674"


def test_display_name_shows_a_preferred_name_only_when_it_differs():
    assert patient().display_name == "Okafor, Robin"
    assert patient(preferred_name="Rob").display_name == "Okafor, Robin (Rob)"


def test_a_validated_patient_is_not_checked_twice_but_a_changed_copy_is():
    clean = patient(phone="(617) 555-0142").validated(today=TODAY, phone_region="US")
    assert clean.validated(today=TODAY, phone_region="US") is clean
    assert "email" in errors_of(dataclasses.replace(clean, email="nope"))
    assert clean.validated(today=TODAY + dt.timedelta(days=1), phone_region="US") is not clean


def test_a_validated_copy_changed_in_place_is_validated_again():
    clean = patient(emergency_contact=domain.EmergencyContact()).validated(today=TODAY, phone_region="US")
    assert clean.validated(today=TODAY, phone_region="US") is clean  # unchanged: not checked twice
    clean.legal_first_name = ""
    with pytest.raises(RuleViolation) as refused:
        clean.validated(today=TODAY, phone_region="US")
    assert "legal_first_name" in refused.value.errors
    other = patient(emergency_contact=domain.EmergencyContact()).validated(today=TODAY, phone_region="US")
    other.emergency_contact.name = "Sam Okafor"
    with pytest.raises(RuleViolation) as refused:
        other.validated(today=TODAY, phone_region="US")
    assert "emergency_contact_phone" in refused.value.errors


def test_an_mrn_with_other_digits_is_not_well_formed():
    assert not domain.is_valid_mrn("NM123456³7")  # "³".isdigit(), and int("³") raises
