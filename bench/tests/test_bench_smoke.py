"""`make test` on PostgreSQL runs the benchmark at --scale 1000, so that it never rots.

It checks what does not depend on the machine's speed: the run completes, every row is
produced, the operator commands run, and the query-count rows hold. Times are the benchmark's
business (`make bench`), never a test's. Key rotation, the slowest row, is left out here.
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

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


def test_the_benchmark_runs_at_small_scale_and_its_query_counts_hold(on_postgres, tmp_path):
    report_path = tmp_path / "bench.json"
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
    report = json.loads(report_path.read_text())
    rows = {row["key"]: row for row in report["rows"]}
    assert set(rows) == EXPECTED_ROWS
    for key in QUERY_COUNT_ROWS:
        assert rows[key]["verdict"] == "pass", rows[key]
        assert rows[key]["figure"] == rows[key]["control"] > 0
    for row in rows.values():
        assert row["verdict"] != "n/a", row
        assert not row["note"].startswith("the command failed"), row
    assert "dropped" in completed.stdout  # the throwaway databases are gone
