"""The rules of one medication order, without a database."""

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest

from medications import domain
from medications.tests.builders import DRLEE, FRONT_DESK, NO_DEA, TODAY, a_stored_order, an_order
from novamind.domain import RuleViolation


def errors_of(order, *, new=False):
    with pytest.raises(RuleViolation) as caught:
        if new:
            domain.check_new_order(order, today=TODAY)
        else:
            order.validated(today=TODAY)
    return caught.value.errors


def test_a_complete_order_is_valid_and_normalised():
    order = an_order(drug_name="  sertraline  ", strength=" 50  mg ", instructions="  Take with food.  ").validated(
        today=TODAY
    )
    assert order.drug_name == "sertraline" and order.strength == "50 mg" and order.instructions == "Take with food."
    assert order.sig == "50 mg by mouth once daily"
    assert order.medication == "sertraline 50 mg tablet"


@pytest.mark.parametrize("dose", [Decimal("-5"), Decimal("0"), Decimal("NaN")])
def test_the_dose_must_be_more_than_zero(dose):
    assert errors_of(an_order(dose_amount=dose)) == {"dose_amount": ["The dose must be more than zero."]}


def test_quantity_must_be_positive_and_a_missing_one_is_required():
    assert errors_of(an_order(quantity=Decimal("0")))["quantity"] == ["The quantity must be more than zero."]
    assert errors_of(an_order(quantity=None))["quantity"] == [domain.REQUIRED]


def test_a_dose_with_too_many_decimal_places_is_refused():
    assert "decimal places" in errors_of(an_order(dose_amount=Decimal("0.12345")))["dose_amount"][0]


def test_the_end_date_cannot_be_before_the_start():
    order = an_order(start_date=TODAY, end_date=TODAY - dt.timedelta(days=1))
    assert "before the start date" in errors_of(order)["end_date"][0]
    assert an_order(start_date=TODAY, end_date=TODAY).validated(today=TODAY).end_date == TODAY


def test_a_schedule_ii_drug_cannot_have_refills():
    order = an_order(drug_name="methylphenidate", schedule=domain.Schedule.II, refills=1)
    assert "cannot be refilled" in errors_of(order)["refills"][0]
    assert dataclasses.replace(order, refills=0).validated(today=TODAY).refills == 0


@pytest.mark.parametrize(
    "schedule, allowed",
    [
        (domain.Schedule.III, 5),
        (domain.Schedule.IV, 5),
        (domain.Schedule.V, 11),
        (domain.Schedule.NONE, 11),
    ],
)
def test_refills_are_limited_by_the_schedule(schedule, allowed):
    assert an_order(schedule=schedule, refills=allowed).validated(today=TODAY)
    assert f"At most {allowed} refills" in errors_of(an_order(schedule=schedule, refills=allowed + 1))["refills"][0]


def test_negative_refills_are_refused():
    assert errors_of(an_order(refills=-1)) == {"refills": ["Refills cannot be negative."]}


def test_every_n_hours_needs_its_number_and_other_frequencies_refuse_one():
    every = domain.Frequency(kind=domain.FrequencyKind.EVERY_N_HOURS)
    assert errors_of(an_order(frequency=every))["frequency_interval"] == ["Give the number of hours."]
    assert errors_of(an_order(frequency=dataclasses.replace(every, interval=100)))["frequency_interval"] == [
        "Every 1 to 72 hours."
    ]
    daily = domain.Frequency(kind=domain.FrequencyKind.ONCE_DAILY, interval=3)
    assert "does not" in errors_of(an_order(frequency=daily))["frequency_interval"][0]


def test_an_as_needed_order_needs_an_indication_and_only_it_may_have_one():
    prn = domain.Frequency(kind=domain.FrequencyKind.AS_NEEDED)
    assert "indication" in errors_of(an_order(frequency=prn))["prn_indication"][0]
    scheduled = domain.Frequency(kind=domain.FrequencyKind.ONCE_DAILY, indication="anxiety")
    assert "Only an as-needed order" in errors_of(an_order(frequency=scheduled))["prn_indication"][0]
    order = an_order(frequency=domain.Frequency(kind=domain.FrequencyKind.AS_NEEDED, indication="panic")).validated(
        today=TODAY
    )
    assert order.frequency.as_needed and order.sig == "50 mg by mouth as needed for panic"


