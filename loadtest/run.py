"""`make loadtest` / `python -m loadtest`: concurrent staff sessions against `make serve`'s gunicorn.

A run creates `nm_load_<pid>` on the PostgreSQL server DATABASE_URL names (as `make bench` does;
it refuses SQLite), migrates it, collects the static files and builds the clinic
(loadtest.setup: demo data, and a front-desk and a clinician account per virtual user, each with
an authenticator). For each worker count (1, then 2) it starts gunicorn as `make serve` does
(novamind.gunicorn_conf, DEBUG off, two-factor login required, fresh keys of its own) on a free
loopback port and waits for /readyz; then, for each user count (1, 10, 30), runs Locust headless
for the same fixed time (loadtest/locustfile.py), and counts the bookings stored in the database
against those the server acknowledged. Finally it runs `verify_audit` on the database, prints the
tables and drops the database.

Exit 0 when there was no error, no acknowledged booking is missing and the audit trail
verifies; 1 otherwise; 2 when it could not run at all. Latency targets are reported as ratios,
never asserted: the machine may be shared.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from cryptography.fernet import Fernet

from bench import database
from loadtest import report

BASE_DIR = Path(__file__).resolve().parent.parent
SIGN_IN = "sign-in: "
BOOKING_SAVED = "front desk: booking saved"
# The developer's shell must not configure the server: the run sets everything it needs.
INHERITED = re.compile(
    r"^(NOVAMIND_|DATABASE_|SECURE_|SESSION_)|^(SECRET_KEY|FIELD_ENCRYPTION_KEY|BLIND_INDEX_KEY|AUDIT_LOG_KEY|DEBUG|ALLOWED_HOSTS|DJANGO_SETTINGS_MODULE|STATIC_ROOT)$"
)


def parse_arguments(argv):
    parser = argparse.ArgumentParser(
        prog="python -m loadtest",
        description="Concurrent front-desk and clinician sessions (Locust) against gunicorn on a throwaway "
        "PostgreSQL database (DATABASE_URL's server).",
    )
    parser.add_argument("--users", default="1,10,30", help="Concurrent users of each stage (default 1,10,30).")
    parser.add_argument("--workers", default="1,2", help="gunicorn worker counts to compare (default 1,2).")
    parser.add_argument("--duration", type=int, default=60, help="Seconds each stage runs (default 60).")
    parser.add_argument("--think", default="0.2,0.8", help="Seconds a user waits between tasks, min,max.")
    parser.add_argument("--patients", type=int, default=300, help="Demo patients (default 300).")
    parser.add_argument("--keep-database", action="store_true", help="Do not drop the database at the end.")
    arguments = parser.parse_args(argv)
    try:
        arguments.users = [int(part) for part in arguments.users.split(",")]
        arguments.workers = [int(part) for part in arguments.workers.split(",")]
        think = [float(part) for part in arguments.think.split(",")]
    except ValueError:
        parser.error("--users, --workers and --think take comma-separated numbers")
    if min(arguments.users) < 1 or min(arguments.workers) < 1 or arguments.duration < 5 or len(think) != 2:
        parser.error("users and workers are at least 1, the duration at least 5 s, --think is min,max")
    return arguments


@dataclasses.dataclass
class Row:
    """One request type's figures in one stage (Locust's CSV, milliseconds)."""

    name: str
    requests: int
    failures: int
    p50: float
    p95: float
    p99: float


@dataclasses.dataclass
class Stage:
    """One stage: a worker count, a user count, its rows, and the bookings it stored."""

    workers: int
    users: int
    duration: int
    rows: dict[str, Row]
    stored: int
    failures: list[str]
    exceptions: int = 0

    @property
    def acknowledged(self) -> int:
        row = self.rows.get(BOOKING_SAVED)
        return row.requests - row.failures if row else 0

    @property
    def work(self) -> list[Row]:
        return [row for name, row in sorted(self.rows.items()) if not name.startswith(SIGN_IN)]

    @property
    def errors(self) -> int:
        """Failed requests, and users stopped by an exception (a sign-in refused, a page unreadable)."""
        return sum(row.failures for row in self.rows.values()) + self.exceptions

    @property
    def throughput(self) -> float:
        """Requests per second, sign-in excluded (it happens once per user, at the start)."""
        return sum(row.requests for row in self.work) / self.duration


def server_environment(url: str, directory: Path) -> dict[str, str]:
    """Return the server's environment: production-like serving, fresh keys, this run's database."""
    environment = {name: value for name, value in os.environ.items() if not INHERITED.search(name)}
    environment.update(
        # Development mode, because production refuses plain HTTP on loopback (HTTPS-only cookies,
        # the TLS redirect): everything else is as in production, two-factor login included.
        NOVAMIND_MODE="development",
        DEBUG="off",
        NOVAMIND_REQUIRE_TWO_FACTOR="true",
        SECRET_KEY=secrets.token_urlsafe(50),
        FIELD_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        BLIND_INDEX_KEY=secrets.token_urlsafe(48),
        AUDIT_LOG_KEY=secrets.token_urlsafe(48),
        DATABASE_URL=url,
        DATABASE_SSLMODE=os.environ.get("DATABASE_SSLMODE", "prefer"),
        ALLOWED_HOSTS="127.0.0.1",
        STATIC_ROOT=str(directory / "static"),
        NOVAMIND_AUDIT_CHECKPOINT_DIR=str(directory / "checkpoints"),
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(BASE_DIR),
    )
    if os.environ.get("DATABASE_SSLROOTCERT"):
        environment["DATABASE_SSLROOTCERT"] = os.environ["DATABASE_SSLROOTCERT"]
    return environment


def run(command: list[str], environment: dict[str, str], what: str) -> None:
    result = subprocess.run(command, cwd=BASE_DIR, env=environment, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{result.stdout[-2000:]}{result.stderr[-4000:]}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def gunicorn(environment: dict[str, str], workers: int, log: Path):
    """Serve as `make serve` does, with `workers` workers; yield the base URL once /readyz says ready."""
    port = free_port()
    environment = {**environment, "NOVAMIND_WEB_WORKERS": str(workers), "NOVAMIND_WEB_BIND": f"127.0.0.1:{port}"}
    command = [sys.executable, "-m", "gunicorn", "-c", "python:novamind.gunicorn_conf", "novamind.wsgi"]
    with log.open("a", encoding="utf-8") as output:
        server = subprocess.Popen(command, cwd=BASE_DIR, env=environment, stdout=output, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while not ready(base):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not become ready; see {log}")
            time.sleep(0.5)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def ready(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "/readyz", timeout=5) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


def count_bookings(url: str) -> int:
    """Return how many appointments the load test's front-desk accounts have stored."""
    with database.connect(url, os.environ) as connection:
        return connection.execute(
            "SELECT count(*) FROM appointments_appointment a JOIN auth_user u ON u.id = a.created_by_id "
            "WHERE u.username LIKE 'loaddesk%%'"
        ).fetchone()[0]


