"""List the access log's monthly partitions, create the coming ones, or drop months past retention."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from novamind import dbroles, partitions
from novamind.commands import active_staff


def _when(moment: dt.datetime | None) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M") if moment else "-"


def _month(value: str) -> dt.date:
    try:
        return dt.datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        raise CommandError(f"--drop-through {value!r}: give a month as YYYY-MM, e.g. 2020-12.") from None


class Command(BaseCommand):
    help = (
        "PostgreSQL: list the access log's monthly partitions (extent and size, no entry content) and create "
        f"the partitions of this month and the next {partitions.MONTHS_AHEAD} that are missing (migrate does too; "
        "run it monthly from cron as the owner role). With --drop-through YYYY-MM --actor SUPERUSER, drop that "
        "month and every earlier one once they are older than NOVAMIND_RETENTION_YEARS: the log must verify "
        "first, the last dropped entry stays as the chain's anchor, and the drop is itself an entry of the log. "
        "--dry-run says what would go. The owner role's work (DDL)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--drop-through", metavar="YYYY-MM", help="Drop this month and every earlier one.")
        parser.add_argument(
            "--actor", metavar="USERNAME", help="The superuser who drops (required with --drop-through)."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="With --drop-through: say what would go; drop nothing."
        )

    def handle(self, *args, drop_through=None, actor=None, dry_run=False, **options):
        if drop_through is not None:
            if not actor:
                raise CommandError("--drop-through needs --actor: the superuser in whose name the months are dropped.")
            actor = active_staff(actor, superuser=True)
        if not partitions.is_partitioned():
            raise CommandError(
                "The access log is one table here (SQLite, or PostgreSQL before migration novamind.0006): "
                "it has no monthly partitions."
            )
        if drop_through is not None:
            self._drop(_month(drop_through), actor, dry_run)
        else:
            try:
                ensured = partitions.ensure_ahead()
            except dbroles.OwnerRightsRequired as error:
                raise CommandError(str(error)) from None
            self.stdout.write(partitions.describe_ensured(ensured))
        self._list()

    def _drop(self, month, user, dry_run):
        try:
            dropped = partitions.drop_through(month, actor=user, dry_run=dry_run)
        except (partitions.PartitionError, dbroles.OwnerRightsRequired) as error:
            raise CommandError(str(error)) from None
        verb = "Would drop" if dry_run else "Dropped"
        anchor = f"; the chain goes on from the anchor at #{dropped.anchor_sequence}" if dropped.anchor_sequence else ""
        self.stdout.write(f"{verb} {len(dropped.partitions)} partition(s), {dropped.entries} entries{anchor}.")

    def _list(self):
        self.stdout.write(
            f"{'partition':<10} {'first #':>12} {'last #':>12} {'oldest entry (UTC)':<20} {'newest entry (UTC)':<20} {'size':>10}"
        )
        for row in partitions.report():
            self.stdout.write(
                f"{row.partition.label:<10} {row.first or '-':>12} {row.last or '-':>12} {_when(row.oldest):<20} "
                f"{_when(row.newest):<20} {row.bytes / 1e6:>8.2f} MB"
            )
        stray = partitions.default_partition_rows()
        if stray:
            self.stdout.write(
                f"{stray} entries sit in the default partition: their month had no partition when they were written. "
                "Run this command monthly so the coming months are always ready."
            )
