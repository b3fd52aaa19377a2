"""Every instrument scored against its published scoring instructions: every band boundary, the missing-item rules.

Each case names its source: the instrument module's docstring cites it in full.
"""

import pytest

from assessments import domain
from assessments.instruments import auditc, gad7, pcl5, phq9
from novamind.domain import RuleViolation

PHQ9, GAD7, PCL5, AUDITC = phq9.INSTRUMENT, gad7.INSTRUMENT, pcl5.INSTRUMENT, auditc.INSTRUMENT


def answers_totalling(instrument, total, *, basis="", skip=()):
    """Return answers to every scored item (but `skip`) that add up to `total`, filling items in order."""
    items, left = {}, total
    for item in instrument.scored_items:
        if item.number in skip:
            continue
        top = max(option.points for option in instrument.options_of(item))
        items[item.number] = min(top, left)
        left -= items[item.number]
    assert left == 0, f"{total} is more than the answered items can score"
    return domain.Answers(items=items, basis=basis)


def scored(instrument, answers):
    result = domain.score(instrument, answers)
    return result.total, result.band.key


# --- PHQ-9: loinc.org/44261-6 (bands); NHS Data Dictionary, PHQ-9 (missing items) ----------------


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "none_minimal"),
        (4, "none_minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "moderately_severe"),
        (19, "moderately_severe"),
        (20, "severe"),
        (27, "severe"),
    ],
)
def test_phq9_totals_at_every_band_boundary_read_as_loinc_44261_6_says(total, band):
    assert scored(PHQ9, answers_totalling(PHQ9, total)) == (total, band)


def test_phq9_adds_the_nine_items_and_item_10_scores_nothing():
    # The form's scoring: each check scores its column (0–3) and the nine are added (loinc.org/44261-6).
    answers = domain.Answers(items={**{n: 1 for n in range(1, 10)}, 10: 3})
    assert scored(PHQ9, answers) == (9, "mild")
    assert PHQ9.max_total == 27


def test_phq9_item_10_may_be_left_unanswered():
    assert scored(PHQ9, answers_totalling(PHQ9, 12)) == (12, "moderate")


def test_phq9_one_missing_item_takes_the_mean_of_the_others():
    # NHS Data Dictionary: one or two missing values "can be substituted with the average score of the non-missing items".
    answers = domain.Answers(items={n: 2 for n in range(1, 9)} | {9: 2, 4: None})
    result = domain.score(PHQ9, answers)
    assert (result.total, result.band.key, result.unanswered, result.prorated) == (18, "moderately_severe", (4,), True)


def test_phq9_two_missing_items_are_prorated_and_rounded_half_up():
    # 7 answered items scoring 10: 10 × 9 / 7 = 12.86, scored 13.
    items = {1: 2, 2: 2, 3: 2, 4: 1, 5: 1, 6: 1, 9: 1}
    assert scored(PHQ9, domain.Answers(items=items)) == (13, "moderate")
    # 8 answered items scoring 4: 4 × 9 / 8 = 4.5, a half, read as the more severe band.
    items = {1: 1, 2: 1, 3: 1, 4: 1, 5: 0, 6: 0, 7: 0, 9: 0}
    assert scored(PHQ9, domain.Answers(items=items)) == (5, "mild")


def test_phq9_with_three_missing_items_is_refused_naming_each():
    # NHS Data Dictionary: "Questionnaires with more than two missing values should be disregarded."
    items = {1: 2, 2: 2, 3: 2, 4: 2, 5: 2, 9: 0}
    with pytest.raises(RuleViolation) as refused:
        domain.score(PHQ9, domain.Answers(items=items))
    errors = refused.value.errors
    assert "At most 2 items of the PHQ-9 may be left unanswered" in errors[domain.NON_FIELD][0]
    assert set(errors) == {domain.NON_FIELD, "item_6", "item_7", "item_8"}


def test_phq9_item_9_is_never_estimated():
    answers = answers_totalling(PHQ9, 10, skip={9})
    with pytest.raises(RuleViolation) as refused:
        domain.score(PHQ9, answers)
    assert "a risk question is never left out" in refused.value.errors["item_9"][0]


def test_an_answer_the_item_does_not_offer_is_refused_next_to_it():
    answers = domain.Answers(items={**answers_totalling(PHQ9, 0).items, 3: 4})
    with pytest.raises(RuleViolation) as refused:
        domain.score(PHQ9, answers)
    assert set(refused.value.errors) == {"item_3"}


def test_an_item_the_instrument_does_not_have_is_refused():
    with pytest.raises(RuleViolation, match="no item 11"):
        domain.score(PHQ9, domain.Answers(items={**answers_totalling(PHQ9, 3).items, 11: 1}))


def test_phq9_item_9_above_0_is_a_risk_answer_and_0_is_not():
    risky = domain.Answers(items={**answers_totalling(PHQ9, 5, skip={9}).items, 9: 1})
    assert [risk.number for risk in domain.risk_answers(PHQ9, risky)] == [9]
    assert "item 9" in domain.describe_risk(PHQ9, risky) and "“Several days”" in domain.describe_risk(PHQ9, risky)
    calm = domain.Answers(items={**risky.items, 9: 0})
    assert domain.risk_answers(PHQ9, calm) == ()


