"""The access log in monthly partitions (PostgreSQL): verifiable across months, append-only per
partition, created ahead, and dropped whole after retention with the chain anchored."""

import datetime as dt
import io
from unittest import mock

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from conftest import make_staff, owner_rights
from novamind import access, chains, checkpoints, dbroles, partitions
from novamind.models import AccessLogEntry, HistoryErasure

pytestmark = pytest.mark.django_db

OLD_MONTHS = (dt.date(2019, 1, 1), dt.date(2019, 2, 1))


def at(moment):
    """Return a context in which new access-log entries carry `moment` as their time."""
    # The field keeps its default callable cached; the entry's time is taken from it inside the chain's lock.
    return mock.patch.dict(AccessLogEntry._meta.get_field("occurred_at").__dict__, {"_get_default": lambda: moment})


def record(user, n=1, detail="step"):
    return [access.record(user=user, action="view", category="demographics", detail=f"{detail} {i}") for i in range(n)]


def partition_of(entry) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text FROM novamind_accesslogentry WHERE sequence = %s", [entry.sequence]
        )
        return cursor.fetchone()[0]


@pytest.fixture
def old_months(on_postgres, settings):
    """Partitions for two months of 2019, as the log had them when those entries were written."""
    with owner_rights(), connection.cursor() as cursor:
        for month in OLD_MONTHS:
            partitions._create_month(cursor, month)
        # What ensure_ahead does after creating a month: the guard, and the application role's grants.
        dbroles.apply(connection, app_role=settings.NOVAMIND_DATABASE_APP_ROLE or None)
    return OLD_MONTHS


@pytest.fixture
def superuser(db):
    return make_staff("retention-officer", superuser=True)


@pytest.fixture
def aged_log(old_months, staff, settings):
    """Entries in January and February 2019, then today's; six years' retention (the legal floor)."""
    settings.NOVAMIND_RETENTION_YEARS = 6
    written = []
    for month in old_months:
        with at(dt.datetime.combine(month, dt.time(12), tzinfo=dt.UTC)):
            written += record(staff, 3, detail=f"{month:%Y-%m}")
    written += record(staff, 2, detail="today")
    return written


def test_the_log_is_partitioned_by_month_with_the_coming_months_ready(on_postgres, staff):
    assert partitions.is_partitioned(connection)
    months = [p.month for p in partitions.partitions(connection) if p.month]
    current = partitions.first_of_month(dt.datetime.now(dt.UTC))
    for offset in range(partitions.MONTHS_AHEAD + 1):
        assert partitions.add_months(current, offset) in months
    assert partitions.DEFAULT_PARTITION in partitions.partition_tables(connection)
    (entry,) = record(staff)
    assert partition_of(entry) == partitions.partition_name(current)


def test_the_chain_verifies_across_partitions_and_a_gap_across_them_is_found(aged_log, hostile_dba):
    assert {partition_of(e) for e in aged_log} == {
        partitions.partition_name(OLD_MONTHS[0]),
        partitions.partition_name(OLD_MONTHS[1]),
        partitions.partition_name(partitions.first_of_month(dt.datetime.now(dt.UTC))),
    }
    result = access.verify()
    assert result.ok and result.checked == len(aged_log)
    # The last entry of February goes: the link from it into December's partition breaks.
    hostile_dba("DELETE FROM novamind_accesslogentry WHERE sequence = %s", [aged_log[5].sequence])
    assert f"entry #{aged_log[5].sequence} is missing (deleted)" in access.verify().problems


def test_every_partition_refuses_update_and_delete_and_is_truncate_guarded(aged_log, database_owner):
    name = partitions.partition_name(OLD_MONTHS[0])
    for statement in (f'UPDATE "{name}" SET detail = %s', f'DELETE FROM "{name}" WHERE detail <> %s'):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, ["x"])
    with pytest.raises(DatabaseError, match="TRUNCATE refused"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the entries' deferred checks, from this test's transaction
        cursor.execute(f'TRUNCATE "{name}"')


def test_the_application_role_may_only_read_and_append_on_every_partition(aged_log, application_role):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name FROM unnest(%s::text[]) AS name "
            "WHERE has_table_privilege(%s, name, 'UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER') "
            "OR NOT has_table_privilege(%s, name, 'SELECT, INSERT')",
            [partitions.partition_tables(connection), application_role, application_role],
        )
        assert cursor.fetchall() == []


