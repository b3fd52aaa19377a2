"""seed_demo: treatment plans written through the services, a revision, plans due soon and overdue, once."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from clinic import dashboard
from novamind.tests.integration.role_users import superuser
from treatment_plans import domain, models, services

pytestmark = pytest.mark.django_db


def run():
    out = StringIO()
    call_command("seed_demo", "--patients", "40", stdout=out)
    return out.getvalue()


def test_seed_demo_writes_plans_of_every_kind_through_the_services_in_the_clinicians_names():
    assert "Treatment plans: plans for" in run()
    plans = models.TreatmentPlan.objects.all()
    assert {row.status for row in plans} == {"draft", "signed", "superseded"}
    assert set(models.TreatmentPlan.history.values_list("history_user__username", flat=True)) <= {
        "drlee",
        "drpatel",
        "msmith",
    }
    assert plans.filter(replaces__isnull=False, status="signed").exists()
    assert models.ObjectiveProgress.objects.exists() and plans.exclude(agreed_on=None).exists()
    today = timezone.localdate()
    current = plans.filter(status="signed")
    assert current.filter(review_due__lt=today).exists()  # overdue
    assert current.filter(review_due__gte=today, review_due__lte=today + dt.timedelta(days=14)).exists()
    # Every signed plan still matches its hash: the demo's data obeys the rules it was written under.
    result = services.verify_integrity(actor=superuser())
    assert result.ok and result.plans_checked == plans.exclude(signed_at=None).count()
    # The dashboard lists the plans due.
    assert dashboard.plans_due_for_review(viewer=superuser()).clinicians


def test_seed_demo_twice_creates_no_new_plans():
    run()
    before = (models.TreatmentPlan.objects.count(), models.TreatmentPlan.history.count())
    second = run()
    assert "plans for 0 patients created" in second.split("Treatment plans:")[1]
    assert (models.TreatmentPlan.objects.count(), models.TreatmentPlan.history.count()) == before
    assert domain.PlanStatus.DRAFT.value in set(models.TreatmentPlan.objects.values_list("status", flat=True))
