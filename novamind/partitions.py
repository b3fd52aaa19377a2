"""The access log in monthly partitions on PostgreSQL: created ahead, dropped whole after retention.

The access log grows with every page that shows patient data (README, "Scaling": 23 GB a year
at 1,000 clinicians). On PostgreSQL `novamind_accesslogentry` is partitioned by RANGE on
`occurred_at`, one partition per calendar month (UTC), plus a DEFAULT partition that catches an
entry whose month has no partition yet, so a forgotten cron job never stops a clinician from
reading a chart. Why time and not the chain's sequence: a month's partition can then be created
months ahead with no lock on the chain, whereas a sequence boundary is only known when the month
begins, and closing the open partition at it means scanning the month under the chain's lock.

What stays the same for the chain (novamind.access): entries are still appended under the head's
row lock, `occurred_at` is taken inside that lock, and `verify()` walks `ORDER BY sequence` across
partitions. PostgreSQL requires a unique key to contain the partition key, so the primary key is
(id, occurred_at) and the sequence's key (sequence, occurred_at); one sequence twice would break
the chain, which `verify_audit` reports. The append-only trigger is cloned onto every partition
by PostgreSQL; the TRUNCATE guard and the application role's grants are set on every partition
by `novamind.dbroles` (a partition is an audit table of its own).

Retention (`drop_through`): whole months whose every entry is older than the retention period
are dropped, as the owner, after the chain has verified; the last dropped entry's sequence and
digest stay behind as an anchor (a `HistoryErasure` receipt with its MAC), from which `verify()`
checks every later entry link by link, and the drop itself is an entry of the log. On SQLite the
access log is one table: no partitions and no drop.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.conf import settings
from django.db import connection as default_connection
from django.db import transaction
from django.utils import timezone

from novamind import access, dbroles, history_chain
from novamind.models import AccessLogHead, HistoryErasure

TABLE = "novamind_accesslogentry"
DEFAULT_PARTITION = f"{TABLE}_default"
# How many months after the current one have their partition ready (migrate and the command).
MONTHS_AHEAD = 3


class PartitionError(Exception):
    """A partition operation was refused; the message says why and what was left unchanged."""


@dataclasses.dataclass(frozen=True)
class Partition:
    """One partition of the access log: a month (first day, UTC), or the default (month None)."""

    name: str
    month: dt.date | None

    @property
    def label(self) -> str:
        """Return "2027-01", or "default" for the catch-all partition."""
        return f"{self.month:%Y-%m}" if self.month else "default"


def first_of_month(moment: dt.datetime | dt.date) -> dt.date:
    """Return the first day of `moment`'s month, in UTC for a datetime."""
    if isinstance(moment, dt.datetime):
        moment = moment.astimezone(dt.UTC).date()
    return moment.replace(day=1)


def add_months(month: dt.date, count: int) -> dt.date:
    """Return the first day of the month `count` months after `month` (before, if negative)."""
    index = month.year * 12 + month.month - 1 + count
    return dt.date(index // 12, index % 12 + 1, 1)


def partition_name(month: dt.date) -> str:
    """Return the table name of `month`'s partition, e.g. novamind_accesslogentry_y2027m01."""
    return f"{TABLE}_y{month:%Y}m{month:%m}"


def month_of(name: str) -> dt.date | None:
    """Return the month a partition's name stands for (None for the default or a foreign name)."""
    prefix = f"{TABLE}_y"
    if not name.startswith(prefix) or len(name) != len(prefix) + 7 or name[len(prefix) + 4] != "m":
        return None
    try:
        return dt.date(int(name[len(prefix) : len(prefix) + 4]), int(name[-2:]), 1)
    except ValueError:
        return None


def _bound(month: dt.date) -> str:
    return f"'{month.isoformat()} 00:00:00+00'"


def is_partitioned(connection=default_connection) -> bool:
    """Return whether the access log is a partitioned table (never on SQLite)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [TABLE])
        row = cursor.fetchone()
    return row is not None and row[0] == "p"


def partitions(connection=default_connection) -> list[Partition]:
    """Return the access log's partitions, months in order, the default last (none off PostgreSQL)."""
    if not is_partitioned(connection):
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(%s)",
            [TABLE],
        )
        names = [row[0] for row in cursor.fetchall()]
    found = [Partition(name, month_of(name)) for name in names]
    return sorted(found, key=lambda p: (p.month is None, p.month or dt.date.min, p.name))


def partition_tables(connection=default_connection) -> list[str]:
    """Return the table names of the access log's partitions (the audit tables behind the parent)."""
    return [p.name for p in partitions(connection)]


