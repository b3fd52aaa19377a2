"""Encryption at rest: ciphertext in every table, strict keys, no query on ciphertext."""

import datetime as dt

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection

from novamind import audit, checks, encryption
from novamind.models import AnonymousWriteError, EncryptionCanary, UnauditedWriteError
from patients import domain, models, repository

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient(staff):
    return repository.DjangoPatientRepository(actor=staff).add(
        domain.Patient(
            legal_first_name="Imogen",
            legal_last_name="Quarrel",
            date_of_birth=dt.date(1971, 3, 9),
            phone="617-555-0177",
            email="imogen@example.com",
        )
    )


def raw_values(table, column, where="1=1", params=()):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE {where}", params)
        return [row[0] for row in cursor.fetchall()]


def test_live_and_history_rows_hold_fernet_tokens_not_the_values(patient):
    for table in ("patients_patient", "patients_historicalpatient"):
        (last_name,) = raw_values(table, "legal_last_name")
        assert last_name.startswith("gAAAAA") and "Quarrel" not in last_name
        (birth,) = raw_values(table, "date_of_birth")
        assert "1971" not in birth
        assert encryption.decrypt(birth) == "1971-03-09"


def test_a_wrong_key_raises_instead_of_showing_ciphertext_and_corrupts_nothing(patient, staff):
    before = raw_values("patients_patient", "legal_last_name")
    with encryption.keys([Fernet.generate_key().decode()]):
        with pytest.raises(encryption.DecryptionError):
            models.Patient.objects.get(pk=patient.id)
        with pytest.raises(encryption.DecryptionError):
            repository.DjangoPatientRepository(actor=staff).get_by_id(patient.id)
    assert raw_values("patients_patient", "legal_last_name") == before
    assert models.Patient.objects.get(pk=patient.id).legal_last_name == "Quarrel"


def test_a_wrong_key_fails_the_start_up_check(patient):
    assert checks.check_encryption_canary() == []
    with encryption.keys([Fernet.generate_key().decode()]):
        errors = checks.check_encryption_canary()
        assert [error.id for error in errors] == ["novamind.E010"]
        with pytest.raises(SystemCheckError, match="cannot decrypt"):
            call_command("check")


def test_a_wrong_key_answers_503_in_the_admin_not_a_crash(patient, staff_client):
    with encryption.keys([Fernet.generate_key().decode()]):
        response = staff_client.get(f"/admin/patients/patient/{patient.id}/change/")
    assert response.status_code == 503
    assert b"encryption key" in response.content


def test_after_a_key_is_prepended_old_data_still_decrypts_and_new_data_uses_the_new_key(patient, staff):
    new_key = Fernet.generate_key().decode()
    with encryption.keys([new_key, *settings.FIELD_ENCRYPTION_KEY]):
        assert checks.check_encryption_canary() == []
        row = models.Patient.objects.get(pk=patient.id)
        row.pronouns = "she/her"
        audit.audited_save(row, actor=staff)
        (token,) = raw_values("patients_patient", "pronouns")
    assert Fernet(new_key.encode()).decrypt(token.encode()) == b"she/her"


def test_a_fernet_token_typed_as_data_is_kept_as_text_not_decrypted(staff):
    token = encryption.encrypt("smuggled")
    row = models.Patient(legal_first_name=token, legal_last_name="X", date_of_birth=dt.date(1990, 1, 1))
    row.full_clean(exclude=["legal_first_name"])
    assert row.legal_first_name == token


@pytest.mark.parametrize(
    "query",
    [
        lambda: models.Patient.objects.filter(legal_last_name="Quarrel"),
        lambda: models.Patient.objects.filter(email__icontains="example"),
        lambda: models.Patient.objects.exclude(date_of_birth__year=1971),
        lambda: models.Patient.history.filter(legal_last_name="Quarrel"),
        lambda: models.Patient.objects.order_by("-legal_last_name"),
    ],
)
def test_filtering_or_ordering_on_an_encrypted_field_raises(patient, query):
    with pytest.raises(encryption.EncryptedFieldQueryError):
        list(query())


