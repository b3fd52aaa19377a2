"""seed_demo: medication histories with revisions, discontinuations and overrides, once."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from medications import domain, models, repository

pytestmark = pytest.mark.django_db


def run():
    out = StringIO()
    call_command("seed_demo", "--patients", "30", stdout=out)
    return out.getvalue()


def test_seed_demo_writes_medication_histories_through_the_rules_attributed_to_the_psychiatrist():
    output = run()
    assert "Medications: histories for" in output
    drlee = get_user_model().objects.get(username="drlee")
    rows = models.MedicationOrder.objects.all()
    assert rows.exists()
    assert set(rows.values_list("prescriber", flat=True)) == {drlee.pk}
    assert set(models.MedicationOrder.history.values_list("history_user", flat=True)) == {drlee.pk}
    assert rows.filter(replaces__isnull=False).exists()
    assert rows.filter(discontinue_reason="changed").exists()
    assert rows.exclude(discontinue_reason__in=["", "changed"]).exists()
    orders = [row.to_domain() for row in rows]
    assert any(order.allergy_override_reason or order.duplicate_override_reason for order in orders)
    assert models.Allergy.objects.exists()
    # The data obeys the rules it was written under.
    for order in orders:
        assert order.validated(today=order.written_on) == order


def test_seed_demo_twice_creates_no_new_orders_or_allergies():
    run()
    before = (
        models.MedicationOrder.objects.count(),
        models.MedicationOrder.history.count(),
        models.Allergy.history.count(),
    )
    second = run()
    assert ", 0 already there" not in second.split("Medications:")[1]
    after = (
        models.MedicationOrder.objects.count(),
        models.MedicationOrder.history.count(),
        models.Allergy.history.count(),
    )
    assert after == before


def test_every_demo_patient_with_orders_has_a_readable_timeline():
    run()
    drlee = get_user_model().objects.get(username="drlee")
    orders = repository.DjangoMedicationOrderRepository(actor=drlee)
    patient_ids = set(models.MedicationOrder.objects.values_list("patient_id", flat=True))
    for patient_id in patient_ids:
        history = orders.history_for_patient(patient_id)
        chains = domain.revision_chains(history)
        assert sum(len(chain) for chain in chains) == len(history)
        assert all(
            chain[-1].status is not domain.OrderStatus.DISCONTINUED
            or chain[-1].discontinue_reason is not domain.DiscontinueReason.CHANGED
            for chain in chains
        )