def test_ensuring_ahead_creates_the_missing_months_once_and_leaves_a_month_the_default_holds(
    on_postgres, staff, database_owner
):
    later = partitions.add_months(partitions.first_of_month(dt.datetime.now(dt.UTC)), 8)
    # An entry written when its month had no partition goes to the default partition, never lost.
    with at(dt.datetime.combine(partitions.add_months(later, 2), dt.time(9), tzinfo=dt.UTC)):
        (stray,) = record(staff)
    assert partition_of(stray) == partitions.DEFAULT_PARTITION
    ensured = partitions.ensure_ahead(connection, now=dt.datetime.combine(later, dt.time(0), tzinfo=dt.UTC))
    assert ensured.created == [later, partitions.add_months(later, 1), partitions.add_months(later, 3)]
    assert ensured.blocked == {partitions.add_months(later, 2): 1}
    assert "stays in the default partition (1 entries" in partitions.describe_ensured(ensured)
    again = partitions.ensure_ahead(connection, now=dt.datetime.combine(later, dt.time(0), tzinfo=dt.UTC))
    assert again.created == [] and again.blocked == {partitions.add_months(later, 2): 1}
    assert partitions.partition_name(later) in dbroles.existing_audit_tables(connection)
    assert access.verify().ok


def test_dropping_old_months_anchors_the_chain_and_everything_after_still_verifies(
    aged_log, superuser, database_owner, tmp_path
):
    before = checkpoints.read(
        checkpoints.write([chains.get(access.AccessLogChain.name).state()], into=tmp_path), database=tmp_path.name
    )
    dropped = partitions.drop_through(OLD_MONTHS[1], actor=superuser)
    assert dropped.partitions == tuple(partitions.partition_name(m) for m in OLD_MONTHS)
    assert dropped.entries == 6 and dropped.anchor_sequence == aged_log[5].sequence
    assert not set(dropped.partitions) & set(partitions.partition_tables(connection))
    anchor = HistoryErasure.objects.get(table="novamind_accesslogentry")
    assert (anchor.sequence, anchor.digest) == (aged_log[5].sequence, aged_log[5].digest)
    result = access.verify()
    assert result.ok, result.problems
    assert result.checked == 3  # today's two and the drop's own entry
    drop_entry = AccessLogEntry.objects.order_by("-sequence").first()
    assert (drop_entry.action, drop_entry.username) == (partitions.DROP_ACTION, superuser.username)
    assert "2019-01–2019-02 (6 entries, anchored at #6)" in drop_entry.detail
    # The first entry after the gap still checks its link, against the anchor.
    assert access.entry_problems(AccessLogEntry.objects.get(sequence=aged_log[6].sequence)) == []
    # A checkpoint taken before the drop is not contradicted by it.
    now = {s.name: s for s in [chains.get(access.AccessLogChain.name).state()]}
    assert checkpoints.compare(before, now) == []


def test_an_anchor_removed_or_forged_after_a_drop_is_reported(aged_log, superuser, database_owner, hostile_dba):
    partitions.drop_through(OLD_MONTHS[1], actor=superuser)
    hostile_dba(
        "UPDATE novamind_historyerasure SET digest = %s WHERE \"table\" = 'novamind_accesslogentry'", ["0" * 64]
    )
    problems = access.verify().problems
    assert any("retention anchor at entry #6 was not written by NovaMind" in p for p in problems)
    assert any(f"entry #{aged_log[6].sequence} does not follow" in p for p in problems)
    hostile_dba("DELETE FROM novamind_historyerasure WHERE \"table\" = 'novamind_accesslogentry'")
    assert "entry #1–#6 is missing (deleted)" in access.verify().problems


