"""Import patients from a legacy system's CSV file; `--help` describes the format."""

import argparse
import os
import stat
import textwrap

from django.core.management.base import BaseCommand, CommandError, DjangoHelpFormatter
from django.db import DatabaseError

from novamind.commands import active_staff, add_actor_argument
from patients import importer

# The header this command reads, published for tools that write import files (bench/).
COLUMNS = importer.COLUMNS


class HelpFormatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Django's help layout, keeping the line breaks of the format table."""


def _wrapped(text: str) -> str:
    """Return `text` with its prose lines wrapped and its indented (table) lines kept."""
    return "\n".join(
        line if line.startswith(" ") else textwrap.fill(line, 88, break_on_hyphens=False) for line in text.splitlines()
    )


class Command(BaseCommand):
    help = _wrapped(
        "Import patients from a legacy system's CSV file. Every row is checked with the same rules as "
        "the admin, and each error is reported with its line number and the column at fault (never the "
        "value). By default the import is all or nothing: if any row is invalid, nothing is written and "
        "the command exits 1 with the list. --skip-invalid imports the valid rows and lists the others; "
        "--dry-run checks the whole file and writes nothing. Each patient gets a new MRN; every value is "
        "encrypted, blind-indexed for search and recorded in the history as created by --actor. A row "
        "with the legal name and date of birth of a registered patient (or of an earlier row) is "
        "invalid unless --allow-duplicates. The file is read as a stream, in batches, in one "
        "transaction: an interrupted or failed run writes nothing.\n\n" + importer.format_description()
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE.csv", help="The CSV file to import (UTF-8; see above).")
        add_actor_argument(
            parser,
            help_text="The staff user who creates the patients (required; recorded as "
            "their creator and in every history row).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Check every row and report; write nothing. Exits 1 if the real run would be refused.",
        )
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="Import the valid rows and list the invalid ones, instead of importing nothing.",
        )
        parser.add_argument(
            "--allow-duplicates",
            action="store_true",
            help="Import rows whose legal name and date of birth match a registered patient or "
            "an earlier row (different people who share them); checked and refused by default.",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=importer.DEFAULT_BATCH_SIZE,
            metavar="N",
            help=f"Rows written per batch (1 to {importer.MAX_BATCH_SIZE}; default {importer.DEFAULT_BATCH_SIZE}).",
        )
        parser.add_argument(
            "--progress",
            action="store_true",
            help="Report progress on standard error even when it is not a terminal (on a terminal it is always shown).",
        )

    def handle(self, *args, file, actor, dry_run, skip_invalid, allow_duplicates, batch_size, progress, **options):
        user = active_staff(actor, permissions=("patients.add_patient",))
        if not 1 <= batch_size <= importer.MAX_BATCH_SIZE:
            raise CommandError(f"--batch-size must be 1 to {importer.MAX_BATCH_SIZE} (given {batch_size}).")
        self._on_terminal = self.stderr.isatty()
        self._shown = False
        try:
            handle = open(file, "rb")
        except FileNotFoundError:
            raise CommandError(f"{file}: no such file.") from None
        except IsADirectoryError:
            raise CommandError(f"{file} is a directory; give the CSV file.") from None
        except OSError as error:
            raise CommandError(f"Cannot open {file}: {error.strerror or error}.") from None
        with handle:
            status = os.fstat(handle.fileno())
            try:
                outcome = importer.import_patients(
                    handle,
                    actor=user,
                    dry_run=dry_run,
                    skip_invalid=skip_invalid,
                    batch_size=batch_size,
                    allow_duplicates=allow_duplicates,
                    total_bytes=status.st_size if stat.S_ISREG(status.st_mode) else None,
                    progress=self._show_progress if progress or self._on_terminal else None,
                )
            except importer.ImportFileError as error:
                raise CommandError(f"{file}: {error} Nothing was imported.") from None
            except OSError as error:
                raise CommandError(
                    f"Reading {file} failed ({error.strerror or error}); nothing was imported."
                ) from None
            except DatabaseError as error:
                # The driver's message can quote stored values: name the error class only.
                raise CommandError(
                    f"The database refused the import ({type(error).__name__}); nothing was imported. "
                    f"Run it again; if it fails again, check the database."
                ) from None
            finally:
                self._end_progress()
        self._report(outcome, user)

    def _report(self, outcome: importer.Outcome, user):
        for error in outcome.errors:
            self.stderr.write(f"  {error}")
        if outcome.error_count > len(outcome.errors):
            self.stderr.write(
                f"  … and {outcome.error_count - len(outcome.errors):,} more errors "
                f"(only the first {len(outcome.errors):,} are listed)"
            )
        counts = f"{_rows(outcome.rows)} read: {outcome.valid:,} valid, {outcome.invalid:,} invalid."
        if outcome.refused:
            remedy = (
                f"Correct the rows listed above and run again, or pass --skip-invalid to import only "
                f"the {_rows(outcome.valid, 'valid ')}."
            )
            if outcome.dry_run:
                raise CommandError(
                    f"Dry run: {counts} The import would be refused (it is all or nothing). "
                    f"{remedy} Nothing was written."
                )
            raise CommandError(f"{counts} Nothing was imported: the import is all or nothing. {remedy}")
        invalid = f" The {_rows(outcome.invalid, 'invalid ')} listed above" if outcome.invalid else ""
        if outcome.dry_run:
            skipped = f"{invalid} would be skipped." if invalid else ""
            self.stdout.write(
                f"Dry run: {counts} {_patients(outcome.valid)} would be imported.{skipped} Nothing was written."
            )
            return
        skipped = f"{invalid} {'was' if outcome.invalid == 1 else 'were'} skipped." if invalid else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {_patients(outcome.imported)}, each with a new MRN, created by {user.get_username()}. "
                f"{counts}{skipped}"
            )
        )

    def _show_progress(self, step: importer.Progress):
        share = f" ({step.percent}%)" if step.percent is not None else ""
        text = f"line {step.line:,}{share}: {step.valid:,} valid, {step.invalid:,} invalid"
        if self._on_terminal:
            self.stderr.write(f"\r\x1b[K{text}", ending="", style_func=_plain)
            self.stderr.flush()
        else:
            self.stderr.write(text, style_func=_plain)
        self._shown = True

    def _end_progress(self):
        if self._shown and self._on_terminal:
            self.stderr.write("\r\x1b[K", ending="", style_func=_plain)
            self.stderr.flush()


def _plain(text: str) -> str:
    """Return `text` unstyled: progress is not an error, whatever colour stderr has."""
    return text


def _rows(count: int, kind: str = "") -> str:
    return f"{count:,} {kind}row{'' if count == 1 else 's'}"


def _patients(count: int) -> str:
    return f"{count:,} patient{'' if count == 1 else 's'}"
