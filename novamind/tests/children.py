"""Configuration for a test's child process: another NovaMind process on this test's database.

Tests that need a fresh interpreter (the crypter is built once at import; a server killed with
SIGKILL; an outage) start one with `child_environment`: development mode, this process's keys,
the test's own checkpoint directory, and none of the developer's shell settings.
"""

import os
import re
from pathlib import Path

from django.conf import settings
from django.db import connection

BASE_DIR = Path(settings.BASE_DIR)
# Variables of the developer's shell that would leak into the child's configuration.
INHERITED = re.compile(
    r"^(NOVAMIND_|DATABASE_|SECURE_|SESSION_)|^(SECRET_KEY|FIELD_ENCRYPTION_KEY|BLIND_INDEX_KEY|AUDIT_LOG_KEY|DEBUG|ALLOWED_HOSTS|DJANGO_SETTINGS_MODULE)$"
)


def child_environment(database_url: str, **overrides) -> dict[str, str]:
    """Return a development-mode environment with this process's keys, on `database_url`."""
    environment = {name: value for name, value in os.environ.items() if not INHERITED.search(name)}
    environment.update(
        NOVAMIND_MODE="development",
        SECRET_KEY=settings.SECRET_KEY,
        FIELD_ENCRYPTION_KEY=",".join(settings.FIELD_ENCRYPTION_KEY),
        BLIND_INDEX_KEY=settings.BLIND_INDEX_KEY,
        AUDIT_LOG_KEY=settings.AUDIT_LOG_KEY,
        # The test's own checkpoints (novamind/tests/audit_checkpoints.py), never var/'s.
        NOVAMIND_AUDIT_CHECKPOINT_DIR=str(settings.NOVAMIND_AUDIT_CHECKPOINT_DIR),
        DATABASE_URL=database_url,
        DATABASE_SSLMODE="disable",
        ALLOWED_HOSTS="testserver",
        PYTHONPATH=str(BASE_DIR),
    )
    environment.update(overrides)
    return environment


def postgres_url(*, port=None, name=None) -> str:
    """Return the URL of this test's PostgreSQL database (or another port or database on its server)."""
    params = connection.settings_dict
    password = f":{params['PASSWORD']}" if params["PASSWORD"] else ""
    host = params["HOST"] or "127.0.0.1"
    return f"postgres://{params['USER']}{password}@{host}:{port or params['PORT'] or 5432}/{name or params['NAME']}"