def read_result(path: Path) -> tuple[dict[str, Row], list[str], int]:
    """Return the rows, failure messages and exception count the locustfile wrote at the window's end."""
    if not path.exists():
        return {}, ["Locust wrote no result (it stopped before the window closed; see locust.log)"], 1
    result = json.loads(path.read_text(encoding="utf-8"))
    rows = {row["name"]: Row(**row) for row in result["rows"]}
    return rows, result["failures"] + result["exceptions"], result["exception_count"]


def locust(base: str, users: int, duration: int, think: str, stage: int, fixture: Path, directory: Path, env) -> tuple:
    result = directory / f"stage{stage}.json"
    environment = {
        **env,
        "LOADTEST_FIXTURE": str(fixture),
        "LOADTEST_THINK": think,
        "LOADTEST_RUN": str(stage),
        "LOADTEST_DURATION": str(duration),
        "LOADTEST_RESULT": str(result),
    }
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(BASE_DIR / "loadtest" / "locustfile.py"),
        "--headless",
        "--users",
        str(users),
        "--spawn-rate",
        str(users),
        # The locustfile ends the stage `duration` seconds after the last sign-in; this is a backstop.
        "--run-time",
        f"{duration + 600}s",
        # A user stopped mid-booking would leave an answer nobody read: let tasks finish.
        "--stop-timeout",
        "30",
        "--host",
        base,
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]
    with (directory / "locust.log").open("a", encoding="utf-8") as output:
        subprocess.run(command, cwd=BASE_DIR, env=environment, stdout=output, stderr=subprocess.STDOUT)
    return read_result(result)


