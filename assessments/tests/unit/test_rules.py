"""The rules of a response, its safety alert, trends and due measures, on plain domain objects."""

import datetime as dt
import uuid

import pytest

from assessments import domain
from assessments.instruments import gad7, phq9
from novamind.domain import RuleViolation

TODAY = dt.date(2026, 12, 7)
NOW = dt.datetime(2026, 12, 7, 15, 0, tzinfo=dt.UTC)


def phq9_answers(item9=0, rest=1):
    return domain.Answers(items={**{number: rest for number in range(1, 9)}, 9: item9})


def a_response(**changes):
    values = {
        "patient_id": uuid.uuid4(),
        "instrument": "phq9",
        "administered_on": TODAY,
        "answers": phq9_answers(),
    }
    return domain.Response(**{**values, **changes})


# --- a response ------------------------------------------------------------------------------------


def test_a_scored_response_carries_its_total_and_band():
    response = a_response(answers=phq9_answers(item9=2, rest=2)).scored(today=TODAY)
    assert (response.total, response.band, response.band_label, response.risky) == (
        18,
        "moderately_severe",
        "Moderately severe",
        True,
    )


def test_a_response_names_each_missing_detail_next_to_its_field():
    with pytest.raises(RuleViolation) as refused:
        a_response(patient_id=None, administered_on=None, instrument="").scored(today=TODAY)
    assert set(refused.value.errors) == {"patient", "administered_on", "instrument"}


def test_an_unknown_instrument_is_refused():
    with pytest.raises(RuleViolation, match="not a questionnaire NovaMind scores"):
        a_response(instrument="bdi2").scored(today=TODAY)


@pytest.mark.parametrize("day", [TODAY + dt.timedelta(days=1), dt.date(1899, 12, 31)])
def test_a_response_is_dated_between_1900_and_today(day):
    with pytest.raises(RuleViolation) as refused:
        a_response(administered_on=day).scored(today=TODAY)
    assert set(refused.value.errors) == {"administered_on"}


def test_item_errors_of_the_score_reach_the_response():
    answers = domain.Answers(items={1: 1, 2: 1})
    with pytest.raises(RuleViolation) as refused:
        a_response(answers=answers).scored(today=TODAY)
    assert "item_9" in refused.value.errors and "item_3" in refused.value.errors


def test_a_correction_scores_again_and_needs_a_reason():
    stored = a_response(answers=phq9_answers(item9=1)).scored(today=TODAY)
    with pytest.raises(RuleViolation) as refused:
        domain.correct(
            stored, answers=phq9_answers(), administered_on=TODAY, appointment_id=None, reason=" ", today=TODAY
        )
    assert set(refused.value.errors) == {"correction_reason"}
    corrected = domain.correct(
        stored,
        answers=phq9_answers(),
        administered_on=TODAY,
        appointment_id=None,
        reason="Misread the form.",
        today=TODAY,
    )
    assert (corrected.total, corrected.risky, corrected.correction_reason) == (8, False, "Misread the form.")


def test_a_correction_that_changes_nothing_is_refused():
    stored = a_response().scored(today=TODAY)
    with pytest.raises(RuleViolation, match="Nothing was changed"):
        domain.correct(
            stored,
            answers=stored.answers,
            administered_on=stored.administered_on,
            appointment_id=None,
            reason="x",
            today=TODAY,
        )


def test_a_voided_response_needs_a_reason_and_is_not_corrected_or_voided_again():
    stored = a_response().scored(today=TODAY)
    with pytest.raises(RuleViolation) as refused:
        domain.void(stored, reason="", today=TODAY)
    assert set(refused.value.errors) == {"void_reason"}
    voided = domain.void(stored, reason="Wrong patient's form.", today=TODAY)
    assert voided.status is domain.ResponseStatus.VOIDED
    with pytest.raises(RuleViolation, match="already voided"):
        domain.void(voided, reason="again", today=TODAY)
    with pytest.raises(RuleViolation, match="voided"):
        domain.correct(
            voided, answers=phq9_answers(2), administered_on=TODAY, appointment_id=None, reason="late", today=TODAY
        )


def test_verify_names_a_stored_total_or_band_its_answers_do_not_score():
    stored = a_response().scored(today=TODAY)
    assert domain.verify(stored) == []
    import dataclasses

    tampered = dataclasses.replace(stored, total=3, band="severe")
    problems = domain.verify(tampered)
    assert problems == [
        "its stored total 3 is not the 8 its answers score",
        "its stored band “severe” is not “mild”",
    ]


# --- the safety alert ------------------------------------------------------------------------------


def an_alert(**changes):
    values = {"patient_id": uuid.uuid4(), "response_id": uuid.uuid4(), "raised_at": NOW, "reason": "PHQ-9 item 9"}
    return domain.SafetyAlert(**{**values, **changes})


def test_a_review_records_what_was_done_by_whom_and_when():
    reviewed = domain.review(
        an_alert(), action_taken="Called the patient: safe, plan agreed.", reviewer="drpatel", now=NOW
    )
    assert (reviewed.status, reviewed.reviewed_by, reviewed.reviewed_at) == (
        domain.AlertStatus.REVIEWED,
        "drpatel",
        NOW,
    )


