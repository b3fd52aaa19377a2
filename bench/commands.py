"""The operator commands, measured in a child process: throughput against Fernet, and peak RSS.

Each command runs as `manage.py …` in its own process, the way an operator runs it, against the
benchmark's database; its peak resident set size is the child's own `ru_maxrss`, read with
`os.wait4` for that one child (RUSAGE_CHILDREN would keep the largest of all children so far).
A command that does not exist in this checkout gives a row marked "n/a", never a figure.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography.fernet import Fernet
from django.apps import apps
from django.conf import settings
from django.core.management import get_commands
from django.db import DEFAULT_DB_ALIAS, connection, connections

from bench import report
from novamind import db_router, encryption

BASE_DIR = Path(__file__).resolve().parent.parent
RSS_LIMIT_MB = 250


@dataclasses.dataclass
class Completed:
    """A finished command: wall time, peak RSS of its process, exit status and output."""

    arguments: list[str]
    seconds: float
    rss_mb: float
    returncode: int
    stdout: str
    stderr: str

    def failure(self) -> str:
        """Return a one-line account of a failed run: its last line of error output that says something."""
        lines = [line.strip() for line in (self.stderr or self.stdout).splitlines()]
        # A traceback or a database error may end with a line of carets pointing into the line above.
        meaningful = [line for line in lines if line.strip("^~ ")]
        return f"exit {self.returncode}: {meaningful[-1] if meaningful else 'no output'}"[:300]

    def error_tail(self, lines: int = 25) -> list[str]:
        """Return the last lines of the error output, for the report's detail (commands print no values)."""
        return (self.stderr or self.stdout).splitlines()[-lines:]


def available(name: str) -> bool:
    """Return whether `manage.py name` exists in this checkout (re-read from disk each time)."""
    get_commands.cache_clear()
    return name in get_commands()


# The command is started by this small launcher, not forked from the benchmark: Linux carries a
# process's peak RSS across exec, so a child forked from the benchmark (a few hundred MB) would
# report at least the benchmark's own size. The launcher is a bare interpreter; its only child
# is the command, whose peak it reads from RUSAGE_CHILDREN and writes to the file it is given.
LAUNCHER = """
import resource, subprocess, sys
status = subprocess.call(sys.argv[2:])
with open(sys.argv[1], "w") as report:
    report.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(status)
"""


def run_manage(arguments: list[str], *, environ: dict | None = None) -> Completed:
    """Run `manage.py arguments` in a child process; return its time, peak RSS and output."""
    env = dict(os.environ if environ is None else environ)
    with tempfile.TemporaryDirectory() as folder:
        rss_file = Path(folder) / "maxrss"
        with open(Path(folder) / "out", "w+b") as out, open(Path(folder) / "err", "w+b") as err:
            started = time.perf_counter()
            returncode = subprocess.call(
                [
                    sys.executable,
                    "-S",
                    "-c",
                    LAUNCHER,
                    str(rss_file),
                    sys.executable,
                    str(BASE_DIR / "manage.py"),
                    *arguments,
                ],
                cwd=BASE_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )
            seconds = time.perf_counter() - started
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace")
        rss_kb = int(rss_file.read_text()) if rss_file.exists() else 0
    return Completed(
        arguments=arguments, seconds=seconds, rss_mb=rss_kb / 1024, returncode=returncode, stdout=stdout, stderr=stderr
    )


def encrypted_fields(model) -> list:
    """Return the encrypted concrete fields of `model`."""
    return [field for field in model._meta.concrete_fields if encryption.is_encrypted(field)]


def encrypted_tables() -> list[tuple[str, list[str]]]:
    """Return every table (live and history) with encrypted columns, and those columns."""
    tables = []
    for model in apps.get_models():
        columns = [field.column for field in encrypted_fields(model)]
        if columns:
            tables.append((model._meta.db_table, columns))
    return tables


def count_encrypted_values() -> int:
    """Return how many non-null encrypted values the database holds, live and history."""
    quote = connection.ops.quote_name
    total = 0
    with connection.cursor() as cursor:
        for table, columns in encrypted_tables():
            cursor.execute(f"SELECT {' + '.join(f'count({quote(c)})' for c in columns)} FROM {quote(table)}")
            total += cursor.fetchone()[0] or 0
    return total


