"""Database outages: which errors mean the database cannot be reached, and how to say so.

A web request that cannot get a connection answers a styled 503 page (novamind.middleware.
DatabaseUnavailableMiddleware) and a command exits 1 (`manage.py`), each with one line in the
log or on standard error: no traceback, no SQL, no PHI. An error the database itself reports
about a statement (a constraint, a serialization failure, a cancelled query) is not an outage
and keeps its usual handling.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys

from django.db import InterfaceError, OperationalError

logger = logging.getLogger("novamind.database")

# SQLSTATEs a server sends when it is going away or not yet accepting connections; class 08
# (connection exception) is matched as a whole.
GOING_AWAY = {"57P01", "57P02", "57P03"}
# SQLite's "unable to open the database file" (a missing directory, a lost mount).
SQLITE_CANTOPEN = 14

PAGE = "novamind/database_unavailable.html"

# Whether this thread runs a manage.py command. A context variable, so a server's request
# threads (runserver's too) keep the servers' rule: start without the database and answer 503.
_in_command = contextvars.ContextVar("novamind_in_command", default=False)


def is_unavailable(error: BaseException) -> bool:
    """Return whether `error` says the database cannot be reached, rather than refusing a statement."""
    if not isinstance(error, (OperationalError, InterfaceError)):
        return False
    if isinstance(error, InterfaceError):
        return True  # the connection is closed or was never opened
    cause = error.__cause__
    if cause is None:
        return False
    if type(cause).__module__.startswith(("psycopg", "psycopg_pool")):
        sqlstate = getattr(cause, "sqlstate", None)
        # No SQLSTATE: libpq gave up before a server answered (refused, timed out, pool empty).
        return sqlstate is None or sqlstate.startswith("08") or sqlstate in GOING_AWAY
    return getattr(cause, "sqlite_errorcode", None) == SQLITE_CANTOPEN


def describe(error: BaseException) -> str:
    """Return the error's class and the first line of its message (a connection error holds no SQL)."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def in_command() -> bool:
    """Return whether this thread runs a command, which cannot do its work without the database."""
    return _in_command.get()


@contextlib.contextmanager
def commands_exit_on_outage(argv: list[str]):
    """Turn a database outage inside the block into one line on standard error and exit status 1."""
    token = _in_command.set(True)
    try:
        yield
    except (OperationalError, InterfaceError) as error:
        if not is_unavailable(error):
            raise
        command = argv[1] if len(argv) > 1 else "manage.py"
        sys.stderr.write(f"{command}: the database is unavailable ({describe(error)}); nothing was saved.\n")
        sys.exit(1)
    finally:
        _in_command.reset(token)
