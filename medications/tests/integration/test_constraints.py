"""The database backs up the cheap rules, and concurrent prescribing cannot slip past the checks."""

import datetime as dt
import threading
import time
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from medications import domain, models, repository
from medications.tests.builders import an_order
from novamind import audit
from novamind.domain import RuleViolation


def saved_row(patient, drlee, **changes):
    row = models.MedicationOrder(prescriber=drlee)
    row.update_from_domain(an_order(patient_id=patient.id, start_date=timezone.localdate()))
    for name, value in changes.items():
        setattr(row, name, value)
    with transaction.atomic():
        audit.audited_save(row, actor=drlee, validate=False)
    return row


@pytest.mark.django_db
@pytest.mark.parametrize(
    "changes",
    [
        {"refills": 12},
        {"quantity": Decimal("0")},
        {"end_date": dt.date(2000, 1, 1)},
        {"status": "discontinued"},
        {"discontinued_on": dt.date(2026, 1, 1), "discontinue_reason": "ineffective"},
        {"frequency_kind": "every_n_hours"},
        {"frequency_interval": 4},
        {"status": "paused"},
    ],
)
def test_the_database_refuses_rows_that_skip_validation_and_break_a_cheap_rule(drlee, patient, changes):
    with pytest.raises(IntegrityError):
        saved_row(patient, drlee, **changes)
    assert models.MedicationOrder.objects.count() == 0


@pytest.mark.django_db
def test_an_order_is_revised_at_most_once_even_past_the_checks(drlee, patient):
    first = saved_row(patient, drlee)
    saved_row(patient, drlee, replaces_id=first.pk)
    with pytest.raises(IntegrityError):
        saved_row(patient, drlee, replaces_id=first.pk)


@pytest.mark.django_db(transaction=True)
def test_two_prescribers_adding_ssris_at_the_same_moment_cannot_both_succeed(
    on_postgres, drlee, drnodea, patient, monkeypatch
):
    original = domain.check_against_record

    def slow_check(order, **record):
        time.sleep(0.5)  # widen the window between reading the record and writing the order
        return original(order, **record)

    monkeypatch.setattr(domain, "check_against_record", slow_check)
    barrier, outcomes = threading.Barrier(2), {}

    def prescribe(user, drug):
        try:
            barrier.wait(timeout=10)
            order = an_order(patient_id=patient.id, prescriber=None, drug_name=drug, start_date=timezone.localdate())
            outcomes[drug] = repository.DjangoMedicationOrderRepository(actor=user).add(order)
        except RuleViolation as violation:
            outcomes[drug] = violation
        finally:
            connection.close()

    threads = [
        threading.Thread(target=prescribe, args=args) for args in ((drlee, "sertraline"), (drnodea, "fluoxetine"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    refused = [outcome for outcome in outcomes.values() if isinstance(outcome, RuleViolation)]
    assert len(outcomes) == 2 and len(refused) == 1
    assert "two SSRIs at once" in refused[0].errors["duplicate_override_reason"][0]
    assert models.MedicationOrder.objects.count() == 1
