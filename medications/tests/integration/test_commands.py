"""medication_list: the current list and allergies of one patient, read as a named user."""

import dataclasses
import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from medications import domain
from medications.tests.builders import an_order
from novamind.models import AccessLogEntry

pytestmark = pytest.mark.django_db


def run(*args):
    out = StringIO()
    call_command("medication_list", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def chart(orders, allergies, patient):
    start = dt.date.today() - dt.timedelta(days=40)
    first = orders.add(
        an_order(patient_id=patient.id, prescriber=None, start_date=start, instructions="Take  with\nfood.")
    )
    orders.revise(dataclasses.replace(first, dose_amount=Decimal("100")))
    lorazepam = orders.add(
        an_order(
            patient_id=patient.id,
            prescriber=None,
            start_date=start,
            drug_name="lorazepam",
            strength="0.5 mg",
            dose_amount=Decimal("0.5"),
            schedule=domain.Schedule.IV,
            refills=0,
            frequency=domain.Frequency(
                kind=domain.FrequencyKind.EVERY_N_HOURS, interval=8, as_needed=True, indication="panic"
            ),
        )
    )
    orders.hold(lorazepam.id)
    stopped = orders.add(an_order(patient_id=patient.id, prescriber=None, start_date=start, drug_name="quetiapine"))
    orders.discontinue(stopped.id, reason=domain.DiscontinueReason.INEFFECTIVE)
    allergies.add(
        domain.Allergy(
            patient_id=patient.id, substance="penicillin", reaction="hives", severity=domain.AllergySeverity.MODERATE
        )
    )
    return patient


def test_the_list_shows_current_orders_with_directions_holds_and_allergies(chart, staff):
    output = run("--patient", chart.mrn.lower(), "--actor", "alice")
    lines = output.splitlines()
    assert lines[0] == f"Current medications: {chart.mrn} Okafor, Robin (born 1990-05-17)"
    assert " 1. lorazepam 0.5 mg tablet [Schedule IV] (ON HOLD)" in lines
    assert "    0.5 mg by mouth every 8 hours as needed for panic" in lines
    assert " 2. sertraline 50 mg tablet" in lines and "    100 mg by mouth once daily" in lines
    assert "    Instructions: Take with food." in lines
    assert "quetiapine" not in output and "50 mg by mouth" not in output
    assert "prescribed by Drlee Prescriber, MD" in output
    assert lines[-1] == "Allergies: penicillin (moderate: hives)"


def test_reading_the_list_is_recorded_in_the_access_log(chart, staff):
    run("--patient", chart.mrn, "--actor", "alice")
    entry = AccessLogEntry.objects.get(action="print")
    assert entry.user == staff and entry.patient_mrn == chart.mrn and entry.category == "medications"
    assert "sertraline" not in entry.detail


def test_a_patient_with_nothing_recorded_gets_a_clear_empty_list(patient, staff):
    output = run("--patient", patient.mrn, "--actor", "alice")
    assert "No current medication orders." in output and "Allergies: none recorded." in output


@pytest.mark.parametrize(
    "args, message",
    [
        (("--patient", "NM00000000", "--actor", "alice"), "No patient has the MRN NM00000000"),
        (("--patient", "12345", "--actor", "alice"), "not a NovaMind MRN"),
        (("--patient", "NM00000000", "--actor", "nobody"), "no user named"),
    ],
)
def test_bad_arguments_are_clear_errors(staff, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)


def test_an_inactive_actor_is_refused(staff, patient):
    staff.is_active = False
    staff.save()
    with pytest.raises(CommandError, match="not an active staff user"):
        run("--patient", patient.mrn, "--actor", "alice")


def test_both_arguments_are_required():
    with pytest.raises(CommandError, match="--patient"):
        run("--actor", "alice")
