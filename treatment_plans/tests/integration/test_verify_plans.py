"""verify_plans: a signed plan changed behind NovaMind is found, named by id and MRN, never by content."""

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from conftest import assign_care
from novamind import encryption, roles
from novamind.models import AccessLogEntry
from novamind.tests.integration.role_users import member
from patients import domain as patients_domain
from patients import models as patients_models
from patients import repository as patients_repository
from treatment_plans import models, services
from treatment_plans.tests import factories

pytestmark = pytest.mark.django_db


def verify(actor):
    out, err = io.StringIO(), io.StringIO()
    call_command("verify_plans", "--actor", actor, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_intact_plans_verify_and_the_run_is_logged(clinician, patient):
    plan = factories.signed(clinician, patient)
    factories.revised_and_signed(clinician, plan)
    services.plan_revise(
        plan_id=models.TreatmentPlan.objects.get(status="signed").pk, actor=clinician
    )  # a draft: no hash

    out, _ = verify("drpatel")

    assert "All 2 signed plans match the hash taken when they were signed." in out
    entry = AccessLogEntry.objects.order_by("-sequence").first()
    assert (entry.action, entry.category) == ("verify", "treatment_plans")


@pytest.mark.parametrize(
    "tamper",
    [
        lambda plan: models.Objective.objects.filter(plan_id=plan.id).first(),
        lambda plan: models.Goal.objects.filter(plan_id=plan.id).first(),
        lambda plan: models.Intervention.objects.filter(plan_id=plan.id).first(),
    ],
    ids=["an objective", "a goal", "an intervention"],
)
def test_a_part_changed_behind_the_application_is_reported(clinician, patient, hostile_dba, tamper):
    plan = factories.signed(clinician, patient)
    row = tamper(plan)
    column = "modality" if isinstance(row, models.Intervention) else "text"
    table = type(row)._meta.db_table
    key = type(row)._meta.pk.get_db_prep_value(row.pk, connection)
    hostile_dba(f"UPDATE {table} SET {column} = %s WHERE id = %s", [encryption.encrypt("Rewritten by hand."), key])  # noqa: S608

    with pytest.raises(CommandError, match="1 problem"):
        verify("drpatel")
    mrn = patients_models.Patient.objects.get(pk=patient.id).mrn
    _, err = _captured(clinician)
    assert f"plan {plan.id} (patient {mrn}): its content no longer matches the hash taken at signing" in err
    assert "Rewritten" not in err


def test_a_plan_that_no_longer_decrypts_is_reported_and_the_others_still_checked(clinician, patient, root, hostile_dba):
    broken = factories.signed(clinician, patient)
    other = patients_repository.DjangoPatientRepository(actor=root).add(
        patients_domain.Patient(legal_first_name="Sam", legal_last_name="Other", date_of_birth=dt.date(1985, 1, 2))
    )
    assign_care(other, clinician, by=root)
    factories.signed(clinician, other)
    key = models.TreatmentPlan._meta.pk.get_db_prep_value(broken.id, connection)
    hostile_dba(f"UPDATE {models.TreatmentPlan._meta.db_table} SET problems = 'garbage' WHERE id = %s", [key])  # noqa: S608

    _, err = _captured(clinician)

    assert f"plan {broken.id}" in err and "does not decrypt" in err and err.count("plan ") == 1


def test_a_clinician_checks_their_patients_plans_and_roles_without_plans_are_refused(clinician, colleague, patient):
    factories.signed(clinician, patient)
    out, _ = verify("msmith")
    assert "All 0 signed plans" in out
    member("desk", roles.FRONT_DESK)
    with pytest.raises(CommandError, match="may not run verify_plans"):
        verify("desk")
    member("audit", roles.AUDITOR)
    assert "All 1 signed plans" in verify("audit")[0]


def _captured(clinician):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("verify_plans", "--actor", clinician.username, stdout=out, stderr=err)
    except CommandError:
        pass
    return out.getvalue(), err.getvalue()
