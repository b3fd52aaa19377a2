"""Patient services: the one write door of patients' rows, for the admin, the importer and commands."""

import dataclasses
import datetime as dt
import io
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from conftest import assign_care
from novamind import roles
from novamind.domain import AccessDenied, RuleViolation
from novamind.tests.integration.role_users import member
from patients import domain, importer, models, services
from patients.tests.integration.test_admin import VALID

pytestmark = pytest.mark.django_db

CLINICIAN_PROFILE = {"credentials": "PhD", "is_clinician": True}


def new_patient(**changes):
    base = domain.Patient(legal_first_name="Robin", legal_last_name="Okafor", date_of_birth=dt.date(1990, 5, 17))
    return dataclasses.replace(base, **changes)


@pytest.fixture
def desk(db):
    return member("desk", roles.FRONT_DESK)


@pytest.fixture
def registered(desk):
    return services.patient_register(patient=new_patient(), actor=desk)


def test_the_front_desk_registers_a_patient_attributed_with_a_history_row(desk, registered):
    row = models.Patient.objects.get(pk=registered.id)
    assert domain.is_valid_mrn(registered.mrn) and row.created_by == desk
    assert row.history.get().history_user == desk


def test_a_role_without_patients_add_patient_cannot_register(db):
    office = member("office", roles.PRACTICE_ADMIN)
    with pytest.raises(AccessDenied):
        services.patient_register(patient=new_patient(), actor=office)
    assert not models.Patient.objects.exists()


def test_registering_validates_through_the_domain(desk):
    with pytest.raises(RuleViolation) as caught:
        services.patient_register(patient=new_patient(date_of_birth=dt.date(1899, 12, 31)), actor=desk)
    assert list(caught.value.errors) == ["date_of_birth"]
    assert not models.Patient.objects.exists()


def test_a_clinician_updates_only_a_patient_in_their_care(registered):
    clinician = member("drcare", roles.CLINICIAN, profile=CLINICIAN_PROFILE)
    with pytest.raises(AccessDenied):
        services.patient_update(patient=dataclasses.replace(registered, pronouns="she/her"), actor=clinician)
    assert models.Patient.objects.get(pk=registered.id).pronouns == ""
    assign_care(registered, clinician)
    updated = services.patient_update(patient=dataclasses.replace(registered, pronouns="she/her"), actor=clinician)
    assert updated.pronouns == "she/her" and updated.audit.version == 2


def test_status_changes_need_the_change_permission(registered):
    auditor = member("audit", roles.AUDITOR)
    with pytest.raises(AccessDenied):
        services.patient_status_set(patient_id=registered.id, status=domain.PatientStatus.INACTIVE, actor=auditor)
    assert models.Patient.objects.get(pk=registered.id).status == "active"


def test_a_legal_hold_needs_the_change_permission(registered):
    auditor = member("audit", roles.AUDITOR)
    with pytest.raises(AccessDenied):
        services.patient_legal_hold_place(patient_id=registered.id, reason="Litigation, matter 14", actor=auditor)
    assert not models.Patient.objects.get(pk=registered.id).legal_hold


def test_a_batch_is_validated_and_written_whole_or_not_at_all(desk):
    with pytest.raises(RuleViolation):
        services.patient_register_batch(
            patients=[new_patient(), new_patient(email="not-an-address")],
            actor=desk,
            now=timezone.now(),
            reason="Imported from CSV",
        )
    assert not models.Patient.objects.exists()
    count = services.patient_register_batch(
        patients=[new_patient(), new_patient(legal_first_name="Sam")], actor=desk, now=timezone.now(), reason="x"
    )
    assert count == 2 and models.Patient.history.filter(history_type="+", history_user=desk).count() == 2


def test_the_admin_registers_and_updates_through_the_services(client, desk):
    client.force_login(desk)
    with mock.patch.object(services, "patient_register", wraps=services.patient_register) as register:
        assert client.post(reverse("admin:patients_patient_add"), VALID).status_code == 302
    register.assert_called_once()
    patient = models.Patient.objects.get()
    url = reverse("admin:patients_patient_change", args=[patient.pk])
    with mock.patch.object(services, "patient_update", wraps=services.patient_update) as update:
        assert client.post(url, {**VALID, "email": "new@example.com", "version": "1"}).status_code == 302
    update.assert_called_once()
    patient.refresh_from_db()
    assert patient.email == "new@example.com" and patient.version == 2 and patient.updated_by == desk


def test_the_admins_status_actions_go_through_the_service(client, desk, registered):
    client.force_login(desk)
    with mock.patch.object(services, "patient_status_set", wraps=services.patient_status_set) as status_set:
        client.post(
            reverse("admin:patients_patient_changelist"),
            {"action": "deactivate", "_selected_action": [str(registered.id)]},
        )
    status_set.assert_called_once()
    assert models.Patient.objects.get(pk=registered.id).status == "inactive"


def test_the_importer_writes_through_the_batch_service_and_needs_the_permission(db, desk):
    data = b"legal_first_name,legal_last_name,date_of_birth\nRobin,Okafor,1990-05-17\n"
    office = member("office", roles.PRACTICE_ADMIN)
    with pytest.raises(AccessDenied):
        importer.import_patients(io.BytesIO(data), actor=office)
    with mock.patch.object(services, "patient_register_batch", wraps=services.patient_register_batch) as batch:
        outcome = importer.import_patients(io.BytesIO(data), actor=desk)
    batch.assert_called_once()
    assert outcome.imported == 1 and models.Patient.objects.get().created_by == desk
