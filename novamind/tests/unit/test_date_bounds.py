"""The shared date bounds: every record's dates stay where columns and time zones can hold them."""

import datetime as dt

from novamind import domain


def test_a_date_inside_the_bounds_passes():
    assert (
        domain.date_bounds_error(dt.date(1990, 5, 17), earliest=domain.EARLIEST_DATE, latest=dt.date(2026, 1, 1))
        is None
    )


def test_a_date_before_1900_is_refused_with_the_bound_in_words():
    message = domain.date_bounds_error(dt.date(1, 1, 1), earliest=domain.EARLIEST_DATE, latest=dt.date(2026, 1, 1))
    assert message == "Enter a date no earlier than 1 January 1900."


def test_a_date_past_the_latest_is_refused():
    message = domain.date_bounds_error(
        dt.date(9999, 12, 31), earliest=domain.EARLIEST_DATE, latest=dt.date(2031, 12, 7)
    )
    assert message == "Enter a date no later than 7 December 2031."


def test_years_from_keeps_the_day_and_moves_29_february_to_28():
    assert domain.years_from(dt.date(2026, 12, 7), 5) == dt.date(2031, 12, 7)
    assert domain.years_from(dt.date(2024, 2, 29), -10) == dt.date(2014, 2, 28)