def test_null_checks_on_encrypted_fields_are_allowed(patient):
    assert models.Patient.objects.filter(legal_last_name__isnull=False).count() == 1


def test_writes_without_a_named_active_user_are_refused(patient, staff):
    from django.contrib.auth.models import AnonymousUser

    row = models.Patient.objects.get(pk=patient.id)
    with pytest.raises(AnonymousWriteError):
        row.save()
    with pytest.raises(AnonymousWriteError):
        audit.audited_save(row, actor=AnonymousUser())
    staff.is_active = False
    with pytest.raises(AnonymousWriteError):
        audit.audited_save(row, actor=staff)
    with pytest.raises(AnonymousWriteError):
        repository.DjangoPatientRepository(actor=None)
    assert models.Patient.history.count() == 1


def test_queryset_update_is_refused_because_it_records_no_history(patient):
    with pytest.raises(UnauditedWriteError):
        models.Patient.objects.filter(pk=patient.id).update(status="inactive")
    assert models.Patient.objects.get(pk=patient.id).status == "active"


def test_a_change_reason_is_not_carried_over_to_the_next_save(patient, staff):
    row = models.Patient.objects.get(pk=patient.id)
    audit.audited_save(row, actor=staff, reason="Corrected spelling")
    audit.audited_save(row, actor=staff)
    reasons = list(row.history.values_list("history_change_reason", flat=True))
    assert reasons == [None, "Corrected spelling", "Registered"]


def test_the_canary_is_created_by_migrate_and_decrypts():
    (canary,) = EncryptionCanary.objects.all()
    assert canary.value == EncryptionCanary.PLAINTEXT


ADD_FORM = {
    "legal_first_name": "Robin",
    "legal_last_name": "Okafor",
    "date_of_birth": "1990-05-17",
    "sex_assigned_at_birth": "female",
    "phone": "(617) 555-0142",
    "address_country": "US",
    "version": "1",
}


def test_a_wrong_key_saves_nothing_from_the_add_form_and_the_right_key_still_lists_patients(patient, staff_client):
    tables = ("patients_patient", "patients_historicalpatient", "novamind_accesslogentry")
    before = {table: raw_values(table, "COUNT(*)") for table in tables}
    with encryption.keys([Fernet.generate_key().decode()]):
        response = staff_client.post("/admin/patients/patient/add/", ADD_FORM)
    assert response.status_code == 503
    assert b"nothing was saved" in response.content.lower()
    assert {table: raw_values(table, "COUNT(*)") for table in tables} == before
    listing = staff_client.get("/admin/patients/patient/")
    assert listing.status_code == 200
    assert listing.context["cl"].result_count == 1


def test_the_right_key_adds_a_patient_from_the_same_form(staff_client):
    response = staff_client.post("/admin/patients/patient/add/", ADD_FORM)
    assert response.status_code == 302
    assert models.Patient.objects.get().legal_last_name == "Okafor"


def test_a_wrong_key_is_refused_on_the_service_path_too_and_nothing_is_written(patient, staff):
    from patients import services

    before = raw_values("patients_historicalpatient", "COUNT(*)")
    with encryption.keys([Fernet.generate_key().decode()]):
        with pytest.raises(encryption.WrongKeyError, match="Nothing was saved"):
            services.patient_register(
                patient=domain.Patient(legal_first_name="A", legal_last_name="B", date_of_birth=dt.date(1990, 1, 1)),
                actor=staff,
            )
    assert raw_values("patients_historicalpatient", "COUNT(*)") == before
    assert models.Patient.objects.count() == 1


def test_a_database_without_a_canary_yet_may_be_written_under_any_key(staff):
    # As during the first migrate, before post_migrate stores the canary.
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM novamind_encryptioncanary")
    with encryption.keys([Fernet.generate_key().decode()]):
        repository.DjangoPatientRepository(actor=staff).add(
            domain.Patient(legal_first_name="A", legal_last_name="B", date_of_birth=dt.date(1990, 1, 1))
        )
    assert models.Patient.history.count() == 1
