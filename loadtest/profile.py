"""`python -m loadtest.profile`: what one load-test request costs alone, request type by request type.

A tool for finding where a request's time goes, not a test and not a load test: it prepares a
clinic as `make loadtest` does (a throwaway `nm_profile_<pid>` database on DATABASE_URL's
PostgreSQL server, migrated, static files collected, loadtest.setup's accounts, the server's
environment with fresh keys and two-factor login required), then, in a child process with that
environment, signs a front-desk and a clinician session in (the password, then the second
factor, as the login views do) and sends each of the locustfile's request types `--repeat` times
through Django's test client, one after the other. For each it prints the median wall time, the
median and the least of this process's CPU time (time.process_time: the database's own CPU is
not in it; wall − CPU is mostly waiting for the database; the least is the figure other work on
a shared machine disturbs least), and the number of queries.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres DATABASE_SSLMODE=disable \\
        .venv/bin/python -m loadtest.profile --repeat 40
    ... --queries "day sheet"              # also print the SQL one such request sends
    ... --cprofile "front desk: search"    # also print cProfile's top functions for it
    ... --keep var/profile                 # keep the database and keys there, and reuse them next run

The numbers are the process's own, so a machine shared with other work still gives comparable
CPU figures; the wall times are only as quiet as the machine.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def parse_arguments(argv):
    parser = argparse.ArgumentParser(prog="python -m loadtest.profile", description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30, help="Measured repetitions of each request (default 30).")
    parser.add_argument("--warmup", type=int, default=3, help="Unmeasured repetitions first (default 3).")
    parser.add_argument("--patients", type=int, default=300, help="Demo patients (default 300, as make loadtest).")
    parser.add_argument("--queries", action="append", default=[], help="Print the SQL of this request type.")
    parser.add_argument("--cprofile", action="append", default=[], help="Print cProfile's top functions for it.")
    parser.add_argument("--keep", help="Directory to keep the database's name and keys in, and reuse them from.")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # the child: the fixture file
    return parser.parse_args(argv)


# --- the parent: a clinic to measure on ------------------------------------------------------------


def prepare(arguments) -> int:
    from bench import database
    from loadtest import run

    try:
        server = database.server_url(os.environ)
    except database.RefusedDatabase as refusal:
        print(str(refusal).replace("The benchmark", "The profile").replace("the benchmark", "the profile"))
        return 2
    kept = Path(arguments.keep) if arguments.keep else None
    state = kept / "environment.json" if kept else None
    if state is not None and state.exists():
        environment = json.loads(state.read_text(encoding="utf-8"))
        return measure_in_child(arguments, environment, kept / "fixture.json")
    name = f"nm_profile_{os.getpid()}"
    url = database.with_database(server, name)
    database.create(server, name, os.environ)
    try:
        with tempfile.TemporaryDirectory(prefix="novamind-profile-") as temporary:
            directory = kept or Path(temporary)
            directory.mkdir(parents=True, exist_ok=True)
            environment = run.server_environment(url, directory.resolve())
            python = [sys.executable, "manage.py"]
            run.run([*python, "migrate", "--noinput", "-v0"], environment, "migrate")
            run.run([*python, "collectstatic", "--noinput", "-v0"], environment, "collectstatic")
            fixture = directory / "fixture.json"
            run.run(
                [sys.executable, "-m", "loadtest.setup", str(fixture), "--sessions", "1"]
                + ["--patients", str(arguments.patients)],
                environment,
                "the clinic's set-up",
            )
            if state is not None:
                state.write_text(json.dumps(environment), encoding="utf-8")
            return measure_in_child(arguments, environment, fixture)
    finally:
        if kept is None:
            database.drop(server, name, os.environ)
        else:
            print(f"Database {name} kept; its keys are in {state}.")


def measure_in_child(arguments, environment: dict, fixture: Path) -> int:
    command = [sys.executable, "-m", "loadtest.profile", "--measure", str(fixture)]
    command += ["--repeat", str(arguments.repeat), "--warmup", str(arguments.warmup)]
    for name in arguments.queries:
        command += ["--queries", name]
    for name in arguments.cprofile:
        command += ["--cprofile", name]
    return subprocess.run(command, cwd=BASE_DIR, env=environment).returncode


# --- the child: the requests, one at a time --------------------------------------------------------


def signed_in(account: dict):
    """Return a test client signed in as `account` through the login and two-factor forms."""
    from django.test import Client

    from loadtest.browser import form_fields, totp

    client = Client(enforce_csrf_checks=True, HTTP_HOST=HOST, REMOTE_ADDR=HOST)
    page = client.get("/admin/login/")
    fields = form_fields(page.content.decode(), "login-form")
    fields.update(username=account["username"], password=account["password"], next="/admin/")
    client.post("/admin/login/", fields)
    for _attempt in range(3):
        page = client.get("/admin/two-factor/?next=/admin/")
        fields = form_fields(page.content.decode(), "two-factor-form")
        fields["code"] = totp(account["totp_key"], time.time())
        answer = client.post("/admin/two-factor/", fields)
        if answer.status_code == 302:
            return client
        # A code is good once (django-otp refuses a replay): an earlier run may have used this
        # step's. Wait for the next one, as the locustfile does.
        time.sleep(30 - time.time() % 30 + 0.5)
    raise SystemExit(f"{account['username']} could not sign in (the second factor answered {answer.status_code})")


def request_types(pair: dict):
    """Return (name, call) for each of the locustfile's request types; call() returns the response."""
    import datetime as dt
    import itertools
    from urllib.parse import urlencode

    from django.utils import timezone

    from loadtest.browser import form_fields, weekday_after

    slots = [dt.time(hour) for hour in range(9, 17)]  # the locustfile's (it imports Locust)

    desk, clinic = signed_in(pair["desk"]), signed_in(pair["clinician"])
    patients = pair["patients"]
    clinician_id = pair["clinician"]["id"]
    turn = itertools.count()
    # Bookings go after the last one this clinician has (a kept database holds earlier runs').
    from appointments.models import Appointment

    last = Appointment.objects.filter(clinician_id=clinician_id).order_by("-start").values_list("start", flat=True)
    first_day = max(
        [dt.date.today() + dt.timedelta(days=400), *(start.date() + dt.timedelta(days=1) for start in last[:1])]
    )

    def search():
        patient = patients[next(turn) % len(patients)]
        return desk.get(f"/admin/patients/patient/?{urlencode({'q': patient['search']})}")

    def patient_page(client):
        return client.get(f"/admin/patients/patient/{patients[next(turn) % len(patients)]['id']}/change/")

    def day_sheet(client):
        today = timezone.localdate().isoformat()
        return client.get(f"/admin/appointments/appointment/day/?clinician={clinician_id}&date={today}")

    booking_form = "/admin/appointments/appointment/add/"
    note_form = "/admin/clinical_notes/clinicalnote/add/"
    slot = itertools.count()
    # The POSTs' forms are fetched unmeasured, outside the timed call (the form's own GET is timed apart).
    forms = {}

    def booking_prepare():
        forms["booking"] = form_fields(desk.get(booking_form).content.decode(), "appointment_form")

    def booking_saved():
        index = next(slot)
        start = dt.datetime.combine(weekday_after(first_day, index // len(slots)), slots[index % len(slots)])
        fields = dict(forms["booking"])
        fields.update(
            patient=patients[index % len(patients)]["id"],
            clinician=str(clinician_id),
            kind="therapy",
            modality="telehealth",
            room="",
            reason_for_visit="Load test visit",
            start_0=start.date().isoformat(),
            start_1=start.strftime("%H:%M"),
            end_0="",
            end_1="",
        )
        return desk.post(booking_form, fields)

    def note_prepare():
        forms["note"] = form_fields(clinic.get(note_form).content.decode(), "clinicalnote_form")

    def note_signed():
        fields = dict(forms["note"])
        fields.update(
            patient=patients[next(turn) % len(patients)]["id"],
            kind="intake_assessment",
            format="free_text",
            date_of_service=timezone.localdate().isoformat(),
            body="Load test intake: presenting concerns, history, mental status, plan.",
            _sign="Sign",
        )
        return clinic.post(note_form, fields)

    return [
        ("front desk: search", None, search, 200),
        ("day sheet (desk)", None, lambda: day_sheet(desk), 200),
        ("day sheet (clinician)", None, lambda: day_sheet(clinic), 200),
        ("front desk: booking form", None, lambda: desk.get(booking_form), 200),
        ("clinician: note form", None, lambda: clinic.get(note_form), 200),
        ("front desk: booking saved", booking_prepare, booking_saved, 302),
        ("patient page (desk)", None, lambda: patient_page(desk), 200),
        ("patient page (clinician)", None, lambda: patient_page(clinic), 200),
        ("clinician: note signed", note_prepare, note_signed, 302),
    ]


def measure(arguments) -> int:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "novamind.settings")
    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    pair = json.loads(Path(arguments.measure).read_text(encoding="utf-8"))["pairs"][0]
    print(f"{'request':<28} {'wall ms p50':>11} {'CPU ms p50':>11} {'min':>7} {'queries':>8}")
    for name, before, call, status in request_types(pair):
        walls, cpus, counts = [], [], []
        for repetition in range(arguments.warmup + arguments.repeat):
            if before:
                before()
            with CaptureQueriesContext(connection) as queries:
                wall, cpu = time.perf_counter(), time.process_time()
                response = call()
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            if response.status_code != status:
                raise SystemExit(f"{name}: answered {response.status_code}, expected {status}")
            if repetition >= arguments.warmup:
                walls.append(wall * 1000)
                cpus.append(cpu * 1000)
                counts.append(len(queries))
        print(
            f"{name:<28} {statistics.median(walls):>11.1f} {statistics.median(cpus):>11.1f} {min(cpus):>7.1f} "
            f"{statistics.median(counts):>8g}"
        )
        if name in arguments.queries:
            if before:
                before()
            with CaptureQueriesContext(connection) as queries:
                call()
            for query in queries:
                print(f"    {query['sql'][:220]}")
        if name in arguments.cprofile:
            profiler = cProfile.Profile()
            for _ in range(arguments.repeat):
                if before:
                    before()
                profiler.runcall(call)
            report = io.StringIO()
            statistics_ = pstats.Stats(profiler, stream=report)
            statistics_.sort_stats("cumulative").print_stats(60)
            statistics_.sort_stats("tottime").print_stats(30)
            print(report.getvalue())
    return 0


def main(argv=None) -> int:
    arguments = parse_arguments(argv)
    if arguments.measure:
        return measure(arguments)
    return prepare(arguments)


if __name__ == "__main__":
    sys.exit(main())
