"""The dashboard's measurement-based care panels: risk answers awaiting review, and measures due per clinician."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from assessments.tests import builders
from clinic import dashboard
from conftest import assign_care
from novamind import roles
from novamind.models import AccessLogEntry
from novamind.tests.integration.role_users import member, superuser
from patients import domain as patients_domain
from patients import repository as patients_repository

pytestmark = pytest.mark.django_db

CLINICIAN = {"credentials": "PhD", "is_clinician": True}
INDEX = reverse("admin:index")


@pytest.fixture
def clinic():
    root = superuser()
    drpatel = member("drpatel", roles.CLINICIAN, profile=CLINICIAN)
    drlee = member("drlee", roles.CLINICIAN, profile=CLINICIAN)
    patients = patients_repository.DjangoPatientRepository(actor=root)
    counter = iter(range(1000))

    def patient(clinician, *, last=None):
        number = next(counter)
        registered = patients.add(
            patients_domain.Patient(
                legal_first_name="Robin",
                legal_last_name=last or f"Dash{number}",
                date_of_birth=dt.date(1980, 1, 1) + dt.timedelta(days=number),
            )
        )
        assign_care(registered, clinician, by=root)
        return registered

    return root, drpatel, drlee, patient


def index(user, **query):
    client = Client()
    client.force_login(user)
    response = client.get(INDEX, query)
    assert response.status_code == 200
    return response


def panel(body: str, name: str) -> str:
    found = re.search(rf'<div class="module" id="dashboard-{name}">.*?</div>', body, re.S)
    return found.group(0) if found else ""


def test_a_risk_answer_waits_on_the_care_teams_dashboard_only(clinic):
    root, drpatel, drlee, patient = clinic
    mine = patient(drpatel, last="Riskmine")
    builders.record(drpatel, mine.id, item9=2)

    shown = panel(index(drpatel).content.decode(), "risk-answers")
    assert "Riskmine" in shown and mine.mrn in shown
    assert reverse("admin:assessments_safetyalert_review", args=[_alert_id()]) in shown
    assert "Riskmine" not in panel(index(drlee).content.decode(), "risk-answers")  # not their patient
    assert panel(index(root).content.decode(), "risk-answers") == ""  # a superuser is on no care team
    assert panel(index(member("felix", roles.FRONT_DESK)).content.decode(), "risk-answers") == ""
    entry = AccessLogEntry.objects.filter(username="drpatel", category="assessments").latest("sequence")
    assert entry.detail.startswith("1 risk answer(s) awaiting review")


def _alert_id():
    from assessments import models

    return models.SafetyAlert.objects.get().pk


def test_an_overdue_risk_answer_says_so(clinic, monkeypatch):
    root, drpatel, drlee, patient = clinic
    builders.record(drpatel, patient(drpatel).id, item9=1)
    real = timezone.now
    monkeypatch.setattr(timezone, "now", lambda: real() + dt.timedelta(hours=30))
    assert "overdue: more than 24 h" in panel(index(drpatel).content.decode(), "risk-answers")


def dashboard_queries(user, **query) -> tuple[int, list[str]]:
    index(user, **query)
    with CaptureQueriesContext(connection) as captured:
        index(user, **query)
    return len(captured.captured_queries), [q["sql"] for q in captured.captured_queries]


def test_the_risk_panel_is_paged_and_costs_the_same_queries_for_one_answer_as_for_a_page(clinic):
    root, drpatel, drlee, patient = clinic
    builders.record(drpatel, patient(drpatel).id, item9=1)
    one, _ = dashboard_queries(drpatel)
    for _ in range(dashboard.RISK_SHOWN + 1):
        builders.record(drpatel, patient(drpatel).id, item9=1)
    many, sql = dashboard_queries(drpatel)

    board = index(drpatel).context["board"]
    assert (len(board.risk_answers.answers), board.risk_answers.total, board.risk_answers.pages) == (10, 12, 2)
    assert len(index(drpatel, risk="2").context["board"].risk_answers.answers) == 2
    assert many == one, "\n".join(sql)


def test_measures_due_list_each_clinicians_patients_by_their_current_diagnoses(clinic):
    root, drpatel, drlee, patient = clinic
    depressed = patient(drpatel, last="Dueone")
    builders.diagnose(depressed.id, "F33.1", by=root)
    measured = patient(drpatel, last="Measured")
    builders.diagnose(measured.id, "F32.0", by=root)
    builders.record(drpatel, measured.id, total=8, days_ago=5)  # measured 5 days ago: not due
    anxious = patient(drlee, last="Anxious")
    builders.diagnose(anxious.id, "F41.1", by=root)
    builders.record(drlee, anxious.id, instrument="gad7", total=8, days_ago=45)
    resolved = patient(drpatel, last="Resolved")
    builders.diagnose(resolved.id, "F32.1", by=root, status="resolved")

    own = panel(index(drpatel).content.decode(), "measures-due")
    assert "Dueone" in own and "PHQ-9" in own and "Measured" not in own and "Resolved" not in own
    assert "Anxious" not in own  # a colleague's patient
    clinic_wide = index(root).context["board"].measures_due
    listed = {day.clinician: [p.mrn for p in day.patients] for day in clinic_wide.clinicians}
    assert listed == {"drlee, PhD": [anxious.mrn], "drpatel, PhD": [depressed.mrn]}
    gad7 = clinic_wide.clinicians[0].patients[0].measures[0]
    assert (gad7.instrument, gad7.days_overdue(timezone.localdate())) == ("gad7", 15)
    assert panel(index(member("felix", roles.FRONT_DESK)).content.decode(), "measures-due") == ""


def test_measures_due_cost_the_same_queries_whatever_the_caseloads(clinic):
    root, drpatel, drlee, patient = clinic
    first = patient(drpatel)
    builders.diagnose(first.id, "F32.1", by=root)
    few, _ = dashboard_queries(root)
    for number in range(8):
        someone = patient(drpatel if number % 2 else drlee)
        builders.diagnose(someone.id, "F41.1" if number % 3 else "F33.0", by=root)
        builders.record(drpatel if number % 2 else drlee, someone.id, instrument="gad7", total=5, days_ago=40)
    many, sql = dashboard_queries(root)

    board = index(root).context["board"].measures_due
    assert sum(clinician.waiting for clinician in board.clinicians) == 9
    assert many == few, "\n".join(sql)
