import uuid

import pytest

from novamind.domain import parse_count, parse_id


def test_a_uuid_or_its_text_names_that_identity():
    identity = uuid.uuid4()
    assert parse_id(identity) is identity
    assert parse_id(str(identity)) == identity


def test_anything_else_names_no_identity():
    for garbage in (None, "", "1", "not-a-uuid", "\x00", 12, object()):
        assert parse_id(garbage) is None


@pytest.mark.parametrize("value", ["³", "²5", "٣", "１", "-1", "1.0", "", " 7", None, 3.0])
def test_a_count_is_ascii_digits_only(value):
    # "³".isdigit() is True and int("³") raises: a version field posted as "³" was a 500.
    assert parse_count(value) is None


@pytest.mark.parametrize(("value", "expected"), [("0", 0), ("42", 42), (7, 7)])
def test_a_count_of_ascii_digits_is_its_number(value, expected):
    assert parse_count(value) == expected