def sample_tokens(limit: int = 4000, *, using: str = DEFAULT_DB_ALIAS) -> list[str]:
    """Return stored tokens from every encrypted table, up to `limit`, for the Fernet control."""
    quote = connection.ops.quote_name
    tables = encrypted_tables()
    share = max(1, limit // max(1, len(tables)))
    tokens: list[str] = []
    with connections[using].cursor() as cursor:
        for table, columns in tables:
            column = columns[0]
            cursor.execute(
                f"SELECT {quote(column)} FROM {quote(table)} WHERE {quote(column)} IS NOT NULL LIMIT %s", [share]
            )
            tokens.extend(row[0] for row in cursor.fetchall())
    return tokens


def fernet_us(operation, items, rounds: int = 3) -> float:
    """Return the median over `rounds` of the time per item of `operation`, in microseconds."""
    results = []
    for _ in range(rounds):
        started = time.perf_counter()
        for item in items:
            operation(item)
        results.append((time.perf_counter() - started) / len(items) * 1e6)
    return report.median(results)


# --- export_patient_record ----------------------------------------------------------------------

EXPORT = "export_patient_record"


def export_row(*, heavy_mrn: str, light_mrn: str, actor: str) -> report.Row:
    """Return the export row: peak RSS exporting a patient with 1,000 notes (≤ 250 MB)."""
    key, measure = "export.rss", "export_patient_record of a patient with 1,000 notes: peak RSS"
    control_label = "same export of a patient with 1 note"
    target = report.memory(RSS_LIMIT_MB)
    if not available(EXPORT):
        return report.not_available(key, measure, control_label, "MB", target, f"no '{EXPORT}' command yet")
    results = {}
    for name, mrn in (("heavy", heavy_mrn), ("light", light_mrn)):
        with tempfile.TemporaryDirectory() as folder:
            output = Path(folder) / f"{mrn}.json"
            done = run_manage([EXPORT, "--patient", mrn, "--format", "json", "--actor", actor, "--output", str(output)])
            size = output.stat().st_size if output.exists() else 0
        if done.returncode != 0:
            return report.Row(
                key=key,
                measure=measure,
                control_label=control_label,
                unit="MB",
                target=target,
                verdict=report.FAIL,
                note=f"the command failed: {done.failure()}",
                detail={"error_output": done.error_tail()},
            )
        results[name] = (done, size)
    heavy, light = results["heavy"], results["light"]
    return report.judged(
        key,
        measure,
        control_label,
        "MB",
        target,
        figure=heavy[0].rss_mb,
        control=light[0].rss_mb,
        rss_mb=heavy[0].rss_mb,
        detail={"seconds": [heavy[0].seconds, light[0].seconds], "bytes": [heavy[1], light[1]]},
    )


# --- import_patients ----------------------------------------------------------------------------

IMPORT = "import_patients"


def import_columns() -> list[str] | None:
    """Return the CSV header import_patients reads: the command publishes it as COLUMNS."""
    import importlib

    try:
        module = importlib.import_module("patients.management.commands.import_patients")
    except ImportError:
        return None
    columns = getattr(module, "COLUMNS", None)
    return list(columns) if columns else None


def write_import_file(path: Path, rows: int, columns: list[str], make_row) -> None:
    """Write `rows` made-up patients to `path` as the CSV import_patients reads."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for index in range(rows):
            writer.writerow(make_row(index))


def import_row(*, rows: int, actor: str, make_row, rss_limit: float = RSS_LIMIT_MB) -> report.Row:
    """Return the import row: rows/s against the Fernet limit (≥ 50%), peak RSS ≤ 250 MB."""
    from patients import models as patient_models

    key, measure = "import.throughput", f"import_patients of {rows:,} rows: rows/s"
    control_label = "Fernet: one encryption per encrypted field, timed alone"
    target = report.at_least(0.5, rss_limit_mb=rss_limit)
    if not available(IMPORT):
        return report.not_available(key, measure, control_label, "rows/s", target, f"no '{IMPORT}' command yet")
    columns = import_columns()
    if not columns:
        return report.not_available(
            key, measure, control_label, "rows/s", target, "the import's CSV columns are not published by the command"
        )
    history = patient_models.Patient.history.model
    live_before, history_before = patient_models.Patient.objects.count(), history.objects.count()
    fields = encrypted_fields(patient_models.Patient)
    values = [value for index in range(min(rows, 500)) for value in _encrypted_values(make_row(index), fields)]
    fernet_before = fernet_us(encryption.encrypt, values)
    with tempfile.TemporaryDirectory() as folder:
        empty, path = Path(folder) / "empty.csv", Path(folder) / "patients.csv"
        write_import_file(empty, 0, columns, make_row)
        write_import_file(path, rows, columns, make_row)
        # The same command on a file with the header only: its start-up and fixed costs.
        baseline = run_manage([IMPORT, str(empty), "--actor", actor])
        done = run_manage([IMPORT, str(path), "--actor", actor])
    if done.returncode != 0:
        return report.Row(
            key=key,
            measure=measure,
            control_label=control_label,
            unit="rows/s",
            target=target,
            verdict=report.FAIL,
            rss_mb=done.rss_mb,
            note=f"the command failed: {done.failure()}",
            detail={"error_output": done.error_tail()},
        )
    per_value_us = (fernet_before + fernet_us(encryption.encrypt, values)) / 2
    imported = patient_models.Patient.objects.count() - live_before
    history_rows = history.objects.count() - history_before
    # The least any write path can do: one encryption per encrypted field (a history row may
    # copy the live row's ciphertext, as this import's does).
    limit = 1e6 / (per_value_us * len(fields))
    working = done.seconds - (baseline.seconds if baseline.returncode == 0 else 0)
    return report.judged(
        key,
        measure,
        control_label,
        "rows/s",
        target,
        figure=imported / working,
        control=limit,
        rss_mb=done.rss_mb,
        detail={
            "imported": imported,
            "history_rows": history_rows,
            "seconds": done.seconds,
            "startup_seconds": baseline.seconds,
            "rows_per_s_including_startup": imported / done.seconds,
            "encrypted_fields": len(fields),
            "fernet_encrypt_us": per_value_us,
        },
    )


def _encrypted_values(row: dict, fields) -> list[str]:
    # A value the CSV leaves out is still stored (an encrypted empty string): same cost.
    return [row.get(field.name, "") or "" for field in fields]


# --- rotate_encryption_keys ---------------------------------------------------------------------

ROTATE = "rotate_encryption_keys"


def rotate_row(
    *, actor: str, rss_limit: float = RSS_LIMIT_MB, out=print, control_reads=contextlib.nullcontext
) -> report.Row:
    """Return the rotation row: values/s against Fernet decrypt + encrypt alone (≥ 50%), RSS ≤ 250 MB.

    The control's tokens are read inside `control_reads()` (the replica, when the run has one);
    the values the command must rotate are counted on the primary, which the command rotates.
    """
    key, measure = "rotate.throughput", "rotate_encryption_keys over all live and history values: values/s"
    control_label = "Fernet decrypt (old key) + encrypt (new key), timed alone"
    target = report.at_least(0.5, rss_limit_mb=rss_limit)
    if not available(ROTATE):
        return report.not_available(key, measure, control_label, "values/s", target, f"no '{ROTATE}' command yet")
    old_keys = list(settings.FIELD_ENCRYPTION_KEY)
    new_key = Fernet.generate_key().decode()
    values = count_encrypted_values()
    out(f"    {values:,} encrypted values in live and history tables")
    with control_reads():
        tokens = [token.encode() for token in sample_tokens(using=db_router.replica_alias())]
    old, new = Fernet(old_keys[0]), Fernet(new_key)

    def rotate_one(token):
        return new.encrypt(old.decrypt(token))

    fernet_before = fernet_us(rotate_one, tokens)
    environ = {**os.environ, "FIELD_ENCRYPTION_KEY": ",".join([new_key, *old_keys])}
    done = run_manage([ROTATE, "--actor", actor], environ=environ)
    if done.returncode != 0:
        return report.Row(
            key=key,
            measure=measure,
            control_label=control_label,
            unit="values/s",
            target=target,
            verdict=report.FAIL,
            rss_mb=done.rss_mb,
            note=f"the command failed: {done.failure()}",
            detail={"error_output": done.error_tail()},
        )
    per_value_us = (fernet_before + fernet_us(rotate_one, tokens)) / 2
    # The command re-encrypts, then verifies every value under the new key alone; the
    # verification on its own (--verify-only) splits the time between the two passes.
    verify = run_manage([ROTATE, "--actor", actor, "--verify-only"], environ=environ)
    rotated = _decrypts_under(new_key, sample_tokens(400))
    row = report.judged(
        key,
        measure,
        control_label,
        "values/s",
        target,
        figure=values / done.seconds,
        control=1e6 / per_value_us,
        rss_mb=done.rss_mb,
        detail={
            "values": values,
            "seconds": done.seconds,
            "fernet_rotate_us": per_value_us,
            "verify_only_seconds": verify.seconds if verify.returncode == 0 else None,
            "reencrypt_pass_values_per_s": values / (done.seconds - verify.seconds)
            if verify.returncode == 0 and done.seconds > verify.seconds
            else None,
            "sample_decrypts_under_new_key_alone": rotated,
        },
    )
    if not rotated:
        row.verdict, row.note = report.FAIL, "stored values do not decrypt under the new key alone"
    return row


def _decrypts_under(key: str, tokens: list[str]) -> bool:
    fernet = Fernet(key)
    try:
        for token in tokens:
            fernet.decrypt(token.encode())
    except Exception:  # noqa: BLE001 - any failure means "not rotated"
        return False
    return bool(tokens)
