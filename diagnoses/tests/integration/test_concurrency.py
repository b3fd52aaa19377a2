"""Racing writes of one patient's problem list (PostgreSQL): the patient's lock lets one win, the rest are told why."""

import threading

import pytest
from django.db import connections

from diagnoses import models, services
from diagnoses.tests.builders import a_diagnosis
from diagnoses.tests.conftest import make_patient
from novamind.domain import RuleViolation

THREADS = 6


def run_together(jobs):
    """Run every job in its own thread and connection, released together; return their outcomes."""
    barrier = threading.Barrier(len(jobs))
    outcomes = [None] * len(jobs)

    def worker(index, job):
        try:
            barrier.wait(timeout=30)
            outcomes[index] = ("ok", job())
        except RuleViolation as error:
            outcomes[index] = ("refused", error)
        except Exception as error:  # noqa: BLE001 - reported by the assertion, with its type
            outcomes[index] = ("crashed", error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_racing_records_of_one_code_let_exactly_one_in_and_tell_the_others_it_is_listed(on_postgres, staff):
    patient = make_patient(staff)
    outcomes = run_together(
        [lambda: services.diagnosis_record(diagnosis=a_diagnosis(patient, "F32.1"), actor=staff)] * THREADS
    )
    assert not [o for o in outcomes if o[0] == "crashed"], outcomes
    refused = [value for kind, value in outcomes if kind == "refused"]
    assert len(refused) == THREADS - 1
    assert all(error.errors["code"][0].startswith("F32.1 is already on the problem list") for error in refused)
    assert models.Diagnosis.objects.count() == 1 and models.Diagnosis.history.count() == 1


@pytest.mark.django_db(transaction=True)
def test_racing_primaries_leave_exactly_one_primary(on_postgres, staff):
    patient = make_patient(staff)
    codes = ["F32.1", "F41.1", "F43.10", "F90.0", "F42.2", "F40.10"]
    outcomes = run_together(
        [
            (
                lambda code=code: services.diagnosis_record(
                    diagnosis=a_diagnosis(patient, code, is_primary=True), actor=staff
                )
            )
            for code in codes
        ]
    )
    assert [kind for kind, _ in outcomes] == ["ok"] * len(codes), outcomes
    assert models.Diagnosis.objects.filter(patient_id=patient.id, is_primary=True).count() == 1