def test_a_scheduled_frequency_can_also_be_as_needed():
    frequency = domain.Frequency(
        kind=domain.FrequencyKind.EVERY_N_HOURS, interval=6, as_needed=True, indication="agitation"
    )
    assert frequency.describe() == "every 6 hours as needed for agitation"


def test_missing_details_are_each_reported_against_their_field():
    order = an_order(
        drug_name="",
        strength="",
        dose_form=None,
        dose_unit=None,
        route=None,
        frequency=domain.Frequency(kind=None),
        start_date=None,
        dose_amount=None,
    )
    assert set(errors_of(order)) == {
        "drug_name",
        "strength",
        "dose_form",
        "dose_unit",
        "route",
        "frequency_kind",
        "start_date",
        "dose_amount",
    }


def test_an_rxnorm_code_is_digits():
    assert "RxNorm" in errors_of(an_order(rxnorm_code="36437x"))["rxnorm_code"][0]
    assert an_order(rxnorm_code="36437").validated(today=TODAY).rxnorm_code == "36437"


def test_only_prescribers_prescribe():
    assert "Only prescribers prescribe" in errors_of(an_order(prescriber=FRONT_DESK), new=True)["prescriber"][0]
    assert "needs its prescriber" in errors_of(an_order(prescriber=None), new=True)["prescriber"][0]


def test_a_controlled_substance_needs_a_prescriber_with_a_dea_number():
    order = an_order(prescriber=NO_DEA, drug_name="lorazepam", schedule=domain.Schedule.IV, refills=0)
    assert "DEA number" in errors_of(order, new=True)["prescriber"][0]
    assert domain.check_new_order(dataclasses.replace(order, prescriber=DRLEE), today=TODAY)
    # An uncontrolled drug needs no DEA number.
    assert domain.check_new_order(an_order(prescriber=NO_DEA), today=TODAY)


def test_a_drug_the_table_knows_as_controlled_must_carry_its_schedule():
    order = an_order(drug_name="Adderall", schedule=domain.Schedule.NONE, refills=0)
    assert errors_of(order, new=True)["schedule"] == [
        "Adderall is a schedule II controlled substance; set its schedule to II."
    ]


def test_field_faults_and_prescribing_faults_are_reported_together():
    errors = errors_of(an_order(prescriber=FRONT_DESK, dose_amount=Decimal("-1")), new=True)
    assert set(errors) == {"prescriber", "dose_amount"}


def test_a_discontinued_order_needs_its_stop_date_and_reason():
    order = an_order(status=domain.OrderStatus.DISCONTINUED)
    assert set(errors_of(order)) == {"discontinued_on", "discontinue_reason"}


def test_an_active_order_has_no_stop_date():
    order = an_order(discontinued_on=TODAY, discontinue_reason=domain.DiscontinueReason.INEFFECTIVE)
    assert "Only a discontinued order" in errors_of(order)[domain.NON_FIELD][0]


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"start_date": dt.date(1899, 12, 31)}, "start_date"),
        ({"start_date": dt.date(TODAY.year + 5, TODAY.month, TODAY.day + 1)}, "start_date"),
        ({"end_date": dt.date(9999, 12, 31)}, "end_date"),
    ],
)
def test_a_new_orders_dates_lie_between_1900_and_five_years_from_today(changes, field):
    assert "Enter a date" in " ".join(errors_of(an_order(**changes), new=True)[field])


def test_the_date_bounds_are_inclusive():
    last = dt.date(TODAY.year + 5, TODAY.month, TODAY.day)
    assert domain.check_new_order(an_order(start_date=dt.date(1900, 1, 1), end_date=last), today=TODAY).end_date == last


def test_a_revision_cannot_end_beyond_five_years_from_today():
    current = a_stored_order()
    with pytest.raises(RuleViolation) as caught:
        domain.revise(
            current,
            dataclasses.replace(current, dose_amount=Decimal("100"), end_date=dt.date(2999, 1, 1)),
            effective=TODAY,
            prescriber=DRLEE,
            today=TODAY,
        )
    assert "end_date" in caught.value.errors


def test_an_rxnorm_code_is_ascii_digits():
    assert "RxNorm" in errors_of(an_order(rxnorm_code="3643³"))["rxnorm_code"][0]
