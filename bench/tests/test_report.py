"""The benchmark's verdicts, table and refusals: plain functions, no database."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import database, report

BASE_DIR = Path(__file__).resolve().parents[2]


def row(target, figure, control, **options):
    return report.judged("key", "measure", "control", "ms", target, figure=figure, control=control, **options)


def test_a_ratio_at_or_under_its_limit_passes_and_over_it_fails():
    assert row(report.at_most(2.0), 2.0, 1.0).verdict == report.PASS
    assert row(report.at_most(2.0), 2.1, 1.0).verdict == report.FAIL
    assert row(report.at_most(1.25), 1.0, 1.0).ratio == 1.0


def test_query_counts_pass_only_when_equal():
    assert row(report.same_count(), 19, 19).verdict == report.PASS
    failed = row(report.same_count(), 132, 34)
    assert failed.verdict == report.FAIL and failed.ratio == pytest.approx(132 / 34)


def test_a_throughput_needs_its_share_of_the_limit_and_its_memory_cap():
    target = report.at_least(0.5, rss_limit_mb=250)
    assert row(target, 600, 1000, rss_mb=100).verdict == report.PASS
    assert row(target, 400, 1000, rss_mb=100).verdict == report.FAIL
    assert row(target, 600, 1000, rss_mb=251).verdict == report.FAIL
    assert row(target, 600, 1000).verdict == report.FAIL  # no RSS measured: not met


def test_a_memory_row_is_judged_on_its_peak_only():
    assert row(report.memory(250), 180, 90, rss_mb=180).verdict == report.PASS
    assert row(report.memory(250), 300, 90, rss_mb=300).verdict == report.FAIL


def test_the_summary_fails_a_run_with_a_missed_target_or_a_missing_row():
    passed = row(report.at_most(2.0), 1.0, 1.0)
    missing = report.not_available("import.throughput", "m", "c", "rows/s", report.at_least(0.5), "no command yet")
    assert report.summary([passed]) == (0, "All 1 rows met their targets.")
    status, text = report.summary([passed, missing])
    assert status == 1 and "NOT AVAILABLE" in text and "import.throughput" in text


def test_the_table_shows_every_row_with_its_verdict_and_why_it_could_not_be_measured():
    missing = report.not_available(
        "rotate", "rotation", "Fernet alone", "values/s", report.at_least(0.5), "no command yet"
    )
    text = report.table([row(report.at_most(2.0), 3.0, 1.0), missing])
    lines = text.splitlines()
    assert lines[0].startswith("| measure | figure |") and len(lines) == 4
    assert "3.00x" in lines[2] and "FAIL" in lines[2]
    assert "n/a (no command yet)" in lines[3]


def test_the_throwaway_database_url_keeps_the_server_and_changes_the_name():
    url = "postgres://bench:secret@db.example:5433/novamind?pool=false"
    assert (
        database.with_database(url, "nm_bench_42") == "postgres://bench:secret@db.example:5433/nm_bench_42?pool=false"
    )
    assert database.libpq_dsn(url) == "postgresql://bench:secret@db.example:5433/novamind"
    assert database.throwaway_name(42) == "nm_bench_42"


@pytest.mark.parametrize("url", ["", "sqlite:///var/novamind.sqlite3", "mysql://root@localhost/novamind"])
def test_the_benchmark_refuses_anything_but_postgresql(url):
    with pytest.raises(database.RefusedDatabase, match="PostgreSQL"):
        database.server_url({"DATABASE_URL": url})


def test_make_bench_on_sqlite_exits_2_with_a_reason_and_creates_nothing():
    environ = {**os.environ, "DATABASE_URL": "sqlite:///var/novamind.sqlite3"}
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--scale", "1000"],
        cwd=BASE_DIR,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 2
    assert "PostgreSQL only" in completed.stderr and "created" not in completed.stdout
