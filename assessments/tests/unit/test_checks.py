"""The start-up check of NOVAMIND_RISK_REVIEW_HOURS: a review window of whole hours, at least one."""

import pytest

from assessments import checks


@pytest.mark.parametrize("hours", [1, 24, 72])
def test_a_window_of_whole_hours_is_accepted(hours):
    assert checks.review_hours_problem(hours) is None


@pytest.mark.parametrize(
    ("hours", "why"),
    [
        (0, "at least one hour"),
        (-5, "at least one hour"),
        ("24", "whole number"),
        (True, "whole number"),
        (1.5, "whole number"),
    ],
)
def test_anything_else_stops_the_start(hours, why):
    assert why in checks.review_hours_problem(hours)


def test_the_check_reports_it_as_novamind_e070(settings):
    settings.NOVAMIND_RISK_REVIEW_HOURS = 0
    [error] = checks.check_risk_review_hours()
    assert error.id == "novamind.E071" and "NOVAMIND_RISK_REVIEW_HOURS" in error.hint
