"""The WSGI and ASGI entry points refuse to load with a key that cannot decrypt the database, in any mode.

The crypter is built once at import, so each case imports the entry point in a fresh Python
process, configured by environment variables: the test database on PostgreSQL, a freshly
migrated SQLite file otherwise (the SQLite test database lives in this process's memory).
"""

import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from django.db import connection

from novamind.tests.children import BASE_DIR, child_environment

pytestmark = pytest.mark.django_db


def run(code: str, environment: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, env=environment, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def database_url(tmp_path):
    """Return the URL of a migrated database with a canary under this process's key."""
    if connection.vendor == "postgresql":
        params = connection.settings_dict
        password = f":{params['PASSWORD']}" if params["PASSWORD"] else ""
        host, port = params["HOST"] or "127.0.0.1", params["PORT"] or 5432
        return f"postgres://{params['USER']}{password}@{host}:{port}/{params['NAME']}"
    url = f"sqlite:///{tmp_path / 'entry.sqlite3'}"
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"],
        cwd=BASE_DIR,
        env=child_environment(url, DATABASE_POOL="false"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return url


@pytest.mark.parametrize("module", ["novamind.wsgi", "novamind.asgi"])
def test_an_entry_point_refuses_to_load_in_development_with_a_key_that_cannot_decrypt_the_canary(module, database_url):
    wrong = child_environment(database_url, DATABASE_POOL="false", FIELD_ENCRYPTION_KEY=Fernet.generate_key().decode())
    result = run(f"import {module}", wrong)
    assert result.returncode != 0
    assert "novamind.E010" in result.stderr
    assert "FIELD_ENCRYPTION_KEY cannot decrypt" in result.stderr


@pytest.mark.parametrize("module", ["novamind.wsgi", "novamind.asgi"])
def test_an_entry_point_loads_with_the_right_key(module, database_url):
    result = run(
        f"import {module}; print(type({module}.application).__name__)",
        child_environment(database_url, DATABASE_POOL="false"),
    )
    assert result.returncode == 0, result.stderr
    assert "Handler" in result.stdout
