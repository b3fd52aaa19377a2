"""Write the audit report of one patient or one user as CSV: change history and accesses, merged."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from clinic import audit_report
from novamind import encryption
from novamind.commands import active_staff, add_actor_argument, private_file


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date: use YYYY-MM-DD, e.g. 2026-01-31.") from None


class Command(BaseCommand):
    help = (
        "Write the audit report of one patient (--patient MRN) or one user (--user USERNAME) as CSV: "
        "every change of their records in the history tables (when, who, record, +/~/-, the names of the "
        "changed fields, never their values) and every access-log entry (when, who, patient MRN, action, "
        "category, outcome, address, emergency flag), oldest first. Dates are days in the clinic's time "
        "zone, both included. Needs an --actor with the auditor role; the report is itself recorded in "
        "the access log in the actor's name."
    )

    def add_arguments(self, parser):
        subject = parser.add_mutually_exclusive_group(required=True)
        subject.add_argument("--patient", metavar="MRN", help="The patient's medical record number.")
        subject.add_argument("--user", metavar="USERNAME", help="A staff username: what they changed and accessed.")
        parser.add_argument("--from", dest="date_from", metavar="DATE", help="First day (YYYY-MM-DD), included.")
        parser.add_argument("--to", dest="date_to", metavar="DATE", help="Last day (YYYY-MM-DD), included.")
        parser.add_argument(
            "--output",
            metavar="PATH",
            help="Write the CSV to this new file (mode 0600; an existing file is not overwritten). "
            "Without it the CSV goes to standard output.",
        )
        add_actor_argument(
            parser, help_text="The auditor running the report (an active staff user with the auditor role)."
        )

    def handle(self, *args, patient, user, date_from, date_to, output, actor, **options):
        auditor = active_staff(actor, permissions=(audit_report.PERMISSION,))
        try:
            scope = audit_report.scope_for(
                patient_mrn=patient,
                username=user,
                date_from=_date(date_from) if date_from else None,
                date_to=_date(date_to) if date_to else None,
            )
            if output:
                with private_file(output) as handle:
                    count = audit_report.run(scope=scope, actor=auditor, out=handle)
                self.stderr.write(f"Wrote {count} row(s) about {scope.describe()} to {output}.")
            else:
                count = audit_report.run(scope=scope, actor=auditor, out=self.stdout)
                self.stderr.write(f"{count} row(s) about {scope.describe()}.")
        except audit_report.ReportError as error:
            raise CommandError(str(error)) from None
        except encryption.DecryptionError:
            raise CommandError(
                "Part of the change history does not decrypt with FIELD_ENCRYPTION_KEY (needed to tell which "
                "fields changed); no report was written. Check the key."
            ) from None
        except OSError as error:
            raise CommandError(
                f"Could not write the report to {output or 'standard output'}: {error.strerror or error}."
            ) from None
