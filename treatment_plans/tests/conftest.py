"""Fixtures of the treatment-plan tests: clinicians in their roles, a patient in their care, a colleague outside it."""

import datetime as dt

import pytest

from conftest import assign_care
from novamind import roles
from novamind.tests.integration.role_users import member, superuser
from patients import domain as patients_domain
from patients import repository as patients_repository


@pytest.fixture
def root(db):
    """A superuser: registers patients and puts clinicians on care teams, as the front desk would."""
    return superuser()


@pytest.fixture
def clinician(root):
    """A clinician (the Clinician role, a staff profile that says clinician) on the patient's care team."""
    return member("drpatel", roles.CLINICIAN, profile={"is_clinician": True, "credentials": "PhD"})


@pytest.fixture
def colleague(root):
    """Another clinician of the clinic, not on the patient's care team."""
    return member("msmith", roles.CLINICIAN, profile={"is_clinician": True, "credentials": "LCSW"})


@pytest.fixture
def patient(root, clinician):
    """A registered patient in `clinician`'s care."""
    patient = patients_repository.DjangoPatientRepository(actor=root).add(
        patients_domain.Patient(legal_first_name="Robin", legal_last_name="Okafor", date_of_birth=dt.date(1990, 5, 17))
    )
    assign_care(patient, clinician, by=root)
    return patient
