"""The services on the real database: recording, correcting and voiding responses; risk answers never missed."""

import dataclasses
import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from assessments import domain, models, selectors, services
from assessments.tests import builders
from conftest import assign_care
from novamind import encryption
from novamind.domain import AccessDenied, ConcurrencyError, RuleViolation
from patients import domain as patients_domain
from patients import repository as patients_repository

pytestmark = pytest.mark.django_db

ACTION = "Called the patient the same day: no plan or intent, safety plan reviewed, seen tomorrow."


def test_a_response_is_scored_stored_encrypted_and_attributed(clinic):
    stored = builders.record(clinic.drpatel, clinic.patient.id, total=14)

    assert (stored.total, stored.band, stored.administered_by) == (14, "moderate", "drpatel")
    row = models.Response.objects.get(pk=stored.id)
    assert row.created_by == clinic.drpatel and row.history.get().history_user == clinic.drpatel
    assert row.instrument_key == models.instrument_key(clinic.patient.id, "phq9")
    assert not models.SafetyAlert.objects.exists()


def test_a_positive_item_9_raises_exactly_one_alert(clinic):
    stored = builders.record(clinic.drpatel, clinic.patient.id, total=12, item9=2)

    alerts = list(models.SafetyAlert.objects.all())
    assert len(alerts) == 1
    alert = alerts[0].to_domain()
    assert (alert.response_id, alert.patient_id, alert.status) == (
        stored.id,
        clinic.patient.id,
        domain.AlertStatus.OPEN,
    )
    assert "item 9" in alert.reason and "More than half the days" in alert.reason
    assert alerts[0].created_by == clinic.drpatel


def test_the_alert_is_visible_to_the_care_team_and_not_to_others(clinic):
    builders.record(clinic.drpatel, clinic.patient.id, item9=1)

    assert selectors.open_alert_count(clinic.drpatel, clinic.patient.id) == 1
    assert selectors.open_alerts(clinic.drpatel, treated_only=True).count() == 1
    assert selectors.open_alerts(clinic.drlee).count() == 0  # not on the care team
    assert selectors.open_alert_count(clinic.desk, clinic.patient.id) is None  # the front desk sees no alert
    assert selectors.open_alert_count(clinic.auditor, clinic.patient.id) is None


def test_the_front_desk_records_a_paper_form_and_does_nothing_else_with_it(clinic):
    stored = builders.record(clinic.desk, clinic.patient.id, total=5)
    assert stored.administered_by == "frontdesk"

    with pytest.raises(AccessDenied):
        services.response_correct(
            response_id=stored.id,
            answers=builders.phq9_answers(total=6),
            administered_on=stored.administered_on,
            reason="Misread.",
            actor=clinic.desk,
        )
    with pytest.raises(AccessDenied):
        services.response_void(response_id=stored.id, reason="Wrong form.", actor=clinic.desk)
    assert selectors.series_for_patient(clinic.desk, clinic.patient.id) is None


@pytest.mark.parametrize("who", ["drlee", "auditor"])
def test_a_response_for_a_patient_outside_care_or_by_a_role_without_it_is_refused(clinic, who):
    with pytest.raises(AccessDenied):
        builders.record(getattr(clinic, who), clinic.patient.id)
    assert not models.Response.objects.exists()


def test_review_closes_the_alert_with_an_attributed_record(clinic):
    builders.record(clinic.drpatel, clinic.patient.id, item9=1)
    alert = models.SafetyAlert.objects.get()

    reviewed = services.alert_review(
        alert_id=alert.pk, action_taken=ACTION, version=alert.version, actor=clinic.drpatel
    )

    assert (reviewed.status, reviewed.reviewed_by, reviewed.action_taken) == (
        domain.AlertStatus.REVIEWED,
        "drpatel",
        ACTION,
    )
    row = models.SafetyAlert.objects.get()
    assert row.reviewed_at is not None and row.updated_by == clinic.drpatel
    latest = row.history.order_by("-history_id").first()
    assert (latest.history_user, latest.history_change_reason) == (clinic.drpatel, "Reviewed")
    assert selectors.open_alert_count(clinic.drpatel, clinic.patient.id) == 0


@pytest.mark.parametrize("who", ["drlee", "root", "desk"])
def test_only_a_clinician_of_the_care_team_reviews(clinic, who):
    builders.record(clinic.drpatel, clinic.patient.id, item9=1)
    alert = models.SafetyAlert.objects.get()

    with pytest.raises(AccessDenied):
        services.alert_review(alert_id=alert.pk, action_taken=ACTION, actor=getattr(clinic, who))
    assert models.SafetyAlert.objects.get().status == domain.AlertStatus.OPEN.value


