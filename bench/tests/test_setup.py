"""The benchmark's set-up: it measures its own throwaway database, and reads that database's replica."""

import os

import pytest

from bench import run


@pytest.fixture
def setup_environment(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    for name in ("DEBUG", "LOG_LEVEL", "DJANGO_SETTINGS_MODULE", "STATIC_ROOT"):
        monkeypatch.setenv(name, "")
    migrations = []
    monkeypatch.setattr("django.core.management.call_command", lambda *args, **kwargs: migrations.append(args))
    return migrations


def test_the_benchmark_reads_the_replica_of_its_own_database_never_of_another(monkeypatch, setup_environment):
    monkeypatch.setenv("DATABASE_REPLICA_URL", "postgres://novamind_app@127.0.0.1:5433/postgres")
    run._setup("postgres://postgres@127.0.0.1:5432/postgres", "nm_bench_1")
    assert os.environ["DATABASE_URL"].endswith("/nm_bench_1")
    assert os.environ["DATABASE_REPLICA_URL"] == "postgres://postgres@127.0.0.1:5433/nm_bench_1"
    assert setup_environment == [("collectstatic",), ("migrate",)]  # on the throwaway database, never the replica


def test_without_a_replica_the_benchmark_configures_none(monkeypatch, setup_environment):
    monkeypatch.delenv("DATABASE_REPLICA_URL", raising=False)
    run._setup("postgres://postgres@127.0.0.1:5432/postgres", "nm_bench_1")
    assert "DATABASE_REPLICA_URL" not in os.environ
