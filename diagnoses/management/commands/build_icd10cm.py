"""Write the shipped ICD-10-CM code set (diagnoses/data) from the pinned simple-icd-10-cm package."""

from django.core.management.base import BaseCommand, CommandError

from diagnoses import codeset


class Command(BaseCommand):
    help = (
        f"Regenerate {codeset.DATA_FILE.name}, the billable ICD-10-CM codes and their official descriptions "
        f"the diagnoses app reads, from the simple-icd-10-cm package pinned in requirements.txt (today: "
        f"{codeset.CODE_SET}). Run it after updating the package for a new code set, and rename the file "
        f"and CODE_SET in diagnoses/codeset.py for the new year. --check writes nothing and exits 1 when "
        f"the shipped file and the package differ. Reads no patient data: no --actor."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--check", action="store_true", help="Compare the shipped file with the package; write nothing."
        )

    def handle(self, *args, check, **options):
        built = list(codeset.from_package())
        if check:
            shipped = list(codeset.shipped(codeset.DATA_FILE))
            if shipped != built:
                added = {code for code, _ in built} - {code for code, _ in shipped}
                removed = {code for code, _ in shipped} - {code for code, _ in built}
                raise CommandError(
                    f"{codeset.DATA_FILE.name} differs from the package: {len(added)} code(s) added, "
                    f"{len(removed)} removed, descriptions otherwise changed; run build_icd10cm to rewrite it."
                )
            self.stdout.write(f"{codeset.DATA_FILE.name} matches the package: {len(built)} billable codes.")
            return
        count = codeset.write(iter(built), codeset.DATA_FILE)
        self.stdout.write(f"Wrote {count} billable codes of the {codeset.CODE_SET} to {codeset.DATA_FILE}.")
