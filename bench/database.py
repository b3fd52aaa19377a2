"""The benchmark's throwaway PostgreSQL database: created for one run, dropped after it.

The benchmark never writes to the database DATABASE_URL names: it connects there only to
create `nm_bench_<pid>` on the same server, points Django at that one, and drops it at the end.
"""

from __future__ import annotations

import os
import urllib.parse

import psycopg
from psycopg import sql

POSTGRES_SCHEMES = {"postgres", "postgresql", "pgsql", "psql", "postgis"}
MAINTENANCE_DATABASE = "postgres"


class RefusedDatabase(Exception):
    """DATABASE_URL does not name a PostgreSQL server, so the benchmark will not run."""


def throwaway_name(pid: int | None = None) -> str:
    """Return the name of this run's database."""
    return f"nm_bench_{os.getpid() if pid is None else pid}"


def server_url(environ) -> str:
    """Return DATABASE_URL if it names PostgreSQL; raise RefusedDatabase otherwise."""
    url = environ.get("DATABASE_URL", "").strip()
    if not url:
        raise RefusedDatabase(
            "DATABASE_URL is not set. The benchmark runs on PostgreSQL only (the production engine; "
            "SQLite is the embedded default for the demo): set DATABASE_URL=postgres://USER@HOST:5432/DB "
            "and it creates and drops its own database on that server."
        )
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in POSTGRES_SCHEMES:
        raise RefusedDatabase(
            f"DATABASE_URL names a '{scheme}' database; the benchmark runs on PostgreSQL only "
            f"(postgres://USER@HOST:5432/DB). SQLite figures would say nothing about production."
        )
    return url


def with_database(url: str, name: str) -> str:
    """Return `url` naming database `name` instead, with its other parts unchanged."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + urllib.parse.quote(name)))


def libpq_dsn(url: str) -> str:
    """Return `url` as a URI libpq accepts (its scheme, without Django-only query options)."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(scheme="postgresql", query="", fragment=""))


def connect(url: str, environ):
    """Return an autocommit connection to the database `url` names, with the configured TLS mode."""
    options = {"sslmode": environ.get("DATABASE_SSLMODE", "prefer"), "autocommit": True}
    if environ.get("DATABASE_SSLROOTCERT"):
        options["sslrootcert"] = environ["DATABASE_SSLROOTCERT"]
    return psycopg.connect(libpq_dsn(url), **options)


def _admin_connection(url: str, environ):
    try:
        return connect(url, environ)
    except psycopg.OperationalError:
        # The named database may not exist yet (a fresh server): the maintenance one does.
        return connect(with_database(url, MAINTENANCE_DATABASE), environ)


def create(url: str, name: str, environ) -> None:
    """Create database `name` on the server of `url`."""
    with _admin_connection(url, environ) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop(url: str, name: str, environ) -> None:
    """Drop database `name`, closing any session still connected to it."""
    with _admin_connection(url, environ) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def server_version(url: str, environ) -> str:
    """Return the server's version string (for the report)."""
    with _admin_connection(url, environ) as connection:
        return connection.execute("SHOW server_version").fetchone()[0]


def clone(url: str, source: str, target: str, environ, attempts: int = 20) -> None:
    """Create database `target` as a copy of `source` (which must have no open session).

    Autovacuum may be looking at the source for a moment; the copy is retried until it is not.
    """
    import time

    statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(target), sql.Identifier(source))
    with _admin_connection(url, environ) as connection:
        for attempt in range(attempts):
            try:
                connection.execute(statement)
                return
            except psycopg.errors.ObjectInUse:
                if attempt == attempts - 1:
                    raise
                time.sleep(0.5)


def use(name: str) -> None:
    """Point Django's connections at database `name`: the primary's, and the replica's if the run has one.

    Each connection and its pool are closed first, so the next query connects to `name`. The
    measures switch between a control copy and the full database with this, between timed
    calls, never inside one. The replica streams every database of the primary's cluster, so
    its alias follows: a reporting read of the copy reads the copy's replica.
    """
    from django.db import connections

    for alias in connections.databases:
        wrapper = connections[alias]
        wrapper.close()
        # Django keeps one pool per alias at class level; a pool created for the old name must go.
        if wrapper.alias in getattr(type(wrapper), "_connection_pools", {}):
            wrapper.close_pool()
        wrapper.settings_dict["NAME"] = name
