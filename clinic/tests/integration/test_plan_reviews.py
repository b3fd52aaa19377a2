"""Treatment plans due for review: the dashboard's panel per clinician, and the review date in the patient banner.

Plans are signed through the services at the moment a test needs (`now`), as if their signature
were that many days old, so one is overdue, one due soon, one not due yet.
"""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clinic import dashboard
from conftest import assign_care
from novamind import roles
from novamind.models import AccessLogEntry
from novamind.tests.integration.role_users import member, superuser
from patients import domain as patients_domain
from patients import models as patients_models
from patients import repository as patients_repository
from treatment_plans import services
from treatment_plans.tests import factories

pytestmark = pytest.mark.django_db

PROFILE = {"is_clinician": True, "credentials": "PhD"}


@pytest.fixture
def root(db):
    return superuser()


@pytest.fixture
def drpatel(root):
    return member("drpatel", roles.CLINICIAN, profile=PROFILE)


@pytest.fixture
def drlee(root):
    return member("drlee", roles.PRESCRIBER, profile={**PROFILE, "credentials": "MD", "is_prescriber": True})


def new_patient(root, name, *, treated_by):
    patient = patients_repository.DjangoPatientRepository(actor=root).add(
        patients_domain.Patient(legal_first_name="Robin", legal_last_name=name, date_of_birth=dt.date(1990, 5, 17))
    )
    for clinician in treated_by:
        assign_care(patient, clinician, by=root)
    return patient


def signed_days_ago(clinician, patient, days):
    """Return a plan for the patient signed `days` days ago (due for review 90 days after that)."""
    draft = factories.drafted(clinician, patient)
    return services.plan_sign(plan_id=draft.id, actor=clinician, now=timezone.now() - dt.timedelta(days=days))


def panel(reviews) -> list[tuple]:
    return [
        (clinician.clinician, [(plan.mrn, plan.days_left) for plan in clinician.plans])
        for clinician in reviews.clinicians
    ]


def mrn(patient):
    return patients_models.Patient.objects.get(pk=patient.id).mrn


# --- the dashboard panel -------------------------------------------------------------------------


def test_plans_due_within_two_weeks_or_overdue_are_listed_per_clinician_the_most_overdue_first(root, drpatel, drlee):
    overdue = new_patient(root, "Overdue", treated_by=[drpatel])
    soon = new_patient(root, "Soon", treated_by=[drpatel])
    later = new_patient(root, "Later", treated_by=[drpatel])
    lee_overdue = new_patient(root, "Longoverdue", treated_by=[drlee])
    signed_days_ago(drpatel, overdue, 95)  # due 5 days ago
    signed_days_ago(drpatel, soon, 80)  # due in 10 days
    signed_days_ago(drpatel, later, 30)  # due in 60 days: not listed
    signed_days_ago(drlee, lee_overdue, 120)  # due 30 days ago

    board = dashboard.plans_due_for_review(viewer=root)

    assert panel(board) == [
        ("drlee, MD", [(mrn(lee_overdue), -30)]),
        ("drpatel, PhD", [(mrn(overdue), -5), (mrn(soon), 10)]),
    ]
    assert board.clinicians[1].overdue == 1 and board.clinicians[1].due == 2


def test_superseded_discontinued_and_draft_plans_are_never_due(root, drpatel):
    patient = new_patient(root, "Revised", treated_by=[drpatel])
    old = signed_days_ago(drpatel, patient, 100)
    factories.revised_and_signed(drpatel, old)  # the new version is due in 90 days; the old one is superseded
    closed = new_patient(root, "Closed", treated_by=[drpatel])
    plan = signed_days_ago(drpatel, closed, 100)
    services.plan_discontinue(plan_id=plan.id, reason=services.domain.DiscontinueReason.LEFT_CARE, actor=drpatel)
    factories.drafted(drpatel, new_patient(root, "Drafted", treated_by=[drpatel]))

    assert dashboard.plans_due_for_review(viewer=root).clinicians == ()


def test_a_clinician_sees_only_the_plans_of_the_patients_in_their_care(client, root, drpatel, drlee):
    mine = new_patient(root, "Mine", treated_by=[drpatel])
    theirs = new_patient(root, "Theirs", treated_by=[drlee])
    signed_days_ago(drpatel, mine, 95)
    signed_days_ago(drlee, theirs, 95)

    assert panel(dashboard.plans_due_for_review(viewer=drpatel)) == [("drpatel, PhD", [(mrn(mine), -5)])]
    client.force_login(drpatel)
    page = client.get(reverse("admin:index")).content.decode()
    reviews = re.search(r'<div class="module" id="dashboard-plan-reviews">.*?</div>', page, re.S).group(0)
    text = " ".join(unescape(re.sub(r"<[^>]+>", " ", reviews)).split())
    assert "Robin Mine" in text and "overdue by 5 days" in text and "Theirs" not in text and mrn(theirs) not in page


def test_the_panel_pages_its_clinicians_and_counts_the_plans_it_does_not_list(monkeypatch, root):
    monkeypatch.setattr(dashboard, "REVIEW_CLINICIANS_SHOWN", 1)
    monkeypatch.setattr(dashboard, "REVIEW_PLANS_SHOWN", 1)
    first = member("dra", roles.CLINICIAN, profile=PROFILE)
    second = member("drb", roles.CLINICIAN, profile=PROFILE)
    for days in (100, 95):
        signed_days_ago(first, new_patient(root, f"First{days}", treated_by=[first]), days)
    signed_days_ago(second, new_patient(root, "Second", treated_by=[second]), 91)

    page_one = dashboard.plans_due_for_review(viewer=root)
    page_two = dashboard.plans_due_for_review(viewer=root, page=2)

    assert (page_one.pages, page_one.clinician_total) == (2, 2)
    assert [(c.clinician, len(c.plans), c.not_shown) for c in page_one.clinicians] == [("dra, PhD", 1, 1)]
    assert [c.clinician for c in page_two.clinicians] == ["drb, PhD"]


