"""Fixtures of the diagnosis tests: a patient, a clinician in their care, one who is not, the repository."""

import datetime as dt

import pytest

from conftest import assign_care
from diagnoses import repository
from novamind import roles
from novamind.tests.integration.role_users import member
from patients import domain as patients_domain
from patients import repository as patients_repository

CLINICIAN_PROFILE = {"credentials": "LCSW", "is_clinician": True}


def make_patient(actor, last_name="Okafor", **fields):
    """Return a registered patient (a domain Patient)."""
    return patients_repository.DjangoPatientRepository(actor=actor).add(
        patients_domain.Patient(
            legal_first_name=fields.pop("first_name", "Robin"),
            legal_last_name=last_name,
            date_of_birth=fields.pop("date_of_birth", dt.date(1990, 5, 17)),
            **fields,
        )
    )


@pytest.fixture
def patient(staff):
    return make_patient(staff)


@pytest.fixture
def clinician(patient):
    """A clinician (role and profile) on the care team of `patient`."""
    user = member("drcare", roles.CLINICIAN, profile=CLINICIAN_PROFILE)
    assign_care(patient, user)
    return user


@pytest.fixture
def outsider(db):
    """A clinician (role and profile) who treats nobody."""
    return member("drout", roles.CLINICIAN, profile=CLINICIAN_PROFILE)


@pytest.fixture
def diagnoses(staff):
    """The repository, as a staff member who sees every patient."""
    return repository.DjangoDiagnosisRepository(actor=staff)
