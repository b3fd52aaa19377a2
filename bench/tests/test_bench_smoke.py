"""`make test` on PostgreSQL runs the benchmark at --scale 1000, so that it never rots.

It checks what does not depend on the machine's speed: the run completes, every row is
produced, the operator commands run, and the query-count rows hold. Times are the benchmark's
business (`make bench`), never a test's. Key rotation, the slowest row, is left out here.

With DATABASE_REPLICA_URL (CI), the same run reads its controls on the replica, and a test says
so from the report; without one it is skipped with a reason, or fails under
NOVAMIND_REQUIRE_REPLICA=1 (as novamind/tests/integration/test_read_replica.py does).
"""

import json
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection, connections

from bench import replica
from conftest import TEST_DATABASE_OWNER

BASE_DIR = Path(__file__).resolve().parents[2]
QUERY_COUNT_ROWS = ("changelist.queries", "patient_page.queries", "pages.queries")
PAGES = (
    "patients",
    "appointments_today",
    "appointments",
    "series",
    "notes",
    "orders",
    "allergies",
    "patient_history",
    "appointment_history",
    "note_history",
    "order_history",
    "patient_page",
    "note_page",
    "week",
    "free_slots",
    "dashboard",
)
EXPECTED_ROWS = {
    *(f"pages.{page}.{viewer}" for page in PAGES for viewer in ("superuser", "clinician")),
    "pages.access_log.superuser",  # no care role may open the access log
    "pages.cosignature_queue.superuser",  # the measured clinician is a prescriber, who may not co-sign
    "pages.cosignature_queue.supervisor",  # a supervisor with data.COSIGN_REQUESTS notes to co-sign
    "pages.queries",
    "schedule.day_sheet",
    "schedule.conflict_check",
    "changelist.queries",
    "changelist.time",
    "search.name",
    "search.date_of_birth",
    "search.phone",
    "search.prefix",
    "patient_page.queries",
    "repository.get_by_id",
    "repository.list",
    "history_chain.save",
    "export.rss",
    "import.throughput",
}

pytestmark = pytest.mark.postgres


def owner_environment() -> dict[str, str]:
    """Return the environment to run the benchmark in: as the database owner on a least-privilege run.

    It creates, migrates and drops its own databases, which is the owner's work (README, "Database
    roles"); CI's owner role may create databases and logs in without a password, as the
    application role does.
    """
    environment = dict(os.environ)
    if TEST_DATABASE_OWNER:
        url = urlsplit(environment["DATABASE_URL"])
        host = url.netloc.rpartition("@")[2]
        environment["DATABASE_URL"] = urlunsplit(url._replace(netloc=f"{TEST_DATABASE_OWNER}@{host}"))
    return environment


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory):
    """Run the benchmark once at --scale 1000; return (the finished process, its JSON report)."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgres://…")
    report_path = tmp_path_factory.mktemp("bench") / "bench.json"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--scale",
            "1000",
            "--repeat",
            "1",
            "--skip",
            "rotate",
            "--json",
            str(report_path),
        ],
        cwd=BASE_DIR,
        env=owner_environment(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    # 0: every target met; 1: a time or throughput missed at this tiny scale, which is no failure here.
    assert completed.returncode in (0, 1), completed.stdout[-2000:] + completed.stderr[-4000:]
    return completed, json.loads(report_path.read_text())


def test_the_benchmark_runs_at_small_scale_and_its_query_counts_hold(bench_run):
    completed, report = bench_run
    rows = {row["key"]: row for row in report["rows"]}
    assert set(rows) == EXPECTED_ROWS
    for key in QUERY_COUNT_ROWS:
        assert rows[key]["verdict"] == "pass", rows[key]
        assert rows[key]["figure"] == rows[key]["control"] > 0
    for row in rows.values():
        assert row["verdict"] != "n/a", row
        assert not row["note"].startswith("the command failed"), row
    assert "dropped" in completed.stdout  # the throwaway databases are gone
    assert report["controls"]["text"] in completed.stdout  # the report says where the controls read


def _missing(reason: str):
    if os.environ.get("NOVAMIND_REQUIRE_REPLICA") == "1":
        pytest.fail(reason + "; NOVAMIND_REQUIRE_REPLICA=1 requires the replica tests (CI)")
    pytest.skip(reason)


def test_the_controls_read_the_replica_of_the_benchmarks_database(request):
    if not os.environ.get("DATABASE_REPLICA_URL"):
        _missing("no read replica: run .ci/start_replica and set DATABASE_REPLICA_URL (README, 'Scaling')")
    completed, report = request.getfixturevalue("bench_run")  # the same run, only when there is a replica
    controls = report["controls"]
    # Asked on the connection the controls used: a standby, on the replica's port.
    assert controls["alias"] == "replica" and controls["in_recovery"] is True, controls
    assert controls["address"].endswith(f":{replica.address(os.environ['DATABASE_REPLICA_URL']).split(':')[1]}")
    # Every query of every control ran there, none on the primary.
    assert controls["queries"].get("replica", 0) > 0 and controls["queries"].get("default", 0) == 0, controls
    assert controls["waits_s"], (
        controls
    )  # it waited for the replay (3 times: the data, the pages' clinic, the commands)
    assert "controls read from the replica at" in completed.stdout and "in recovery: true" in completed.stdout


def closed_port() -> int:
    """Return a loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.django_db
def test_an_unreachable_replica_leaves_the_controls_on_the_primary_with_one_warning(
    on_postgres, monkeypatch, settings, caplog
):
    monkeypatch.setitem(connections.databases, replica.REPLICA, connections.databases.get(replica.REPLICA, {}))
    monkeypatch.setenv("DATABASE_REPLICA_URL", f"postgres://postgres@127.0.0.1:{closed_port()}/nm_bench_1")
    settings.NOVAMIND_REPLICA_READS = True
    with caplog.at_level(logging.WARNING, logger="novamind.database"):
        placement = replica.place(os.environ, timeout=5, out=lambda message: None)
    assert placement.alias == "default" and placement.in_recovery is False
    assert "could not be reached" in placement.text() and "controls read from the primary" in placement.text()
    warnings = [record.getMessage() for record in caplog.records if record.name == "novamind.database"]
    assert len(warnings) == 1 and "unavailable" in warnings[0], warnings
    # Nothing tries the replica again: not this process, not the commands it starts.
    assert settings.NOVAMIND_REPLICA_READS is False and "DATABASE_REPLICA_URL" not in os.environ
