"""No plaintext PHI of medication orders or allergies in any table, history, admin log, session or log."""

import dataclasses
import datetime as dt
import logging
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from medications import domain, models, repository
from medications.tests.pages import form_data, order_form
from novamind import encryption
from novamind.tests.phi_scan import assert_no_plaintext, plaintext_hits

MARKERS = [
    "Qxdrugmark",
    "73951846",
    "Qxstrengthmark",
    "nasal_spray",
    "97531.8642",
    "intranasal",
    "Qxindicationmark",
    "Qxinstructionmark",
    "Qxallergyoverridemark",
    "Qxstopnotemark",
    "Qxreactionmark",
    "life_threatening",
    "Qxadmindrugmark",
    "Qxadmininstructionmark",
    "Qxduplicateoverridemark",
    "Qxreviseinstructionmark",
    "Qxadminstopnotemark",
    "Qxinlineallergymark",
    "Qxinlinereactionmark",
]


def through_the_repository(drlee, staff, patient_id):
    allergies = repository.DjangoAllergyRepository(actor=staff)
    allergies.add(
        domain.Allergy(
            patient_id=patient_id,
            substance="Qxdrugmark",
            reaction="Qxreactionmark",
            severity=domain.AllergySeverity.LIFE_THREATENING,
        )
    )
    orders = repository.DjangoMedicationOrderRepository(actor=drlee)
    first = orders.add(
        domain.MedicationOrder(
            patient_id=patient_id,
            drug_name="Qxdrugmark",
            rxnorm_code="73951846",
            strength="Qxstrengthmark",
            dose_form=domain.DoseForm.NASAL_SPRAY,
            dose_amount=Decimal("97531.8642"),
            dose_unit=domain.DoseUnit.SPRAY,
            route=domain.Route.INTRANASAL,
            frequency=domain.Frequency(
                kind=domain.FrequencyKind.EVERY_N_HOURS, interval=6, as_needed=True, indication="Qxindicationmark"
            ),
            start_date=timezone.localdate() - dt.timedelta(days=3),
            quantity=Decimal("1"),
            schedule=domain.Schedule.III,
            instructions="Qxinstructionmark",
            allergy_override_reason="Qxallergyoverridemark",
        )
    )
    second = orders.revise(dataclasses.replace(first, dose_amount=Decimal("2"), dose_change_confirmed=True))
    orders.discontinue(second.id, reason=domain.DiscontinueReason.OTHER, note="Qxstopnotemark")


def through_the_admin(client, drlee, staff, patient_id):
    patient_page = reverse("admin:patients_patient_change", args=[patient_id])
    client.force_login(staff)
    data = form_data(client.get(patient_page))
    data.update({"allergies-1-substance": "Qxinlineallergymark", "allergies-1-reaction": "Qxinlinereactionmark"})
    assert client.post(patient_page, data).status_code == 302
    client.force_login(drlee)
    add = reverse("admin:medications_medicationorder_add")
    form = order_form(patient_id, drug_name="Qxadmindrugmark", instructions="Qxadmininstructionmark")
    assert client.post(add, form).status_code == 302
    refused = client.post(add, form)  # the duplicate is refused, naming the drug on the page only
    assert refused.status_code == 200 and "Qxadmindrugmark" in refused.content.decode()
    assert client.post(add, {**form, "duplicate_override_reason": "Qxduplicateoverridemark"}).status_code == 302
    order = models.MedicationOrder.objects.latest("created_at")
    revise = reverse("admin:medications_medicationorder_revise", args=[order.pk])
    initial = client.get(revise).context["form"].initial
    revised = {
        k: v for k, v in {**initial, "instructions": "Qxreviseinstructionmark"}.items() if v not in (None, False)
    }
    response = client.post(revise, revised)
    assert response.status_code == 302
    new = models.MedicationOrder.objects.get(replaces=order)
    assert (
        client.post(
            reverse("admin:medications_medicationorder_discontinue", args=[new.pk]),
            {
                "discontinue_reason": "other",
                "discontinued_on": timezone.localdate().isoformat(),
                "discontinue_note": "Qxadminstopnotemark",
                "version": "1",
            },
        ).status_code
        == 302
    )
    for page in (
        reverse("admin:medications_medicationorder_change", args=[new.pk]),
        reverse("admin:medications_medicationorder_history", args=[new.pk]),
        reverse("admin:medications_medicationorder_changelist") + "?q=okafor",
        reverse("admin:medications_allergy_changelist"),
        patient_page,
    ):
        assert client.get(page).status_code == 200, page


@pytest.mark.django_db(transaction=True)
def test_markers_in_every_medication_phi_field_are_stored_only_as_ciphertext(client, drlee, staff, patient, caplog):
    caplog.set_level(logging.DEBUG)
    through_the_repository(drlee, staff, patient.id)
    through_the_admin(client, drlee, staff, patient.id)
    assert models.MedicationOrder.objects.count() == 5 and models.Allergy.objects.count() == 2
    assert_no_plaintext(MARKERS)
    logged = "\n".join(record.getMessage() for record in caplog.records).lower()
    assert not [marker for marker in MARKERS if marker.lower() in logged]


@pytest.mark.django_db(transaction=True)
def test_every_encrypted_column_of_orders_allergies_and_their_history_holds_tokens_that_decrypt(drlee, staff, patient):
    through_the_repository(drlee, staff, patient.id)
    checked = 0
    for model in (
        models.MedicationOrder,
        models.MedicationOrder.history.model,
        models.Allergy,
        models.Allergy.history.model,
    ):
        columns = [field.column for field in model._meta.concrete_fields if encryption.is_encrypted(field)]
        assert columns, model
        table = connection.ops.quote_name(model._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {', '.join(connection.ops.quote_name(c) for c in columns)} FROM {table}")
            for row in cursor.fetchall():
                for value in row:
                    assert value.startswith("gAAAAA")
                    encryption.decrypt(value)
                    checked += 1
    assert checked > 50


@pytest.mark.django_db(transaction=True)
def test_the_scan_would_find_a_marker_stored_in_clear(drlee, staff, patient):
    through_the_repository(drlee, staff, patient.id)
    assert plaintext_hits(["Qxdrugmark"]) == []
    with connection.cursor() as cursor:
        cursor.execute("UPDATE medications_medicationorder SET drug_name = %s", ["Qxdrugmark"])
    assert "medications_medicationorder.drug_name: qxdrugmark" in plaintext_hits(["Qxdrugmark"])