def _create_month(cursor, month: dt.date) -> None:
    cursor.execute(
        f'CREATE TABLE IF NOT EXISTS "{partition_name(month)}" PARTITION OF "{TABLE}" '
        f"FOR VALUES FROM ({_bound(month)}) TO ({_bound(add_months(month, 1))})"
    )


def _default_holds(cursor, month: dt.date) -> int:
    cursor.execute(
        f'SELECT count(*) FROM "{DEFAULT_PARTITION}" WHERE occurred_at >= {_bound(month)} '
        f"AND occurred_at < {_bound(add_months(month, 1))}"
    )
    return cursor.fetchone()[0]


@dataclasses.dataclass
class Ensured:
    """What `ensure_ahead` did: the months it created, and the months it could not."""

    created: list[dt.date]
    blocked: dict[dt.date, int]


def ensure_ahead(connection=default_connection, *, months: int = MONTHS_AHEAD, now=None) -> Ensured:
    """Create the partitions of this month and the next `months` ones that are missing (owner rights).

    A month whose entries already sit in the default partition (no partition existed when they
    were written) is left there and reported: PostgreSQL will not create a partition under rows
    the default already holds, and the append-only log does not move them.
    """
    result = Ensured(created=[], blocked={})
    if not is_partitioned(connection):
        return result
    existing = {p.month for p in partitions(connection) if p.month}
    current = first_of_month(now or timezone.now())
    if all(add_months(current, offset) in existing for offset in range(months + 1)):
        return result
    dbroles.require_owner_rights(
        connection, command="Creating the access log's partitions", privilege="DELETE", tables=[TABLE]
    )
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        for offset in range(months + 1):
            month = add_months(current, offset)
            if month in existing:
                continue
            held = _default_holds(cursor, month)
            if held:
                result.blocked[month] = held
                continue
            _create_month(cursor, month)
            result.created.append(month)
    if result.created:
        # The new partitions are audit tables: the TRUNCATE guard and the application role's grants.
        dbroles.apply(connection, app_role=settings.NOVAMIND_DATABASE_APP_ROLE or None)
    return result


def ensure_after_migrate(sender, using, verbosity=1, stdout=None, **kwargs):
    """Keep the coming months' partitions ready at the end of every migrate (PostgreSQL, as the owner)."""
    from django.db import connections

    connection = connections[using]
    if not is_partitioned(connection):
        return
    try:
        ensured = ensure_ahead(connection)
    except dbroles.OwnerRightsRequired:
        return  # migrate or a test flush as the application role: the owner's next migrate or cron run creates them
    if verbosity >= 1 and stdout is not None and (ensured.created or ensured.blocked):
        stdout.write(describe_ensured(ensured))


def describe_ensured(ensured: Ensured) -> str:
    """Return one line on what `ensure_ahead` created and what it could not."""
    parts = []
    if ensured.created:
        parts.append("created " + ", ".join(f"{m:%Y-%m}" for m in ensured.created))
    else:
        parts.append(f"the coming {MONTHS_AHEAD} months are ready")
    for month, held in sorted(ensured.blocked.items()):
        parts.append(f"{month:%Y-%m} stays in the default partition ({held} entries were written before it existed)")
    return "access log partitions: " + "; ".join(parts) + "."


def default_partition_rows(connection=default_connection) -> int:
    """Return how many entries sit in the default partition (0 when not partitioned)."""
    if not is_partitioned(connection):
        return 0
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{DEFAULT_PARTITION}"')
        return cursor.fetchone()[0]


# --- The conversion, in a migration ---------------------------------------------------------------


def _index_definitions(cursor, table: str) -> list[str]:
    """Return CREATE INDEX statements of `table`'s indexes that back no constraint."""
    cursor.execute(
        "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "WHERE i.indrelid = to_regclass(%s) "
        "AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = i.indexrelid) ORDER BY 1",
        [table],
    )
    return [row[0] for row in cursor.fetchall()]


def _constraints(cursor, table: str) -> list[tuple[str, str, str]]:
    """Return (name, type, definition) of `table`'s primary, unique and foreign keys."""
    cursor.execute(
        "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = to_regclass(%s) AND contype IN ('p', 'u', 'f') ORDER BY contype, conname",
        [table],
    )
    return cursor.fetchall()


def _with_partition_key(definition: str, partitioned: bool) -> str:
    """Return PRIMARY KEY (id) / UNIQUE (sequence) with occurred_at among its columns, or taken out."""
    head, _, columns = definition.partition("(")
    names = [c.strip() for c in columns.rstrip(")").split(",") if c.strip() != "occurred_at"]
    return f"{head.strip()} ({', '.join(names + ['occurred_at'] if partitioned else names)})"


