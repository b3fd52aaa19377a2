"""The probes a load balancer or orchestrator asks: /healthz (the process answers) and /readyz.

`/readyz` answers 200 only when this process can serve: the database answers, every migration
on disk is applied to it, and the configured FIELD_ENCRYPTION_KEY decrypts its encryption canary.
Otherwise 503 with one short reason, so the balancer sends no traffic to a process that would
answer every page with an error.

Both are answered by `ProbeMiddleware`, before the session, the login, the second factor and the
host check: a probe carries no cookie and gets none, is never redirected, reads no PHI (the
access log has nothing to record), and may name the process by address. The bodies are a word
or a reason, never a value, a key or a table's content.
"""

from __future__ import annotations

import functools

from django.db import DatabaseError, connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.http import HttpResponse

from novamind import encryption, outages

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"


@functools.cache
def expected_migrations() -> frozenset[tuple[str, str]]:
    """Return every migration on disk (app label, name): read once, the code does not change."""
    return frozenset(MigrationLoader(None, ignore_no_migrations=True).graph.nodes)


def readiness_problem() -> str | None:
    """Return why this process cannot serve (a short sentence without data), or None when ready."""
    try:
        connection.ensure_connection()
        applied = MigrationRecorder(connection).applied_migrations()
    except DatabaseError as error:
        if outages.is_unavailable(error):
            return "the database is unavailable"
        return "the database refused the readiness query"
    pending = expected_migrations() - set(applied)
    if pending:
        return f"{len(pending)} migration(s) not applied"
    try:
        encryption.require_writable_key(connection)
    except encryption.WrongKeyError:
        return "FIELD_ENCRYPTION_KEY cannot decrypt the encryption canary"
    except DatabaseError:
        return "the database is unavailable"
    return None


def _plain(text: str, status: int) -> HttpResponse:
    response = HttpResponse(text + "\n", status=status, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response


class ProbeMiddleware:
    """Answer GET and HEAD of /healthz and /readyz, before any middleware that needs a session."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path not in (HEALTH_PATH, READY_PATH) or request.method not in ("GET", "HEAD"):
            return self.get_response(request)
        if request.path == HEALTH_PATH:
            return _plain("ok", 200)
        problem = readiness_problem()
        if problem:
            return _plain(f"not ready: {problem}", 503)
        return _plain("ready", 200)
