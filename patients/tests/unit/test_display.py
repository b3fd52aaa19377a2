"""The patient label (patients.display): how staff see a patient named, with no database."""

import datetime as dt

import pytest

from patients import display, domain

BORN = dt.date(1990, 3, 14)


@pytest.mark.parametrize(
    ("first", "last", "preferred", "shown"),
    [
        ("Samantha", "Rivera", "Sam", "Sam (Samantha) Rivera"),
        ("Samantha", "Rivera", "", "Samantha Rivera"),
        ("Samantha", "Rivera", "samantha", "Samantha Rivera"),  # the same name, said twice, is said once
        ("Robin", "O'Brien-Okafor", "Bo", "Bo (Robin) O'Brien-Okafor"),
    ],
)
def test_the_preferred_name_comes_first_and_the_legal_first_name_follows_it(first, last, preferred, shown):
    assert display.full_name(first=first, last=last, preferred=preferred) == shown


def test_age_counts_whole_years_turning_on_the_birthday():
    assert display.age(BORN, dt.date(2025, 3, 13)) == 34
    assert display.age(BORN, dt.date(2025, 3, 14)) == 35
    assert display.age(dt.date(2000, 2, 29), dt.date(2025, 2, 28)) == 24


def test_a_label_reads_name_birth_date_age_and_mrn():
    patient = domain.Patient(
        legal_first_name="Samantha",
        legal_last_name="Rivera",
        preferred_name="Sam",
        pronouns="she/her",
        date_of_birth=BORN,
        mrn="NM12345678",
    )
    label = display.PatientLabel.of(patient)

    assert label.text(today=dt.date(2025, 6, 1)) == "Sam (Samantha) Rivera, 1990-03-14 (35 y), NM12345678"
    assert label.pronouns == "she/her" and label.age(dt.date(2025, 6, 1)) == 35


def test_a_label_without_the_right_to_the_name_is_the_mrn_alone():
    label = display.PatientLabel(id=1, mrn="NM12345678")

    assert not label.named and label.text() == "NM12345678" and label.born() == ""
    assert "NM12345678" in label.html() and "patient-name" not in label.html()


def test_a_label_discloses_nothing_in_its_repr():
    label = display.PatientLabel(id=1, mrn="NM00000001", name="Sam Rivera", date_of_birth=BORN, pronouns="she/her")

    assert "Sam" not in repr(label) and "1990" not in repr(label) and "she" not in repr(label)
