"""No plaintext PHI: which questionnaire, the answers, the score, the risk answer and what was done are stored
only as ciphertext, in the live tables, their history, the admin log, the access log and (on PostgreSQL) a pg_dump."""

import datetime as dt

import pytest
from django.db import connection
from django.urls import reverse

from assessments import domain, models, services
from assessments.tests import builders
from conftest import assign_care
from novamind import roles
from novamind.tests.integration.role_users import member, superuser
from novamind.tests.phi_scan import assert_no_plaintext
from patients import domain as patients_domain
from patients import repository as patients_repository


def marker(name):
    return f"zqx-{name}-marker"


# What a response says without any free text: which questionnaire, the bands, the risk item's words.
INSTRUMENT_WORDS = ["phq9", "PHQ-9", "gad7", "GAD-7", "pcl5", "PCL-5", "auditc", "AUDIT-C"]
SCORE_WORDS = ["moderately_severe", "Moderately severe", "none_minimal", "above_cut_point", "positive screen"]
RISK_WORDS = ["better off dead", "self-harm", "Nearly every day", "Several days"]
ENCRYPTED = {
    models.Response: ("instrument", "answers", "total", "band", "scoring_basis", "void_reason", "correction_reason"),
    models.SafetyAlert: ("reason", "action_taken", "clear_reason"),
}


@pytest.mark.django_db(transaction=True)
def test_no_questionnaire_answer_score_or_risk_is_stored_in_plaintext_anywhere(client):
    root = superuser()
    patient = patients_repository.DjangoPatientRepository(actor=root).add(
        patients_domain.Patient(legal_first_name="Robin", legal_last_name="Okafor", date_of_birth=dt.date(1990, 5, 17))
    )
    clinician = member("drpatel", roles.CLINICIAN, profile={"is_clinician": True, "credentials": "PhD"})
    assign_care(patient, clinician, by=root)
    markers = []

    # Through the services: every instrument; a risk answer reviewed; another corrected away; a void.
    for instrument, total in (("gad7", 16), ("pcl5", 45), ("auditc", 7)):
        builders.record(clinician, patient.id, instrument=instrument, total=total)
    reviewed = builders.record(clinician, patient.id, total=17, item9=3)
    services.alert_review(
        alert_id=models.SafetyAlert.objects.get(response_id=reviewed.id).pk,
        action_taken=marker("service-action"),
        actor=clinician,
    )
    mistaken = builders.record(clinician, patient.id, total=12, item9=1)
    services.response_correct(
        response_id=mistaken.id,
        answers=builders.phq9_answers(total=11, item9=0),
        administered_on=mistaken.administered_on,
        reason=marker("service-correction"),
        actor=clinician,
    )
    services.response_void(response_id=mistaken.id, reason=marker("service-void"), actor=clinician)
    markers += [marker("service-action"), marker("service-correction"), marker("service-void")]

    # Through the admin: enter, correct, void, review.
    client.force_login(clinician)
    add = reverse("admin:assessments_response_add")
    saved = client.post(add, builders.form_data(patient.id, builders.phq9_answers(total=22, item9=2)))
    assert saved.status_code == 302
    row = models.Response.objects.order_by("-created_at").first()
    change = reverse("admin:assessments_response_change", args=[row.pk])
    form = {**builders.form_data(patient.id, builders.phq9_answers(total=21, item9=2)), "version": "1"}
    corrected = client.post(change, {**form, "reason_for_correction": marker("admin-correction")})
    assert corrected.status_code == 302, corrected.context["adminform"].form.errors
    alert = models.SafetyAlert.objects.get(response_id=row.pk)
    review = reverse("admin:assessments_safetyalert_review", args=[alert.pk])
    assert (
        client.post(review, {"action_taken": marker("admin-action"), "version": str(alert.version)}).status_code == 302
    )
    void = reverse("admin:assessments_response_void", args=[row.pk])
    assert client.post(void, {"void_reason": marker("admin-void"), "version": "2"}).status_code == 302
    client.get(reverse("admin:assessments_response_changelist"))
    client.get(reverse("admin:assessments_response_history", args=[row.pk]))
    client.get(reverse("admin:patients_patient_change", args=[patient.id]))
    markers += [marker("admin-correction"), marker("admin-action"), marker("admin-void")]

    assert models.Response.objects.count() == 6 and models.Response.history.count() >= 10
    assert {a.status for a in models.SafetyAlert.objects.all()} == {
        domain.AlertStatus.REVIEWED.value,
        domain.AlertStatus.CLEARED.value,
    }
    assert_no_plaintext(markers + INSTRUMENT_WORDS + SCORE_WORDS + RISK_WORDS)


@pytest.mark.django_db
def test_every_encrypted_column_of_the_live_and_history_tables_holds_fernet_tokens(clinic):
    builders.record(clinic.drpatel, clinic.patient.id, total=14, item9=2)
    services.alert_review(
        alert_id=models.SafetyAlert.objects.get().pk, action_taken="Called: safe, plan agreed.", actor=clinic.drpatel
    )
    for model, columns in ENCRYPTED.items():
        for table in (model._meta.db_table, model.history.model._meta.db_table):
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT {', '.join(columns)} FROM {table}")  # noqa: S608 - names from the models
                rows = cursor.fetchall()
            assert rows, table
            for row in rows:
                for column, value in zip(columns, row, strict=True):
                    assert value is None or str(value).startswith("gAAAAA"), f"{table}.{column} holds plaintext"
