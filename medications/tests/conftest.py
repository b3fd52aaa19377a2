"""Fixtures of the medication tests: prescribers, a patient and the repositories."""

import datetime as dt

import pytest

from conftest import make_staff
from medications import repository
from novamind import audit
from novamind.models import StaffProfile
from patients import domain as patients_domain
from patients import repository as patients_repository


def make_prescriber(username, *, dea_number="BL1234563", credentials="MD"):
    """Return a staff user whose profile says clinician and prescriber (with a DEA number unless "")."""
    user = make_staff(username)
    user.first_name, user.last_name = username.capitalize(), "Prescriber"
    user.save()
    audit.audited_save(
        StaffProfile(
            user=user,
            credentials=credentials,
            is_clinician=True,
            is_prescriber=True,
            dea_number=dea_number,
        ),
        actor=user,
    )
    return user


@pytest.fixture
def drlee(db):
    """A psychiatrist: prescriber with a valid DEA number."""
    return make_prescriber("drlee")


@pytest.fixture
def drnodea(db):
    """A prescriber without a DEA registration (no controlled substances)."""
    return make_prescriber("drnodea", dea_number="", credentials="NP")


@pytest.fixture
def patient(staff):
    """A registered patient (a domain Patient)."""
    return patients_repository.DjangoPatientRepository(actor=staff).add(
        patients_domain.Patient(
            legal_first_name="Robin",
            legal_last_name="Okafor",
            date_of_birth=dt.date(1990, 5, 17),
        )
    )


@pytest.fixture
def orders(drlee):
    """The order repository, as drlee."""
    return repository.DjangoMedicationOrderRepository(actor=drlee)


@pytest.fixture
def allergies(staff):
    """The allergy repository, as a non-prescribing staff member (anyone records allergies)."""
    return repository.DjangoAllergyRepository(actor=staff)
