"""Export a patient's record for the patient's right of access (45 CFR 164.524), as JSON, HTML or a FHIR R4 Bundle."""

from django.core.management.base import BaseCommand, CommandError

from clinic import record_export
from novamind import encryption
from novamind.commands import active_staff, add_actor_argument, private_file, refusals
from patients import domain as patients_domain
from patients import repository as patients_repository


class Command(BaseCommand):
    help = (
        "Write a copy of one patient's designated record set for their right of access (45 CFR 164.524): "
        "demographics, appointments, signed clinical notes with their addenda, every medication order "
        "(the whole timeline) and allergies. Psychotherapy notes are never included; unsigned drafts are "
        "not part of the record yet and are left out (the copy says how many there are). "
        "--format json is a documented, versioned structure (schema novamind.patient_record); "
        "--format html is a self-contained page for reading and printing (no scripts, nothing fetched); "
        "--format fhir is one FHIR R4 (4.0.1) Bundle of type collection, for another system to read. "
        "The copy contains PHI: it goes to --output (a new file, mode 0600, written completely or not at all) "
        "or to standard output, and is recorded in the access log as a disclosure under --actor."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--patient",
            required=True,
            metavar="MRN",
            help="The patient's medical record number, e.g. NM12345674.",
        )
        parser.add_argument(
            "--format",
            required=True,
            choices=record_export.formats(),
            help=f"json: machine-readable, schema_version {record_export.SCHEMA_VERSION}; html: a printable page; "
            "fhir: a FHIR R4 Bundle (when the fhir app is installed).",
        )
        parser.add_argument(
            "--output",
            metavar="PATH",
            help="Write the copy to this new file (created with mode 0600; an existing file is not "
            "overwritten). Without it the copy goes to standard output.",
        )
        add_actor_argument(
            parser,
            help_text="The staff member making the copy (an active staff user); the disclosure is logged in their name.",
        )

    def handle(self, *args, patient, format, output, actor, **options):
        user = active_staff(actor, permissions=record_export.PERMISSIONS)
        mrn = patient.strip().upper()
        if not patients_domain.is_valid_mrn(mrn):
            raise CommandError(
                f"--patient {patient!r} is not a NovaMind MRN (NM, seven digits and a check digit, e.g. NM12345674)."
            )
        try:
            found = patients_repository.DjangoPatientRepository(actor=user).find_by_mrn(mrn)
            if found is None:
                raise CommandError(f"--patient {mrn}: no patient has this MRN.")
            with refusals():
                record_export.require_may_export(user, found.id)
            if output:
                with private_file(output) as handle:
                    counts = record_export.export(patient=found, actor=user, format=format, out=handle)
                self.stdout.write(
                    f"Wrote the {format} record of {mrn} to {output}: {counts.describe()}. "
                    f"The disclosure is recorded in the access log."
                )
            else:
                counts = record_export.export(
                    patient=found,
                    actor=user,
                    format=format,
                    out=_Unterminated(self.stdout),
                    retractable=False,
                )
                self.stderr.write(f"Exported the {format} record of {mrn}: {counts.describe()}.")
        except encryption.DecryptionError:
            raise CommandError(
                f"Part of the record of {mrn} does not decrypt with FIELD_ENCRYPTION_KEY (a wrong or missing key, "
                f"or data changed outside NovaMind); {_aftermath(output)} Run verify_notes and check the key."
            ) from None
        except OSError as error:
            raise CommandError(
                f"Could not write the record to {output or 'standard output'}: {error.strerror or error}; {_aftermath(output)}"
            ) from None


def _aftermath(output: str | None) -> str:
    """Return what a failed export left behind, for the error message."""
    if output:
        return "no file was written."
    return "any copy on standard output is incomplete, and the access log records it as an incomplete disclosure."


class _Unterminated:
    """Standard output as a plain stream: Django's OutputWrapper would end every write with a newline."""

    def __init__(self, wrapper):
        self.wrapper = wrapper

    def write(self, text: str) -> None:
        self.wrapper.write(text, ending="")
