"""`make bench` / `python -m bench`: one run, one table, one JSON file.

A run creates `nm_bench_<pid>` on the PostgreSQL server DATABASE_URL names (it refuses SQLite),
migrates it, and then, printing its progress:

1. writes the staff and the first 1,000 patients (a tenth of --scale, at least 100) and copies
   the database as it is then (CREATE DATABASE … TEMPLATE): the changelist control;
2. grows the patients to --scale, adds the heavy, light and export patients, writes the first
   10,000 appointments (a tenth of them at small scales) and copies the database again: the
   schedule control; then grows the appointments to 10 per patient, and writes 5 notes and
   2 medication orders per patient and an allergy for every fifth;
3. with DATABASE_REPLICA_URL, waits until the replica has replayed the data (bench.replica);
   measures the schedule and the changelist on the full database and on its control copy in
   turns (so a change in the shared machine's load hits both), then search, the patient page
   and the repository, each interleaved with its control, whose reads go to the replica;
   then, unless skipped, every admin page (the lists, history pages, patient and note pages,
   the dashboard) as a superuser and as a care-restricted clinician, against a clinic
   generated whole at the changelist control's size in a database of its own;
4. runs the operator commands in child processes: export, import, then key rotation (last,
   because it re-encrypts the whole database).

It prints the table, writes it with the details as JSON (var/bench.json by default), drops the
databases, and exits 0 when every row met its target, 1 when one did not or could not be
measured, 2 when it could not run at all. DEBUG is forced off: production does not log queries.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
import traceback
from pathlib import Path

from bench import database, replica, report

BASE_DIR = Path(__file__).resolve().parent.parent
# Where the run collects the static files its pages name (var/ is never committed).
STATIC_ROOT = BASE_DIR / "var" / "bench-static"
DEFAULT_SCALE = 100_000
GROUPS = (
    "search",
    "changelist",
    "patient_page",
    "repository",
    "history_chain",
    "pages",
    "schedule",
    "export",
    "import",
    "rotate",
)
COMMAND_GROUPS = ("export", "import", "rotate")


def parse_arguments(argv):
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Measure NovaMind against its limits on a throwaway PostgreSQL database (DATABASE_URL's server).",
    )
    parser.add_argument(
        "--scale",
        type=int,
        default=DEFAULT_SCALE,
        help="patients to generate (default 100,000; about 10 appointments, 5 notes, 2 orders each)",
    )
    parser.add_argument("--repeat", type=int, default=7, help="repetitions of each timed measure (median; default 7)")
    parser.add_argument("--json", type=Path, default=BASE_DIR / "var" / "bench.json", help="where to write the report")
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=[*GROUPS, "commands"],
        help="leave a group of rows out (repeatable); 'commands' skips export, import and rotate",
    )
    parser.add_argument(
        "--keep-database", action="store_true", help="do not drop the database at the end (to inspect it)"
    )
    parser.add_argument("--seed", type=int, default=20260, help="seed of the generated data")
    parser.add_argument(
        "--replica-timeout",
        type=float,
        default=replica.REPLAY_TIMEOUT_S,
        help="with DATABASE_REPLICA_URL: seconds to wait for the replica to replay the data (default 120)",
    )
    arguments = parser.parse_args(argv)
    if arguments.scale < 1000:
        parser.error("--scale must be at least 1000 (the changelist control is a tenth of it, at least 100 patients).")
    if arguments.repeat < 1:
        parser.error("--repeat must be at least 1.")
    if "commands" in arguments.skip:
        arguments.skip = [*arguments.skip, *COMMAND_GROUPS]
    return arguments


def main(argv=None) -> int:
    arguments = parse_arguments(argv)
    try:
        server = database.server_url(os.environ)
    except database.RefusedDatabase as refusal:
        print(f"bench: {refusal}", file=sys.stderr)
        return 2
    name = database.throwaway_name()
    original = dict(os.environ)
    try:
        database.create(server, name, original)
    except Exception as error:  # noqa: BLE001 - any connection problem is reported, not traced
        print(f"bench: could not create database {name} on the DATABASE_URL server: {error}", file=sys.stderr)
        return 2
    print(f"bench: database {name} created on the DATABASE_URL server", flush=True)
    copies: list[str] = []
    try:
        return _run(arguments, server, name, copies)
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 2
    except replica.ReplicaLagging as lagging:
        print(f"bench: {lagging}", file=sys.stderr)
        return 2
    except Exception:  # noqa: BLE001 - print the trace, then still drop the database
        traceback.print_exc()
        return 2
    finally:
        _close_connections()
        kept = [name, *copies]
        if arguments.keep_database:
            print(
                f"bench: databases kept (--keep-database); drop them with: dropdb {' && dropdb '.join(kept)}",
                flush=True,
            )
        else:
            for each in kept:
                database.drop(server, each, original)
            print(f"bench: database {name} and its {len(copies)} control copies dropped", flush=True)


def _close_connections() -> None:
    if "django" not in sys.modules:
        return
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        connection.close()
        close_pool = getattr(connection, "close_pool", None)
        if close_pool is not None:
            close_pool()


def _setup(server: str, name: str) -> None:
    os.environ["DATABASE_URL"] = database.with_database(server, name)
    # The replica streams the whole cluster, this throwaway database too: the controls' reads
    # go to it there (bench.replica), once it has replayed the data.
    replica_server = os.environ.pop("DATABASE_REPLICA_URL", "").strip()
    if replica_server:
        os.environ["DATABASE_REPLICA_URL"] = replica.replica_url(server, replica_server, name)
    os.environ["DEBUG"] = "false"
    # With DEBUG off the pages name static files by their hashed names, from collectstatic's
    # manifest, as production serves them: collected once here, outside the repository's tree.
    os.environ["STATIC_ROOT"] = str(STATIC_ROOT)
    # Sign-ins by the test client would log a line each; the run prints its own progress.
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DJANGO_SETTINGS_MODULE"] = "novamind.settings"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    # The in-process test client asks for host "testserver"; nothing else changes.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    started = time.perf_counter()
    call_command("collectstatic", interactive=False, verbosity=0)
    call_command("migrate", interactive=False, verbosity=0)
    print(f"bench: static files collected and database migrated in {time.perf_counter() - started:,.1f} s", flush=True)


def out(message: str) -> None:
    print(message, flush=True)


def _copy(server: str, source: str, target: str, copies: list[str], wanted: bool) -> str | None:
    """Copy the database as it is now into `target` (for a control), or do nothing if not `wanted`."""
    if not wanted:
        return None
    started = time.perf_counter()
    database.use(source)  # closes our connections: a database is copied only when nobody is in it
    database.clone(server, source, target, os.environ)
    copies.append(target)
    out(f"  copied the database as the control {target} in {time.perf_counter() - started:,.1f} s")
    return target


def _pages_control(server: str, target: str, patients: int, arguments, copies: list[str]):
    """Create the pages' control: a clinic of `patients` patients with every kind of record.

    The other controls are copies of the database taken on its way up, while it held only
    patients or only part of the appointments; the pages list notes, orders and allergies too,
    so their control is a clinic generated whole, the same way, at the control's size, in a
    database of its own. Return (its name, its data.Clinic).
    """
    from django.core.management import call_command

    from bench import data

    started = time.perf_counter()
    database.create(server, target, os.environ)
    copies.append(target)
    database.use(target)
    call_command("migrate", interactive=False, verbosity=0)
    small = data.Clinic(scale=patients, seed=arguments.seed, out=lambda message: None)
    data.create_control_table()
    small.staff()
    small.patients(patients)
    small.appointments(small.appointment_total)
    small.notes()
    small.orders()
    # An allergy for every patient, not every fifth: the clinician's list must fill a page of
    # 100 rows at the control's size too, or the two pages would not be the same page.
    small.allergies(every=1)
    small.care_team()
    small.check()
    data.vacuum_analyze()
    out(f"  generated the pages' control {target} ({patients:,} patients) in {time.perf_counter() - started:,.1f} s")
    return target, small


def _run(arguments, server: str, name: str, copies: list[str]) -> int:
    started = time.perf_counter()
    _setup(server, name)
    from bench import commands, data, measures

    scale, repeat, skip = arguments.scale, arguments.repeat, set(arguments.skip)
    rows: list[report.Row] = []
    clinic = data.Clinic(scale=scale, seed=arguments.seed, out=out)
    out(
        f"bench: scale {scale:,} patients, {clinic.clinician_count} clinicians, {clinic.appointment_total:,} appointments"
    )
    data.create_control_table()
    clinic.staff()

    # The controls are copies of the database taken while it was small (CREATE DATABASE …
    # TEMPLATE), so that later the control and the full database can be measured in turns.
    control_patients = max(100, min(1000, scale // 10))
    clinic.patients(control_patients)
    data.vacuum_analyze()
    changelist_copy = _copy(server, name, f"{name}_patients_{control_patients}", copies, "changelist" not in skip)

    clinic.patients(scale)
    clinic.special_patients()
    control_appointments = min(10_000, clinic.appointment_total // 10)
    clinic.appointments(control_appointments)
    data.vacuum_analyze()
    schedule_copy = _copy(server, name, f"{name}_appointments_{control_appointments}", copies, "schedule" not in skip)
    clinic.appointments(clinic.appointment_total)
    clinic.notes()
    clinic.orders()
    clinic.allergies()
    if "pages" not in skip:
        clinic.care_team()
    clinic.check()
    vacuum_started = time.perf_counter()
    data.vacuum_analyze()
    out(f"  vacuum analyze: {time.perf_counter() - vacuum_started:,.1f} s")
    placement = replica.place(os.environ, timeout=arguments.replica_timeout, out=out)
    placement.count_queries()
    out(f"bench: {placement.text()}")

    if schedule_copy:
        days = clinic.control_days(control_appointments)[-3:]
        samples = measures.schedule_samples(
            clinic,
            {"full": (name, clinic.appointment_count), "control": (schedule_copy, control_appointments)},
            days,
            repeat,
        )
        database.use(name)
        rows += measures.schedule_rows(samples["full"], samples["control"])
        out("  measured the schedule")
    if changelist_copy:
        samples = measures.changelist_samples(clinic.admin, {"full": name, "control": changelist_copy}, repeat)
        database.use(name)
        rows += measures.changelist_rows(
            samples["full"], samples["control"], patients=scale, control_patients=control_patients
        )
        out("  measured the changelist")
    if "search" not in skip:
        rows += measures.search_rows(
            clinic.search_samples, patients=scale, repeat=repeat, control_reads=placement.reads
        )
        out("  measured search")
    if "patient_page" not in skip:
        rows.append(
            measures.patient_page_row(
                measures.admin_client(clinic.admin),
                clinic.special["heavy"],
                clinic.special["light"],
                repeat,
            )
        )
        out("  measured the patient page")
    if "repository" not in skip:
        rows += measures.repository_rows(
            clinic.admin, clinic.patient_ids, patients=scale, repeat=repeat, control_reads=placement.reads
        )
        out("  measured the repository")
    if "history_chain" not in skip:
        rows.append(measures.history_chain_row(clinic.admin, clinic.patient_ids, repeat=repeat))
        out("  measured the history chain's cost on a save")

    if "pages" not in skip:
        pages_copy = _pages_control(server, f"{name}_pages_{control_patients}", control_patients, arguments, copies)
        # The dashboard's panels are reporting reads: on the replica, in both clinics.
        replica.settle(placement, os.environ, timeout=arguments.replica_timeout, out=out)
        samples = measures.pages_samples({"full": (name, clinic), "control": pages_copy}, repeat)
        database.use(name)
        rows += measures.pages_rows(
            samples["full"], samples["control"], patients=scale, control_patients=control_patients
        )
        out("  measured every page, as a superuser and as a clinician")

    from patients.models import Patient

    actor = clinic.admin.get_username()
    if not set(COMMAND_GROUPS) <= skip:
        # The export's reads are reporting reads, on the replica: it must hold what was written since.
        replica.settle(placement, os.environ, timeout=arguments.replica_timeout, out=out)
    if "export" not in skip:
        out("  running export_patient_record …")
        mrns = dict(
            Patient.objects.filter(pk__in=[clinic.special["export"], clinic.special["light"]]).values_list("pk", "mrn")
        )
        rows.append(
            commands.export_row(
                heavy_mrn=mrns[clinic.special["export"]], light_mrn=mrns[clinic.special["light"]], actor=actor
            )
        )
    if "import" not in skip:
        out(f"  running import_patients of {scale:,} rows …")
        rows.append(commands.import_row(rows=scale, actor=actor, make_row=clinic.import_record))
    if "rotate" not in skip:
        out("  running rotate_encryption_keys …")
        rows.append(commands.rotate_row(actor=actor, out=out, control_reads=placement.reads))

    status, closing = report.summary(rows)
    result = {
        "scale": scale,
        "repeat": repeat,
        "skipped": sorted(skip),
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "duration_s": round(time.perf_counter() - started, 1),
        "machine": machine(server),
        "data": {
            "patients": scale,
            "clinicians": clinic.clinician_count,
            "appointments": clinic.appointment_count,
            "changelist_control_patients": control_patients,
            "schedule_control_appointments": control_appointments,
        },
        "generation": [{"phase": p.name, "rows": p.rows, "seconds": round(p.seconds, 2)} for p in clinic.phases],
        "rows": [row.as_json() for row in rows],
        "controls": placement.as_json(),
        "summary": closing,
        "exit_status": status,
    }
    out("")
    out(report.table(rows))
    out("")
    out(closing)
    out(f"bench: {placement.text()}")
    out(f"bench: {result['duration_s']:,.0f} s in all; report written to {arguments.json}")
    report.write_json(arguments.json, result)
    return status


def machine(server: str) -> dict:
    """Return what the report says about the machine the figures come from."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": len(os.sched_getaffinity(0)),
        "cpu_model": model or platform.processor(),
        "python": platform.python_version(),
        "postgresql": database.server_version(server, os.environ),
        "platform": platform.platform(),
    }
