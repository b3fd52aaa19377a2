"""The restore drill: prove that the newest backup restores, whole and intact, and compare it with the live database.

The drill checks the backup file against its signed manifest, restores it into a scratch
database, and there compares rows per table and the audit chains' ends with the manifest,
walks every audit chain, compares the trail with the checkpoints written before the backup,
decrypts the encryption canary, and runs the records' own verifications (signed notes, signed
treatment plans, questionnaire scores) — the code of verify_audit, verify_notes, verify_plans
and verify_assessments, unchanged, pointed at the scratch database. Their access-log entries
there are rolled back: the restored copy stays as the backup made it, and the drill is recorded
in the live access log instead. Last, the live database is compared with the backup: its audit
chains must still hold every link the backup saw. The scratch database is always dropped.

It reads every table, so it is a superuser's work, run as a database role that may create
databases (README, "Backups and restore drills").
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from pathlib import Path

from django.db import transaction

from assessments import services as assessments_services
from clinical_notes import services as notes_services
from novamind import access, backups, checkpoints
from novamind.domain import AccessDenied
from treatment_plans import services as plans_services


@dataclasses.dataclass
class Step:
    """One check of the drill: its name, what it covered, and what is wrong."""

    name: str
    summary: str
    problems: list[str]


@dataclasses.dataclass
class Report:
    """What a drill found, and how long it took."""

    manifest: Path
    backup: Path
    age: dt.timedelta
    scratch: str
    restore_seconds: float = 0.0
    total_seconds: float = 0.0
    dropped: bool = False
    steps: list[Step] = dataclasses.field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        """Return every problem of every step, prefixed with the step's name."""
        return [f"{step.name}: {problem}" for step in self.steps for problem in step.problems]

    @property
    def ok(self) -> bool:
        """Return whether every check passed."""
        return not self.problems


def run(*, actor, directory: Path, backup: Path | None = None, role: str | None = None) -> Report:
    """Run the drill on `backup` (default: the newest in `directory`) as `actor`; return the report.

    Raises backups.BackupError when the drill cannot run at all (no backup, a file that does not
    match its manifest, the wrong identity, a failed restore): nothing is restored then, or the
    scratch database is dropped again.
    """
    started = time.monotonic()
    backups.require_postgresql()
    manifest_path = backups.manifest_of(backup) if backup is not None else backups.newest(directory)
    manifest = backups.read_manifest(manifest_path)
    key = backups.identity()
    expected = manifest["backup_encryption"]["recipient"]
    if str(key.to_public()) != expected:
        raise backups.BackupError(
            f"NOVAMIND_BACKUP_IDENTITY_FILE holds the key of {key.to_public()}, but {manifest['backup_file']} "
            f"was encrypted to {expected}: give the identity of that recipient."
        )
    path = backups.check_file(manifest_path, manifest)
    created = dt.datetime.fromisoformat(manifest["created_at"].replace("Z", "+00:00"))
    source = checkpoints.directory()  # the live database's checkpoints, named before the alias moves
    access.record(
        user=actor,
        action=backups.DRILL_ACTION,
        category=backups.CATEGORY,
        detail=f"started: restoring {path.name} into a scratch database; no content shown",
    )
    report = Report(manifest_path, path, dt.datetime.now(dt.UTC) - created, scratch="")
    with backups.scratch_database(path, key, role=role) as restored:
        report.scratch, report.restore_seconds = restored.name, restored.seconds
        with backups.database(restored.name, role=role) as scratch, backups.as_default(scratch):
            report.steps += _restored_checks(actor, manifest, backups.witnesses(source, manifest))
    report.dropped = restored.dropped
    report.steps.append(_live_check(manifest))
    report.total_seconds = time.monotonic() - started
    outcome = "passed" if report.ok else f"FAILED with {len(report.problems)} problem(s)"
    access.record(
        user=actor,
        action=backups.DRILL_ACTION,
        category=backups.CATEGORY,
        detail=f"finished: {path.name} {outcome}; restored in {report.restore_seconds:.1f} s; no content shown",
    )
    return report


def _restored_checks(actor, manifest: dict, witnesses: list) -> list[Step]:
    """Run every check against the scratch database (the default alias inside the drill)."""
    steps = [
        Step("rows per table", f"{len(manifest['tables'])} tables", backups.compare_rows(manifest)),
        Step("audit chain ends", f"{len(manifest['audit']['chains'])} chains", backups.compare_chains(manifest)),
        Step("encryption key canary", "decrypted", backups.key_problems(manifest)),
    ]
    if steps[-1].problems:
        return steps  # history rows and records cannot be read without the key
    checked, problems = backups.verify_chains()
    steps.append(Step("audit trail (verify_audit)", f"{checked} entries", problems))
    steps.append(
        Step(
            "audit checkpoints",
            f"{len(witnesses)} written before the backup",
            backups.compare_with_checkpoints(witnesses),
        )
    )
    # The verifications record their runs in the access log; there, that would change the copy.
    with transaction.atomic():
        steps += _record_verifications(actor)
        transaction.set_rollback(True)
    return steps


def _record_verifications(actor) -> list[Step]:
    steps = []
    for name, verify, count in (
        ("signed notes (verify_notes)", notes_services.verify_integrity, _notes_count),
        (
            "signed plans (verify_plans)",
            plans_services.verify_integrity,
            lambda result: f"{result.plans_checked} plans",
        ),
        (
            "questionnaire scores (verify_assessments)",
            assessments_services.responses_verify,
            lambda result: f"{result.checked} responses",
        ),
    ):
        try:
            with transaction.atomic():
                result = verify(actor=actor)
        except AccessDenied as refusal:
            steps.append(Step(name, "not run", [str(refusal)]))
            continue
        steps.append(Step(name, count(result), list(result.problems)))
    return steps


def _notes_count(result) -> str:
    return f"{result.notes_checked} notes, {result.addenda_checked} addenda"


def _live_check(manifest: dict) -> Step:
    """Compare the live database's audit chains with the backup's (after the scratch database is gone)."""
    return Step("live database against the backup", "audit chains", backups.compare_live(manifest))
