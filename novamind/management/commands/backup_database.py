"""Write an encrypted pg_dump backup of the database and its manifest."""

from django.core.management.base import BaseCommand, CommandError

from novamind import backups
from novamind.commands import active_staff, add_actor_argument


class Command(BaseCommand):
    help = (
        "Back up the PostgreSQL database: pg_dump --format=custom of every table, streamed through age "
        "(encrypted to NOVAMIND_BACKUP_RECIPIENT, a public key: this host cannot read its own backups) into "
        "novamind-<database>-<time>.dump.age, and beside it a signed manifest (.manifest.json): the file's "
        "SHA-256 and size, rows per table, where every audit chain ended, the newest audit checkpoint, the "
        "encryption keys' fingerprints and the recipient; no PHI and no key. The manifest and the dump "
        "describe one snapshot. The backup is recorded in the access log in the --actor's name. A "
        "superuser's work; run it as a role that may read every table (the owner, or the application role). "
        "Check it with restore_drill."
    )

    def add_arguments(self, parser):
        add_actor_argument(
            parser, help_text="The superuser in whose name the backup is recorded in the access log (required)."
        )
        parser.add_argument(
            "--dir",
            metavar="DIR",
            help="The directory to write to (default NOVAMIND_BACKUP_DIR; var/backups in development).",
        )
        parser.add_argument(
            "--keep",
            type=int,
            metavar="N",
            help="After a successful backup, remove this database's older backups (file and manifest) "
            "beyond the N newest (default: remove nothing).",
        )
        parser.add_argument(
            "--role",
            metavar="ROLE",
            help="Dump as this database role (pg_dump --role: SET ROLE after connecting); default the login.",
        )

    def handle(self, *args, actor, dir=None, keep=None, role=None, **options):
        user = active_staff(actor, superuser=True)
        if keep is not None and keep < 1:
            raise CommandError(f"--keep must be at least 1 (given {keep}): the backup just written is always kept.")
        try:
            directory = backups.backup_directory(dir)
            backup = backups.create(actor=user, directory=directory, role=role)
            removed = (
                backups.prune(directory, database=backup.manifest["database"], keep=keep) if keep is not None else []
            )
        except backups.BackupError as error:
            raise CommandError(str(error)) from None
        manifest = backup.manifest
        for name in removed:
            self.stdout.write(f"Removed an older backup (--keep {keep}): {name} and its manifest")
        rows = sum(manifest["tables"].values())
        self.stdout.write(f"Backup: {backup.path}")
        self.stdout.write(f"Manifest: {backup.manifest_path}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Backed up {len(manifest['tables'])} tables ({rows} rows) of {manifest['database']} "
                f"(PostgreSQL {manifest['server_version']}) in {manifest['dump_seconds']:.1f} s: "
                f"{manifest['size']} bytes, SHA-256 {manifest['sha256']}, encrypted to {manifest['backup_encryption']['recipient']}."
            )
        )
