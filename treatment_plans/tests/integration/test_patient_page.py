"""The patient's page lists every version of their plan, for the same queries however many there are."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from treatment_plans import models
from treatment_plans.tests import factories

pytestmark = pytest.mark.django_db


def page_queries(client, patient) -> tuple[int, str]:
    url = reverse("admin:patients_patient_change", args=[patient.id])
    client.get(url)  # caches (content types, the user's permissions) filled
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries), response.content.decode()


def test_the_patient_page_with_ten_plan_versions_costs_the_queries_of_one(client, clinician, patient):
    client.force_login(clinician)
    plan = factories.signed(clinician, patient)
    one, body = page_queries(client, patient)
    assert body.count("treatment plan ") >= 1

    for _ in range(9):
        plan = factories.revised_and_signed(clinician, plan)
    ten, body = page_queries(client, patient)

    assert models.TreatmentPlan.objects.filter(patient_id=patient.id).count() == 10
    assert all(f"treatment plan {str(row.pk)[:8]}" in body for row in models.TreatmentPlan.objects.all())
    assert ten == one, f"1 plan: {one} queries; 10 versions: {ten}"