def main(argv=None) -> int:
    arguments = parse_arguments(argv)
    try:
        server = database.server_url(os.environ)
    except database.RefusedDatabase as refusal:
        print(str(refusal).replace("The benchmark", "The load test").replace("the benchmark", "the load test"))
        return 2
    name = f"nm_load_{os.getpid()}"
    url = database.with_database(server, name)
    database.create(server, name, os.environ)
    out(f"Database {name} created on {database.server_version(server, os.environ)}.")
    try:
        with tempfile.TemporaryDirectory(prefix="novamind-loadtest-") as temporary:
            directory = Path(temporary)
            environment = server_environment(url, directory)
            python = [sys.executable, "manage.py"]
            run([*python, "migrate", "--noinput", "-v0"], environment, "migrate")
            run([*python, "collectstatic", "--noinput", "-v0"], environment, "collectstatic")
            fixture = directory / "fixture.json"
            sessions = max(arguments.users)
            run(
                [sys.executable, "-m", "loadtest.setup", str(fixture), "--sessions", str(sessions)]
                + ["--patients", str(arguments.patients)],
                environment,
                "the clinic's set-up",
            )
            out(
                f"Clinic ready: {arguments.patients} demo patients, {sessions} front-desk and {sessions} clinician accounts."
            )
            stages = []
            for workers in arguments.workers:
                with gunicorn(environment, workers, directory / "gunicorn.log") as base:
                    for users in arguments.users:
                        before = count_bookings(url)
                        rows, failures, exceptions = locust(
                            base,
                            users,
                            arguments.duration,
                            arguments.think,
                            len(stages),
                            fixture,
                            directory,
                            environment,
                        )
                        stored = count_bookings(url) - before
                        stage = Stage(workers, users, arguments.duration, rows, stored, failures, exceptions)
                        stages.append(stage)
                        out(
                            f"{workers} worker(s), {users} user(s): {stage.throughput:.1f} requests/s, "
                            f"{stage.errors} error(s), bookings {stage.acknowledged} acknowledged / {stage.stored} stored."
                        )
            audit = subprocess.run(
                [*python, "verify_audit"], cwd=BASE_DIR, env=environment, capture_output=True, text=True
            )
            print()
            print(report.render(stages, users=arguments.users, workers=arguments.workers, duration=arguments.duration))
            print()
            # Its last line says it all when intact ("Audit trail intact: …"); every problem otherwise.
            said = audit.stdout.strip().splitlines()[-1:] if audit.returncode == 0 else [audit.stdout, audit.stderr]
            print(f"verify_audit: {'passed' if audit.returncode == 0 else 'FAILED'}: {' '.join(said).strip()}")
            for stage in stages:
                for failure in stage.failures:
                    print(f"  {stage.workers}w/{stage.users}u: {failure}")
            lost = sum(max(0, stage.acknowledged - stage.stored) for stage in stages)
            errors = sum(stage.errors for stage in stages)
            if errors or lost or audit.returncode != 0:
                print(f"FAILED: {errors} error(s), {lost} lost booking(s), verify_audit exit {audit.returncode}.")
                return 1
            return 0
    finally:
        if arguments.keep_database:
            out(f"Database {name} kept.")
        else:
            database.drop(server, name, os.environ)


def out(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)
