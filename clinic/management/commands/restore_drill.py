"""Restore the newest backup into a scratch database, verify it there, compare it with the live database, drop it."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from clinic import restore_drill
from novamind import backups
from novamind.commands import active_staff, add_actor_argument


class Command(BaseCommand):
    help = (
        "Prove that a backup restores: take the newest backup in the directory (or --backup), check its "
        "SHA-256 against its signed manifest, decrypt it with NOVAMIND_BACKUP_IDENTITY_FILE as a stream into "
        "pg_restore, into a new scratch database (novamind_drill_<time>_<random>). There: rows per table and "
        "the audit chains' ends against the manifest, the whole audit trail (verify_audit) and the checkpoints "
        "written before the backup, the encryption key canary, signed notes (verify_notes), signed plans "
        "(verify_plans) and questionnaire scores (verify_assessments). Then the live database's audit chains "
        "must still hold every link the backup saw. Reports the backup's age and the restore's duration; "
        "always drops the scratch database; exits with status 1 on any problem. Recorded in the access log "
        "in the --actor's name. A superuser's work, run as a database role that may create databases."
    )

    def add_arguments(self, parser):
        add_actor_argument(
            parser, help_text="The superuser in whose name the drill is recorded in the access log (required)."
        )
        parser.add_argument("--dir", metavar="DIR", help="Where the backups are (default NOVAMIND_BACKUP_DIR).")
        parser.add_argument(
            "--backup",
            metavar="FILE",
            help="Drill this backup (its .dump.age or .manifest.json) instead of the newest.",
        )
        parser.add_argument(
            "--role",
            metavar="ROLE",
            help="Create the scratch database and restore as this role (SET ROLE; it needs CREATEDB). Default: the login.",
        )

    def handle(self, *args, actor, dir=None, backup=None, role=None, **options):
        user = active_staff(actor, superuser=True)
        try:
            directory = backups.backup_directory(dir) if backup is None else None
            report = restore_drill.run(
                actor=user, directory=directory, backup=Path(backup).expanduser() if backup else None, role=role
            )
        except backups.BackupError as error:
            raise CommandError(f"Restore drill failed: {error}") from None
        hours = report.age.total_seconds() / 3600
        self.stdout.write(f"Backup: {report.backup} (taken {hours:.1f} hours ago)")
        self.stdout.write(f"Restored into {report.scratch} in {report.restore_seconds:.1f} s")
        for step in report.steps:
            mark = "ok" if not step.problems else f"{len(step.problems)} problem(s)"
            self.stdout.write(f"  {step.name}: {step.summary}: {mark}")
        self.stdout.write(f"Scratch database {report.scratch} {'dropped' if report.dropped else 'NOT dropped'}.")
        if report.ok:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Restore drill passed: the backup is {hours:.1f} hours old and restored in "
                    f"{report.restore_seconds:.1f} s (drill {report.total_seconds:.1f} s)."
                )
            )
            return
        for problem in report.problems:
            self.stderr.write(problem)
        raise CommandError(f"Restore drill failed: {len(report.problems)} problem(s), listed above.")