def test_the_panel_costs_the_same_queries_whatever_the_number_of_plans_and_clinicians(root, drpatel):
    signed_days_ago(drpatel, new_patient(root, "One", treated_by=[drpatel]), 95)
    dashboard.plans_due_for_review(viewer=drpatel)  # whether the viewer is care-restricted is read once, then kept
    with CaptureQueriesContext(connection) as few:
        dashboard.plans_due_for_review(viewer=drpatel)
    for number in range(4):
        other = member(f"drx{number}", roles.CLINICIAN, profile=PROFILE)
        for days in (85, 95, 110):
            patient = new_patient(root, f"Many{number}{days}", treated_by=[drpatel, other])
            signed_days_ago(other if days != 85 else drpatel, patient, days)
    dashboard.plans_due_for_review(viewer=drpatel)
    with CaptureQueriesContext(connection) as many:
        board = dashboard.plans_due_for_review(viewer=drpatel)
    assert sum(len(c.plans) for c in board.clinicians) == 13
    assert len(many) == len(few) == 3


def test_listing_plans_due_is_written_to_the_access_log_and_roles_without_plans_see_no_panel(client, root, drpatel):
    signed_days_ago(drpatel, new_patient(root, "Logged", treated_by=[drpatel]), 95)
    client.force_login(drpatel)
    client.get(reverse("admin:index"))
    assert AccessLogEntry.objects.filter(
        action="dashboard", category="treatment_plans", detail__startswith="1 treatment plan(s) due for review"
    ).exists()
    desk = member("frontdesk", roles.FRONT_DESK)
    client.force_login(desk)
    assert 'id="dashboard-plan-reviews"' not in client.get(reverse("admin:index")).content.decode()


# --- the patient banner ----------------------------------------------------------------------------


def banner_text(client, patient) -> str:
    body = client.get(reverse("admin:patients_patient_change", args=[patient.id])).content.decode()
    match = re.search(r'<section id="patient-banner".*?</section>', body, re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", match.group(0))).split())


def action_ids(client, patient) -> set[str]:
    body = client.get(reverse("admin:patients_patient_change", args=[patient.id])).content.decode()
    return set(re.findall(r'id="banner-([a-z-]+)" class="button"', body))


def test_the_banner_shows_the_current_plans_review_date_and_overdue_when_past(client, root, drpatel):
    patient = new_patient(root, "Banner", treated_by=[drpatel])
    client.force_login(drpatel)
    assert "Treatment plan no current plan" in banner_text(client, patient)
    assert "new-plan" in action_ids(client, patient)

    draft = factories.drafted(drpatel, patient)
    assert "Treatment plan draft (version 1), not signed yet" in banner_text(client, patient)
    assert "new-plan" not in action_ids(client, patient)

    plan = services.plan_sign(plan_id=draft.id, actor=drpatel, now=timezone.now() - dt.timedelta(days=100))
    assert f"Treatment plan version 1, review due {plan.review_due:%Y-%m-%d} (overdue)" in banner_text(client, patient)
    revised = factories.revised_and_signed(drpatel, plan)
    text = banner_text(client, patient)
    assert f"version 2, review due {revised.review_due:%Y-%m-%d}" in text and "overdue" not in text


def test_the_banner_says_nothing_of_plans_to_roles_without_them(client, root, drpatel):
    patient = new_patient(root, "Desk", treated_by=[drpatel])
    factories.signed(drpatel, patient)
    client.force_login(member("frontdesk", roles.FRONT_DESK))
    assert "Treatment plan" not in banner_text(client, patient)


def test_new_plan_opens_the_form_for_the_patient_and_returns_to_their_page(client, root, drpatel):
    patient = new_patient(root, "Action", treated_by=[drpatel])
    diagnosis = factories.a_diagnosis(patient, actor=drpatel)
    client.force_login(drpatel)
    body = client.get(reverse("admin:patients_patient_change", args=[patient.id])).content.decode()
    link = unescape(re.search(r'<a href="([^"]+)" id="banner-new-plan"', body).group(1))
    page = reverse("admin:patients_patient_change", args=[patient.id])
    assert (
        link
        == f"{reverse('admin:treatment_plans_treatmentplan_add')}?patient={patient.id}&next={page.replace('/', '%2F')}"
    )

    form = client.get(link)
    assert form.context["adminform"].form["patient"].value() == str(patient.id)
    assert diagnosis.pk in [
        choice.pk for choice in form.context["adminform"].form.fields["diagnoses_addressed"].queryset
    ]
    data = {
        "patient": str(patient.id),
        "problems": "Tired.",
        "diagnoses_addressed": [str(diagnosis.pk)],
        "version": "1",
        **{
            f"{rows}-{name}": "0"
            for rows in ("goals", "objectives", "interventions")
            for name in ("TOTAL_FORMS", "INITIAL_FORMS")
        },
    }
    saved = client.post(link, data)
    assert saved.status_code == 302 and saved["Location"] == page


def test_the_banner_costs_the_same_queries_with_one_plan_version_or_ten(client, root, drpatel):
    patient = new_patient(root, "Flat", treated_by=[drpatel])
    plan = factories.signed(drpatel, patient)
    client.force_login(drpatel)
    url = reverse("admin:patients_patient_change", args=[patient.id])
    client.get(url)

    def counted():
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        return len(queries)

    one = counted()
    for _ in range(9):
        plan = factories.revised_and_signed(drpatel, plan)
    assert counted() == one
