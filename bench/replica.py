"""Where the benchmark's control reads run: the read replica of its throwaway database, if any.

In production the router sends read-only reporting work to the replica (README, "Read
replicas"); the benchmark's controls are such work. With DATABASE_REPLICA_URL set, the run
points a `replica` alias at its own throwaway database on the replica's host and port, waits,
once its data is written, until the replica has replayed the primary's WAL that far, and runs
each control's reads inside `novamind.db_router.reporting_reads()`. Everything that writes stays
on the primary. The report says where the controls ran, in the words of the connection they
used (`pg_is_in_recovery()`, its address), and how many of their queries went to each database.

Unset, the controls read the primary, as before. Set but unreachable, they read the primary
too, after one warning, as the router does.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import urllib.parse
from collections.abc import Callable

from bench import database

REPLICA = "replica"  # novamind.db_router.REPLICA: imported with Django, after the run's set-up
REPLAY_TIMEOUT_S = 120.0
logger = logging.getLogger("novamind.database")


class ReplicaLagging(Exception):
    """The replica did not replay the primary's WAL in time, or has no replay position at all."""


def replica_url(server: str, replica: str, name: str) -> str:
    """Return the URL of database `name` on the replica: `replica`'s host and port, the rest `server`'s.

    The user, password and options are the benchmark's own (DATABASE_URL's): it created the
    throwaway database and its control table, and a streaming replica holds the primary's roles
    and grants. The user DATABASE_REPLICA_URL names may not read them (CI's application role is
    granted the migrated tables only, not the control table the run creates).
    """
    server_parts = urllib.parse.urlsplit(server)
    credentials, _, _ = server_parts.netloc.rpartition("@")
    host = urllib.parse.urlsplit(replica).netloc.rpartition("@")[2]
    netloc = f"{credentials}@{host}" if credentials else host
    return database.with_database(urllib.parse.urlunsplit(server_parts._replace(netloc=netloc)), name)


def address(url: str) -> str:
    """Return the host:port `url` names (PostgreSQL's port 5432 when it names none)."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}"


def wait_for_replay(
    *,
    primary_lsn: Callable[[], str],
    bytes_behind: Callable[[str], int | None],
    where: str,
    timeout: float = REPLAY_TIMEOUT_S,
    poll: float = 0.05,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> float:
    """Wait until the replica has replayed the primary's WAL up to its current position; return the seconds waited.

    `bytes_behind(lsn)` is how far the replica's replay position is behind `lsn` (0 or less once
    it has replayed it), or None when the server has no replay position (it is not a standby).
    """
    target = primary_lsn()
    started = clock()
    while True:
        behind = bytes_behind(target)
        if behind is None:
            raise ReplicaLagging(f"the server at {where} has no WAL replay position: it is not a streaming standby.")
        if behind <= 0:
            return clock() - started
        if clock() - started >= timeout:
            raise ReplicaLagging(
                f"the replica at {where} did not replay the primary's WAL up to {target} within {timeout:g} s "
                f"(still {behind:,} bytes behind); check it is streaming (pg_stat_replication on the primary) "
                f"or give it longer with --replica-timeout."
            )
        sleep(poll)


@dataclasses.dataclass
class Placement:
    """Where the controls read: the connection's own answer, and their queries counted per database."""

    alias: str  # "replica", or "default" (the primary)
    address: str  # host:port the connection reports (inet_server_addr, inet_server_port)
    in_recovery: bool
    why: str = ""  # why the controls read the primary
    waits_s: list[float] = dataclasses.field(default_factory=list)
    queries: dict[str, int] = dataclasses.field(default_factory=dict)
    active: bool = False  # inside a control's reads: its queries are counted

    def text(self) -> str:
        """Return the report's line, e.g. "controls read from the replica at 127.0.0.1:5433, in recovery: true"."""
        server = "the replica" if self.alias == REPLICA else "the primary"
        line = f"controls read from {server} at {self.address}, in recovery: {str(self.in_recovery).lower()}"
        if self.queries:
            counted = ", ".join(f"{count:,} on {_server(alias)}" for alias, count in sorted(self.queries.items()))
            line += f" (their queries: {counted})"
        return line + (f"; {self.why}" if self.why else "")

    def as_json(self) -> dict:
        """Return the placement for the JSON report."""
        data = dataclasses.asdict(self)
        del data["active"]
        data["text"] = self.text()
        return data

    def count(self, alias: str):
        """Return an execute wrapper that counts the queries run on `alias` while a control reads."""

        def counted(execute, sql, params, many, context):
            if self.active:
                self.queries[alias] = self.queries.get(alias, 0) + 1
            return execute(sql, params, many, context)

        return counted

    def reads(self):
        """Return a context manager for one control's reads: reporting reads, counted."""
        return _ControlReads(self)

    def count_queries(self) -> None:
        """Count, from now on, the queries each of the run's connections runs for a control."""
        from django.db import connections

        for alias in connections.databases:
            connections[alias].execute_wrappers.append(self.count(alias))


