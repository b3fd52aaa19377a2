"""The load test's tables: each request type's ratio, the throughput ratio, the bookings."""

from loadtest import report
from loadtest.run import BOOKING_SAVED, Row, Stage


def stage(workers, users, p95, requests, *, stored=2, failures=0):
    rows = {
        "patient page": Row("patient page", requests, failures, 10, p95, p95 * 2),
        BOOKING_SAVED: Row(BOOKING_SAVED, 2, 0, 5, 6, 7),
        "sign-in: code": Row("sign-in: code", users, 0, 1, 1, 1),
    }
    return Stage(workers, users, 10, rows, stored, [])


def test_the_tables_give_each_request_types_p95_ratio_and_the_throughput_ratio():
    stages = [stage(1, 1, 20, 98), stage(1, 30, 80, 298), stage(2, 1, 20, 98), stage(2, 30, 60, 538)]
    text = report.render(stages, users=[1, 30], workers=[1, 2], duration=10)
    assert "| patient page | 10 / 20 / 40 (0) | 10 / 80 / 160 (0) | 4.0x |" in text
    assert "| patient page | 10 / 20 / 40 (0) | 10 / 60 / 120 (0) | 3.0x |" in text
    assert "| 30 | 1.80x |" in text  # (538 + 2) / (298 + 2): sign-in is not throughput
    assert "| sign-in" not in text
    assert "| 2 | 30 | 54.0 | 0 | 2 | 2 |" in text


def test_an_acknowledged_booking_is_a_booking_saved_without_failure_and_errors_count_exceptions():
    lost = stage(1, 1, 20, 10, stored=1)
    assert lost.acknowledged == 2 and lost.stored == 1
    lost.exceptions = 1
    assert lost.errors == 1
