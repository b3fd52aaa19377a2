"""Status changes and revisions of an order, without a database."""

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest

from medications import domain
from medications.tests.builders import DRLEE, FRONT_DESK, TODAY, a_stored_order
from novamind.domain import RuleViolation

S = domain.OrderStatus


def test_discontinuing_records_date_and_reason():
    stopped = domain.discontinue(
        a_stored_order(), on=TODAY, reason=domain.DiscontinueReason.ADVERSE_EFFECT, today=TODAY
    )
    assert stopped.status is S.DISCONTINUED and stopped.discontinued_on == TODAY
    assert stopped.discontinue_reason is domain.DiscontinueReason.ADVERSE_EFFECT


def test_discontinuing_needs_a_reason_and_other_needs_a_note():
    with pytest.raises(RuleViolation) as caught:
        domain.discontinue(a_stored_order(), on=TODAY, reason=None, today=TODAY)
    assert set(caught.value.errors) == {"discontinue_reason"}
    with pytest.raises(RuleViolation) as caught:
        domain.discontinue(a_stored_order(), on=TODAY, reason=domain.DiscontinueReason.OTHER, today=TODAY)
    assert set(caught.value.errors) == {"discontinue_note"}


def test_the_stop_date_is_not_in_the_future_nor_before_the_order_began():
    order = a_stored_order()
    with pytest.raises(RuleViolation, match="future"):
        domain.discontinue(
            order, on=TODAY + dt.timedelta(days=1), reason=domain.DiscontinueReason.INEFFECTIVE, today=TODAY
        )
    with pytest.raises(RuleViolation, match="before the order began"):
        domain.discontinue(
            order, on=order.start_date - dt.timedelta(days=1), reason=domain.DiscontinueReason.INEFFECTIVE, today=TODAY
        )


def test_an_order_written_today_to_start_next_week_can_be_cancelled_today():
    order = a_stored_order(start_date=TODAY + dt.timedelta(days=7), written_on=TODAY)
    stopped = domain.discontinue(order, on=TODAY, reason=domain.DiscontinueReason.PATIENT_REQUEST, today=TODAY)
    assert stopped.discontinued_on == TODAY


def test_a_closed_order_cannot_be_discontinued_held_or_revised():
    closed = domain.discontinue(a_stored_order(), on=TODAY, reason=domain.DiscontinueReason.INEFFECTIVE, today=TODAY)
    with pytest.raises(RuleViolation, match="discontinued; it cannot be discontinued"):
        domain.discontinue(closed, on=TODAY, reason=domain.DiscontinueReason.INEFFECTIVE, today=TODAY)
    with pytest.raises(RuleViolation, match="Only an active order"):
        domain.hold(closed)
    with pytest.raises(RuleViolation, match="cannot be revised"):
        domain.revise(
            closed,
            dataclasses.replace(closed, dose_amount=Decimal("100")),
            effective=TODAY,
            prescriber=DRLEE,
            today=TODAY,
        )


def test_hold_and_resume_go_back_and_forth():
    held = domain.hold(a_stored_order())
    assert held.status is S.ON_HOLD and held.is_current
    assert domain.resume(held).status is S.ACTIVE
    with pytest.raises(RuleViolation, match="Only an order on hold"):
        domain.resume(domain.resume(held))


def test_only_an_order_whose_end_date_has_come_is_completed():
    with pytest.raises(RuleViolation, match="no end date"):
        domain.complete(a_stored_order(), today=TODAY)
    with pytest.raises(RuleViolation, match="runs until"):
        domain.complete(a_stored_order(end_date=TODAY + dt.timedelta(days=3)), today=TODAY)
    assert domain.complete(a_stored_order(end_date=TODAY), today=TODAY).status is S.COMPLETED


def test_revising_closes_the_order_as_changed_and_links_a_new_one():
    current = a_stored_order()
    closed, new = domain.revise(
        current,
        dataclasses.replace(current, dose_amount=Decimal("100"), quantity=Decimal("60")),
        effective=TODAY,
        prescriber=DRLEE,
        today=TODAY,
    )
    assert closed.status is S.DISCONTINUED and closed.discontinue_reason is domain.DiscontinueReason.CHANGED
    assert closed.discontinued_on == TODAY and closed.dose_amount == Decimal("50")
    assert new.id is None and new.replaces_id == current.id and new.status is S.ACTIVE
    assert new.start_date == TODAY and new.dose_amount == Decimal("100") and new.written_on == TODAY


def test_a_revision_keeps_the_drug():
    current = a_stored_order()
    with pytest.raises(RuleViolation) as caught:
        domain.revise(
            current,
            dataclasses.replace(current, drug_name="fluoxetine"),
            effective=TODAY,
            prescriber=DRLEE,
            today=TODAY,
        )
    assert "to switch drugs" in caught.value.errors["drug_name"][0]


def test_a_revision_must_change_something():
    current = a_stored_order()
    with pytest.raises(RuleViolation, match="Nothing was changed"):
        domain.revise(current, current, effective=TODAY, prescriber=DRLEE, today=TODAY)


def test_a_revision_takes_effect_today_or_earlier_but_not_before_the_order_began():
    current = a_stored_order()
    changed = dataclasses.replace(current, dose_amount=Decimal("100"))
    with pytest.raises(RuleViolation) as caught:
        domain.revise(current, changed, effective=TODAY + dt.timedelta(days=1), prescriber=DRLEE, today=TODAY)
    assert "today or on an earlier date" in caught.value.errors["start_date"][0]
    with pytest.raises(RuleViolation) as caught:
        domain.revise(
            current, changed, effective=current.start_date - dt.timedelta(days=1), prescriber=DRLEE, today=TODAY
        )
    assert "before the order it revises began" in caught.value.errors["start_date"][0]


def test_the_new_order_of_a_revision_obeys_every_order_rule_and_its_reviser_must_prescribe():
    current = a_stored_order()
    with pytest.raises(RuleViolation) as caught:
        domain.revise(
            current,
            dataclasses.replace(current, dose_amount=Decimal("-50")),
            effective=TODAY,
            prescriber=FRONT_DESK,
            today=TODAY,
        )
    assert set(caught.value.errors) == {"dose_amount", "prescriber"}


def test_revision_chains_read_as_a_timeline():
    first = a_stored_order()
    closed, second = domain.revise(
        first,
        dataclasses.replace(first, dose_amount=Decimal("100")),
        effective=TODAY - dt.timedelta(days=10),
        prescriber=DRLEE,
        today=TODAY,
    )
    second = dataclasses.replace(second, id=first.id.__class__(int=first.id.int + 1))
    closed = dataclasses.replace(closed, replaced_by_id=second.id)
    other = a_stored_order(drug_name="lithium", start_date=TODAY - dt.timedelta(days=5))
    assert domain.revision_chains([other, second, closed]) == [[closed, second], [other]]
