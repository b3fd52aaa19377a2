"""seed_demo: monthly PHQ-9 and GAD-7 series through the rules, one risk answer still waiting, once."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count

from assessments import domain, models, selectors

pytestmark = pytest.mark.django_db


def run():
    out = StringIO()
    call_command("seed_demo", "--patients", "14", stdout=out)
    return out.getvalue()


def test_seed_demo_records_series_of_six_or_more_scores_and_one_waiting_risk_answer():
    assert "Measures: 12 patients' questionnaire series created" in run()

    counts = models.Response.objects.values("patient_id").annotate(n=Count("pk"))
    assert len(counts) == 12 and all(row["n"] >= 6 for row in counts)
    instruments = {row.to_domain().instrument for row in models.Response.objects.all()}
    assert instruments == {"phq9", "gad7"}
    alerts = list(models.SafetyAlert.objects.all())
    assert sorted(alert.status for alert in alerts) == [
        domain.AlertStatus.OPEN.value,
        domain.AlertStatus.REVIEWED.value,
    ]
    waiting = next(alert for alert in alerts if alert.status == domain.AlertStatus.OPEN.value)
    # Recorded by a clinician of the care team, who sees it on the dashboard's panel.
    clinician = waiting.created_by
    assert selectors.open_alerts(clinician, treated_only=True).count() == 1
    series = selectors.series_for_patient(clinician, waiting.patient_id)
    assert [s.instrument.code for s in series] == ["phq9"] and len(series[0].points) == 7
    assert "response" in series[0].points[0].flags or series[0].points[-1].total > series[0].points[0].total


def test_seed_demo_twice_records_nothing_new():
    run()
    before = (models.Response.history.count(), models.SafetyAlert.history.count())
    assert "0 patients' questionnaire series created, 12 already there" in run()
    assert (models.Response.history.count(), models.SafetyAlert.history.count()) == before