def test_only_the_phq9_has_a_risk_item():
    assert [instrument.name for instrument in (PHQ9, GAD7, PCL5, AUDITC) if instrument.risk_items] == ["PHQ-9"]


# --- GAD-7: Spitzer et al. 2006 (cut-points 5, 10, 15); no published missing-item rule: refused -----


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "severe"),
        (21, "severe"),
    ],
)
def test_gad7_totals_at_every_band_boundary(total, band):
    assert scored(GAD7, answers_totalling(GAD7, total)) == (total, band)
    assert GAD7.max_total == 21


def test_gad7_with_an_unanswered_item_is_refused():
    with pytest.raises(RuleViolation) as refused:
        domain.score(GAD7, answers_totalling(GAD7, 6, skip={4}))
    assert "Every item of the GAD-7 must be answered" in refused.value.errors[domain.NON_FIELD][0]
    assert refused.value.errors["item_4"] == ["Answer this item."]


# --- PCL-5: the 31–33 cut-point of the PCL-5 scoring guidance; no missing-item rule: refused --------


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "below_cut_point"),
        (30, "below_cut_point"),
        (31, "at_cut_point"),
        (33, "at_cut_point"),
        (34, "above_cut_point"),
        (80, "above_cut_point"),
    ],
)
def test_pcl5_totals_at_every_cut_point_boundary(total, band):
    assert scored(PCL5, answers_totalling(PCL5, total)) == (total, band)
    assert PCL5.max_total == 80 and len(PCL5.items) == 20


def test_pcl5_sums_its_twenty_items_each_0_to_4():
    # "Items are summed to provide a total severity score (range 0-80)."
    answers = domain.Answers(items={number: number % 5 for number in range(1, 21)})
    assert scored(PCL5, answers) == (40, "above_cut_point")


def test_pcl5_with_an_unanswered_item_is_refused():
    with pytest.raises(RuleViolation, match="Every item of the PCL-5 must be answered"):
        domain.score(PCL5, answers_totalling(PCL5, 20, skip={20}))


# --- AUDIT-C: loinc.org/75626-2 (4 or more for men, 3 or more for women); refused when incomplete --


@pytest.mark.parametrize(
    ("basis", "total", "band"),
    [
        (auditc.MEN, 0, "negative"),
        (auditc.MEN, 3, "negative"),
        (auditc.MEN, 4, "positive"),
        (auditc.MEN, 12, "positive"),
        (auditc.WOMEN, 0, "negative"),
        (auditc.WOMEN, 2, "negative"),
        (auditc.WOMEN, 3, "positive"),
        (auditc.WOMEN, 12, "positive"),
    ],
)
def test_auditc_cut_points_depend_on_the_scoring_basis(basis, total, band):
    assert scored(AUDITC, answers_totalling(AUDITC, total, basis=basis)) == (total, band)


def test_auditc_points_all_from_question_1():
    # loinc.org/75626-2: points all from question 1 (drinking 4 or more times a week, never heavily) still
    # reach the men's cut-point of 4.
    answers = domain.Answers(items={1: 4, 2: 0, 3: 0}, basis=auditc.MEN)
    assert scored(AUDITC, answers) == (4, "positive")


def test_auditc_basis_is_men_only_for_male_sex_assigned_at_birth():
    assert auditc.basis_for("male") == auditc.MEN
    assert {auditc.basis_for(sex) for sex in ("female", "intersex", "unknown", "declined", "")} == {auditc.WOMEN}


def test_auditc_with_an_unanswered_question_is_refused():
    with pytest.raises(RuleViolation, match="all three must be answered"):
        domain.score(AUDITC, domain.Answers(items={1: 2, 2: 1}, basis=auditc.WOMEN))


# --- the instruments as data -----------------------------------------------------------------------


@pytest.mark.parametrize("instrument", [PHQ9, GAD7, PCL5, AUDITC], ids=lambda i: i.code)
def test_bands_cover_every_total_once(instrument):
    for bands in instrument.bands.values():
        covered = [total for band in bands for total in range(band.low, band.high + 1)]
        assert covered == list(range(instrument.max_total + 1))


def test_the_verified_loinc_codes_are_the_issues():
    assert (PHQ9.panel_loinc, PHQ9.total_loinc, PHQ9.item(9).loinc) == ("44249-1", "44261-6", "44260-8")
    assert [option.loinc for option in PHQ9.options] == ["LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9"]
    assert (GAD7.panel_loinc, GAD7.total_loinc) == ("69737-5", "70274-6")
    assert (AUDITC.panel_loinc, AUDITC.total_loinc) == ("72109-2", "75626-2")
    assert (PCL5.panel_loinc, PCL5.total_loinc) == ("101697-1", "101698-9")


def test_answers_survive_their_json_form():
    answers = domain.Answers(items={1: 2, 2: None, 10: 1}, basis=auditc.MEN)
    assert domain.Answers.from_data(answers.to_data(), auditc.MEN) == answers
