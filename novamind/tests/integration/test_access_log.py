"""The access log is a chain: altering, deleting or swapping an entry is detected."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.utils import DatabaseError

from novamind import access
from novamind.models import AccessLogEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def entries(staff):
    return [
        access.record(user=staff, action=action, category="demographics", detail=f"step {n}")
        for n, action in enumerate(["view", "search", "history", "view"], start=1)
    ]


def raw(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_an_untouched_log_verifies(entries):
    result = access.verify()
    assert result.ok and result.checked == 4
    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    assert "4 entries verified" in out.getvalue()


def test_entries_record_who_what_and_from_where(staff, rf):
    request = rf.get("/admin/", REMOTE_ADDR="10.1.2.3")
    entry = access.record(user=staff, action="view", category="demographics", request=request, obj=staff)
    assert (entry.sequence, entry.username, entry.source_address, entry.object_type) == (
        1,
        "alice",
        "10.1.2.3",
        "auth.user",
    )


def test_a_changed_entry_is_detected(entries, hostile_dba):
    hostile_dba("UPDATE novamind_accesslogentry SET action = 'export' WHERE sequence = 2")
    assert access.verify().problems == ["entry #2 was altered (its digest does not match its content)"]
    with pytest.raises(CommandError, match="broken"):
        call_command("verify_audit", stdout=io.StringIO(), stderr=io.StringIO())


def test_a_deleted_entry_is_detected(entries, hostile_dba):
    hostile_dba("DELETE FROM novamind_accesslogentry WHERE sequence = 2")
    problems = access.verify().problems
    assert any("#2 is missing" in p for p in problems)


def test_a_deleted_last_entry_is_detected(entries, hostile_dba):
    hostile_dba("DELETE FROM novamind_accesslogentry WHERE sequence = 4")
    assert any("removed from the end" in p for p in access.verify().problems)


def test_swapped_entries_are_detected(entries, hostile_dba):
    hostile_dba("UPDATE novamind_accesslogentry SET sequence = 99 WHERE sequence = 2")
    hostile_dba("UPDATE novamind_accesslogentry SET sequence = 2 WHERE sequence = 3")
    hostile_dba("UPDATE novamind_accesslogentry SET sequence = 3 WHERE sequence = 99")
    problems = access.verify().problems
    assert any("does not follow" in p for p in problems)


def test_postgresql_refuses_to_update_or_delete_log_rows(entries, on_postgres, database_owner):
    # The owner's rights: the trigger refuses what privileges alone would let the owner do.
    for statement in ("UPDATE novamind_accesslogentry SET action = 'x'", "DELETE FROM novamind_accesslogentry"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            raw(statement)
    assert AccessLogEntry.objects.count() == 4 and access.verify().ok
