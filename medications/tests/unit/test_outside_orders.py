"""Orders prescribed elsewhere and recorded from another system's record (a FHIR import)."""

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest

from medications import domain
from medications.tests.builders import DRLEE, TODAY, a_stored_order, an_order
from novamind.domain import RuleViolation

SOURCE = "http://other.example/prescriptions 12345 (prescribed by Patrick Pump)"


def outside(**changes):
    """Return an order recorded from elsewhere with only the drug and a start date known."""
    values = dict(
        prescriber=None,
        recorded_from=SOURCE,
        strength="",
        dose_form=None,
        dose_amount=None,
        dose_unit=None,
        route=None,
        frequency=domain.Frequency(kind=None),
        quantity=None,
    )
    return dataclasses.replace(an_order(), **{**values, **changes})


def errors_of(order):
    with pytest.raises(RuleViolation) as caught:
        domain.check_outside_order(order, today=TODAY)
    return caught.value.errors


def test_an_outside_order_needs_only_the_drug_and_its_start():
    order = domain.check_new_order(outside(), today=TODAY)
    assert order.is_outside and order.prescriber is None and order.recorded_from == SOURCE
    assert errors_of(outside(drug_name=" ")) == {"drug_name": [domain.REQUIRED]}
    assert errors_of(outside(start_date=None)) == {"start_date": [domain.REQUIRED]}


def test_an_order_prescribed_here_still_needs_every_detail():
    errors = errors_of_new(dataclasses.replace(outside(), recorded_from=""))
    assert {"strength", "dose_form", "dose_unit", "route", "dose_amount", "quantity", "frequency_kind"} <= set(errors)


def errors_of_new(order):
    with pytest.raises(RuleViolation) as caught:
        domain.check_new_order(order, today=TODAY)
    return caught.value.errors


@pytest.mark.parametrize("status", list(domain.OrderStatus))
def test_an_outside_order_keeps_the_status_its_source_gave_it(status):
    stopped = status is domain.OrderStatus.DISCONTINUED
    order = outside(
        status=status,
        start_date=TODAY - dt.timedelta(days=30),
        discontinued_on=TODAY - dt.timedelta(days=1) if stopped else None,
        discontinue_reason=domain.DiscontinueReason.OTHER if stopped else None,
        discontinue_note="Stopped in the other system." if stopped else "",
    )
    assert domain.check_outside_order(order, today=TODAY).status is status


def test_what_an_outside_order_does_say_is_checked():
    assert errors_of(outside(dose_amount=Decimal("-1"), dose_unit=domain.DoseUnit.MG)) == {
        "dose_amount": ["The dose must be more than zero."]
    }
    assert errors_of(outside(dose_amount=Decimal("1"))) == {"dose_unit": ["A dose needs its unit."]}
    assert errors_of(outside(quantity=Decimal("0"))) == {"quantity": ["The quantity must be more than zero."]}
    assert "1900" in " ".join(errors_of(outside(start_date=dt.date(1800, 1, 1)))["start_date"])


def test_an_outside_order_has_no_novamind_prescriber():
    assert "no NovaMind prescriber" in errors_of(outside(prescriber=DRLEE))["prescriber"][0]
    assert "which system" in errors_of(dataclasses.replace(outside(), recorded_from=""))["recorded_from"][0]


def test_a_known_controlled_drug_must_carry_its_schedule():
    assert "schedule II" in errors_of(outside(drug_name="methylphenidate"))["schedule"][0]
    order = outside(drug_name="methylphenidate", schedule=domain.Schedule.II, refills=0)
    assert domain.check_outside_order(order, today=TODAY).schedule is domain.Schedule.II


def test_a_revision_of_an_outside_order_is_a_prescription_written_here():
    current = dataclasses.replace(a_stored_order(), prescriber=None, recorded_from=SOURCE)
    revised = dataclasses.replace(current, dose_amount=Decimal("100"))
    closed, new = domain.revise(current, revised, effective=TODAY, prescriber=DRLEE, today=TODAY)
    assert closed.recorded_from == SOURCE and closed.status is domain.OrderStatus.DISCONTINUED
    assert new.recorded_from == "" and new.prescriber == DRLEE and not new.is_outside
