"""The read replica: which reads may go to it, and the router that sends them there.

Nothing goes to the replica by default. A call site opts in, around reads only, with
`reporting_reads()`: the audit report, the dashboard's panels and the record export's reads do.
Everything else — every write, the reads that must see their own writes (sessions, the lockout,
the access log's chain head, emergency grants), and every read of a request or block that has
already written — goes to the primary (`default`). The replica is a streaming standby: it may lag
the primary by a moment, so a report may miss the last second's changes (README, "Scaling"). If
it cannot be reached, the reads go to the primary, with one warning in the log, and the replica is
not tried again for REPLICA_RETRY_SECONDS.

With no DATABASE_REPLICA_URL there is no `replica` alias and this module routes nothing.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import logging
import time

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections

from novamind import outages

REPLICA = "replica"
logger = logging.getLogger("novamind.database")

# Tables that must always be read on the primary, even inside `reporting_reads()`: what was just
# written must be seen (a session, a lockout, the chain's head) or a stale row would grant access
# (an emergency grant that has ended, a care assignment that was closed).
PRIMARY_ONLY = frozenset(
    {
        "sessions.session",
        "axes.accessattempt",
        "axes.accessfailurelog",
        "axes.accesslog",
        "novamind.accessloghead",
        "patients.emergencyaccessgrant",
        "patients.careassignment",
    }
)


@dataclasses.dataclass
class _Scope:
    """What a request (or a command's block) has done so far: once it writes, it reads the primary."""

    wrote: bool = False


_scope: contextvars.ContextVar[_Scope | None] = contextvars.ContextVar("novamind_db_scope", default=None)
_reporting: contextvars.ContextVar[bool] = contextvars.ContextVar("novamind_reporting_reads", default=False)
# time.monotonic() until which the replica is not tried again, after it could not be reached.
_down_until = 0.0


def configured() -> bool:
    """Return whether a replica is configured and reporting reads may use it."""
    return REPLICA in connections.databases and getattr(settings, "NOVAMIND_REPLICA_READS", True)


@contextlib.contextmanager
def request_scope():
    """Track whether the block writes, so that nothing after its first write reads the replica."""
    token = _scope.set(_Scope())
    try:
        yield
    finally:
        _scope.reset(token)


@contextlib.contextmanager
def reporting_reads():
    """Let the block's reads go to the replica, until the block (or its request) writes.

    For read-only reporting only: what it shows may be a moment old. A block that writes first
    (or inside a request that already wrote) reads the primary.
    """
    scope_token = _scope.set(_Scope()) if _scope.get() is None else None
    token = _reporting.set(True)
    try:
        yield
    finally:
        _reporting.reset(token)
        if scope_token is not None:
            _scope.reset(scope_token)


def replica_alias() -> str:
    """Return the alias reporting reads go to now: the replica if it answers, else the primary."""
    global _down_until
    if not configured() or time.monotonic() < _down_until:
        return DEFAULT_DB_ALIAS
    try:
        connections[REPLICA].ensure_connection()
    except (OperationalError, InterfaceError) as error:
        _down_until = time.monotonic() + settings.NOVAMIND_REPLICA_RETRY_SECONDS
        logger.warning(
            "Reporting reads go to the primary for %ss: the read replica is unavailable (%s)",
            settings.NOVAMIND_REPLICA_RETRY_SECONDS,
            outages.describe(error),
        )
        return DEFAULT_DB_ALIAS
    return REPLICA


def _note_write() -> None:
    scope = _scope.get()
    if scope is not None:
        scope.wrote = True


class ReplicaRouter:
    """Send the reads of `reporting_reads()` blocks to the replica; everything else to the primary."""

    def db_for_read(self, model, **hints):
        if not configured():
            return None
        if not _reporting.get():
            # Not None: Django would then follow a hinted instance to the database it came from.
            return DEFAULT_DB_ALIAS
        scope = _scope.get()
        if (scope is not None and scope.wrote) or model._meta.label_lower in PRIMARY_ONLY:
            return DEFAULT_DB_ALIAS
        return replica_alias()

    def db_for_write(self, model, **hints):
        # Also asked for SELECT … FOR UPDATE and get_or_create: the rest of the scope reads the primary.
        _note_write()
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        # The replica holds the primary's rows: an object read there may relate to one read here.
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        # The replica is a copy of the primary's files: it is never migrated, the primary's changes stream to it.
        return False if db == REPLICA else None


class RequestScopeMiddleware:
    """Give each request its own scope: after its first write, none of its reads go to the replica."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with request_scope():
            return self.get_response(request)