def _rebuild(schema_editor, *, partitioned: bool) -> None:
    """Rewrite the access log as a partitioned table (or back), keeping every row, name and key."""
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    old = f"{TABLE}_rewrite"
    with connection.cursor() as cursor:
        cursor.execute(f'LOCK TABLE "{TABLE}" IN ACCESS EXCLUSIVE MODE')
        indexes = _index_definitions(cursor, TABLE)
        keys = _constraints(cursor, TABLE)
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [TABLE])
        sequence = cursor.fetchone()[0]
        cursor.execute(f'ALTER TABLE "{TABLE}" RENAME TO "{old}"')
        layout = " PARTITION BY RANGE (occurred_at)" if partitioned else ""
        cursor.execute(
            f'CREATE TABLE "{TABLE}" (LIKE "{old}" INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING STORAGE){layout}'
        )
        if partitioned:
            cursor.execute(f'CREATE TABLE "{DEFAULT_PARTITION}" PARTITION OF "{TABLE}" DEFAULT')
            cursor.execute(f'SELECT min(occurred_at), max(occurred_at) FROM "{old}"')
            oldest, newest = cursor.fetchone()
            month = first_of_month(oldest or timezone.now())
            last = add_months(first_of_month(max(newest or timezone.now(), timezone.now())), MONTHS_AHEAD)
            while month <= last:
                _create_month(cursor, month)
                month = add_months(month, 1)
        cursor.execute(f'INSERT INTO "{TABLE}" OVERRIDING SYSTEM VALUE SELECT * FROM "{old}" ORDER BY sequence')
        cursor.execute(f'DROP TABLE "{old}"')
        # The identity's new sequence takes the old one's name and goes on from the highest id.
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [TABLE])
        fresh = cursor.fetchone()[0]
        if sequence and fresh != sequence:
            cursor.execute(f"ALTER SEQUENCE {fresh} RENAME TO {sequence.split('.')[-1]}")
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence(%s, 'id'), coalesce((SELECT max(id) FROM \"{TABLE}\"), 0) + 1, false)",
            [TABLE],
        )
        for name, kind, definition in keys:
            if kind in ("p", "u"):
                definition = _with_partition_key(definition, partitioned)
            cursor.execute(f'ALTER TABLE "{TABLE}" ADD CONSTRAINT "{name}" {definition}')
        for statement in indexes:
            cursor.execute(statement)
        # The append-only trigger of migration 0002, now on the parent: PostgreSQL clones it onto
        # every partition, today's and those created later.
        cursor.execute(
            f'CREATE TRIGGER novamind_access_log_append_only BEFORE UPDATE OR DELETE ON "{TABLE}" '
            f"FOR EACH ROW EXECUTE FUNCTION novamind_access_log_append_only()"
        )


def partition_access_log(apps, schema_editor) -> None:
    """Migration step: the access log becomes monthly partitions (PostgreSQL only)."""
    _rebuild(schema_editor, partitioned=True)


def unpartition_access_log(apps, schema_editor) -> None:
    """Migration step backwards: the access log becomes one table again (PostgreSQL only)."""
    _rebuild(schema_editor, partitioned=False)


# --- Retention: whole months dropped, the chain anchored ------------------------------------------

DROP_ACTION = "drop_months"
DROP_CATEGORY = "access_log"


@dataclasses.dataclass(frozen=True)
class Dropped:
    """What `drop_through` removed: the partitions, how many entries, and the anchor it left."""

    partitions: tuple[str, ...]
    entries: int
    anchor_sequence: int | None


def droppable_through(now=None) -> dt.date:
    """Return the last month whose every entry is older than the retention period (NOVAMIND_RETENTION_YEARS)."""
    current = first_of_month(now or timezone.now())
    return add_months(current, -12 * settings.NOVAMIND_RETENTION_YEARS - 1)


def drop_through(month: dt.date, *, actor, connection=default_connection, now=None, dry_run=False) -> Dropped:
    """Drop the access log's partitions of `month` and every earlier month, as the owner, anchoring the chain.

    Refused (PartitionError, nothing changed) off a partitioned table, for a month inside the
    retention period, when the log does not verify (a drop must not destroy the evidence of a
    tampering), when entries of those months sit in the default partition, or when a later
    month holds an entry that comes before the last dropped one in the chain (clocks out of
    step): what stays must be the chain's unbroken continuation of the anchor.
    """
    if not is_partitioned(connection):
        raise PartitionError(
            "The access log is not partitioned here (SQLite, or PostgreSQL before migration novamind.0006): "
            "months are dropped only from monthly partitions. Nothing was dropped."
        )
    latest = droppable_through(now)
    if month > latest:
        raise PartitionError(
            f"{month:%Y-%m} is inside the retention period of {settings.NOVAMIND_RETENTION_YEARS} years "
            f"(NOVAMIND_RETENTION_YEARS): months up to {latest:%Y-%m} may be dropped. Nothing was dropped."
        )
    doomed = [p for p in partitions(connection) if p.month and p.month <= month]
    if not doomed:
        raise PartitionError(f"No partition holds {month:%Y-%m} or an earlier month. Nothing was dropped.")
    names = [p.name for p in doomed]
    dbroles.require_owner_rights(
        connection, command="access_log_partitions --drop-through", privilege="DELETE", tables=names
    )
    verification = access.verify()
    if not verification.ok:
        raise PartitionError(
            f"The access log does not verify ({verification.problems[0]}; {len(verification.problems)} problem(s) in all): "
            "its entries are evidence, so nothing was dropped. Investigate with verify_audit first."
        )
    boundary = _bound(add_months(month, 1))
    with transaction.atomic(using=connection.alias):
        # The chain's lock: no entry is appended while the anchor is taken and the months go.
        AccessLogHead.objects.using(connection.alias).select_for_update().filter(pk=1).first()
        with connection.cursor() as cursor:
            cursor.execute(f'SELECT count(*) FROM "{DEFAULT_PARTITION}" WHERE occurred_at < {boundary}')
            stray = cursor.fetchone()[0]
            if stray:
                raise PartitionError(
                    f"{stray} entries of {month:%Y-%m} or earlier sit in the default partition (written when their "
                    "month had no partition): they cannot be dropped with the months. Nothing was dropped."
                )
            cursor.execute(f'SELECT max(sequence), count(*) FROM "{TABLE}" WHERE occurred_at < {boundary}')
            last, count = cursor.fetchone()
            cursor.execute(f'SELECT min(sequence) FROM "{TABLE}" WHERE occurred_at >= {boundary}')
            first_kept = cursor.fetchone()[0]
            if last is not None and first_kept is not None and first_kept != last + 1:
                raise PartitionError(
                    f"Entry #{first_kept}, of a later month, comes before #{last}, the last entry of {month:%Y-%m} or "
                    "earlier, in the chain (the servers' clocks disagreed): dropping would leave a gap. Nothing was dropped."
                )
            anchor = None
            if last is not None:
                cursor.execute(f'SELECT digest FROM "{TABLE}" WHERE sequence = %s', [last])
                anchor = HistoryErasure(
                    table=TABLE,
                    sequence=last,
                    digest=cursor.fetchone()[0],
                    detail=(
                        f"access log through {month:%Y-%m} dropped after {settings.NOVAMIND_RETENTION_YEARS} years: "
                        f"{count} entries up to #{last}"
                    ),
                )
            if dry_run:
                return Dropped(tuple(names), count, last)
            if anchor is not None:
                anchor.mac = history_chain.erasure_mac(anchor)
                anchor.save(using=connection.alias)
            access.record(
                user=actor,
                action=DROP_ACTION,
                category=DROP_CATEGORY,
                detail=(
                    f"dropped partitions {doomed[0].label}–{doomed[-1].label} ({count} entries"
                    + (f", anchored at #{last})" if last is not None else ")")
                ),
            )
            # Deferred foreign-key checks of rows written in this transaction must not hold a table.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for name in names:
                cursor.execute(f'DROP TABLE "{name}"')
    return Dropped(tuple(names), count, last)


@dataclasses.dataclass(frozen=True)
class PartitionReport:
    """One partition as the command lists it: no entry content, only extent and size."""

    partition: Partition
    first: int | None
    last: int | None
    oldest: dt.datetime | None
    newest: dt.datetime | None
    bytes: int


def report(connection=default_connection) -> list[PartitionReport]:
    """Return each partition's first and last sequence, oldest and newest entry, and size on disk."""
    rows = []
    with connection.cursor() as cursor:
        for partition in partitions(connection):
            cursor.execute(
                f"SELECT min(sequence), max(sequence), min(occurred_at), max(occurred_at), "
                f'pg_total_relation_size(%s) FROM "{partition.name}"',
                [partition.name],
            )
            rows.append(PartitionReport(partition, *cursor.fetchone()))
    return rows