@pytest.mark.parametrize(
    "tamper, refusal",
    [
        (None, "inside the retention period"),
        ("alter", "does not verify"),
        ("stray", "sit in the default partition"),
        ("skew", "comes before #"),
    ],
)
def test_a_drop_that_would_lose_evidence_or_leave_a_gap_is_refused_and_changes_nothing(
    aged_log, superuser, database_owner, hostile_dba, staff, settings, tamper, refusal
):
    month = OLD_MONTHS[1]
    if tamper is None:
        settings.NOVAMIND_RETENTION_YEARS = 10
    elif tamper == "alter":
        hostile_dba("UPDATE novamind_accesslogentry SET detail = 'rewritten' WHERE sequence = 2")
    elif tamper == "stray":
        with at(dt.datetime(2018, 6, 1, tzinfo=dt.UTC)):
            record(staff)
        month = OLD_MONTHS[0]
    else:
        # A server whose clock ran ahead wrote an entry dated March 2019 before the last February
        # one: it sits in March's partition but comes before that entry in the chain.
        with owner_rights(), connection.cursor() as cursor:
            partitions._create_month(cursor, dt.date(2019, 3, 1))
        with at(dt.datetime(2019, 3, 1, 0, 1, tzinfo=dt.UTC)):
            record(staff)
        with at(dt.datetime(2019, 2, 28, 23, 59, tzinfo=dt.UTC)):
            record(staff)
    tables = partitions.partition_tables(connection)
    with pytest.raises(partitions.PartitionError, match=refusal):
        partitions.drop_through(month, actor=superuser)
    assert partitions.partition_tables(connection) == tables
    assert not HistoryErasure.objects.filter(table="novamind_accesslogentry").exists()


def test_the_dry_run_drops_and_writes_nothing(aged_log, superuser, database_owner):
    count = AccessLogEntry.objects.count()
    dropped = partitions.drop_through(OLD_MONTHS[1], actor=superuser, dry_run=True)
    assert dropped.entries == 6
    assert AccessLogEntry.objects.count() == count
    assert partitions.partition_name(OLD_MONTHS[0]) in partitions.partition_tables(connection)
    assert not HistoryErasure.objects.exists()


def test_the_command_lists_months_without_entry_content_and_drops_only_for_a_superuser(
    aged_log, superuser, staff, database_owner
):
    out = io.StringIO()
    call_command("access_log_partitions", stdout=out)
    listing = out.getvalue()
    assert "2019-01" in listing and "default" in listing and "the coming 3 months are ready" in listing
    assert "today" not in listing and staff.username not in listing
    for arguments, message in [
        (["--drop-through", "2019-02"], "needs --actor"),
        (["--drop-through", "2019-02", "--actor", staff.username], "only a superuser may"),
        (["--drop-through", "Feb 2019", "--actor", superuser.username], "give a month as YYYY-MM"),
    ]:
        with pytest.raises(CommandError, match=message):
            call_command("access_log_partitions", *arguments, stdout=io.StringIO())
    out = io.StringIO()
    call_command("access_log_partitions", "--drop-through", "2019-02", "--actor", superuser.username, stdout=out)
    assert "Dropped 2 partition(s), 6 entries; the chain goes on from the anchor at #6." in out.getvalue()


def test_the_application_role_cannot_drop_months(aged_log, superuser, application_role):
    with pytest.raises(dbroles.OwnerRightsRequired, match="must run as the database owner role"):
        partitions.drop_through(OLD_MONTHS[1], actor=superuser)


def test_on_sqlite_the_log_is_one_table_and_the_command_says_so(db, superuser):
    if connection.vendor == "postgresql":
        pytest.skip("the SQLite side of the partitioning (PostgreSQL partitions are tested above)")
    assert partitions.partitions(connection) == []
    with pytest.raises(CommandError, match="one table here"):
        call_command("access_log_partitions", stdout=io.StringIO())
    with pytest.raises(partitions.PartitionError, match="not partitioned here"):
        partitions.drop_through(dt.date(2000, 1, 1), actor=superuser)
