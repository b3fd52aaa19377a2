"""Import another system's FHIR R4 record (a Bundle, one resource, or NDJSON); `--help` says how."""

import os

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from fhir import importer
from novamind.commands import active_staff, add_actor_argument

MAX_BYTES = 100 * 1024 * 1024  # read whole: a record, or a few thousand, not a clinic's bulk export


class Command(BaseCommand):
    help = (
        "Import another system's FHIR R4 (4.0.1) record: a Bundle of any type, one resource, or NDJSON "
        "(one resource a line). Patient (matched by this clinic's MRN identifier, else registered under a "
        "new MRN), AllergyIntolerance, Condition (billable ICD-10-CM codes only) and MedicationRequest "
        "(recorded as an order prescribed elsewhere, with the status its source gave it). Each resource is "
        "checked against the official R4 JSON schema, then written through the same services as the admin, "
        "in --actor's name, with their permissions and care rules. All or nothing: one refused resource and "
        "nothing is imported (exit 1, every refusal listed with its reason). --dry-run runs the whole import "
        "and rolls it back: it reports what would be created, matched, recorded or refused, and keeps nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE", help="The FHIR R4 JSON (Bundle or resource) or NDJSON file.")
        add_actor_argument(
            parser,
            help_text="The staff user who imports (required): the creator of every record in its history. "
            "Needs the permissions each kind of resource asks for in the admin, and care for the patients "
            "whose records it adds to.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Run the import and roll it back: report what would happen; keep nothing. Exits 1 if the "
            "real run would be refused.",
        )

    def handle(self, *args, file, actor, dry_run, **options):
        user = active_staff(actor)
        try:
            with open(file, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                if size > MAX_BYTES:
                    raise CommandError(
                        f"{file} is {size // (1024 * 1024)} MB; this command reads files of up to "
                        f"{MAX_BYTES // (1024 * 1024)} MB: split it (NDJSON splits at any line). Nothing was imported."
                    )
                data = handle.read()
        except FileNotFoundError:
            raise CommandError(f"{file}: no such file.") from None
        except IsADirectoryError:
            raise CommandError(f"{file} is a directory; give the FHIR file.") from None
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror or error}.") from None
        try:
            entries = importer.read(data)
            if not entries:
                raise importer.ImportFileError("It holds no resource (an empty Bundle).")
            outcome = importer.import_resources(entries, actor=user, dry_run=dry_run)
        except importer.ImportFileError as error:
            raise CommandError(f"{file}: {error} Nothing was imported.") from None
        except DatabaseError as error:
            # The driver's message can quote stored values: name the error class only.
            raise CommandError(
                f"The database refused the import ({type(error).__name__}); nothing was imported. "
                "Run it again; if it fails again, check the database."
            ) from None
        for refused, line in importer.iter_report(outcome):
            (self.stderr if refused else self.stdout).write(line)
        self._summary(outcome, user)

    def _summary(self, outcome: importer.Outcome, user):
        counts = (
            f"{len(outcome.entries)} resource(s) read: "
            f"{outcome.count('Patient', 'created')} new patient(s), "
            f"{outcome.count('Patient', 'matched')} matched, "
            f"{outcome.count('AllergyIntolerance', 'recorded')} allergy(ies), "
            f"{outcome.count('Condition', 'recorded')} diagnosis(es), "
            f"{outcome.count('MedicationRequest', 'recorded')} medication order(s), "
            f"{outcome.skipped} skipped (not imported), {len(outcome.refused)} refused."
        )
        if outcome.refused:
            prefix = "Dry run: the import would be refused" if outcome.dry_run else "Nothing was imported"
            raise CommandError(
                f"{prefix}: it is all or nothing, and {len(outcome.refused)} resource(s) were refused (listed above "
                f"with the reason). {counts} Correct or remove them and run again."
            )
        if outcome.dry_run:
            self.stdout.write(f"Dry run: {counts} Nothing was written.")
            return
        self.stdout.write(self.style.SUCCESS(f"Imported, in the name of {user.get_username()}: {counts}"))
