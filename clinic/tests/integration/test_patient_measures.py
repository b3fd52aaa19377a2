"""The patient page's measures (clinic.measures): a chart per questionnaire, its table, what is due; flat in queries."""

import datetime as dt
import re
import xml.etree.ElementTree as ET
from html import unescape

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from assessments import services as assessments_services
from assessments.tests import builders
from clinic import measures
from conftest import assign_care
from novamind import roles
from novamind.models import AccessLogEntry
from novamind.tests.integration.role_users import member, superuser
from patients import domain as patients_domain
from patients import repository as patients_repository
from treatment_plans.tests import factories as plan_factories

pytestmark = pytest.mark.django_db

SVG = "{http://www.w3.org/2000/svg}"
CLINICIAN = {"credentials": "PhD", "is_clinician": True}


@pytest.fixture
def team():
    root = superuser()
    patients = patients_repository.DjangoPatientRepository(actor=root)

    def patient(last):
        registered = patients.add(
            patients_domain.Patient(legal_first_name="Robin", legal_last_name=last, date_of_birth=dt.date(1990, 5, 17))
        )
        assign_care(registered, clinician, by=root)
        return registered

    clinician = member("drpatel", roles.CLINICIAN, profile=CLINICIAN)
    return clinician, patient, root


def page(user, patient) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(reverse("admin:patients_patient_change", args=[patient.id]))
    assert response.status_code == 200
    return response.content.decode()


def section(body: str) -> str:
    found = re.search(r'<section id="patient-measures".*?</section>', body, re.S)
    return found.group(0) if found else ""


def test_each_questionnaire_is_charted_with_its_bands_flags_and_table(team):
    clinician, patient_named, _ = team
    patient = patient_named("Okafor")
    for days_ago, total in ((150, 20), (120, 15), (90, 10), (60, 6), (30, 4)):
        builders.record(clinician, patient.id, total=total, days_ago=days_ago)
    builders.record(clinician, patient.id, instrument="gad7", total=12, days_ago=10)

    body = section(page(clinician, patient))

    charts = re.findall(r"<svg .*?</svg>", body, re.S)
    assert len(charts) == 2
    phq9 = ET.fromstring(charts[0])
    assert phq9.get("id") == "measure-chart-phq9"
    assert not [element for element in phq9.iter() if element.tag.lower().endswith("script")]
    bands = [text.text for text in phq9.find(f"{SVG}g[@class='bands']").iter(f"{SVG}text")]
    assert bands == ["None–minimal", "Mild", "Moderate", "Moderately severe", "Severe"]
    tips = [g.find(f"{SVG}title").text for g in phq9.iter(f"{SVG}g") if g.find(f"{SVG}title") is not None]
    assert tips[0].endswith(": 20 (Severe); baseline")
    assert tips[2].endswith(": 10 (Moderate); response")
    assert tips[4].endswith(": 4 (None–minimal); response, remission")
    shapes = [g[0].tag.removeprefix(SVG) for g in phq9.find(f"{SVG}g[@class='series']") if g.tag == f"{SVG}g"]
    assert shapes == ["circle", "circle", "polygon", "polygon", "rect"]  # baseline, -, response, response, remission
    table = unescape(
        re.search(r'<table class="visually-hidden" id="measure-chart-phq9-table">.*?</table>', body, re.S).group(0)
    )
    assert table.count("<tr>") == 6 and "response, remission" in table and "Moderately severe" in table
    assert "Baseline 20 (Severe)" in unescape(body) and "latest 4 (None–minimal)" in unescape(body)


def test_the_chart_marks_the_events_the_care_markers_hook_returns(team, monkeypatch):
    clinician, patient_named, _ = team
    patient = patient_named("Okafor")
    for days_ago in (60, 30, 0):
        builders.record(clinician, patient.id, days_ago=days_ago)
    start = timezone.localdate() - dt.timedelta(days=45)
    monkeypatch.setattr(measures, "care_markers", lambda patient_id: [(start, "Plan started")])

    svg = ET.fromstring(re.findall(r"<svg .*?</svg>", section(page(clinician, patient)), re.S)[0])

    rule = svg.find(f"{SVG}g[@class='markers']")
    assert [text.text for text in rule.iter(f"{SVG}text")] == ["Plan started"]
    x = float(rule.find(f"{SVG}line").get("x1"))
    points = [float(point.split(",")[0]) for point in svg.find(f".//{SVG}polyline").get("points").split()]
    assert points[0] < x < points[1]  # 45 days ago: between the scores of 60 and 30 days ago


