"""Scan every table for plaintext PHI markers: live rows, history, admin log, sessions."""

import os
import shutil
import subprocess

from django.contrib.sessions.backends.db import SessionStore
from django.db import connection


def plaintext_hits(markers: list[str]) -> list[str]:
    """Return 'table.column' for every stored value that contains a marker in plaintext."""
    lowered = [marker.lower() for marker in markers]
    hits = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"SELECT * FROM {quoted}")
            columns = [column[0] for column in cursor.description]
            for row in cursor.fetchall():
                for column, value in zip(columns, row, strict=True):
                    text = value.decode("utf-8", "replace") if isinstance(value, (bytes, memoryview)) else str(value)
                    if table == "django_session" and column == "session_data":
                        text = str(SessionStore().decode(text))  # sessions are signed base64 JSON
                    text = text.lower()
                    hits.extend(f"{table}.{column}: {m}" for m in lowered if m in text)
    return hits


def pg_dump_hits(markers: list[str]) -> list[str]:
    """Return the markers found in a pg_dump of the current (test) database."""
    settings = connection.settings_dict
    environment = {**os.environ, "PGPASSWORD": settings.get("PASSWORD") or ""}
    command = [
        shutil.which("pg_dump") or "pg_dump",
        "--data-only",
        "--no-owner",
        "-h",
        settings.get("HOST") or "127.0.0.1",
        "-p",
        str(settings.get("PORT") or 5432),
        "-U",
        settings.get("USER") or "postgres",
        settings["NAME"],
    ]
    dump = subprocess.run(command, capture_output=True, text=True, env=environment, check=True).stdout
    assert "COPY public.patients_patient" in dump, "the dump does not contain the patient table"
    lowered = dump.lower()
    return [marker for marker in markers if marker.lower() in lowered]


def assert_no_plaintext(markers: list[str]) -> None:
    """Fail if any marker is stored in plaintext anywhere the database keeps data.

    Needs committed data: use it from @pytest.mark.django_db(transaction=True) tests. On
    PostgreSQL it also scans a pg_dump of the database, as an outsider with the files would.
    """
    hits = plaintext_hits(markers)
    assert not hits, f"plaintext PHI found: {hits[:20]}"
    if connection.vendor == "postgresql":
        found = pg_dump_hits(markers)
        assert not found, f"plaintext PHI in pg_dump: {found}"
