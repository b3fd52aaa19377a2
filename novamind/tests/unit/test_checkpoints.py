"""Checkpoints are signed, written once, and say which chain ends below them or differs from them."""

import datetime as dt
import hashlib
import hmac
import json
import stat

import pytest

from novamind import chains, checkpoints

MORNING = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)
EVENING = dt.datetime(2026, 12, 7, 21, 0, tzinfo=dt.UTC)


class FakeChain:
    name, label = "fake_log", "fake log"

    def __init__(self, digests):
        self.digests = digests  # sequence -> digest

    def state(self):
        last = max(self.digests, default=0)
        return chains.ChainState(self.name, last, self.digests.get(last, ""), len(self.digests))

    def digest_at(self, sequence):
        return self.digests.get(sequence)

    def retired_through(self):
        return 0

    def verify(self):
        return chains.Verification(checked=len(self.digests), problems=[])


@pytest.fixture
def fake(monkeypatch):
    chain = FakeChain({1: "a" * 64, 2: "b" * 64, 3: "c" * 64})
    monkeypatch.setattr(chains, "_chains", {chain.name: chain})
    return chain


@pytest.fixture
def store(tmp_path):
    return tmp_path / "sqlite-test.sqlite3"


def test_a_checkpoint_is_read_back_as_it_was_written(fake, store):
    path = checkpoints.write([fake.state()], into=store, now=MORNING)
    [checkpoint], problems = checkpoints.read_all(store)
    assert problems == []
    assert (checkpoint.file, checkpoint.written_at, checkpoint.database) == (path.name, MORNING, store.name)
    assert checkpoint.chains == (chains.ChainState("fake_log", 3, "c" * 64, 3),)


def test_a_checkpoint_file_is_read_only_and_named_to_sort_by_time(fake, store):
    evening = checkpoints.write([fake.state()], into=store, now=EVENING)
    morning = checkpoints.write([fake.state()], into=store, now=MORNING)
    assert stat.S_IMODE(morning.stat().st_mode) == 0o440
    assert sorted([evening.name, morning.name]) == [morning.name, evening.name]
    assert morning.name == "20261207T090000000000Z-000000000003.json"
    assert [c.written_at for c in checkpoints.read_all(store)[0]] == [MORNING, EVENING]


def test_a_checkpoint_is_never_replaced(fake, store):
    checkpoints.write([fake.state()], into=store, now=MORNING)
    with pytest.raises(FileExistsError):
        checkpoints.write([fake.state()], into=store, now=MORNING)


def test_an_altered_checkpoint_is_refused(fake, store):
    path = checkpoints.write([fake.state()], into=store, now=MORNING)
    document = json.loads(path.read_text())
    document["chains"][0]["sequence"] = 1
    path.chmod(0o640)
    path.write_text(json.dumps(document))
    assert checkpoints.read_all(store) == (
        [],
        [f"checkpoint {path.name}: its signature does not match its content (altered, or not written by NovaMind)"],
    )


def test_a_checkpoint_signed_with_the_chain_key_itself_is_refused(fake, store, settings):
    """The checkpoint key is derived with its own label: a chain digest can never pass for a checkpoint MAC."""
    path = checkpoints.write([fake.state()], into=store, now=MORNING)
    document = json.loads(path.read_text())
    body = {key: value for key, value in document.items() if key != "mac"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    document["mac"] = hmac.new(settings.AUDIT_LOG_KEY.encode(), canonical, hashlib.sha256).hexdigest()
    path.chmod(0o640)
    path.write_text(json.dumps(document))
    assert "signature does not match" in checkpoints.read_all(store)[1][0]


def test_a_checkpoint_under_another_key_is_refused(fake, store, settings):
    checkpoints.write([fake.state()], into=store, now=MORNING)
    settings.AUDIT_LOG_KEY = "another-key-" + "x" * 40
    assert "signature does not match" in checkpoints.read_all(store)[1][0]


def test_a_checkpoint_of_another_database_is_refused(fake, tmp_path):
    path = checkpoints.write([fake.state()], into=tmp_path / "postgresql-staging", now=MORNING)
    (tmp_path / "postgresql-novamind").mkdir()
    path.rename(tmp_path / "postgresql-novamind" / path.name)
    [problem] = checkpoints.read_all(tmp_path / "postgresql-novamind")[1]
    assert problem.endswith("was written for database 'postgresql-staging', not this one ('postgresql-novamind')")


def test_an_unreadable_file_is_named(store):
    store.mkdir()
    (store / "20261207T090000000000Z-000000000003.json").write_text("{not json")
    assert checkpoints.read_all(store) == (
        [],
        ["checkpoint 20261207T090000000000Z-000000000003.json: cannot be read (JSONDecodeError)"],
    )


def test_a_missing_directory_holds_no_checkpoints(tmp_path):
    assert checkpoints.read_all(tmp_path / "never-written") == ([], [])


def compared(fake, store):
    [checkpoint] = checkpoints.read_all(store)[0]
    return checkpoints.compare(checkpoint, {fake.name: fake.state()}), checkpoint.file


def test_a_chain_that_grew_matches_its_checkpoint(fake, store):
    checkpoints.write([fake.state()], into=store, now=MORNING)
    fake.digests[4] = "d" * 64
    assert compared(fake, store)[0] == []


def test_a_chain_ending_below_a_checkpoint_is_named_with_what_was_expected(fake, store):
    checkpoints.write([fake.state()], into=store, now=MORNING)
    del fake.digests[3]
    problems, file = compared(fake, store)
    assert problems == [
        f"fake log: ends at #2 (2 entries), below checkpoint {file} (#3 at 2026-12-07T09:00:00.000000Z): "
        "expected at least #3 (3 entries); entries were removed from the end (emptied, trimmed or rewound)"
    ]


def test_a_chain_cut_and_written_again_past_its_checkpoint_is_named(fake, store):
    checkpoints.write([fake.state()], into=store, now=MORNING)
    fake.digests.update({3: "e" * 64, 4: "f" * 64})
    problems, file = compared(fake, store)
    assert problems == [
        f"fake log: entry #3 is not the one checkpoint {file} (#3 at 2026-12-07T09:00:00.000000Z) witnessed: "
        f"expected digest {'c' * 16}…, found {'e' * 16}… (cut and written again)"
    ]


def test_a_witnessed_entry_that_is_gone_is_named(fake, store):
    checkpoints.write([fake.state()], into=store, now=MORNING)
    fake.digests = {1: "a" * 64, 2: "b" * 64, 4: "d" * 64}
    assert compared(fake, store)[0][0].startswith("fake log: entry #3, witnessed by checkpoint ")


def test_a_witnessed_chain_that_is_no_longer_registered_is_named(fake, store, monkeypatch):
    checkpoints.write([fake.state()], into=store, now=MORNING)
    [checkpoint] = checkpoints.read_all(store)[0]
    monkeypatch.setattr(chains, "_chains", {})
    assert checkpoints.compare(checkpoint, {}) == [
        f"chain 'fake_log' is in checkpoint {checkpoint.file} (#3 at 2026-12-07T09:00:00.000000Z) but no longer registered"
    ]