def test_a_review_without_what_was_done_is_refused_and_a_second_review_too(clinic):
    builders.record(clinic.drpatel, clinic.patient.id, item9=1)
    alert = models.SafetyAlert.objects.get()
    with pytest.raises(RuleViolation):
        services.alert_review(alert_id=alert.pk, action_taken="ok", actor=clinic.drpatel)
    services.alert_review(alert_id=alert.pk, action_taken=ACTION, actor=clinic.drpatel)
    with pytest.raises(RuleViolation, match="reviewed once"):
        services.alert_review(alert_id=alert.pk, action_taken=ACTION, actor=clinic.drpatel)


def test_a_stale_review_is_refused(clinic):
    builders.record(clinic.drpatel, clinic.patient.id, item9=1)
    alert = models.SafetyAlert.objects.get()
    with pytest.raises(ConcurrencyError):
        services.alert_review(alert_id=alert.pk, action_taken=ACTION, version=alert.version + 1, actor=clinic.drpatel)


# --- corrections ----------------------------------------------------------------------------------


def correct(clinic, stored, *, item9, total=9, reason="The form was misread."):
    return services.response_correct(
        response_id=stored.id,
        answers=builders.phq9_answers(total=total, item9=item9),
        administered_on=stored.administered_on,
        reason=reason,
        version=stored.audit.version,
        actor=clinic.drpatel,
    )


def test_a_corrected_item_9_of_0_clears_the_unreviewed_alert_and_keeps_why(clinic):
    stored = builders.record(clinic.drpatel, clinic.patient.id, item9=1)

    corrected = correct(clinic, stored, item9=0, reason="Item 9 was ticked for item 8 by mistake.")

    assert corrected.correction_reason == "Item 9 was ticked for item 8 by mistake."
    alert = models.SafetyAlert.objects.get().to_domain()
    assert alert.status is domain.AlertStatus.CLEARED and alert.cleared_by == "drpatel"
    assert "Item 9 was ticked for item 8 by mistake." in alert.clear_reason
    history = models.SafetyAlert.history.order_by("history_id")
    assert [row.status for row in history] == ["open", "cleared"]
    assert history.last().history_change_reason == "Cleared: the risk answer was corrected"


def test_a_reviewed_alert_is_kept_when_item_9_is_corrected_to_0(clinic):
    stored = builders.record(clinic.drpatel, clinic.patient.id, item9=1)
    services.alert_review(alert_id=models.SafetyAlert.objects.get().pk, action_taken=ACTION, actor=clinic.drpatel)

    correct(clinic, stored, item9=0)

    alert = models.SafetyAlert.objects.get().to_domain()
    assert (alert.status, alert.action_taken) == (domain.AlertStatus.REVIEWED, ACTION)


def test_a_cleared_alert_opens_again_when_the_risk_answer_comes_back_and_stays_one(clinic):
    stored = builders.record(clinic.drpatel, clinic.patient.id, item9=1)
    cleared = correct(clinic, stored, item9=0)

    correct(clinic, cleared, item9=3, total=12, reason="The patient confirmed the first answer.")

    assert models.SafetyAlert.objects.count() == 1
    alert = models.SafetyAlert.objects.get().to_domain()
    assert alert.status is domain.AlertStatus.OPEN and alert.clear_reason == ""
    assert [row.status for row in models.SafetyAlert.history.order_by("history_id")] == ["open", "cleared", "open"]


def test_a_corrected_answer_that_turns_risky_raises_the_alert(clinic):
    stored = builders.record(clinic.drpatel, clinic.patient.id, item9=0)
    correct(clinic, stored, item9=1)
    assert models.SafetyAlert.objects.get().status == domain.AlertStatus.OPEN.value


def test_an_alert_survives_other_corrections_of_the_response(clinic):
    stored = builders.record(clinic.drpatel, clinic.patient.id, item9=1, total=10)
    corrected = correct(clinic, stored, item9=1, total=15)
    assert (corrected.total, corrected.band) == (15, "moderately_severe")
    alert = models.SafetyAlert.objects.get()
    assert (alert.status, alert.version) == (domain.AlertStatus.OPEN.value, 1)


def test_a_correction_needs_a_reason_and_a_fresh_version(clinic):
    stored = builders.record(clinic.drpatel, clinic.patient.id, item9=0)
    with pytest.raises(RuleViolation) as refused:
        correct(clinic, stored, item9=0, total=10, reason="")
    assert set(refused.value.errors) == {"correction_reason"}
    correct(clinic, stored, item9=0, total=10)
    with pytest.raises(ConcurrencyError):
        correct(clinic, stored, item9=0, total=11)  # read at version 1, now at 2
    assert models.Response.objects.get().total == "10"