def test_the_chart_marks_the_start_of_the_current_treatment_plan(team):
    clinician, patient_named, _ = team
    patient = patient_named("Okafor")
    for days_ago in (60, 30, 0):
        builders.record(clinician, patient.id, days_ago=days_ago)
    assert measures.care_markers(patient.id) == []  # no plan yet: nothing marked
    planner = member("drplan", roles.CLINICIAN, profile=CLINICIAN)
    assign_care(patient, planner, by=team[2])
    first = plan_factories.signed(planner, patient)
    current = plan_factories.revised_and_signed(planner, first)

    svg = ET.fromstring(re.findall(r"<svg .*?</svg>", section(page(clinician, patient)), re.S)[0])

    rule = svg.find(f"{SVG}g[@class='markers']")
    assert [text.text for text in rule.iter(f"{SVG}text")] == [f"Plan v{current.version_number} signed"]
    assert measures.care_markers(patient.id) == [(timezone.localdate(current.signed_at), "Plan v2 signed")]


def test_measures_due_follow_the_current_diagnoses_with_a_link_to_record(team):
    clinician, patient_named, root = team
    patient = patient_named("Okafor")
    builders.diagnose(patient.id, "F32.1", by=root)
    builders.diagnose(patient.id, "F41.1", by=root)
    builders.record(clinician, patient.id, instrument="gad7", total=8, days_ago=40)
    builders.record(clinician, patient.id, instrument="gad7", total=8, days_ago=10)

    body = unescape(section(page(clinician, patient)))

    due = re.search(r'<ul class="pm-due".*?</ul>', body, re.S).group(0)
    assert "PHQ-9 due" in due and "(never given)" in due and "GAD-7" not in due
    assert "instrument=phq9" in due and f"patient={patient.id}" in due


def test_nobody_who_may_not_read_scores_gets_the_section(team):
    clinician, patient_named, _ = team
    patient = patient_named("Okafor")
    builders.record(clinician, patient.id, total=12)

    assert section(page(member("felix", roles.FRONT_DESK), patient)) == ""
    other = member("drlee", roles.CLINICIAN, profile=CLINICIAN)
    client = Client()
    client.force_login(other)
    refused = client.get(reverse("admin:patients_patient_change", args=[patient.id]))
    assert refused.status_code == 403 and "patient-measures" not in refused.content.decode()


def test_showing_scores_is_logged_without_them(team):
    clinician, patient_named, _ = team
    patient = patient_named("Okafor")
    builders.record(clinician, patient.id, total=12)
    page(clinician, patient)
    entry = AccessLogEntry.objects.get(category="assessments", action="view")
    assert (entry.patient_id, entry.detail) == (patient.id, "patient page: 1 score(s) of 1 questionnaire(s) charted")


def queries_of(user, patient) -> tuple[int, list[str]]:
    client = Client()
    client.force_login(user)
    url = reverse("admin:patients_patient_change", args=[patient.id])
    client.get(url)
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries), [query["sql"] for query in captured.captured_queries]


def test_the_patient_page_with_100_responses_costs_the_queries_of_one(team):
    clinician, patient_named, root = team
    few, many = patient_named("Fewscores"), patient_named("Manyscores")
    for patient in (few, many):
        builders.diagnose(patient.id, "F32.1", by=root)
    builders.record(clinician, few.id, total=12, item9=1)
    for number in range(100):
        instrument = ("phq9", "gad7", "pcl5", "auditc")[number % 4]
        builders.record(clinician, many.id, instrument=instrument, total=number % 10, days_ago=300 - 3 * number)
    builders.record(clinician, many.id, total=12, item9=1)

    one, _ = queries_of(clinician, few)
    hundred, sql = queries_of(clinician, many)

    assert section(page(clinician, many)).count("<svg") == 4
    assert hundred == one, "\n".join(sql)


def test_a_review_from_the_patient_page_flow_returns_to_it(team):
    clinician, patient_named, _ = team
    patient = patient_named("Okafor")
    builders.record(clinician, patient.id, total=12, item9=1)
    body = page(clinician, patient)
    assert "A risk answer on a questionnaire" in unescape(body)  # the banner
    from assessments import models

    assessments_services.alert_review(
        alert_id=models.SafetyAlert.objects.get().pk, action_taken="Called: safe, plan agreed.", actor=clinician
    )
    assert "A risk answer on a questionnaire" not in unescape(page(clinician, patient))
