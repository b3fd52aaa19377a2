"""Fixtures for the appointment tests that use the database: clinicians, patients and rooms."""

import datetime as dt
import itertools

import pytest
from django.utils import timezone

from appointments import domain, models, repository
from conftest import make_staff
from novamind import audit
from novamind.models import StaffProfile
from patients import domain as patient_domain
from patients import repository as patient_repository

_names = itertools.count(1)


def make_clinician(username, *, actor, credentials="PhD"):
    """Return a staff user with a clinician profile."""
    user = make_staff(username)
    user.last_name = username.capitalize()
    user.save()
    audit.audited_save(StaffProfile(user=user, credentials=credentials, is_clinician=True), actor=actor)
    return user


def make_patient(actor, **changes):
    """Return a stored domain Patient with made-up details."""
    number = next(_names)
    details = dict(
        legal_first_name=f"Testfirst{number}",
        legal_last_name=f"Testlast{number}",
        date_of_birth=dt.date(1980, 1, 1) + dt.timedelta(days=number),
    )
    details.update(changes)
    return patient_repository.DjangoPatientRepository(actor=actor).add(patient_domain.Patient(**details))


def make_room(actor, name):
    """Return a saved room."""
    return audit.audited_save(models.Room(name=name), actor=actor)


def local(day_offset=1, hour=10, minute=0):
    """Return an aware local datetime `day_offset` days from today at hour:minute."""
    day = timezone.localdate() + dt.timedelta(days=day_offset)
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


@pytest.fixture
def clinician(staff):
    return make_clinician("drwho", actor=staff)


@pytest.fixture
def other_clinician(staff):
    return make_clinician("drno", actor=staff, credentials="LCSW")


@pytest.fixture
def patient(staff):
    return make_patient(staff)


@pytest.fixture
def other_patient(staff):
    return make_patient(staff)


@pytest.fixture
def room(staff):
    return make_room(staff, "Room 1")


@pytest.fixture
def other_room(staff):
    return make_room(staff, "Room 2")


@pytest.fixture
def repo(staff):
    return repository.DjangoAppointmentRepository(actor=staff)


@pytest.fixture
def visit(patient, clinician, room):
    """Return a function building a 50-minute in-person visit tomorrow at 10:00 (by default)."""

    def build(**changes):
        start = changes.pop("start", local())
        values = dict(
            patient_id=patient.id,
            clinician_id=clinician.pk,
            start=start,
            end=start + dt.timedelta(minutes=50),
            room_id=room.pk,
        )
        values.update(changes)
        return domain.Appointment(**values)

    return build