def test_voiding_keeps_the_response_and_its_open_alert(clinic):
    stored = builders.record(clinic.drpatel, clinic.patient.id, item9=2)

    voided = services.response_void(
        response_id=stored.id, reason="Entered for the wrong patient.", actor=clinic.drpatel
    )

    assert voided.status is domain.ResponseStatus.VOIDED and voided.void_reason == "Entered for the wrong patient."
    assert models.Response.objects.get().voided_at is not None
    assert models.SafetyAlert.objects.get().status == domain.AlertStatus.OPEN.value
    assert selectors.series_for_patient(clinic.drpatel, clinic.patient.id) == []  # a voided score is not charted


def test_an_appointment_of_another_patient_is_refused_next_to_the_field(clinic):
    from appointments import domain as appointments_domain
    from appointments import services as appointments_services

    other = patients_repository.DjangoPatientRepository(actor=clinic.root).add(
        patients_domain.Patient(legal_first_name="Sam", legal_last_name="Other", date_of_birth=dt.date(1985, 1, 2))
    )
    assign_care(other, clinic.drpatel, by=clinic.root)
    start = timezone.now() + dt.timedelta(days=2)
    visit = appointments_services.appointment_book(
        appointment=appointments_domain.Appointment(
            patient_id=other.id,
            clinician_id=clinic.drpatel.pk,
            start=start,
            end=start + dt.timedelta(minutes=50),
            modality=appointments_domain.Modality.TELEHEALTH,
        ),
        actor=clinic.root,
    )

    with pytest.raises(RuleViolation) as refused:
        builders.record(clinic.drpatel, clinic.patient.id, appointment_id=visit.id)
    assert set(refused.value.errors) == {"appointment"}
    assert builders.record(clinic.drpatel, other.id, appointment_id=visit.id).appointment_id == visit.id


def test_an_audit_c_is_scored_on_the_patients_sex_assigned_at_birth(clinic):
    man = patients_repository.DjangoPatientRepository(actor=clinic.root).add(
        patients_domain.Patient(
            legal_first_name="Sam",
            legal_last_name="Okafor",
            date_of_birth=dt.date(1985, 1, 2),
            sex_assigned_at_birth=patients_domain.SexAssignedAtBirth.MALE,
        )
    )
    assign_care(man, clinic.drpatel, by=clinic.root)
    three = domain.Answers(items={1: 2, 2: 1, 3: 0})

    his = builders.record(clinic.drpatel, man.id, instrument="auditc", answers=three)
    theirs = builders.record(
        clinic.drpatel, clinic.patient.id, instrument="auditc", answers=three
    )  # unknown: lower cut-point

    assert (his.total, his.band, his.answers.basis) == (3, "negative", "men")
    assert (theirs.total, theirs.band, theirs.answers.basis) == (3, "positive", "women")


def test_verify_finds_a_total_changed_behind_the_application(clinic):
    stored = builders.record(clinic.drpatel, clinic.patient.id, total=14)
    assert services.responses_verify(actor=clinic.drpatel).ok

    row = models.Response.objects.get(pk=stored.id)
    with connection.cursor() as cursor:  # behind the application: no model, no history row
        cursor.execute(
            f"UPDATE {models.Response._meta.db_table} SET total = %s WHERE id = %s",
            [encryption.encrypt("3"), row.pk.hex if connection.vendor == "sqlite" else row.pk],
        )
    result = services.responses_verify(actor=clinic.drpatel)
    assert not result.ok and len(result.problems) == 1
    assert str(stored.id) in result.problems[0] and "stored total 3 is not the 14" in result.problems[0]


def test_a_deceased_patients_response_is_refused(clinic):
    from patients import services as patients_services

    patients_services.patient_status_set(
        patient_id=clinic.patient.id, status=patients_domain.PatientStatus.DECEASED, actor=clinic.root
    )
    with pytest.raises(RuleViolation, match="deceased"):
        builders.record(clinic.drpatel, clinic.patient.id)


def test_the_responses_repository_lists_a_patients_series_oldest_first(clinic):
    from assessments import repository

    for days_ago in (60, 30, 0):
        builders.record(clinic.drpatel, clinic.patient.id, days_ago=days_ago, total=20 - days_ago // 10)
    listed = repository.DjangoResponseRepository(actor=clinic.drpatel).for_patient(clinic.patient.id)
    assert [response.total for response in listed] == [14, 17, 20]
    assert dataclasses.asdict(listed[0].answers)["basis"] == ""
