"""risk_alerts and verify_assessments: what they print, to whom, and what they refuse."""

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from assessments import models
from assessments.tests import builders
from novamind import encryption
from novamind.models import AccessLogEntry

pytestmark = pytest.mark.django_db


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def later(monkeypatch):
    """Return a function that moves the clock `hours` ahead for what runs after it."""
    real = timezone.now

    def move(hours):
        monkeypatch.setattr(timezone, "now", lambda: real() + dt.timedelta(hours=hours))

    return move


def test_risk_alerts_overdue_finds_an_alert_only_after_the_review_window(clinic, later, settings):
    settings.NOVAMIND_RISK_REVIEW_HOURS = 24
    builders.record(clinic.drpatel, clinic.patient.id, item9=1)

    assert run("risk_alerts", "--overdue", "--actor", "drpatel") == ("", "")  # cron mails nothing

    later(25)
    out, _ = run("risk_alerts", "--overdue", "--actor", "drpatel")

    assert "1 risk answer(s) overdue (not reviewed within 24 hours)" in out
    assert clinic.patient.mrn in out and "waiting 25 h" in out and "care team: drpatel" in out
    assert "Robin" not in out and "Okafor" not in out and "item 9" not in out
    entry = AccessLogEntry.objects.filter(action="list", category="assessments").get()
    assert entry.username == "drpatel" and "1 open alert(s) overdue" in entry.detail


def test_a_reviewed_alert_is_no_longer_listed(clinic, later):
    from assessments import services

    builders.record(clinic.drpatel, clinic.patient.id, item9=1)
    services.alert_review(
        alert_id=models.SafetyAlert.objects.get().pk, action_taken="Called: safe, plan agreed.", actor=clinic.drpatel
    )
    later(48)
    assert run("risk_alerts", "--overdue", "--actor", "drpatel") == ("", "")
    assert "No risk answer is waiting for review." in run("risk_alerts", "--actor", "drpatel")[0]


def test_a_clinician_outside_care_sees_none_and_the_front_desk_is_refused(clinic, later):
    builders.record(clinic.drpatel, clinic.patient.id, item9=1)
    later(25)

    out, _ = run("risk_alerts", "--overdue", "--actor", "drlee")
    assert clinic.patient.mrn not in out
    with pytest.raises(CommandError, match="lack assessments.view_safetyalert"):
        run("risk_alerts", "--actor", "frontdesk")


def test_a_superuser_sees_every_open_alert_with_the_care_team_to_chase(clinic):
    builders.record(clinic.drpatel, clinic.patient.id, item9=1)
    out, _ = run("risk_alerts", "--actor", "root")
    assert "1 risk answer(s) waiting for review" in out and "care team: drpatel" in out


def test_verify_assessments_passes_then_reports_a_tampered_band(clinic):
    stored = builders.record(clinic.drpatel, clinic.patient.id, total=14)
    out, _ = run("verify_assessments", "--actor", "drpatel")
    assert "All 1 questionnaire responses match" in out

    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {models.Response._meta.db_table} SET band = %s WHERE id = %s",
            [encryption.encrypt("mild"), stored.id.hex if connection.vendor == "sqlite" else stored.id],
        )
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 problem"):
        call_command("verify_assessments", "--actor", "drpatel", stdout=io.StringIO(), stderr=err)
    assert f"response {stored.id} (patient {clinic.patient.mrn}" in err.getvalue()
    assert "“mild” is not “moderate”" in err.getvalue()


def test_verify_assessments_is_refused_to_a_role_without_responses(clinic):
    with pytest.raises(CommandError, match="refused"):
        run("verify_assessments", "--actor", "frontdesk")
