"""The arithmetic of the access log's monthly partitions: months, names, keys, the retention line."""

import datetime as dt

import pytest

from novamind import partitions


@pytest.mark.parametrize(
    "month, count, expected",
    [
        (dt.date(2026, 12, 1), 1, dt.date(2027, 1, 1)),
        (dt.date(2026, 1, 1), -1, dt.date(2025, 12, 1)),
        (dt.date(2026, 12, 1), -72, dt.date(2020, 12, 1)),
        (dt.date(2026, 3, 1), 0, dt.date(2026, 3, 1)),
    ],
)
def test_months_are_counted_across_years(month, count, expected):
    assert partitions.add_months(month, count) == expected


def test_a_month_is_the_utc_month_of_a_moment():
    late_in_new_york = dt.datetime(2026, 12, 31, 20, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    assert partitions.first_of_month(late_in_new_york) == dt.date(2027, 1, 1)


def test_a_partitions_name_says_its_month_and_only_such_names_do():
    name = partitions.partition_name(dt.date(2027, 1, 1))
    assert name == "novamind_accesslogentry_y2027m01"
    assert partitions.month_of(name) == dt.date(2027, 1, 1)
    for other in (partitions.DEFAULT_PARTITION, "novamind_accesslogentry_y2027m13", "novamind_accesslogentry_x2027m01"):
        assert partitions.month_of(other) is None


@pytest.mark.parametrize(
    "definition, partitioned, expected",
    [
        ("PRIMARY KEY (id)", True, "PRIMARY KEY (id, occurred_at)"),
        ("UNIQUE (sequence)", True, "UNIQUE (sequence, occurred_at)"),
        ("PRIMARY KEY (id, occurred_at)", False, "PRIMARY KEY (id)"),
        ("UNIQUE (sequence, occurred_at)", True, "UNIQUE (sequence, occurred_at)"),
    ],
)
def test_the_keys_take_the_partition_key_in_and_out(definition, partitioned, expected):
    assert partitions._with_partition_key(definition, partitioned) == expected


def test_only_months_wholly_past_retention_may_be_dropped(settings):
    settings.NOVAMIND_RETENTION_YEARS = 6
    now = dt.datetime(2026, 12, 8, tzinfo=dt.UTC)
    # November 2020 ended more than six years before December 2026 began; December 2020 did not.
    assert partitions.droppable_through(now) == dt.date(2020, 11, 1)
