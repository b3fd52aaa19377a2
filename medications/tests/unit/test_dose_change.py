"""A dose far from the one it follows needs the prescriber's confirmation, without a database."""

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest

from medications import domain
from medications.tests.builders import DRLEE, TODAY, a_stored_order, an_order
from novamind.domain import RuleViolation

FACTOR = 4


def lithium(dose="300", unit=domain.DoseUnit.MG, **changes):
    return a_stored_order(
        drug_name="lithium carbonate",
        strength="300 mg",
        dose_form=domain.DoseForm.CAPSULE,
        dose_amount=Decimal(dose),
        dose_unit=unit,
        **changes,
    )


def revision_of(current, **changes):
    return dataclasses.replace(current, id=None, replaces_id=current.id, **changes)


def check(order, orders):
    return domain.check_against_record(order, allergies=[], orders=orders, dose_change_factor=FACTOR)


@pytest.mark.parametrize(
    "old, new, needs_confirming",
    [
        ("300", "2", True),  # the dose that was accepted without a word
        ("300", "75", False),  # exactly four times lower
        ("300", "74", True),
        ("50", "200", False),  # exactly four times higher
        ("50", "250", True),
        ("0.5", "0.25", False),
    ],
)
def test_a_dose_more_than_the_factor_higher_or_lower_is_a_large_change(old, new, needs_confirming):
    current = lithium(old)
    change = domain.dose_change(revision_of(current, dose_amount=Decimal(new)), current, factor=FACTOR)
    assert (change is not None) == needs_confirming


def test_another_unit_is_a_large_change_whatever_the_number():
    current = lithium("300")
    assert domain.dose_change(revision_of(current, dose_unit=domain.DoseUnit.MCG), current, factor=FACTOR)
    assert domain.dose_change(
        revision_of(current, dose_unit=domain.DoseUnit.G, dose_amount=Decimal("0.3")), current, factor=FACTOR
    )


def test_the_warning_says_both_doses_how_far_apart_and_what_it_is_compared_with():
    current = lithium("300")
    with pytest.raises(RuleViolation) as caught:
        check(revision_of(current, dose_amount=Decimal("2")), [current])
    first, last = caught.value.errors[domain.DOSE_CONFIRMATION]
    assert first.startswith("The dose changes from 300 mg to 2 mg, 150 times lower, compared with the order it revises")
    assert "lithium carbonate 300 mg capsule, active since" in first and "more than 4 times" in first
    assert "confirm the change" in last
    with pytest.raises(RuleViolation, match="The dose unit changes from mg to mcg \\(300 mg to 300 mcg\\)"):
        check(revision_of(current, dose_unit=domain.DoseUnit.MCG), [current])


def test_a_confirmed_change_passes_and_the_confirmation_is_kept():
    current = lithium("300")
    checked = check(revision_of(current, dose_amount=Decimal("2"), dose_change_confirmed=True), [current])
    assert checked.dose_change_confirmed is True


def test_a_confirmation_with_nothing_to_confirm_is_not_kept():
    current = lithium("300")
    checked = check(revision_of(current, dose_amount=Decimal("600"), dose_change_confirmed=True), [current])
    assert checked.dose_change_confirmed is False


def test_a_new_order_is_compared_with_the_patients_latest_order_of_the_same_drug():
    old = lithium("900", status=domain.OrderStatus.COMPLETED, start_date=TODAY - dt.timedelta(days=400))
    recent = lithium("600", status=domain.OrderStatus.COMPLETED, start_date=TODAY - dt.timedelta(days=40))
    other_drug = a_stored_order(dose_amount=Decimal("1"))
    new = an_order(drug_name="Lithium Carbonate", dose_amount=Decimal("100"), start_date=TODAY)
    assert domain.previous_order(new, [old, recent, other_drug]) == recent
    with pytest.raises(RuleViolation, match="600 mg to 100 mg, 6 times lower, compared with the last order"):
        check(new, [old, recent, other_drug])


def test_a_current_order_of_the_drug_comes_before_a_later_stopped_one():
    current = lithium("300", start_date=TODAY - dt.timedelta(days=90))
    stopped = lithium("1200", status=domain.OrderStatus.COMPLETED, start_date=TODAY - dt.timedelta(days=10))
    assert domain.previous_order(an_order(drug_name="lithium carbonate"), [stopped, current]) == current


def test_a_first_order_of_a_drug_has_nothing_to_compare_with():
    assert domain.previous_order(an_order(), [a_stored_order(drug_name="lithium")]) is None
    assert check(an_order(dose_amount=Decimal("5000")), [a_stored_order(drug_name="lithium")])


def test_a_revision_with_a_large_change_is_refused_by_the_domain_path_too_until_confirmed():
    # domain.revise builds the new order; the record check (repository, admin) then asks for the confirmation.
    current = lithium("300")
    _, new = domain.revise(
        current, dataclasses.replace(current, dose_amount=Decimal("2")), effective=TODAY, prescriber=DRLEE, today=TODAY
    )
    with pytest.raises(RuleViolation) as caught:
        check(new, [current])
    assert set(caught.value.errors) == {domain.DOSE_CONFIRMATION}


@pytest.mark.parametrize("factor, ok", [(4, True), ("2.5", True), (1, False), (0, False), ("x", False)])
def test_the_factor_must_be_a_number_above_one(factor, ok):
    assert (domain.dose_factor_problem(factor) is None) == ok