@pytest.mark.parametrize("action", ["", "ok", "         "])
def test_a_review_without_a_record_of_what_was_done_is_refused(action):
    with pytest.raises(RuleViolation) as refused:
        domain.review(an_alert(), action_taken=action, reviewer="drpatel", now=NOW)
    assert set(refused.value.errors) == {"action_taken"}


def test_an_alert_is_reviewed_once():
    reviewed = domain.review(an_alert(), action_taken="Called the patient: safe.", reviewer="drpatel", now=NOW)
    with pytest.raises(RuleViolation, match="reviewed once"):
        domain.review(reviewed, action_taken="Called again, still safe.", reviewer="drlee", now=NOW)


@pytest.mark.parametrize(
    ("status", "risky", "change"),
    [
        (None, True, domain.AlertChange.RAISE),
        (None, False, domain.AlertChange.NONE),
        (domain.AlertStatus.OPEN, True, domain.AlertChange.KEEP),
        (domain.AlertStatus.OPEN, False, domain.AlertChange.CLEAR),
        (domain.AlertStatus.REVIEWED, True, domain.AlertChange.KEEP),
        (domain.AlertStatus.REVIEWED, False, domain.AlertChange.KEEP),
        (domain.AlertStatus.CLEARED, True, domain.AlertChange.REOPEN),
        (domain.AlertStatus.CLEARED, False, domain.AlertChange.KEEP),
    ],
)
def test_what_a_correction_does_to_the_alert(status, risky, change):
    assert domain.alert_change(status, risky=risky) is change


def test_a_cleared_alert_keeps_why_and_a_reopened_one_starts_waiting_again():
    cleared = domain.clear(an_alert(), reason="Item 9 was misread.", by="drpatel", now=NOW)
    assert cleared.status is domain.AlertStatus.CLEARED and "Item 9 was misread." in cleared.clear_reason
    later = NOW + dt.timedelta(hours=5)
    reopened = domain.reopen(cleared, reason="PHQ-9 item 9", now=later)
    assert (reopened.status, reopened.raised_at, reopened.clear_reason) == (domain.AlertStatus.OPEN, later, "")


def test_an_alert_is_overdue_when_open_past_the_review_window():
    alert = an_alert(raised_at=NOW - dt.timedelta(hours=25))
    assert alert.overdue(NOW, hours=24) and not alert.overdue(NOW, hours=26)
    reviewed = domain.review(alert, action_taken="Called the patient: safe.", reviewer="drpatel", now=NOW)
    assert not reviewed.overdue(NOW, hours=24)


# --- trends ----------------------------------------------------------------------------------------


def test_trend_flags_the_baseline_response_and_remission():
    instrument = phq9.INSTRUMENT
    days = [TODAY - dt.timedelta(days=30 * n) for n in range(5, 0, -1)]
    scores = [
        (f"r{n}", day, total, "", "") for n, (day, total) in enumerate(zip(days, (20, 11, 10, 6, 4), strict=True))
    ]
    points = domain.trend(instrument, scores)
    assert [point.flags for point in points] == [
        ("baseline",),
        (),  # 11 is 45% below 20
        ("response",),  # 10 is 50% below
        ("response",),
        ("response", "remission"),
    ]


def test_a_baseline_of_0_shows_no_response():
    points = domain.trend(gad7.INSTRUMENT, [("a", TODAY - dt.timedelta(days=1), 0, "", ""), ("b", TODAY, 0, "", "")])
    assert [point.flags for point in points] == [("baseline", "remission"), ("remission",)]


# --- measures due ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("codes", "last", "expected"),
    [
        (["F32.1"], {}, [("phq9", TODAY, None)]),  # never measured: due today
        (["F33.0"], {"phq9": TODAY - dt.timedelta(days=30)}, [("phq9", TODAY, TODAY - dt.timedelta(days=30))]),
        (
            ["F32.A"],
            {"phq9": TODAY - dt.timedelta(days=40)},
            [("phq9", TODAY - dt.timedelta(days=10), TODAY - dt.timedelta(days=40))],
        ),
        (["F32.1"], {"phq9": TODAY - dt.timedelta(days=29)}, []),
        (["F41.1"], {}, [("gad7", TODAY, None)]),
        (["F43.10", "Z63.0"], {}, []),
        (["F32.1", "F41.0"], {"gad7": TODAY - dt.timedelta(days=3)}, [("phq9", TODAY, None)]),
    ],
)
def test_measures_fall_due_on_the_schedule_of_the_current_diagnoses(codes, last, expected):
    due = domain.due_measures(codes, last, today=TODAY)
    assert [(measure.instrument, measure.due_on, measure.last_on) for measure in due] == expected


def test_a_due_measure_says_how_late_it_is():
    measure = domain.due_measures(["F32.1"], {"phq9": TODAY - dt.timedelta(days=45)}, today=TODAY)[0]
    assert (measure.name, measure.days_overdue(TODAY)) == ("PHQ-9", 15)
