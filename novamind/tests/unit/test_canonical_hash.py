"""The canonical hash that seals signed notes and plans never changes its bytes: stored hashes depend on it."""

import datetime as dt
import hashlib

from novamind.domain import canonical_hash, utc_iso


def test_keys_are_sorted_without_spaces_and_text_is_utf8_not_escaped():
    expected = hashlib.sha256('{"a":"é","b":[1,2]}'.encode()).hexdigest()
    assert canonical_hash({"b": [1, 2], "a": "é"}) == expected


def test_times_are_written_in_utc_to_the_microsecond():
    moment = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    assert utc_iso(moment) == "2026-03-01T14:30:00.000000+00:00"
