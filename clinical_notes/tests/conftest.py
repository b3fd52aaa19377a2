"""Fixtures of the clinical-notes tests: clinicians, a supervisor, a superuser, a patient."""

import datetime as dt

import pytest

from clinical_notes.tests.factories import make_clinician
from conftest import make_staff
from patients import domain as patients_domain
from patients import repository as patients_repository


@pytest.fixture
def author(db):
    """The clinician who writes the notes under test."""
    return make_clinician("drpatel")


@pytest.fixture
def other_clinician(db):
    """A clinician who did not write the notes under test."""
    return make_clinician("msmith")


@pytest.fixture
def supervisor(db):
    """A supervising clinician, who may co-sign."""
    return make_clinician("drlee", supervisor=True)


@pytest.fixture
def superuser(db):
    """The practice administrator: a superuser, but not the author of anything."""
    return make_staff("boss", superuser=True)


@pytest.fixture
def patient(author):
    """A registered patient."""
    return patients_repository.DjangoPatientRepository(actor=author).add(
        patients_domain.Patient(
            legal_first_name="Robin",
            legal_last_name="Okafor",
            date_of_birth=dt.date(1990, 5, 17),
        )
    )
