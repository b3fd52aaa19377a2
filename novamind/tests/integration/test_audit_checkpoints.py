"""Checkpoints outside the database catch what the chain alone cannot: an emptied, trimmed or rewound log.

Each tampering here is done as an insider with full database access would (the `hostile_dba`
fixture): the access log alone still verifies afterwards, and `verify_audit` exits 1 naming the
chain, the checkpoint and what it expected.
"""

import io
import json
import stat
import threading
from unittest import mock

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from novamind import access, chains, checkpoints
from novamind.models import AccessLogEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def store(settings, tmp_path):
    settings.NOVAMIND_AUDIT_CHECKPOINT_DIR = str(tmp_path)
    return tmp_path / checkpoints.database_name()


@pytest.fixture
def entries(staff):
    return [access.record(user=staff, action="view", category="demographics", detail=f"step {n}") for n in range(1, 5)]


def verify_audit(*args):
    """Run verify_audit; return its exit status, standard output and standard error."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("verify_audit", *args, stdout=out, stderr=err)
    except CommandError as error:
        return error.returncode, out.getvalue(), err.getvalue() + str(error)
    return 0, out.getvalue(), err.getvalue()


def files(store):
    return sorted(path.name for path in store.iterdir()) if store.exists() else []


def checkpointed(store):
    status, out, _ = verify_audit()
    assert status == 0, out
    return files(store)[-1]


def empty_the_log(hostile_dba):
    hostile_dba(
        "TRUNCATE novamind_accesslogentry"
        if connection.vendor == "postgresql"
        else "DELETE FROM novamind_accesslogentry"
    )
    hostile_dba("UPDATE novamind_accessloghead SET sequence = 0, digest = ''")


def rewind_the_log_to(sequence, hostile_dba):
    """Cut every entry after `sequence` and set the head row back to it: the chain alone still verifies."""
    digest = AccessLogEntry.objects.get(sequence=sequence).digest
    hostile_dba("DELETE FROM novamind_accesslogentry WHERE sequence > %s", [sequence])
    hostile_dba("UPDATE novamind_accessloghead SET sequence = %s, digest = %s", [sequence, digest])


def test_an_intact_trail_is_checkpointed_outside_the_database(entries, store):
    status, out, err = verify_audit()
    assert (status, err) == (0, "")
    [name] = files(store)
    assert "access log: 4 entries verified." in out
    assert f"compared with 0 checkpoints; checkpoint {store / name} written." in out
    assert stat.S_IMODE((store / name).stat().st_mode) == 0o440
    document = json.loads((store / name).read_text())
    assert document["database"] == store.name and document["format"] == 1 and len(document["mac"]) == 64
    assert {"name": "novamind_accesslogentry", "sequence": 4, "digest": entries[-1].digest, "count": 4} in document[
        "chains"
    ]

    status, out, _ = verify_audit()
    assert status == 0 and "compared with 1 checkpoint;" in out and len(files(store)) == 2


def test_an_emptied_log_with_its_head_reset_is_found(entries, store, hostile_dba):
    witness = checkpointed(store)
    empty_the_log(hostile_dba)
    assert access.verify().ok  # the finding: the log alone says "0 entries, intact"

    status, out, err = verify_audit()
    assert status == 1
    assert (
        f"access log: ends at #0 (0 entries), below checkpoint {witness} (#4 at " in err
        and "expected at least #4 (4 entries); entries were removed from the end (emptied, trimmed or rewound)" in err
    )
    assert "Audit trail broken: 1 problem(s)" in err and "no checkpoint written" in err
    assert files(store) == [witness]  # a broken trail is never blessed


def test_a_trimmed_tail_with_a_rewound_head_is_found(entries, store, hostile_dba):
    witness = checkpointed(store)
    rewind_the_log_to(2, hostile_dba)
    assert access.verify().ok

    status, _, err = verify_audit()
    assert status == 1
    assert f"access log: ends at #2 (2 entries), below checkpoint {witness} (#4 at " in err
    assert "expected at least #4 (4 entries)" in err
    assert files(store) == [witness]


def test_a_tail_cut_and_written_again_past_the_checkpoint_is_found(entries, store, hostile_dba, staff):
    witness = checkpointed(store)
    rewind_the_log_to(2, hostile_dba)
    for _ in range(3):  # the application goes on appending: #3, #4, #5 chain on from the rewound head
        access.record(user=staff, action="view", category="demographics")
    assert access.verify().ok

    status, _, err = verify_audit()
    assert status == 1
    assert f"access log: entry #4 is not the one checkpoint {witness} (#4 at " in err
    assert f"expected digest {entries[3].digest[:16]}…, found " in err and "(cut and written again)" in err


def test_the_database_is_compared_with_every_checkpoint(entries, store, hostile_dba, staff):
    first = checkpointed(store)
    access.record(user=staff, action="view", category="demographics")
    second = checkpointed(store)
    rewind_the_log_to(1, hostile_dba)

    status, _, err = verify_audit()
    assert status == 1
    assert f"below checkpoint {first} (#4 at " in err and f"below checkpoint {second} (#5 at " in err
    assert "Audit trail broken: 2 problem(s)" in err


def test_a_broken_chain_is_reported_by_its_label_and_never_checkpointed(entries, store, hostile_dba):
    hostile_dba("UPDATE novamind_accesslogentry SET action = 'export' WHERE sequence = 2")
    status, _, err = verify_audit()
    assert status == 1
    assert "access log: entry #2 was altered (its digest does not match its content)" in err
    assert files(store) == []


def test_an_altered_or_unreadable_checkpoint_is_a_problem_named_by_its_file(entries, store):
    witness = checkpointed(store)
    document = json.loads((store / witness).read_text())
    document["chains"][0]["sequence"] = 1
    forged = witness.replace("Z-", "Z-forged-")
    (store / forged).write_text(json.dumps(document))
    (store / "junk.json").write_bytes(b"\xff\xfe")

    status, _, err = verify_audit()
    assert status == 1
    assert f"checkpoint {forged}: its signature does not match its content" in err
    assert "checkpoint junk.json: cannot be read (UnicodeDecodeError)" in err
    assert len(files(store)) == 3


def test_a_checkpointed_chain_that_is_no_longer_registered_is_a_problem(entries, store, monkeypatch):
    class Retired(access.AccessLogChain):
        name, label = "retired_log", "retired log"

    monkeypatch.setitem(chains._chains, "retired_log", Retired())
    witness = checkpointed(store)
    monkeypatch.delitem(chains._chains, "retired_log")

    status, _, err = verify_audit()
    assert status == 1
    assert f"chain 'retired_log' is in checkpoint {witness} (#4 at " in err and "but no longer registered" in err


def test_no_checkpoint_verifies_and_compares_without_writing(entries, store, hostile_dba):
    witness = checkpointed(store)
    status, out, _ = verify_audit("--no-checkpoint")
    assert status == 0 and "compared with 1 checkpoint; no checkpoint written." in out
    assert files(store) == [witness]

    rewind_the_log_to(3, hostile_dba)
    assert verify_audit("--no-checkpoint")[0] == 1


def test_without_a_checkpoint_directory_verification_fails(entries, settings):
    settings.NOVAMIND_AUDIT_CHECKPOINT_DIR = None
    status, _, err = verify_audit()
    assert status == 1 and "NOVAMIND_AUDIT_CHECKPOINT_DIR is not set" in err


def test_a_checkpoint_directory_that_cannot_be_written_fails_verification(entries, settings, tmp_path):
    (tmp_path / "a-file").write_text("")  # root may write anywhere, but not into a file
    settings.NOVAMIND_AUDIT_CHECKPOINT_DIR = str(tmp_path / "a-file")
    status, _, err = verify_audit()
    assert status == 1 and f"checkpoints: cannot write a checkpoint into {tmp_path / 'a-file'}/" in err


def test_a_link_witnessed_by_many_checkpoints_is_read_once(entries, store):
    def queries():
        with CaptureQueriesContext(connection) as run:
            assert verify_audit("--no-checkpoint")[0] == 0
        return len(run.captured_queries)

    checkpointed(store)
    with_one = queries()
    for _ in range(4):
        checkpointed(store)
    assert queries() == with_one


@pytest.mark.django_db(transaction=True)
def test_an_entry_committed_while_the_trail_is_walked_is_no_false_alarm(staff, settings, tmp_path, on_postgres):
    """verify_audit runs from cron while staff work: it reads the trail as of one moment."""
    settings.NOVAMIND_AUDIT_CHECKPOINT_DIR = str(tmp_path)
    for _ in range(3):
        access.record(user=staff, action="view", category="demographics")
    original, appended = access.compute_digest, []

    def append_from_another_connection():
        try:
            access.record(user=staff, action="view", category="demographics", detail="meanwhile")
        finally:
            connections.close_all()

    def digest_while_someone_appends(entry):
        if not appended:
            appended.append(True)
            worker = threading.Thread(target=append_from_another_connection)
            worker.start()
            worker.join()
        return original(entry)

    with mock.patch.object(access, "compute_digest", digest_while_someone_appends):
        status, out, err = verify_audit()
    assert (status, err) == (0, ""), err
    assert "access log: 3 entries verified." in out
    assert AccessLogEntry.objects.count() == 4 and verify_audit()[0] == 0