def _server(alias: str) -> str:
    return "the replica" if alias == REPLICA else "the primary"


class _ControlReads:
    """A control's reads: `reporting_reads()`, with its queries counted (a class: cheap to enter)."""

    def __init__(self, placement: Placement):
        from novamind import db_router

        self.placement = placement
        self.block = db_router.reporting_reads()

    def __enter__(self):
        self.block.__enter__()
        self.placement.active = True

    def __exit__(self, *exc_info):
        self.placement.active = False
        return self.block.__exit__(*exc_info)


# --- on the run's Django connections ------------------------------------------------------------


def primary_lsn() -> str:
    """Return the primary's current WAL position."""
    from django.db import connections

    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        return cursor.fetchone()[0]


def replica_bytes_behind(connection) -> Callable[[str], int | None]:
    """Return `bytes_behind` for wait_for_replay, asked on `connection` (a psycopg connection to the replica)."""

    def bytes_behind(lsn: str) -> int | None:
        row = connection.execute("SELECT pg_wal_lsn_diff(%s::pg_lsn, pg_last_wal_replay_lsn())", [lsn]).fetchone()
        return None if row[0] is None else int(row[0])

    return bytes_behind


def describe(alias: str) -> tuple[str, bool]:
    """Return (host:port, in recovery) as the server behind `alias` reports them."""
    from django.db import connections

    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT inet_server_addr()::text, inet_server_port(), pg_is_in_recovery()")
        host, port, in_recovery = cursor.fetchone()
    return f"{(host or 'localhost').split('/')[0]}:{port}", in_recovery


def on_primary(why: str) -> Placement:
    """Return the placement of controls that read the primary, and why."""
    where, in_recovery = describe("default")
    return Placement(alias="default", address=where, in_recovery=in_recovery, why=why)


def settle(placement: Placement, environ, *, timeout: float, out=print) -> None:
    """Wait until the replica has replayed everything written so far (nothing to do on the primary)."""
    if placement.alias != REPLICA:
        return
    url = environ["DATABASE_REPLICA_URL"]
    with database.connect(database.with_database(url, database.MAINTENANCE_DATABASE), environ) as connection:
        waited = wait_for_replay(
            primary_lsn=primary_lsn, bytes_behind=replica_bytes_behind(connection), where=address(url), timeout=timeout
        )
    placement.waits_s.append(round(waited, 3))
    out(f"  the replica replayed the primary's WAL in {waited:,.2f} s")


def place(environ, *, timeout: float, out=print) -> Placement:
    """Decide where the controls read, waiting for the replica to catch up.

    Call once the data is written. With no replica configured, or one that cannot be reached
    (one warning), the controls read the primary and the replica is not used again this run.
    """
    import os

    import psycopg
    from django.conf import settings
    from django.db import connections

    from novamind import db_router

    if REPLICA not in connections.databases:
        placement = on_primary("DATABASE_REPLICA_URL is not set")
    else:
        where = address(environ["DATABASE_REPLICA_URL"])
        placement = Placement(alias=REPLICA, address=where, in_recovery=False)
        try:
            settle(placement, environ, timeout=timeout, out=out)
        except psycopg.OperationalError as error:
            logger.warning(
                "Reporting reads go to the primary for this run: the read replica at %s is unavailable (%s)",
                where,
                str(error).strip().splitlines()[0] if str(error).strip() else error.__class__.__name__,
            )
            placement = None
        if placement is not None:
            db_router._down_until = 0.0
            with db_router.reporting_reads():
                alias = db_router.replica_alias()  # the router's own check: one warning if it cannot connect
        if placement is None or alias != REPLICA:
            # Nothing may try the replica again: not this process, not the commands it starts.
            settings.NOVAMIND_REPLICA_READS = False
            os.environ.pop("DATABASE_REPLICA_URL", None)
            placement = on_primary(f"the replica at {where} could not be reached")
        else:
            placement.address, placement.in_recovery = describe(REPLICA)
    return placement
