"""Re-encrypt every stored value under the new first FIELD_ENCRYPTION_KEY, then prove it."""

from django.core.management.base import BaseCommand, CommandError

from novamind import dbroles, rotation
from novamind.commands import active_staff, add_actor_argument

FAILURES_SHOWN = 20


class Command(BaseCommand):
    help = (
        "Rotate the encryption key. Before running it, put the new key first in FIELD_ENCRYPTION_KEY, "
        "keep the old one after it (NEW,OLD) and restart every NovaMind process. This command then "
        "re-encrypts, under the new key, every encrypted value of every table: live tables, their "
        "history tables and the encryption canary. It rewrites ciphertext only: no record changes, "
        "no version, history row or 'last changed' moves. It works in batches of primary keys, one "
        "transaction each; values already under the new key are skipped, so an interrupted run is "
        "finished by running it again. Afterwards it decrypts every value under the new key alone, "
        "reports counts per table and says when the old key may be removed. Blind indexes "
        "(BLIND_INDEX_KEY) and the access log (AUDIT_LOG_KEY) are separate keys and are not "
        "touched; signed notes' content hashes cover plaintext and keep verifying. The run is "
        "recorded in the access log in the --actor's name. No value is ever printed."
    )

    def add_arguments(self, parser):
        add_actor_argument(
            parser, help_text="The staff user in whose name the run is recorded in the access log (required)."
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=500,
            metavar="N",
            help="Rows per transaction (default 500).",
        )
        parser.add_argument(
            "--verify-only",
            action="store_true",
            help="Change nothing: check that every value decrypts under the first key alone.",
        )

    def handle(self, *args, actor, batch_size, verify_only, **options):
        # It rewrites every table, beyond any role's reach: a superuser's work.
        user = active_staff(actor, superuser=True)
        if batch_size < 1:
            raise CommandError(f"--batch-size must be at least 1 (given {batch_size}).")
        keys = len(rotation.configured_keys())
        progress = self._show_progress if self.stdout.isatty() else None
        if not verify_only:
            self._rotate(user, batch_size, progress)
        self._verify(user, batch_size, progress, keys)

    def _rotate(self, user, batch_size, progress):
        try:
            outcome = rotation.rotate(actor=user, batch_size=batch_size, progress=progress)
        except rotation.NothingToRotate as error:
            raise CommandError(
                f"{error} To rotate, put the new key first and keep the current one after it "
                f"(FIELD_ENCRYPTION_KEY=NEW,OLD), restart NovaMind, and run this command again. "
                f"--verify-only checks that every value decrypts under the current key."
            ) from None
        except dbroles.OwnerRightsRequired as error:
            raise CommandError(str(error)) from None
        except rotation.UndecryptableValue as error:
            self._end_progress(progress)
            raise CommandError(
                f"{error.location} does not decrypt under any of the keys in FIELD_ENCRYPTION_KEY: "
                f"the key it was encrypted with is missing (was the old key removed too early?). "
                f"Nothing is corrupted: the batch holding it was rolled back, and values already "
                f"re-encrypted decrypt under the new key. Put the missing key back after the new one "
                f"and run this command again; it continues where it stopped."
            ) from None
        self._end_progress(progress)
        for count in outcome.tables:
            self.stdout.write(
                f"  {count.table}: {count.rows} rows, {count.values} values: {count.rotated} re-encrypted, "
                f"{count.current} already under the new key"
                + (f", {count.changed} changed by someone else meanwhile" if count.changed else "")
            )
        self.stdout.write(
            f"Re-encrypted {outcome.total('rotated')} values under the new key in {len(outcome.tables)} "
            f"tables; {outcome.total('current')} were already under it."
        )

    def _verify(self, user, batch_size, progress, keys):
        outcome = rotation.verify(actor=user, batch_size=batch_size, progress=progress)
        self._end_progress(progress)
        for count in outcome.tables:
            self.stdout.write(
                f"  {count.table}: {count.values - count.failed} of {count.values} values decrypt "
                f"under the new key alone"
            )
        values, failed = outcome.total("values"), outcome.total("failed")
        if outcome.ok:
            removal = (
                ": the old key may now be removed from FIELD_ENCRYPTION_KEY (keep the first key only, "
                "restart NovaMind, and archive the old key with the backups made before today)."
                if keys > 1
                else "."
            )
            self.stdout.write(self.style.SUCCESS(f"All {values} values decrypt under the new key alone{removal}"))
            return
        for location in outcome.failures[:FAILURES_SHOWN]:
            self.stderr.write(f"  does not decrypt under the new key alone: {location}")
        if failed > FAILURES_SHOWN:
            self.stderr.write(f"  … and {failed - FAILURES_SHOWN} more")
        raise CommandError(
            f"{failed} of {values} values do not decrypt under the new key alone: do NOT remove any key "
            f"from FIELD_ENCRYPTION_KEY. Run rotate_encryption_keys (without --verify-only) with the "
            f"key they were encrypted with after the new one."
        )

    def _show_progress(self, step: rotation.Progress):
        self.stdout.write(
            f"\r\x1b[K{step.action} table {step.table_number}/{step.tables} {step.table}: {step.done}/{step.rows} rows",
            ending="",
        )
        self.stdout.flush()

    def _end_progress(self, progress):
        if progress is not None:
            self.stdout.write("\r\x1b[K", ending="")
