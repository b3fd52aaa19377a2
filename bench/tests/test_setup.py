"""The benchmark's set-up: it measures its own throwaway database, on the primary only."""

import os

from bench import run


def test_the_benchmark_never_reads_a_replica_of_another_database(monkeypatch, settings):
    monkeypatch.setenv("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    monkeypatch.setenv("DATABASE_REPLICA_URL", "postgres://postgres@127.0.0.1:5433/postgres")
    for name in ("DEBUG", "LOG_LEVEL", "DJANGO_SETTINGS_MODULE", "STATIC_ROOT"):
        monkeypatch.setenv(name, "")
    migrations = []
    monkeypatch.setattr("django.core.management.call_command", lambda *args, **kwargs: migrations.append(args))
    run._setup("postgres://postgres@127.0.0.1:5432/postgres", "nm_bench_1")
    assert os.environ["DATABASE_URL"].endswith("/nm_bench_1")
    assert "DATABASE_REPLICA_URL" not in os.environ
    assert migrations == [("collectstatic",), ("migrate",)]  # on the throwaway database, never the replica
