"""Fixtures of the assessment tests: a patient, the care team, the front desk, a clinician outside the team."""

import datetime as dt
import types

import pytest

from conftest import assign_care
from novamind import roles
from novamind.tests.integration.role_users import member, superuser
from patients import domain as patients_domain
from patients import repository as patients_repository

CLINICIAN_PROFILE = {"credentials": "PhD", "is_clinician": True}


@pytest.fixture
def clinic(db):
    """A patient treated by drpatel; frontdesk; drlee, a clinician not on this patient's team; a superuser."""
    root = superuser()
    patient = patients_repository.DjangoPatientRepository(actor=root).add(
        patients_domain.Patient(legal_first_name="Robin", legal_last_name="Okafor", date_of_birth=dt.date(1990, 5, 17))
    )
    drpatel = member("drpatel", roles.CLINICIAN, profile=CLINICIAN_PROFILE)
    drlee = member("drlee", roles.CLINICIAN, profile=CLINICIAN_PROFILE)
    assign_care(patient, drpatel, by=root)
    return types.SimpleNamespace(
        root=root,
        patient=patient,
        drpatel=drpatel,
        drlee=drlee,
        desk=member("frontdesk", roles.FRONT_DESK),
        auditor=member("auditor", roles.AUDITOR),
    )
