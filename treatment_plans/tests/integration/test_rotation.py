"""Key rotation covers the plans' tables: every value moves to the new key, and every signed plan still verifies."""

import io

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.core.management import call_command

from clinical_notes.tests import factories as notes_factories
from conftest import owner_rights
from novamind import encryption, rotation
from treatment_plans import domain, services
from treatment_plans.tests import factories

pytestmark = pytest.mark.django_db

PLAN_TABLES = {
    f"treatment_plans_{kind}{name}"
    for name in ("treatmentplan", "plandiagnosis", "goal", "objective", "intervention", "objectiveprogress")
    for kind in ("", "historical")
}


def test_rotation_finds_every_plan_table_and_moves_its_values_to_the_new_key(clinician, patient):
    plan = factories.signed(clinician, patient)
    services.objective_progress_record(
        objective_id=plan.goals[0].objectives[0].id,
        note_id=notes_factories.signed(clinician, patient).id,
        status=domain.ObjectiveStatus.MET,
        comment="Met.",
        actor=clinician,
    )
    assert PLAN_TABLES <= {table.table for table in rotation.encrypted_tables()}
    clinician.is_superuser = True
    clinician.save(update_fields=["is_superuser"])
    new_key = Fernet.generate_key().decode()

    with encryption.keys([new_key, *settings.FIELD_ENCRYPTION_KEY]), owner_rights():
        call_command("rotate_encryption_keys", "--actor", clinician.username, stdout=io.StringIO())

    with encryption.keys([new_key]):  # the new key alone reads every plan, and its hash still matches
        result = services.verify_integrity(actor=clinician)
        assert result.ok and result.plans_checked == 1
        assert factories.current_diagnosis(patient, actor=clinician).code == "F32.1"
