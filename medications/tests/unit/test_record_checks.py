"""Allergy and duplicate-therapy checks against the patient's own record, without a database."""

import dataclasses

import pytest

from medications import domain
from medications.tests.builders import a_stored_order, an_allergy, an_order
from novamind.domain import RuleViolation


def check(order, *, allergies, orders):
    """Return the record check's answer with the default dose-change factor."""
    return domain.check_against_record(order, allergies=allergies, orders=orders, dose_change_factor=4)


def matches(drug, *substances):
    return [match.why for match in domain.allergy_matches(drug, [an_allergy(s) for s in substances])]


def test_an_allergy_to_the_drug_itself_matches_whatever_the_name_used():
    assert matches("sertraline", "Zoloft") == ["the same drug"]
    assert matches("Sertraline HCl", "SERTRALINE") == ["the same drug"]


def test_an_allergy_naming_a_class_matches_its_members():
    assert matches("fluoxetine", "SSRIs") == ["it is one of the SSRIs"]
    assert matches("lorazepam", "benzodiazepines") == ["it is one of the benzodiazepines"]
    assert matches("bupropion", "SSRIs") == []


def test_an_allergy_to_one_member_of_a_cross_sensitive_class_matches_the_others():
    assert matches("clonazepam", "alprazolam") == ["both are benzodiazepines, which are cross-sensitive"]
    assert matches("oxcarbazepine", "Tegretol") == ["both are aromatic anticonvulsants, which are cross-sensitive"]


def test_an_allergy_to_one_ssri_does_not_rule_out_another():
    assert matches("fluoxetine", "sertraline") == []


def test_retired_allergies_are_not_checked():
    allergy = an_allergy("sertraline", status=domain.AllergyStatus.ENTERED_IN_ERROR)
    assert domain.allergy_matches("sertraline", [allergy]) == []


def test_an_allergy_match_is_refused_without_an_override_reason_and_names_the_allergy():
    allergy = an_allergy("SSRIs", reaction="serotonin syndrome", severity=domain.AllergySeverity.SEVERE)
    with pytest.raises(RuleViolation) as caught:
        check(an_order(), allergies=[allergy], orders=[])
    messages = caught.value.errors["allergy_override_reason"]
    assert "“SSRIs” (severe: serotonin syndrome): it is one of the SSRIs" in messages[0]
    assert "give your reason" in messages[-1]


def test_an_override_reason_lets_the_order_through_and_is_kept():
    order = an_order(allergy_override_reason=" Tolerated sertraline in 2019 without reaction. ")
    checked = check(order, allergies=[an_allergy("SSRIs")], orders=[])
    assert checked.allergy_override_reason == "Tolerated sertraline in 2019 without reaction."


def test_an_override_reason_with_nothing_to_override_is_not_kept():
    order = an_order(allergy_override_reason="just in case", duplicate_override_reason="just in case")
    checked = check(order, allergies=[an_allergy("penicillin")], orders=[])
    assert checked.allergy_override_reason == "" and checked.duplicate_override_reason == ""


def test_a_second_current_order_of_the_same_drug_is_a_duplicate():
    current = a_stored_order(drug_name="Zoloft")
    with pytest.raises(RuleViolation) as caught:
        check(an_order(), allergies=[], orders=[current])
    assert "the same drug" in caught.value.errors["duplicate_override_reason"][0]


def test_two_ssris_are_a_duplicate_but_two_mood_stabilizers_are_not():
    with pytest.raises(RuleViolation, match="two SSRIs at once"):
        check(an_order(drug_name="fluoxetine"), allergies=[], orders=[a_stored_order()])
    lithium = a_stored_order(drug_name="lithium")
    assert check(an_order(drug_name="lamotrigine"), allergies=[], orders=[lithium])


def test_an_order_on_hold_still_counts_but_a_discontinued_one_does_not():
    held = a_stored_order(status=domain.OrderStatus.ON_HOLD)
    with pytest.raises(RuleViolation, match="on hold"):
        check(an_order(), allergies=[], orders=[held])
    stopped = domain.discontinue(
        a_stored_order(), on=held.start_date, reason=domain.DiscontinueReason.INEFFECTIVE, today=held.start_date
    )
    assert check(an_order(), allergies=[], orders=[stopped])


def test_the_order_a_revision_replaces_is_not_its_duplicate():
    current = a_stored_order()
    revision = dataclasses.replace(current, id=None, replaces_id=current.id)
    assert check(revision, allergies=[], orders=[current])


def test_allergy_and_duplicate_conflicts_are_reported_together():
    with pytest.raises(RuleViolation) as caught:
        check(an_order(), allergies=[an_allergy("sertraline")], orders=[a_stored_order(drug_name="paroxetine")])
    assert set(caught.value.errors) == {"allergy_override_reason", "duplicate_override_reason"}


def test_an_allergy_needs_a_substance():
    with pytest.raises(RuleViolation) as caught:
        an_allergy("   ").validated()
    assert caught.value.errors == {"substance": [domain.REQUIRED]}
